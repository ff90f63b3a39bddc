/* ir.c: the graph IR's helpers: tensors, ops, shapes and op names, and the
 * graph editing the passes share (insert an op, add a weight, remove ops and
 * compact). Tensors and ops live in arena arrays that double when full; ids
 * are indices, so growing them never invalidates a reference.
 */
#include <math.h>
#include <string.h>

#include "ir.h"

static const OpDesc op_descs[OP__COUNT] = {
#define OP(kind, name, nin, flags, check, keys, run, emit) [kind] = { name, nin, flags },
#include "ops.def"
#undef OP
};

static const ActDesc act_descs[ACT__COUNT] = {
#define ACT(kind, name, flags, p1, d1, p2, d2, expr) \
    [kind] = { name, flags, { p1, p2 }, { d1, d2 }, #expr },
#include "acts.def"
#undef ACT
};

const OpDesc *op_desc(OpKind k)
{
    if ((unsigned)k >= OP__COUNT)
        ICE("op_desc: bad op kind %d", (int)k);
    return &op_descs[k];
}

unsigned op_flags(OpKind k)
{
    return op_desc(k)->flags;
}

const ActDesc *act_desc(ActKind k)
{
    if ((unsigned)k >= ACT__COUNT)
        ICE("act_desc: bad activation kind %d", (int)k);
    return &act_descs[k];
}

Act act_default(ActKind k)
{
    const ActDesc *d = act_desc(k);
    Act a = { k, d->dflt[0], d->dflt[1] };
    return a;
}

const char *op_kind_name(OpKind k)
{
    return (unsigned)k < OP__COUNT ? op_descs[k].name : "?";
}

const char *act_kind_name(ActKind k)
{
    return (unsigned)k < ACT__COUNT ? act_descs[k].name : "?";
}

long long shape_numel(const Shape *s)
{
    long long n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->dim[i];
    return n;
}

int tensor_elem_bytes(const Tensor *t)
{
    return t->dtype == DT_I8 ? 1 : 4;
}

long long tensor_floats(const Tensor *t)
{
    return (t->numel * tensor_elem_bytes(t) + 3) / 4;
}

const char *dtype_name(DType d)
{
    return d == DT_I8 ? "i8" : d == DT_I32 ? "i32" : "f32";
}

int shape_equal(const Shape *a, const Shape *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i])
            return 0;
    return 1;
}

