/* plan.c: pass: tensor liveness and arena offsets.
 *
 * Consumes a Graph whose ops are in topological order; sets first_op and
 * last_op of every tensor, the offset (in floats) of every TR_ACT tensor and
 * g->arena_floats. Input, output and weights are the caller's or constants:
 * they get liveness for reporting but no arena space.
 *
 * Liveness: a TR_ACT tensor lives from the op that produces it to the last op
 * that reads it. An op's inputs and output are live at once, except where
 * the op works in place (Op.inplace, set by inplace.c): then its output
 * shares the storage of that input, and the two form one storage group that
 * lives from the first member's producer to the last member's last reader.
 *
 * Placement (TFLite Micro's GreedyMemoryPlanner): take the storage groups by
 * size, largest first, ties by tensor id so the plan is deterministic. Put
 * each at the lowest offset, a multiple of PLAN_ALIGN floats (64 bytes), where
 * it overlaps no already-placed group whose lifetime intersects its own. The
 * arena size is the highest end offset. plan_check() verifies a plan without
 * trusting this code: lifetimes must cover every use, and tensors live at once
 * must not share a float unless an in-place op or a view allows it.
 */
#include <stdlib.h>

#include "passes.h"

enum { PLAN_ALIGN = 16 };   /* floats: 64 bytes, one cache line */

/* Widens t's lifetime to include op index i. */
static void live_at(Tensor *t, int i)
{
    if (t->first_op < 0 || i < t->first_op)
        t->first_op = i;
    if (i > t->last_op)
        t->last_op = i;
}

static void plan_liveness(Graph *g)
{
    for (int t = 0; t < g->nt; t++)
        g->t[t].first_op = g->t[t].last_op = -1;
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        for (int k = 0; k < op->nin; k++)
            live_at(&g->t[op->in[k]], i);
        const int params[5] = { op->w, op->b, op->mean, op->var, op_packed_weight(op) };
        for (int k = 0; k < 5; k++)
            if (params[k] >= 0)
                live_at(&g->t[params[k]], i);
        live_at(&g->t[op->out], i);
        if (op->work > 0)
            live_at(&g->t[op->work - 1], i);
    }
}

/* An activation read before it is written is a lowering bug. */
static void plan_check_producers(const Graph *g)
{
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        for (int k = 0; k < op->nin; k++) {
            const Tensor *t = &g->t[op->in[k]];
            if (t->role == TR_ACT && t->first_op == i)
                ICE("op %d '%s' reads activation '%s' before any op writes it",
                    i, op->name ? op->name : "?", t->name);
        }
    }
}

