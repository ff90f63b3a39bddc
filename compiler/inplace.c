/* inplace.c: pass: let results share their input's arena storage where
 * that is safe. A flatten (ops.def: OPF_VIEW) between activations becomes a
 * view (KV_VIEW: no code, the output is the input's storage). An
 * elementwise op (OPF_INPLACE: activation, batchnorm, add, ...) writes over
 * an input of the same size when no op after it reads that input or
 * anything sharing its storage; so does a conv over its residual (fuse.c).
 * Op.inplace records the shared input; plan.c places such tensors at one
 * offset and plan_check() verifies the sharing is safe. The slices
 * concat_view.c chose are storage shared already: a concat output shares
 * the storage of its slices, and an op writing a slice in place takes its
 * input's storage into the slice with it (when that storage holds nothing
 * else: storage_movable).
 *
 *   requires: topological order, no dead ops, kernels chosen
 *   provides: in-place and view ops marked (IRP_INPLACE)
 *   breaks:   the arena plan
 *
 * Every op after this pass must keep the graph's ops and tensors as they
 * are: a new op would not know which storage it may overwrite.
 */
#include "passes.h"

typedef struct Sharing {
    int *root;        /* per tensor: the first tensor of its storage */
    long long *rel;   /* per tensor: its first float's index in that storage */
    int *last;        /* per root: the last op reading any tensor of it */
    int *last_read;   /* per tensor: the last op reading it, -1 none */
} Sharing;

/* The concat output whose storage holds t (concat_view.c's slices, maybe
 * nested), and t's first float's index in it; t itself when no slice. */
static int slice_root(const Graph *g, int t, long long *rel)
{
    *rel = 0;
    for (int n = 0; n < g->nt && g->t[t].slice_of > 0; n++) {
        *rel += g->t[t].slice_at;
        t = g->t[t].slice_of - 1;
    }
    return t;
}

static void sharing_init(Ctx *ctx, const Graph *g, Sharing *s)
{
    size_t n = (size_t)(g->nt ? g->nt : 1);
    s->root = arena_alloc(ctx->arena, n * sizeof *s->root);
    s->rel = arena_alloc(ctx->arena, n * sizeof *s->rel);
    s->last = arena_alloc(ctx->arena, n * sizeof *s->last);
    s->last_read = arena_alloc(ctx->arena, n * sizeof *s->last_read);
    for (int t = 0; t < g->nt; t++)
        s->root[t] = slice_root(g, t, &s->rel[t]), s->last_read[t] = s->last[t] = -1;
    for (int i = 0; i < g->nops; i++)
        for (int k = 0; k < g->ops[i].nin; k++)
            s->last_read[g->ops[i].in[k]] = i;
    for (int t = 0; t < g->nt; t++)
        if (s->last_read[t] > s->last[s->root[t]])
            s->last[s->root[t]] = s->last_read[t];
}

/* out joins the storage of tensor in. */
static void sharing_join(Sharing *s, int out, int in)
{
    int r = s->root[in];
    s->root[out] = r;
    s->rel[out] = s->rel[in];
    if (s->last_read[out] > s->last[r])
        s->last[r] = s->last_read[out];
}

/* Whether the storage of a may move into out's slice of a concat output
 * (out's producer writes over a): a's storage holds nothing but tensors of
 * a's place and size (views and in-place results, no slices) and is not
 * the concat output's already. */
static int storage_movable(const Graph *g, const Sharing *s, int a, int out)
{
    const int r = s->root[a];
    if (r == s->root[out])
        return 0;
    for (int t = 0; t < g->nt; t++)
        if (s->root[t] == r && (s->rel[t] != 0 || g->t[t].slice_of ||
                                tensor_floats(&g->t[t]) != tensor_floats(&g->t[out])))
            return 0;
    return 1;
}

/* a's whole storage moves to the place of out, a slice. */
static void sharing_move(const Graph *g, Sharing *s, int out, int a)
{
    const int r = s->root[a], to = s->root[out];
    if (s->last[r] > s->last[to])
        s->last[to] = s->last[r];
    for (int t = 0; t < g->nt; t++)
        if (s->root[t] == r)
            s->root[t] = to, s->rel[t] = s->rel[out];
}

/* An activation whose storage may be shared: not the int8 image of the
 * input or output, which the int8 entry binds to the caller's buffers. */
static int is_act(const Graph *g, int t)
{
    return g->t[t].role == TR_ACT && !g->t[t].pinned;
}

static int elementwise(const Op *op)
{
    return (op_flags(op->kind) & OPF_INPLACE) != 0;
}

/* Another input of op in a's storage at another place (a concat output
 * holding a as a slice, or another slice of it): writing a would change it
 * before op reads it. */
static int reads_around(const Graph *g, const Sharing *s, const Op *op, int a)
{
    for (int k = 0; k < op->nin; k++) {
        int b = op->in[k];
        if (s->root[b] == s->root[a] &&
            (s->rel[b] != s->rel[a] || g->t[b].numel != g->t[a].numel))
            return 1;
    }
    return 0;
}

/* The input op i may overwrite: an activation of the output's size whose
 * whole storage is read for the last time by op i. A conv with a residual
 * (fuse.c) may overwrite the residual only, which it reads element by
 * element as it writes, and not when its window input shares that storage.
 * -1 when none. */
static int inplace_input(const Graph *g, const Sharing *s, int i)
{
    const Op *op = &g->ops[i];
    const int res = op_residual(op) >= 0;
    if (res && s->root[op->in[0]] == s->root[op->in[1]])
        return -1;
    for (int k = res; k < op->nin; k++) {
        int a = op->in[k];
        if (is_act(g, a) && g->t[a].numel == g->t[op->out].numel &&
            g->t[a].dtype == g->t[op->out].dtype && s->last[s->root[a]] == i &&
            !reads_around(g, s, op, a) &&
            (!g->t[op->out].slice_of || storage_movable(g, s, a, op->out)))
            return k;
    }
    return -1;
}

void inplace_run(Ctx *ctx, Graph *g)
{
    Sharing s;
    sharing_init(ctx, g, &s);
    for (int i = 0; i < g->nops; i++) {
        Op *op = &g->ops[i];
        const int slice = g->t[op->out].slice_of > 0;
        if (!is_act(g, op->out) || (op->variant != KV_GENERIC && op_residual(op) < 0))
            continue;
        if ((op_flags(op->kind) & OPF_VIEW) && is_act(g, op->in[0]) && !slice) {
            op->variant = KV_VIEW;
            op->inplace = 1;
            sharing_join(&s, op->out, op->in[0]);
        } else if (elementwise(op) || op_residual(op) >= 0) {
            int k = inplace_input(g, &s, i);
            if (k < 0)
                continue;
            op->inplace = 1 + k;
            if (slice)   /* the input moves into the slice the op writes */
                sharing_move(g, &s, op->out, op->in[k]);
            else
                sharing_join(&s, op->out, op->in[k]);
        }
    }
}
