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
 *   KV_CONV_WINOGRAD [ceil(F/B)][1 + 16*C][B]: per block of B output
 *                    channels, the biases, then for each of the 16 points
 *                    xi of the transformed 4x4 tile and each input channel
 *                    c the B values of U = G g G^T (docs/passes.md)
 *   KV_DENSE_BLOCKED per block of up to U units (width rounded up to 16):
 *                    [1 + N][width]: the biases, then row i = w[u][i]
 *   KV_CONV_ROWS     depthwise (one input and one output channel per
 *                    group) on a target with SIMD variants:
 *                    [ceil(C/B)][1 + KH*KW][B]: per block of B channels,
 *                    the biases, then for each (ky, kx) the B weights, so
 *                    a variant can load a tap's weights of a vector of
 *                    channels at once (emit_kernels.c, channels in the
 *                    lanes); other KV_CONV_ROWS convs: no packing, w is
 *                    read one scalar per tap
 * The int8 ops (qconv2d, qdense) get kernels only on a target with scalar
 * tiles (cortex-m): pack_int8.c chooses and packs them.
 */
#include <string.h>

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

/* Winograd F(2x2, 3x3) (Lavin and Gray, 2015) computes a 2x2 block of
 * outputs from a 4x4 block of input with 16 multiplies per channel pair
 * instead of 36. Worth it where the direct kernels are near the machine's
 * peak already and have nothing else to give: a 3x3 stride-1 conv of at
 * least 16 channels in and out on a SIMD target. The transformed weights
 * are 16/9 of the direct ones, so a target without SIMD variants (generic,
 * cortex-m: flash is dear there) keeps the direct kernels. An odd output
 * height or width needs a padded conv: its last tiles hang over the map's
 * edge, and pad.c gives the copy they read one more row or column of zeros
 * (pad_borders). */
enum { WINOGRAD_MIN_CH = 16 };

/* The kernel keeps one row of tiles' transformed input in its work tensor
 * and runs every block of output channels over it, row by row, when the
 * layer's transformed weights stay in L2 meanwhile (emit_winograd.c); else
 * it transforms the whole map first and reads each block's weights once. */
enum { WINOGRAD_ROW_WEIGHTS = 512 * 1024 };   /* bytes */

static int winograd_fits(const Target *t, const Graph *g, const Op *op)
{
    const int C = g->t[op->in[0]].shape.dim[0];
    const Shape *os = &g->t[op->out].shape;
    const Window *w = &op->win;
    return t->isas && (op->groups <= 1) && w->kh == 3 && w->kw == 3 && w->sh == 1 &&
           w->sw == 1 && w->dh == 1 && w->dw == 1 && C >= WINOGRAD_MIN_CH &&
           os->dim[0] >= WINOGRAD_MIN_CH && os->dim[2] >= 4 &&
           ((os->dim[1] % 2 == 0 && os->dim[2] % 2 == 0) || w->pt || w->pl || w->pb || w->pr);
}

/* Activation floats live at each op (plan.c), with the padded copy a
 * padded conv with a fast kernel will read (pad.c): what the arena must
 * hold there, before any Winograd work tensor. */
static long long *live_floats(Ctx *ctx, Graph *g)
{
    long long *live = plan_live_floats(ctx, g);
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        const Window *w = &op->win;
        const int G = op->groups > 0 ? op->groups : 1;
        if (op->kind != OP_CONV || !(w->pt || w->pl || w->pb || w->pr) ||
            G == g->t[op->in[0]].shape.dim[0])
            continue;
        const Shape s = pad_shape(&g->t[op->in[0]], w);
        live[i] += s.rank ? shape_numel(&s) : 0;
    }
    return live;
}

/* The work tensor's floats for op: one row of tiles or the whole map. */
static long long winograd_work(const Graph *g, const Op *op)
{
    const long long C = g->t[op->in[0]].shape.dim[0], F = g->t[op->out].shape.dim[0];
    const int OH = g->t[op->out].shape.dim[1], OW = g->t[op->out].shape.dim[2];
    return 16 * C * ((OW + 1) / 2) *
           (16 * C * F * 4 <= WINOGRAD_ROW_WEIGHTS ? 1 : (OH + 1) / 2);
}

/* Floats the row or column of zeros for odd sizes adds to op's padded
 * copy (pad_borders), beyond what live_floats counted. */
static long long winograd_pad_extra(const Graph *g, const Op *op)
{
    const Window wb = pad_borders(g, op, KV_CONV_WINOGRAD);
    const Shape a = pad_shape(&g->t[op->in[0]], &wb), b = pad_shape(&g->t[op->in[0]], &op->win);
    return a.rank && b.rank ? shape_numel(&a) - shape_numel(&b) : 0;
}