static long long align_up(long long n)
{
    return (n + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN;
}

static int lifetimes_meet(const Tensor *a, const Tensor *b)
{
    return a->first_op <= b->last_op && b->first_op <= a->last_op;
}

/* A storage group: the tensors that share one arena range. */
typedef struct PlanItem {
    long long numel;
    int id;                /* the group's first tensor */
    int first_op, last_op; /* union of the members' lifetimes */
    long long offset;
} PlanItem;

/* Order of placement: larger first, then lower id. */
static int item_cmp(const void *pa, const void *pb)
{
    const PlanItem *a = pa, *b = pb;
    if (a->numel != b->numel)
        return a->numel > b->numel ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

static int items_meet(const PlanItem *a, const PlanItem *b)
{
    return a->first_op <= b->last_op && b->first_op <= a->last_op;
}

/* The lowest aligned offset for it clear of every item in placed[0..n)
 * (sorted by offset) whose lifetime meets its own. */
static long long plan_lowest_fit(const PlanItem *it, PlanItem *const *placed, int n)
{
    long long at = 0;
    for (int k = 0; k < n; k++) {
        const PlanItem *p = placed[k];
        if (!items_meet(it, p))
            continue;
        if (p->offset >= at + it->numel)
            break;   /* sorted by offset: the gap before p fits it */
        if (align_up(p->offset + p->numel) > at)
            at = align_up(p->offset + p->numel);
    }
    return at;
}

/* Inserts it into placed[0..n), keeping it sorted by offset then id. */
static void placed_insert(PlanItem **placed, int n, PlanItem *it)
{
    int k = n;
    while (k > 0 && (placed[k - 1]->offset > it->offset ||
                     (placed[k - 1]->offset == it->offset && placed[k - 1]->id > it->id))) {
        placed[k] = placed[k - 1];
        k--;
    }
    placed[k] = it;
}

/* The concat output whose storage holds t (concat_view.c's slices, maybe
 * nested), and t's first float's index in it; t itself when no slice. */
static int slice_root(const Graph *g, int t, long long *rel)
{
    *rel = 0;
    for (int n = 0; n < g->nt && g->t[t].slice_of > 0; n++) {
        if (g->t[g->t[t].slice_of - 1].role != TR_ACT)
            break;   /* never made so: the caller's buffer is not the arena */
        *rel += g->t[t].slice_at;
        t = g->t[t].slice_of - 1;
    }
    return t;
}

/* An op writing the slice out in place over an input of group r: the
 * group moves to out's place (inplace.c: r's members all sit at its start). */
static void group_move(const Graph *g, int *root, long long *rel, int r, int out)
{
    if (r == root[out])
        return;   /* never chosen so (inplace.c); plan_check will say */
    for (int t = 0; t < g->nt; t++)
        if (root[t] == r && t != out)
            root[t] = root[out], rel[t] += rel[out];
}

/* Per tensor, the first tensor of its storage group (itself if none) and
 * rel[t], t's first float's index in the group's storage: slices at their
 * place in the concat output, in-place outputs and views at their input's. */
static int *plan_roots(Ctx *ctx, const Graph *g, long long **rel_out)
{
    size_t n = (size_t)(g->nt ? g->nt : 1);
    int *root = arena_alloc(ctx->arena, n * sizeof *root);
    long long *rel = arena_alloc(ctx->arena, n * sizeof *rel);
    for (int t = 0; t < g->nt; t++)
        root[t] = slice_root(g, t, &rel[t]);
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        if (op->inplace <= 0 || op->inplace > op->nin || g->t[op->out].role != TR_ACT ||
            g->t[op->in[op->inplace - 1]].role != TR_ACT)
            continue;
        const int in = op->in[op->inplace - 1];
        if (root[op->out] != op->out)
            group_move(g, root, rel, root[in], op->out);
        else
            root[op->out] = root[in], rel[op->out] = rel[in];
    }
    *rel_out = rel;
    return root;
}

/* Widens item it to hold tensor x at rel and to live while x does. */
static void item_add(PlanItem *it, const Tensor *x, long long rel)
{
    if (rel + tensor_floats(x) > it->numel)
        it->numel = rel + tensor_floats(x);
    if (it->first_op < 0 || x->first_op < it->first_op)
        it->first_op = x->first_op;
    if (x->last_op > it->last_op)
        it->last_op = x->last_op;
}

/* One item per storage group of the activations that some op touches, in
 * placement order; item_of[root] is its index. The roots get their items
 * first: a root may have a higher id than its members (quantize.c's int8
 * image of a tensor, viewed by an older tensor). */
static int plan_collect(Ctx *ctx, Graph *g, const int *root, const long long *rel,
                        PlanItem **items, int *item_of)
{
    *items = arena_alloc(ctx->arena, (size_t)(g->nt ? g->nt : 1) * sizeof **items);
    int n = 0;
    for (int t = 0; t < g->nt; t++) {
        const Tensor *x = &g->t[t];
        g->t[t].offset = -1;
        if (x->role == TR_ACT && x->first_op >= 0 && root[t] == t) {
            item_of[t] = n;
            (*items)[n++] = (PlanItem){ tensor_floats(x), t, x->first_op, x->last_op, 0 };
        }
    }
    for (int t = 0; t < g->nt; t++) {
        const Tensor *x = &g->t[t];
        if (x->role == TR_ACT && x->first_op >= 0 && root[t] != t)
            item_add(&(*items)[item_of[root[t]]], x, rel[t]);
    }
    return n;
}

/* Places the storage groups: sets every activation's offset and
 * g->arena_floats. */
static void plan_place(Ctx *ctx, Graph *g)
{
    long long *rel;
    int *root = plan_roots(ctx, g, &rel);
    int *item_of = arena_alloc(ctx->arena, (size_t)(g->nt ? g->nt : 1) * sizeof *item_of);
    PlanItem *items;
    int n = plan_collect(ctx, g, root, rel, &items, item_of);
    qsort(items, (size_t)n, sizeof *items, item_cmp);
    for (int k = 0; k < n; k++)
        item_of[items[k].id] = k;
    PlanItem **placed = arena_alloc(ctx->arena, (size_t)(n ? n : 1) * sizeof *placed);
    long long peak = 0;
    for (int k = 0; k < n; k++) {
        items[k].offset = plan_lowest_fit(&items[k], placed, k);
        placed_insert(placed, k, &items[k]);
        if (items[k].offset + items[k].numel > peak)
            peak = items[k].offset + items[k].numel;
    }
    for (int t = 0; t < g->nt; t++)
        if (g->t[t].role == TR_ACT && g->t[t].first_op >= 0)
            g->t[t].offset = items[item_of[root[t]]].offset + rel[t];
    g->arena_floats = peak;
}

/* Concat op i's slices as in was[] (its inputs' slice_of before; NULL:
 * none). Inputs that are slices of other concats keep theirs. */
static void concat_set_slices(Graph *g, int i, const int *was)
{
    const Op *op = &g->ops[i];
    for (int k = 0; k < op->nin; k++) {
        Tensor *x = &g->t[op->in[k]];
        if (!was && x->slice_of == 1 + op->out)
            x->slice_of = 0;
        else if (was && was[k] == 1 + op->out)
            x->slice_of = was[k];
    }
}

/* Per input of every op, its slice_of (ops with fewer inputs than the
 * most: unused), so that plans without some slices can be tried. */
static int *slices_save(Ctx *ctx, const Graph *g, int *width)
{
    int w = 1;
    for (int i = 0; i < g->nops; i++)
        w = g->ops[i].nin > w ? g->ops[i].nin : w;
    int *was = arena_alloc(ctx->arena, (size_t)(g->nops ? g->nops : 1) * (size_t)w * sizeof *was);
    for (int i = 0; i < g->nops; i++)
        for (int k = 0; k < g->ops[i].nin; k++)
            was[(size_t)i * (size_t)w + (size_t)k] = g->t[g->ops[i].in[k]].slice_of;
    *width = w;
    return was;
}

static int concat_has_slices(const Graph *g, int i)
{
    const Op *op = &g->ops[i];
    for (int k = 0; op->kind == OP_CONCAT && k < op->nin; k++)
        if (g->t[op->in[k]].slice_of == 1 + op->out)
            return 1;
    return 0;
}

/* A slice holds its concat output's storage from the slice's producer on,
 * so slices can also make an arena larger (DenseNet: a block's output held
 * from the block's first layer). Concat by concat, last first, the plan
 * drops a concat's slices when the arena is smaller without them, and at
 * the end drops all of them if that is smaller still: the arena never
 * grows for them. Dropping is always safe: inplace.c chose in-place ops
 * with the slices' larger storages, whose last readers are at least as
 * late. */
static void plan_drop_costly_slices(Ctx *ctx, Graph *g)
{
    int w, n = 0;
    const int *was = slices_save(ctx, g, &w);
    for (int i = g->nops - 1; i >= 0; i--) {
        if (!concat_has_slices(g, i))
            continue;
        const long long with = g->arena_floats;
        concat_set_slices(g, i, NULL);
        plan_place(ctx, g);
        if (g->arena_floats >= with) {
            concat_set_slices(g, i, was + (size_t)i * (size_t)w);
            plan_place(ctx, g);
            n++;
        }
    }
    if (n == 0)
        return;
    const long long with = g->arena_floats;
    was = slices_save(ctx, g, &w);
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].kind == OP_CONCAT)
            concat_set_slices(g, i, NULL);
    plan_place(ctx, g);
    if (g->arena_floats < with)
        return;
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].kind == OP_CONCAT)
            concat_set_slices(g, i, was + (size_t)i * (size_t)w);
    plan_place(ctx, g);
}

