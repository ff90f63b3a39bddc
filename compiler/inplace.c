/* inplace.c: pass: let results share their input's arena storage where
 * that is safe. A flatten (ops.def: OPF_VIEW) between activations becomes a
 * view (KV_VIEW: no code, the output is the input's storage). An
 * elementwise op (OPF_INPLACE: activation, batchnorm, add, ...) writes over an input of the same size when no
 * op after it reads that input or anything sharing its storage. Op.inplace
 * records the shared input; plan.c places such tensors at one offset and
 * plan_check() verifies the sharing is safe.
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
    int *last;        /* per root: the last op reading any tensor of it */
    int *last_read;   /* per tensor: the last op reading it, -1 none */
} Sharing;

static void sharing_init(Ctx *ctx, const Graph *g, Sharing *s)
{
    size_t n = (size_t)(g->nt ? g->nt : 1);
    s->root = arena_alloc(ctx->arena, n * sizeof *s->root);
    s->last = arena_alloc(ctx->arena, n * sizeof *s->last);
    s->last_read = arena_alloc(ctx->arena, n * sizeof *s->last_read);
    for (int t = 0; t < g->nt; t++)
        s->root[t] = t, s->last_read[t] = -1;
    for (int i = 0; i < g->nops; i++)
        for (int k = 0; k < g->ops[i].nin; k++)
            s->last_read[g->ops[i].in[k]] = i;
    for (int t = 0; t < g->nt; t++)
        s->last[t] = s->last_read[t];
}

/* out joins the storage of tensor in. */
static void sharing_join(Sharing *s, int out, int in)
{
    int r = s->root[in];
    s->root[out] = r;
    if (s->last_read[out] > s->last[r])
        s->last[r] = s->last_read[out];
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

/* The input op i may overwrite: an activation of the output's size whose
 * whole storage is read for the last time by op i. -1 when none. */
static int inplace_input(const Graph *g, const Sharing *s, int i)
{
    const Op *op = &g->ops[i];
    for (int k = 0; k < op->nin; k++) {
        int a = op->in[k];
        if (is_act(g, a) && g->t[a].numel == g->t[op->out].numel &&
            g->t[a].dtype == g->t[op->out].dtype && s->last[s->root[a]] == i)
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
        if (!is_act(g, op->out) || op->variant != KV_GENERIC)
            continue;
        if ((op_flags(op->kind) & OPF_VIEW) && is_act(g, op->in[0])) {
            op->variant = KV_VIEW;
            op->inplace = 1;
            sharing_join(&s, op->out, op->in[0]);
        } else if (elementwise(op)) {
            int k = inplace_input(g, &s, i);
            if (k < 0)
                continue;
            op->inplace = 1 + k;
            sharing_join(&s, op->out, op->in[k]);
        }
    }
}