/* U = G g G^T for one 3x3 kernel g, G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. */
static void winograd_kernel(const float *g, double u[16])
{
    static const double G[4][3] = { { 1, 0, 0 }, { .5, .5, .5 }, { .5, -.5, .5 }, { 0, 0, 1 } };
    double gg[4][3];   /* G g */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            gg[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            u[4 * i + j] = gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2];
}

static Shape shape3(int a, int b, int c)
{
    Shape s = { 3, { a, b, c, 0 } };
    return s;
}

/* Blocks of B filters of one group each; a depthwise conv (KV_CONV_ROWS)
 * as if of one group: blocks of B channels. */
static void pack_conv(Ctx *ctx, Graph *g, Op *op, KernelVariant v)
{
    const int B = target_of(ctx)->block, groups = op->groups > 0 ? op->groups : 1;
    const int G = v == KV_CONV_ROWS ? 1 : groups;
    const int F = g->t[op->out].shape.dim[0], Cg = g->t[op->in[0]].shape.dim[0] / groups;
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

/* A depthwise conv's weights go in blocks of B channels (layout above)
 * only on a target with SIMD variants: they read a tap's weights of L
 * channels as one vector; the portable code reads them B floats apart. */
static int depthwise_packs(const Target *t, const Graph *g, const Op *op)
{
    const int C = g->t[op->in[0]].shape.dim[0], F = g->t[op->out].shape.dim[0];
    return t->isas && op->groups == C && F == C;
}

/* The transformed weights (layout above), and the work tensor the kernel
 * keeps the transformed input in: [16][C][tiles], one row of tiles or the
 * whole map (winograd_work). */
static void pack_winograd(Ctx *ctx, Graph *g, Op *op)
{
    const int B = target_of(ctx)->block;
    const int C = g->t[op->in[0]].shape.dim[0], F = g->t[op->out].shape.dim[0];
    const int nb = (F + B - 1) / B, krows = 1 + 16 * C;
    const float *w = g->t[op->w].data, *b = op->b >= 0 ? g->t[op->b].data : NULL;
    float *p = arena_alloc(ctx->arena, sizeof *p * (size_t)nb * krows * B);
    memset(p, 0, sizeof *p * (size_t)nb * krows * B);
    for (int f = 0; f < F; f++) {
        float *dst = p + (long long)(f / B) * krows * B + f % B;
        dst[0] = b ? b[f] : 0.0f;
        for (int c = 0; c < C; c++) {
            double u[16];
            winograd_kernel(w + ((long long)f * C + c) * 9, u);
            for (int xi = 0; xi < 16; xi++)
                dst[(long long)(1 + xi * C + c) * B] = (float)u[xi];
        }
    }
    const char *name = arena_printf(ctx->arena, "%s.winograd", op->name ? op->name : "conv");
    op->packed = graph_add_weight(ctx, g, name, shape3(nb, krows, B), p);
    const char *wname = arena_printf(ctx->arena, "%s.tiles", op->name ? op->name : "conv");
    op->work = 1 + graph_add_tensor(ctx, g, wname, TR_ACT,
                                    shape3(16, C, (int)(winograd_work(g, op) / (16LL * C))));
    op->variant = KV_CONV_WINOGRAD;
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

/* Winograd's work tensor must not raise the arena: it fits under the
 * most the graph keeps live at any op anyway (the lecture network's conv2
 * is its peak: it stays direct; ResNet-50's 3x3 convs fit under its
 * layer1 maps). */
void pack_run(Ctx *ctx, Graph *g)
{
    const long long *live = live_floats(ctx, g);
    long long peak = 0;
    for (int i = 0; i < g->nops; i++)
        peak = live[i] > peak ? live[i] : peak;
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
        if (op->kind == OP_CONV && winograd_fits(target_of(ctx), g, op) &&
            live[i] + winograd_work(g, op) + winograd_pad_extra(g, op) <= peak) {
            pack_winograd(ctx, g, op);
        } else if (op->kind == OP_CONV) {
            KernelVariant v = conv_variant(target_of(ctx), g, op);
            if (v == KV_CONV_ROWS && !depthwise_packs(target_of(ctx), g, op))
                op->variant = v;
            else
                pack_conv(ctx, g, op, v);
        } else if (op->kind == OP_DENSE && dense_worth_packing(g, op)) {
            pack_dense(ctx, g, op);
        }
    }
}