void plan_run(Ctx *ctx, Graph *g)
{
    plan_liveness(g);
    plan_check_producers(g);
    plan_place(ctx, g);
    plan_drop_costly_slices(ctx, g);
}

/* The liveness optimum: the largest total size of the storage groups live
 * at any one op. No plan can use less; the greedy plan reaches it or comes
 * close (the difference is fragmentation and alignment). */
/* Activation floats live at each op i, live[i], a storage group counted
 * once while any member lives; the lifetimes must be set (plan_liveness). */
static long long *live_profile(Ctx *ctx, const Graph *g)
{
    long long *rel;
    int *root = plan_roots(ctx, g, &rel);
    size_t nt = (size_t)(g->nt ? g->nt : 1);
    PlanItem *span = arena_alloc(ctx->arena, nt * sizeof *span);
    for (int t = 0; t < g->nt; t++)
        span[t] = (PlanItem){ 0, t, -1, -1, 0 };
    for (int t = 0; t < g->nt; t++) {
        const Tensor *x = &g->t[t];
        if (x->role == TR_ACT && x->first_op >= 0)
            item_add(&span[root[t]], x, rel[t]);
    }
    /* live[i] - live[i-1], summed over the groups: a group adds its size at
     * its first op and removes it after its last. */
    long long *live = arena_alloc(ctx->arena, (size_t)(g->nops + 1) * sizeof *live);
    for (int i = 0; i <= g->nops; i++)
        live[i] = 0;
    for (int t = 0; t < g->nt; t++)
        if (span[t].first_op >= 0) {
            live[span[t].first_op] += span[t].numel;
            live[span[t].last_op + 1] -= span[t].numel;
        }
    for (int i = 1; i <= g->nops; i++)
        live[i] += live[i - 1];
    return live;
}