char *shape_str(Arena *a, const Shape *s)
{
    char buf[128];
    size_t n = 0;
    buf[n++] = '[';
    for (int i = 0; i < s->rank; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d", i ? ", " : "", s->dim[i]);
    snprintf(buf + n, sizeof buf - n, "]");
    return arena_strdup(a, buf);
}

Graph *graph_new(Ctx *ctx, const char *name, const char *path)
{
    Graph *g = arena_alloc(ctx->arena, sizeof *g);
    g->name = name;
    g->path = path;
    g->input = g->output = -1;
    return g;
}

static void *grow(Ctx *ctx, void *old, int n, int *cap, size_t elem)
{
    if (n < *cap)
        return old;
    int ncap = *cap ? *cap * 2 : 16;
    void *p = arena_alloc(ctx->arena, (size_t)ncap * elem);
    if (old)
        memcpy(p, old, (size_t)n * elem);
    *cap = ncap;
    return p;
}

int graph_add_tensor(Ctx *ctx, Graph *g, const char *name, TensorRole role, Shape shape)
{
    g->t = grow(ctx, g->t, g->nt, &g->tcap, sizeof *g->t);
    Tensor *t = &g->t[g->nt];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->role = role;
    t->shape = shape;
    t->numel = shape_numel(&shape);
    t->producer = -1;
    t->first_op = t->last_op = -1;
    t->offset = -1;
    return g->nt++;
}

static void op_init(Op *op, OpKind kind)
{
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->w = op->b = op->mean = op->var = op->packed = -1;
    op->out = -1;
}

Op *graph_add_op(Ctx *ctx, Graph *g, OpKind kind)
{
    g->ops = grow(ctx, g->ops, g->nops, &g->opcap, sizeof *g->ops);
    Op *op = &g->ops[g->nops++];
    op_init(op, kind);
    return op;
}

int graph_readers(const Graph *g, int tensor)
{
    int n = 0;
    for (int i = 0; i < g->nops; i++)
        for (int j = 0; j < g->ops[i].nin; j++)
            n += g->ops[i].in[j] == tensor;
    return n;
}

int op_conv_pointwise(const Op *op)
{
    const Window *w = &op->win;
    return op->kind == OP_CONV && w->kh == 1 && w->kw == 1 && w->sh == 1 && w->sw == 1 &&
           !(w->pt || w->pl || w->pb || w->pr);
}

int op_residual(const Op *op)
{
    return op->kind == OP_CONV && op->nin == 2 ? op->in[1] : -1;
}

int op_packed_weight(const Op *op)
{
    if (op->variant == KV_CONV_BLOCKED || op->variant == KV_CONV_PIXELS ||
        op->variant == KV_DENSE_BLOCKED || op->variant == KV_CONV_WINOGRAD ||
        (op->variant == KV_CONV_ROWS && op->kind == OP_CONV))
        return op->packed;
    return -1;
}

/* ---- graph editing ---- */

Op *graph_insert_op(Ctx *ctx, Graph *g, int at, OpKind kind)
{
    graph_add_op(ctx, g, kind);          /* grows the array by one */
    Op *ops = g->ops;
    memmove(&ops[at + 1], &ops[at], sizeof *ops * (size_t)(g->nops - 1 - at));
    for (int t = 0; t < g->nt; t++)
        if (g->t[t].producer >= at)
            g->t[t].producer++;
    op_init(&ops[at], kind);
    return &ops[at];
}

int graph_add_weight(Ctx *ctx, Graph *g, const char *name, Shape shape, float *data)
{
    int id = graph_add_tensor(ctx, g, name, TR_WEIGHT, shape);
    g->t[id].data = data;
    return id;
}

void op_remove(Op *op)
{
    op->removed = 1;
}

/* Drops removed ops, marking in keep[] every tensor a kept op refers to. */
static void compact_ops(Graph *g, int *keep)
{
    int nops = 0;
    for (int i = 0; i < g->nops; i++) {
        Op *op = &g->ops[i];
        if (op->removed)
            continue;
        g->ops[nops++] = *op;
        for (int j = 0; j < op->nin; j++)
            keep[op->in[j]] = 1;
        int ids[] = { op->out, op->w, op->b, op->mean, op->var, op_packed_weight(op) };
        for (size_t j = 0; j < sizeof ids / sizeof ids[0]; j++)
            if (ids[j] >= 0)
                keep[ids[j]] = 1;
        if (op->work > 0)
            keep[op->work - 1] = 1;
    }
    g->nops = nops;
    keep[g->input] = keep[g->output] = 1;
}

/* Drops the tensors not marked in keep[], which becomes old id -> new id
 * (-1: dropped), and renumbers every reference. */
static void compact_tensors(Graph *g, int *keep)
{
    int nt = 0;
    for (int i = 0; i < g->nt; i++) {
        if (!keep[i]) {
            keep[i] = -1;
            continue;
        }
        g->t[nt] = g->t[i];
        keep[i] = nt++;
    }
    g->nt = nt;
    g->input = keep[g->input];
    g->output = keep[g->output];
    for (int i = 0; i < g->nops; i++) {
        Op *op = &g->ops[i];
        for (int j = 0; j < op->nin; j++)
            op->in[j] = keep[op->in[j]];
        int *ids[] = { &op->out, &op->w, &op->b, &op->mean, &op->var, &op->packed };
        for (size_t j = 0; j < sizeof ids / sizeof ids[0]; j++)
            if (*ids[j] >= 0 && (ids[j] != &op->packed || op_packed_weight(op) >= 0))
                *ids[j] = keep[*ids[j]];
        if (op->work > 0)
            op->work = 1 + keep[op->work - 1];
        g->t[op->out].producer = i;
    }
}

void graph_compact(Ctx *ctx, Graph *g)
{
    int *keep = arena_alloc(ctx->arena, sizeof *keep * (size_t)(g->nt + 1));
    compact_ops(g, keep);
    compact_tensors(g, keep);
}
