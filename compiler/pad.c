/* pad.c: pass: give every padded conv2d that has a fast kernel an explicit
 * zero-padded copy of its input (a new OP_PAD op and activation right
 * before it), and take the padding off the conv, so that its inner loops
 * read every tap without a bounds test. A Winograd conv of odd output
 * height or width gets one more row of zeros below or column to the right
 * (pad_borders): its last 2x2 tiles read 4x4 windows past the map.
 *
 *   requires: topological order, no dead ops, kernels chosen (pack.c)
 *   provides: fast convs have no padding but depthwise ones (pad_in_kernel)
 *             (IRP_PADDED)
 *   breaks:   the arena plan
 *
 * Numerics: a padding tap now adds w * 0.0f instead of being skipped; that
 * leaves every sum as it was except that an exact -0.0 sum may become +0.0
 * (docs/numerics.md). The generic kernels, and -O0, keep skipping taps.
 */
#include <string.h>

#include "passes.h"

static int has_pad(const Window *w)
{
    return w->pt || w->pl || w->pb || w->pr;
}

/* A KV_CONV_ROWS conv of one input channel per group (depthwise) handles
 * its borders itself (emit_kernels.c: zero rows above and below, border
 * columns one by one, small maps in a local padded plane): a pad op would
 * cost a pass over memory as long as the conv's own (mobilenet_v2: 700 µs
 * of 9 ms) and its arena space. */
int pad_in_kernel(const Graph *g, const Op *op)
{
    const int groups = op->groups > 0 ? op->groups : 1;
    return op->kind == OP_CONV && op->variant == KV_CONV_ROWS &&
           g->t[op->in[0]].shape.dim[0] == groups;
}

static int wants_pad(const Graph *g, const Op *op)
{
    return op->kind == OP_CONV && has_pad(&op->win) && !pad_in_kernel(g, op) &&
           (op->variant == KV_CONV_BLOCKED || op->variant == KV_CONV_PIXELS ||
            op->variant == KV_CONV_ROWS || op->variant == KV_CONV_WINOGRAD);
}

Window pad_borders(const Graph *g, const Op *op, KernelVariant v)
{
    Window w = op->win;
    if (v == KV_CONV_WINOGRAD) {
        w.pb += g->t[op->out].shape.dim[1] % 2;
        w.pr += g->t[op->out].shape.dim[2] % 2;
    }
    return w;
}

Shape pad_shape(const Tensor *x, const Window *w)
{
    Shape s = x->shape, none = { 0, { 0, 0, 0, 0 } };
    long long h = (long long)s.dim[1] + w->pt + w->pb, wd = (long long)s.dim[2] + w->pl + w->pr;
    if (h > LIMIT_DIM || wd > LIMIT_DIM || s.dim[0] * h * wd > LIMIT_TENSOR_ELEMS)
        return none;
    s.dim[1] = (int)h;
    s.dim[2] = (int)wd;
    return s;
}

/* Inserts the pad op before ops[i] and points the conv at its output. */
static void pad_insert(Ctx *ctx, Graph *g, int i, Shape s, Window borders)
{
    const Op conv = g->ops[i];
    const char *name = arena_printf(ctx->arena, "%s.pad", conv.name ? conv.name : "conv");
    int t = graph_add_tensor(ctx, g, name, TR_ACT, s);
    Op *pad = graph_insert_op(ctx, g, i, OP_PAD);
    pad->name = conv.name;
    pad->loc = conv.loc;
    pad->in = arena_alloc(ctx->arena, sizeof *pad->in);
    pad->in[0] = conv.in[0];
    pad->nin = 1;
    pad->out = t;
    pad->win = borders;
    pad->win.kh = pad->win.kw = pad->win.sh = pad->win.sw = pad->win.dh = pad->win.dw = 1;
    g->t[t].producer = i;
    Op *c = &g->ops[i + 1];
    c->in[0] = t;
    c->win.pt = c->win.pl = c->win.pb = c->win.pr = 0;
}

void pad_run(Ctx *ctx, Graph *g)
{
    for (int i = 0; i < g->nops; i++) {
        if (!wants_pad(g, &g->ops[i]))
            continue;
        const Window wb = pad_borders(g, &g->ops[i], g->ops[i].variant);
        Shape s = pad_shape(&g->t[g->ops[i].in[0]], &wb);
        if (s.rank == 0) {
            g->ops[i].variant = KV_GENERIC;   /* too big to copy: bounds tests */
            continue;
        }
        pad_insert(ctx, g, i, s, wb);
        i++;                                  /* past the conv */
    }
}
