/* pass.c: the pass pipeline. Each pass states what it requires and
 * provides (docs/passes.md); the runner checks the contract, runs the pass
 * and verifies the graph's invariants after it. The graph surgery the
 * passes share (op_remove, graph_compact, graph_insert_op) is in ir.c.
 *
 *   dce        drop ops whose results never reach the output       (always)
 *   fold_bn    fold a batchnorm into the conv/dense before it      (unless -O0)
 *   fuse       merge an activation into the op that feeds it       (unless -O0)
 *   quantize   int8 ops from calibration ranges          (with --quantize int8)
 *   pack       choose kernels, re-pack conv/dense weights for them (unless -O0)
 *   pad        explicit zero padding before fast convs             (unless -O0)
 *   concat_view concat inputs written into their slices of its output (unless -O0)
 *   inplace    flatten as a view, elementwise ops in place         (unless -O0)
 *   plan       liveness and arena offsets for activations          (always)
 */
#include "passes.h"

enum {
    IRP_TOPO = 1, IRP_DEAD_FREE = 2, IRP_FUSED = 4, IRP_PLANNED = 8,
    IRP_BN_FOLDED = 16, IRP_KERNELS = 32, IRP_PADDED = 64, IRP_INPLACE = 128,
    IRP_SLICES = 256,
};

typedef struct Pass {
    const char *name;
    unsigned requires, provides, breaks;
    int optional;                     /* skipped with -O0 ... */
    void (*run)(Ctx *, Graph *);
    int quant_needs;                  /* ... but for quantize.c, which quantizes
                                         the fused graph whatever -O says */
} Pass;

static void dce_run(Ctx *ctx, Graph *g);

/* concat_view and inplace must come after every pass that adds ops: they
 * decide which storage an op writes or may overwrite, and break nothing but
 * the plan. inplace respects concat_view's slices. */
static const Pass passes[] = {
    { "dce", IRP_TOPO, IRP_DEAD_FREE, 0, 0, dce_run, 0 },
    { "fold_bn", IRP_TOPO | IRP_DEAD_FREE, IRP_BN_FOLDED, IRP_PLANNED, 1, fold_bn_run, 1 },
    { "fuse", IRP_TOPO | IRP_DEAD_FREE, IRP_FUSED, IRP_PLANNED, 1, fuse_run, 1 },
    { "quantize", IRP_TOPO | IRP_DEAD_FREE, 0, IRP_PLANNED, 0, quantize_run, 0 },
    { "pack", IRP_TOPO | IRP_DEAD_FREE | IRP_FUSED, IRP_KERNELS, IRP_PLANNED, 1, pack_run, 0 },
    { "pad", IRP_TOPO | IRP_DEAD_FREE | IRP_KERNELS, IRP_PADDED,
      IRP_PLANNED | IRP_INPLACE | IRP_SLICES, 1, pad_run, 0 },
    { "concat_view", IRP_TOPO | IRP_DEAD_FREE | IRP_PADDED, IRP_SLICES, IRP_PLANNED, 1,
      concat_view_run, 0 },
    { "inplace", IRP_TOPO | IRP_DEAD_FREE | IRP_KERNELS | IRP_PADDED, IRP_INPLACE, IRP_PLANNED,
      1, inplace_run, 0 },
    { "plan", IRP_TOPO | IRP_DEAD_FREE, IRP_PLANNED, 0, 0, plan_run, 0 },
};

/* Backward from the output: an op is live when its result is read by a
 * live op or is the output. Ops are in topological order. */
static void dce_run(Ctx *ctx, Graph *g)
{
    int *needed = arena_alloc(ctx->arena, sizeof *needed * (size_t)g->nt);
    needed[g->output] = 1;
    for (int i = g->nops - 1; i >= 0; i--) {
        Op *op = &g->ops[i];
        if (!needed[op->out]) {
            op_remove(op);
            continue;
        }
        for (int j = 0; j < op->nin; j++)
            needed[op->in[j]] = 1;
    }
    graph_compact(ctx, g);
}

/* The invariants every pass keeps: no removed op left uncompacted, ids in
 * range, topological order, one producer per activation, the output
 * produced. A violation is a cnnc bug. */
static void verify(Ctx *ctx, const Graph *g, const char *after)
{
    char *made = arena_alloc(ctx->arena, (size_t)g->nt + 1);
    made[g->input] = 1;
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].role == TR_WEIGHT)
            made[i] = 1;
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        if (op->removed)
            ICE("after %s: op %d '%s' is removed but still in the graph", after, i, op->name);
        for (int j = 0; j < op->nin; j++)
            if (op->in[j] < 0 || op->in[j] >= g->nt || !made[op->in[j]])
                ICE("after %s: op %d '%s' reads tensor %d before it is made", after, i, op->name, op->in[j]);
        if (op->out < 0 || op->out >= g->nt || made[op->out])
            ICE("after %s: op %d '%s' writes tensor %d twice or out of range", after, i, op->name, op->out);
        made[op->out] = 1;
    }
    if (!made[g->output] || g->t[g->output].role != TR_OUTPUT)
        ICE("after %s: the output tensor is not produced", after);
}

const char *pass_name(int i)
{
    int n = (int)(sizeof passes / sizeof passes[0]);
    return i == 0 ? "lower" : i > 0 && i <= n ? passes[i - 1].name : NULL;
}

/* --print-after: the embedder sees the graph after each pass. */
static void pass_after(const Ctx *ctx, const char *name, const Graph *g)
{
    if (ctx->after_pass)
        ctx->after_pass(ctx->after_pass_user, name, g);
}

int pass_run_all(Ctx *ctx, Graph *g, const PassOptions *opt)
{
    unsigned have = IRP_TOPO;
    g->quant = opt->quant;
    pass_after(ctx, "lower", g);
    for (size_t i = 0; i < sizeof passes / sizeof passes[0] && !ctx->nerrors; i++) {
        const Pass *p = &passes[i];
        if (p->optional && opt->no_opt && !(p->quant_needs && opt->quant))
            continue;
        if ((p->requires & have) != p->requires)
            ICE("pass %s requires 0x%x, have 0x%x", p->name, p->requires, have);
        p->run(ctx, g);
        have = (have & ~p->breaks) | p->provides;
        verify(ctx, g, p->name);
        pass_after(ctx, p->name, g);
    }
    g->quant = NULL;
    if (ctx->nerrors)
        return -1;
    char msg[256];
    if (plan_check(ctx, g, msg, sizeof msg) != 0)
        ICE("arena plan: %s", msg);
    return ctx->nerrors ? -1 : 0;
}
