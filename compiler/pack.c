/* pack.c: pass: choose each conv2d's and dense's kernel (Op.variant) and
 * re-pack its weights for it, into a new TR_WEIGHT tensor (Op.packed) that
 * holds the bias too. The op keeps w and b, which the interpreter reads, so
 * the graph still means what it meant; only the C backend reads the copy.
 *
 *   requires: topological order, no dead ops, activations fused
 *   provides: kernels chosen, packed weights (IRP_KERNELS)
 *   breaks:   the arena plan
 *
 * Layouts (B = the target's block, U = KV_DENSE_UNITS; padding lanes are
 * zero):
 *   KV_CONV_BLOCKED, KV_CONV_PIXELS
 *                    [groups * ceil(Fg/B)][1 + Cg*KH*KW][B]: per block of B
 *                    output channels of one group, the biases, then for
 *                    each (ic, ky, kx) the B weights, in numerics.md's order
 *   KV_DENSE_BLOCKED per block of up to U units (width rounded up to 16):
 *                    [1 + N][width]: the biases, then row i = w[u][i]
 *   KV_CONV_ROWS     no packing: w is read one scalar per tap
 * The int8 ops (qconv2d, qdense) get kernels only on a target with scalar
 * tiles (cortex-m): pack_int8.c chooses and packs them.
 */
#include "passes.h"

static int round16(int n)
{
    return (n + 15) / 16 * 16;
}

static const Target *target_of(const Ctx *ctx)
{
    return ctx->target ? ctx->target : target_default();
}

/* Stride-2 convs whose sum has this many taps or fewer (a first layer: 3
 * channels x 3x3) put the pixels in the lanes too: a tile with the channels
 * in the lanes would spend about as long scattering them to their planes as
 * on its multiply-adds (squeezenet1_1's first conv). */
enum { PIXELS_S2_MAX_TAPS = 64 };

/* Blocks of B output channels pay when a group has enough of them (and,
 * grouped, enough input channels per group). Along a row of the target's
 * pixels_min_ow or more pixels read with stride 1 (or 2, for a shallow
 * sum), the pixels go in the vector lanes: contiguous loads and stores.
 * Else the channels do, with one input value broadcast per pixel.
 * docs/passes.md. */
static KernelVariant conv_variant(const Target *t, const Graph *g, const Op *op)
{
    const int G = op->groups > 0 ? op->groups : 1;
    const int C = g->t[op->in[0]].shape.dim[0], F = g->t[op->out].shape.dim[0];
    const Shape *os = &g->t[op->out].shape;
    const int Cg = C / G, Fg = F / G;
    const int OW = op_conv_pointwise(op) ? os->dim[1] * os->dim[2] : os->dim[2];
    if (Fg < (t->block + 1) / 2 || (G > 1 && Cg < 8))
        return KV_CONV_ROWS;
    const int shallow = Cg * op->win.kh * op->win.kw <= PIXELS_S2_MAX_TAPS;
    if ((op->win.sw == 1 || (op->win.sw == 2 && shallow)) && t->pixels_min_ow &&
        OW >= t->pixels_min_ow)
        return KV_CONV_PIXELS;
    return KV_CONV_BLOCKED;
}

static Shape shape3(int a, int b, int c)
{
    Shape s = { 3, { a, b, c, 0 } };
    return s;
}

static void pack_conv(Ctx *ctx, Graph *g, Op *op, KernelVariant v)
{
    const int B = target_of(ctx)->block;
    const int G = op->groups > 0 ? op->groups : 1;
    const int F = g->t[op->out].shape.dim[0], Cg = g->t[op->in[0]].shape.dim[0] / G;
    const int Fg = F / G, taps = Cg * op->win.kh * op->win.kw;
    const int nbg = (Fg + B - 1) / B, rows = 1 + taps;
    const float *w = g->t[op->w].data, *b = op->b >= 0 ? g->t[op->b].data : NULL;
    const long long n = (long long)G * nbg * rows * B;
    float *p = arena_alloc(ctx->arena, sizeof *p * (size_t)n);
    for (int f = 0; f < F; f++) {
        const int blk = f / Fg * nbg + f % Fg / B, lane = f % Fg % B;
        float *dst = p + (long long)blk * rows * B + lane;
        dst[0] = b ? b[f] : 0.0f;
        for (int k = 0; k < taps; k++)
            dst[(long long)(1 + k) * B] = w[(long long)f * taps + k];
    }
    const char *name = arena_printf(ctx->arena, "%s.packed", op->name ? op->name : "conv");
    op->packed = graph_add_weight(ctx, g, name, shape3(G * nbg, rows, B), p);
    op->variant = v;
}

