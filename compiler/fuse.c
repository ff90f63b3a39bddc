/* fuse.c: pass: merges elementwise work into the op that produces its
 * input, so that each value is written once.
 *
 *   - An activation op whose input is read by it alone is merged into the
 *     op that produces that input (conv2d + bias + relu becomes one loop
 *     nest).
 *   - A residual add of two tensors, one of them a conv2d's result read by
 *     the add alone, becomes that conv's second input (op_residual): the
 *     conv adds it to each result before its activation, and writes the
 *     add's output (ResNet's conv + bn + add + relu, MobileNetV2's
 *     projection + add). The add's activation moves to the conv.
 *   - A concat read only by a batchnorm becomes the batchnorm's inputs: it
 *     normalizes each channel where the concat's input holds it, and the
 *     concat's copy goes (DenseNet's per-layer concats).
 *
 * Results are unchanged bit for bit: the same operations on the same
 * floats (a two-operand add is the same sum either way round). The last
 * two not in a graph being quantized: the int8 ops take one input.
 *
 * Requires topological order and no dead ops; breaks the arena plan.
 */
#include "passes.h"

static void note_fused(Op *p, const Op *merged)
{
    p->fused[p->nfused].name = merged->name;
    p->fused[p->nfused].loc = merged->loc;
    p->nfused++;
}

/* p takes over op's output and activation; op goes. */
static void absorb(Graph *g, int src, Op *op)
{
    Op *p = &g->ops[src];
    p->act = op->act;
    note_fused(p, op);
    p->out = op->out;
    g->t[p->out].producer = src;
    op_remove(op);
}

/* The op producing tensor x may take over the op reading it: it has
 * room for one more fused name, no activation yet, and x is a float
 * intermediate nothing else reads. */
static int mergeable(const Graph *g, const Op *producer, int x)
{
    return producer->act.kind == ACT_NONE && producer->nfused < MAX_FUSED &&
           g->t[x].role == TR_ACT && g->t[x].dtype == DT_F32 && graph_readers(g, x) == 1;
}

static int fusable(const Graph *g, const Op *producer, const Op *act)
{
    return (op_flags(producer->kind) & OPF_TAKES_ACT) && mergeable(g, producer, act->in[0]);
}

static void fuse_act(Graph *g, Op *act)
{
    int src = g->t[act->in[0]].producer;
    if (src >= 0 && fusable(g, &g->ops[src], act))
        absorb(g, src, act);
}

/* The index of the conv whose result add operand k is, when the add can
 * become its residual: the other operand is made before that conv (so the
 * conv can read it), is not the conv's result itself, and is a float
 * activation or the graph's input. -1 when not. */
static int residual_conv(const Graph *g, const Op *add, int k)
{
    const int x = add->in[k], r = add->in[1 - k], src = g->t[x].producer;
    if (src < 0 || x == r)
        return -1;
    const Op *conv = &g->ops[src];
    const Tensor *tr = &g->t[r];
    if (conv->kind != OP_CONV || conv->nin != 1 || !mergeable(g, conv, x) ||
        tr->dtype != DT_F32 || (tr->role != TR_ACT && tr->role != TR_INPUT) || tr->producer >= src)
        return -1;
    return src;
}

/* add(a, b) with a conv's result as a or b: the conv produced later gets
 * the other operand as its residual. */
static void fuse_residual(Ctx *ctx, Graph *g, Op *add)
{
    if (add->nin != 2)
        return;
    const int c0 = residual_conv(g, add, 0), c1 = residual_conv(g, add, 1);
    const int k = c0 > c1 ? 0 : 1, src = c0 > c1 ? c0 : c1;
    if (src < 0)
        return;
    Op *conv = &g->ops[src];
    int *in = arena_alloc(ctx->arena, 2 * sizeof *in);
    in[0] = conv->in[0];
    in[1] = add->in[1 - k];
    conv->in = in;
    conv->nin = 2;
    absorb(g, src, add);
}

/* batchnorm(concat(a, b, ...)) reads a, b, ... itself, each channel from
 * the input that holds it: DenseNet copies every earlier layer's features
 * into a new concat only to normalize them. */
static void fuse_concat(Graph *g, Op *bn)
{
    const int src = g->t[bn->in[0]].producer;
    if (bn->nin != 1 || src < 0 || bn->nfused >= MAX_FUSED)
        return;
    Op *cat = &g->ops[src];
    if (cat->kind != OP_CONCAT || cat->act.kind != ACT_NONE || g->t[cat->out].role != TR_ACT ||
        graph_readers(g, cat->out) != 1)
        return;
    bn->in = cat->in;
    bn->nin = cat->nin;
    note_fused(bn, cat);
    op_remove(cat);
}

void fuse_run(Ctx *ctx, Graph *g)
{
    for (int i = 0; i < g->nops; i++) {
        Op *op = &g->ops[i];
        if (op_flags(op->kind) & OPF_IS_ACT)
            fuse_act(g, op);
        else if (op->kind == OP_ADD && !g->quant)
            fuse_residual(ctx, g, op);
        else if (op->kind == OP_BATCHNORM && !g->quant)
            fuse_concat(g, op);
    }
    graph_compact(ctx, g);
}
