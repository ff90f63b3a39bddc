/* pack_int8.c: part of the pack pass: the int8 kernels of a target with
 * scalar tiles, i.e. cortex-m, whose DSP extension they are shaped for
 * (docs/quantization.md "Kernels for Cortex-M"); pack.c calls it.
 * Chooses each qconv2d's and qdense's kernel (Op.variant) and writes the
 * int8 weights in the order its inner loop reads them, into a new DT_I8
 * weight tensor (Op.packed). The op keeps w and b, which the interpreter
 * reads; the emitted C reads the packed copy instead of w.
 *
 * Layouts (K = Cg*KH*KW taps, KP = K rounded up to 4):
 *   KV_CONV_BLOCKED  qconv2d, im2col: per group, per pair of output
 *                    channels (an odd last one paired with zeros), per 4
 *                    taps t0..t3: channel a's bytes t0 t2 t1 t3, then
 *                    channel b's. SXTB16 of such a word gives the int16
 *                    pair (t0, t1), SXTB16 of it rotated by 8 (t2, t3):
 *                    the order of the int16 column the kernel multiplies.
 *                    Taps past K are 0.
 *   KV_DENSE_BLOCKED qdense: per block of 4 units (missing units zero),
 *                    their 4 biases with the input's zero point folded in
 *                    (bias - z_in * sum w, int32 little-endian), then per
 *                    4 inputs the 4 units' 4 weights, then the last N % 4
 *                    inputs' weights, 4 units each.
 *   KV_CONV_ROWS     depthwise qconv2d: no packing (w read per channel).
 */
#include <stdint.h>

#include "passes.h"

enum {
    IM2COL_MAX_TAPS = 2048,   /* 2 columns of int16 on the stack: 8 KB */
    DW_MAX_TAPS = 25,         /* the unrolled depthwise window: up to 5x5 */
};

static Shape shape1(long long n)
{
    Shape s = { 1, { (int)n, 0, 0, 0 } };
    return s;
}

static int pack_add(Ctx *ctx, Graph *g, const Op *op, long long n, int8_t *data)
{
    const char *name = arena_printf(ctx->arena, "%s.packed", op->name ? op->name : "q");
    const int id = graph_add_weight(ctx, g, name, shape1(n), NULL);
    g->t[id].dtype = DT_I8;
    g->t[id].qdata = data;
    return id;
}

static int groups_of(const Op *op)
{
    return op->groups > 0 ? op->groups : 1;
}

/* ---- conv: im2col pairs of channels ---- */

static void pack_qconv(Ctx *ctx, Graph *g, Op *op)
{
    const int G = groups_of(op), F = g->t[op->out].shape.dim[0], Fg = F / G;
    const int K = g->t[op->in[0]].shape.dim[0] / G * op->win.kh * op->win.kw;
    const int KP = (K + 3) / 4 * 4, pairs = (Fg + 1) / 2;
    const int8_t *w = g->t[op->w].qdata;
    const long long n = (long long)G * pairs * 2 * KP;
    int8_t *p = arena_alloc(ctx->arena, (size_t)n);   /* zeroed */
    static const int order[4] = { 0, 2, 1, 3 };      /* byte j holds tap order[j] */
    for (int f = 0; f < F; f++) {
        const int grp = f / Fg, j = f % Fg / 2, ch = f % Fg % 2;
        int8_t *dst = p + ((long long)grp * pairs + j) * 2 * KP;
        for (int k = 0; k < K; k++)
            dst[(k / 4) * 8 + ch * 4 + order[k % 4]] = w[(long long)f * K + k];
    }
    op->packed = pack_add(ctx, g, op, n, p);
    op->variant = KV_CONV_BLOCKED;
}

/* ---- dense: blocks of 4 units, zero point folded into the bias ---- */

static void put_le32(int8_t *dst, int32_t v)
{
    const uint32_t u = (uint32_t)v;
    for (int k = 0; k < 4; k++)
        dst[k] = (int8_t)(uint8_t)(u >> (8 * k));
}

/* bias[u] - z * sum_i w[u][i], in 64 bits. */
static long long folded_bias(const Graph *g, const Op *op, int u)
{
    const long long N = g->t[op->in[0]].numel;
    const int8_t *w = (const int8_t *)g->t[op->w].qdata + u * N;
    long long s = 0;
    for (long long i = 0; i < N; i++)
        s += w[i];
    const long long b = op->b >= 0 ? ((const int32_t *)g->t[op->b].qdata)[u] : 0;
    return b - (long long)g->t[op->in[0]].qzero * s;
}

/* The folded sum starts at the folded bias and adds N products of at most
 * 127 * 128: every partial sum must stay an int32. */
static int dense_foldable(const Graph *g, const Op *op)
{
    const long long N = g->t[op->in[0]].numel, reach = N * 127 * 128;
    for (int u = 0; u < (int)g->t[op->out].numel; u++) {
        const long long b = folded_bias(g, op, u);
        if (b - reach < INT32_MIN || b + reach > INT32_MAX)
            return 0;
    }
    return 1;
}

static void pack_qdense(Ctx *ctx, Graph *g, Op *op)
{
    const long long N = g->t[op->in[0]].numel, blk = 16 + 4 * N;
    const int U = (int)g->t[op->out].numel, nb = (U + 3) / 4;
    const int8_t *w = g->t[op->w].qdata;
    int8_t *p = arena_alloc(ctx->arena, (size_t)(nb * blk));   /* zeroed */
    for (int u = 0; u < U; u++) {
        int8_t *b = p + (u / 4) * blk, *rows = b + 16;
        const int lane = u % 4;
        put_le32(b + 4 * lane, (int32_t)folded_bias(g, op, u));
        for (long long i = 0; i < N; i++) {
            const long long at = i < N / 4 * 4 ? (i / 4) * 16 + lane * 4 + i % 4
                                               : N / 4 * 16 + (i - N / 4 * 4) * 4 + lane;
            rows[at] = w[u * N + i];
        }
    }
    op->packed = pack_add(ctx, g, op, nb * blk, p);
    op->variant = KV_DENSE_BLOCKED;
}

/* ---- the choice ---- */

static int is_depthwise(const Graph *g, const Op *op)
{
    const int G = groups_of(op);
    return G > 1 && g->t[op->in[0]].shape.dim[0] == G && g->t[op->out].shape.dim[0] == G;
}

void pack_int8_op(Ctx *ctx, Graph *g, Op *op)
{
    if (op->kind == OP_QDENSE) {
        if (dense_foldable(g, op))
            pack_qdense(ctx, g, op);
        return;
    }
    if (op->kind != OP_QCONV)
        return;
    const int taps = op->win.kh * op->win.kw;
    if (is_depthwise(g, op)) {
        if (taps <= DW_MAX_TAPS)
            op->variant = KV_CONV_ROWS;
        return;
    }
    const int G = groups_of(op);
    if ((long long)g->t[op->in[0]].shape.dim[0] / G * taps <= IM2COL_MAX_TAPS)
        pack_qconv(ctx, g, op);
}