/* Width of dense block k of a layer with U units: KV_DENSE_UNITS, or the
 * rest rounded up to 16 for the last block. */
int pack_dense_width(int U, int k)
{
    const int left = U - k * KV_DENSE_UNITS;
    return left >= KV_DENSE_UNITS ? KV_DENSE_UNITS : round16(left);
}

static void pack_dense(Ctx *ctx, Graph *g, Op *op)
{
    const long long N = g->t[op->in[0]].numel;
    const int U = (int)g->t[op->out].numel, nb = (U + KV_DENSE_UNITS - 1) / KV_DENSE_UNITS;
    const float *w = g->t[op->w].data, *b = op->b >= 0 ? g->t[op->b].data : NULL;
    long long n = 0;
    for (int k = 0; k < nb; k++)
        n += (1 + N) * pack_dense_width(U, k);
    float *p = arena_alloc(ctx->arena, sizeof *p * (size_t)n), *blk = p;
    for (int k = 0; k < nb; k++) {
        const int width = pack_dense_width(U, k), u0 = k * KV_DENSE_UNITS;
        for (int j = 0; j < width && u0 + j < U; j++) {
            blk[j] = b ? b[u0 + j] : 0.0f;
            for (long long i = 0; i < N; i++)
                blk[(1 + i) * width + j] = w[(u0 + j) * N + i];
        }
        blk += (1 + N) * width;
    }
    const char *name = arena_printf(ctx->arena, "%s.packed", op->name ? op->name : "dense");
    Shape s = { 1, { (int)n, 0, 0, 0 } };
    op->packed = graph_add_weight(ctx, g, name, s, p);
    op->variant = KV_DENSE_BLOCKED;
}

/* Blocks are 16 units wide at least: a layer of a few units on a huge
 * input would grow its weights up to 16x; it keeps the generic loops. */
static int dense_worth_packing(const Graph *g, const Op *op)
{
    const long long N = g->t[op->in[0]].numel, U = g->t[op->out].numel;
    const long long width = U >= KV_DENSE_UNITS ? U + 63 : (U + 15) / 16 * 16;
    return (1 + N) * width <= 2 * (N + 1) * U || (1 + N) * width <= 65536;
}

/* Packing needs the weights' values: a graph whose weights are unbound
 * (none yet, as in some API uses) keeps the generic kernels. */
static int weights_bound(const Graph *g, const Op *op)
{
    return g->t[op->w].data && (op->b < 0 || g->t[op->b].data);
}

void pack_run(Ctx *ctx, Graph *g)
{
    for (int i = 0; i < g->nops; i++) {
        Op *op = &g->ops[i];
        if (op->variant != KV_GENERIC || op->w < 0)
            continue;
        if ((op->kind == OP_QCONV || op->kind == OP_QDENSE) && target_of(ctx)->scalar_tiles) {
            pack_int8_op(ctx, g, op);   /* pack_int8.c */
            continue;
        }
        if (!weights_bound(g, op))
            continue;
        if (op->kind == OP_CONV) {
            KernelVariant v = conv_variant(target_of(ctx), g, op);
            if (v == KV_CONV_ROWS)
                op->variant = v;
            else
                pack_conv(ctx, g, op, v);
        } else if (op->kind == OP_DENSE && dense_worth_packing(g, op)) {
            pack_dense(ctx, g, op);
        }
    }
}
