/* plan.c: pass: tensor liveness and arena offsets.
 *
 * Consumes a Graph whose ops are in topological order; sets first_op and
 * last_op of every tensor, the offset (in floats) of every TR_ACT tensor and
 * g->arena_floats. Input, output and weights are the caller's or constants:
 * they get liveness for reporting but no arena space.
 *
 * Liveness: a TR_ACT tensor lives from the op that produces it to the last op
 * that reads it. An op's inputs and output are live at once (no in-place).
 *
 * Placement (TFLite Micro's GreedyMemoryPlanner): take the TR_ACT tensors by
 * size, largest first, ties by tensor id so the plan is deterministic. Put
 * each at the lowest offset, a multiple of PLAN_ALIGN floats (64 bytes), where
 * it overlaps no already-placed tensor whose lifetime intersects its own. The
 * arena size is the highest end offset. plan_check() verifies a plan without
 * trusting this code: lifetimes must cover every use, and tensors live at once
 * must not share a float.
 */
#include <stdlib.h>

#include "internal.h"

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
        const int params[4] = { op->w, op->b, op->mean, op->var };
        for (int k = 0; k < 4; k++)
            if (params[k] >= 0)
                live_at(&g->t[params[k]], i);
        live_at(&g->t[op->out], i);
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

typedef struct PlanItem {
    long long numel;
    int id;
} PlanItem;

/* Order of placement: larger first, then lower id. */
static int item_cmp(const void *pa, const void *pb)
{
    const PlanItem *a = pa, *b = pb;
    if (a->numel != b->numel)
        return a->numel > b->numel ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* The lowest aligned offset for t clear of every tensor in placed[0..n)
 * (sorted by offset) whose lifetime meets t's. */
static long long plan_lowest_fit(const Graph *g, const Tensor *t,
                                 const int *placed, int n)
{
    long long at = 0;
    for (int k = 0; k < n; k++) {
        const Tensor *p = &g->t[placed[k]];
        if (!lifetimes_meet(t, p))
            continue;
        if (p->offset >= at + t->numel)
            break;   /* sorted by offset: the gap before p fits t */
        if (align_up(p->offset + p->numel) > at)
            at = align_up(p->offset + p->numel);
    }
    return at;
}

/* Inserts id into placed[0..n), keeping it sorted by offset then id. */
static void placed_insert(const Graph *g, int *placed, int n, int id)
{
    int k = n;
    long long off = g->t[id].offset;
    while (k > 0 && (g->t[placed[k - 1]].offset > off ||
                     (g->t[placed[k - 1]].offset == off && placed[k - 1] > id))) {
        placed[k] = placed[k - 1];
        k--;
    }
    placed[k] = id;
}

/* Collects the activations that some op touches, in placement order. */
static int plan_collect(Ctx *ctx, Graph *g, PlanItem **items)
{
    *items = arena_alloc(ctx->arena, (size_t)(g->nt ? g->nt : 1) * sizeof **items);
    int n = 0;
    for (int t = 0; t < g->nt; t++) {
        g->t[t].offset = -1;
        if (g->t[t].role == TR_ACT && g->t[t].first_op >= 0)
            (*items)[n++] = (PlanItem){ g->t[t].numel, t };
    }
    qsort(*items, (size_t)n, sizeof **items, item_cmp);
    return n;
}

void plan_run(Ctx *ctx, Graph *g)
{
    plan_liveness(g);
    plan_check_producers(g);
    PlanItem *items;
    int n = plan_collect(ctx, g, &items);
    int *placed = arena_alloc(ctx->arena, (size_t)(n ? n : 1) * sizeof *placed);
    long long peak = 0;
    for (int k = 0; k < n; k++) {
        Tensor *t = &g->t[items[k].id];
        t->offset = plan_lowest_fit(g, t, placed, k);
        placed_insert(g, placed, k, items[k].id);
        if (t->offset + t->numel > peak)
            peak = t->offset + t->numel;
    }
    g->arena_floats = peak;
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
    if (t->offset < 0 || t->offset + t->numel > g->arena_floats) {
        snprintf(msg, msglen, "tensor %d '%s' (%lld floats at offset %lld) is not "
                 "inside the arena of %lld floats", id, tname(t), t->numel,
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
    }
    return 0;
}

static int is_planned_act(const Tensor *t)
{
    return t->role == TR_ACT && t->first_op >= 0;
}

static int check_pair(const Graph *g, int a, int b, char *msg, size_t msglen)
{
    const Tensor *ta = &g->t[a], *tb = &g->t[b];
    if (!lifetimes_meet(ta, tb))
        return 0;
    if (ta->offset + ta->numel <= tb->offset || tb->offset + tb->numel <= ta->offset)
        return 0;
    int op = ta->first_op > tb->first_op ? ta->first_op : tb->first_op;
    snprintf(msg, msglen, "tensors %d '%s' [%lld, %lld) and %d '%s' [%lld, %lld) "
             "overlap in the arena while both are live at op %d", a, tname(ta),
             ta->offset, ta->offset + ta->numel, b, tname(tb), tb->offset,
             tb->offset + tb->numel, op);
    return -1;
}

int plan_check(const Graph *g, char *msg, size_t msglen)
{
    if (msglen)
        msg[0] = '\0';
    if (check_uses(g, msg, msglen))
        return -1;
    for (int a = 0; a < g->nt; a++) {
        if (!is_planned_act(&g->t[a]))
            continue;
        for (int b = a + 1; b < g->nt; b++)
            if (is_planned_act(&g->t[b]) && check_pair(g, a, b, msg, msglen))
                return -1;
    }
    return 0;
}