long long *plan_live_floats(Ctx *ctx, Graph *g)
{
    plan_liveness(g);
    return live_profile(ctx, g);
}

long long plan_lower_bound(Ctx *ctx, const Graph *g)
{
    const long long *live = live_profile(ctx, g);
    long long best = 0;
    for (int i = 0; i < g->nops; i++)
        if (live[i] > best)
            best = live[i];
    return best;
}

/* ---- plan_check: an independent verifier ---- */

static const char *tname(const Tensor *t)
{
    return t->name ? t->name : "?";
}

/* Every activation an op touches is placed inside the arena, and its
 * recorded lifetime covers that op. */
static int check_use(const Graph *g, int i, int id, char *msg, size_t msglen)
{
    const Tensor *t = &g->t[id];
    if (t->role != TR_ACT)
        return 0;
    if (t->offset < 0 || t->offset + tensor_floats(t) > g->arena_floats) {
        snprintf(msg, msglen, "tensor %d '%s' (%lld floats at offset %lld) is not "
                 "inside the arena of %lld floats", id, tname(t), tensor_floats(t),
                 t->offset, g->arena_floats);
        return -1;
    }
    if (i < t->first_op || i > t->last_op) {
        snprintf(msg, msglen, "tensor %d '%s' is used by op %d outside its "
                 "lifetime %d..%d", id, tname(t), i, t->first_op, t->last_op);
        return -1;
    }
    return 0;
}

static int check_uses(const Graph *g, char *msg, size_t msglen)
{
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        for (int k = 0; k < op->nin; k++)
            if (check_use(g, i, op->in[k], msg, msglen))
                return -1;
        if (check_use(g, i, op->out, msg, msglen))
            return -1;
        if (op->work > 0 && check_use(g, i, op->work - 1, msg, msglen))
            return -1;
    }
    return 0;
}

static int is_planned_act(const Tensor *t)
{
    return t->role == TR_ACT && t->first_op >= 0;
}

/* Whether y is made by a concat without an activation that reads t as
 * its input at element at: then t, placed there, is y's slice. */
static int concat_reads_at(const Graph *g, int y, int t, long long at)
{
    const int p = g->t[y].producer;
    if (p < 0 || p >= g->nops || g->ops[p].kind != OP_CONCAT || g->ops[p].out != y ||
        g->ops[p].act.kind != ACT_NONE)
        return 0;
    const Op *op = &g->ops[p];
    long long pos = 0;
    for (int k = 0; k < op->nin; k++) {
        if (op->in[k] == t && pos == at)
            return 1;
        pos += g->t[op->in[k]].numel;
    }
    return 0;
}

/* The tensor whose storage holds t, following views (KV_VIEW flattens
 * write nothing: their output is their input's bytes) and slices (a
 * concat's input its producer wrote into the concat's output, checked
 * against the concat); *at: t's first float's index in it. */
static int storage_root(const Graph *g, int t, long long *at)
{
    *at = 0;
    for (int n = 0; n <= g->nops + g->nt; n++) {
        const Tensor *x = &g->t[t];
        const Op *op = x->producer >= 0 ? &g->ops[x->producer] : NULL;
        if (x->slice_of > 0 && concat_reads_at(g, x->slice_of - 1, t, x->slice_at)) {
            *at += x->slice_at;
            t = x->slice_of - 1;
        } else if (op && op->variant == KV_VIEW && op->nin == 1 && op->out == t) {
            t = op->in[0];
        } else {
            break;
        }
    }
    return t;
}

/* Tensors a and b, live at once, may share their bytes when either they
 * are views or slices of one storage, each at its place there (nobody
 * writes a byte of it twice: a view writes nothing, a slice's producer
 * writes its slice before the concat writes the rest), or they occupy the
 * same range and the op that writes the younger one works in place and is
 * the older one's last reader: an elementwise op reads index i of its
 * inputs before it writes index i. */
static int sharing_allowed(const Graph *g, int a, int b)
{
    const Tensor *ta = &g->t[a], *tb = &g->t[b];
    long long pa, pb;
    if (storage_root(g, a, &pa) == storage_root(g, b, &pb))
        return ta->offset - pa == tb->offset - pb;
    if (ta->offset != tb->offset || tensor_floats(ta) != tensor_floats(tb))
        return 0;
    if (ta->first_op > tb->first_op) {
        const Tensor *t = ta;
        ta = tb, tb = t;
        a = b;
    }
    const int j = tb->first_op;
    if (tb->producer != j || ta->last_op != j)
        return 0;
    const Op *op = &g->ops[j];
    if (op->inplace == 0 || op->variant == KV_VIEW)
        return 0;
    for (int k = 0; k < op->nin; k++)
        if (op->in[k] == a)
            return 1;
    return 0;
}

static int check_pair(const Graph *g, int a, int b, char *msg, size_t msglen)
{
    const Tensor *ta = &g->t[a], *tb = &g->t[b];
    if (!lifetimes_meet(ta, tb))
        return 0;
    if (ta->offset + tensor_floats(ta) <= tb->offset || tb->offset + tensor_floats(tb) <= ta->offset)
        return 0;
    if (sharing_allowed(g, a, b))
        return 0;
    int op = ta->first_op > tb->first_op ? ta->first_op : tb->first_op;
    snprintf(msg, msglen, "tensors %d '%s' [%lld, %lld) and %d '%s' [%lld, %lld) "
             "overlap in the arena while both are live at op %d", a, tname(ta),
             ta->offset, ta->offset + tensor_floats(ta), b, tname(tb), tb->offset,
             tb->offset + tensor_floats(tb), op);
    return -1;
}

/* A planned activation, keyed by the op that starts its lifetime. */
typedef struct Live {
    int first_op, id;
} Live;

static int live_cmp(const void *pa, const void *pb)
{
    const Live *a = pa, *b = pb;
    if (a->first_op != b->first_op)
        return a->first_op < b->first_op ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Checks every pair of planned activations whose lifetimes meet: sorted by
 * first op, the partners of a are the tensors after it that start before a
 * ends. The work is the number of such pairs, not the square of the
 * tensor count. */
int plan_check(Ctx *ctx, const Graph *g, char *msg, size_t msglen)
{
    if (msglen)
        msg[0] = '\0';
    if (check_uses(g, msg, msglen))
        return -1;
    Live *live = arena_alloc(ctx->arena, (size_t)(g->nt ? g->nt : 1) * sizeof *live);
    int n = 0;
    for (int t = 0; t < g->nt; t++)
        if (is_planned_act(&g->t[t]))
            live[n++] = (Live){ g->t[t].first_op, t };
    qsort(live, (size_t)n, sizeof *live, live_cmp);
    for (int i = 0; i < n; i++) {
        const int a = live[i].id, last = g->t[a].last_op;
        for (int j = i + 1; j < n && live[j].first_op <= last; j++) {
            const int b = live[j].id;
            if (check_pair(g, a < b ? a : b, a < b ? b : a, msg, msglen))
                return -1;
        }
    }
    return 0;
}
