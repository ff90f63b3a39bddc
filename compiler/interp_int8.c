/* interp_int8.c: the reference interpreter's int8 ops, the oracle of a
 * quantized graph (quantize.c; docs/quantization.md gives the arithmetic).
 *
 * Integer arithmetic only, in TFLite Micro's reference kernels' terms:
 * int32 accumulators of int8 weights times (input - zero point), then the
 * gemmlowp fixed-point requantization (q_mul: a Q31 multiplier and a
 * power-of-two shift), the output's zero point and the clamp of the fused
 * activation. Only quantize and dequantize, at the float boundary, touch a
 * float. emit_int8.c writes the same arithmetic as C, and the two agree
 * exactly because every step is exact integer arithmetic.
 */
#include <stdint.h>

#include "interp.h"

/* ---- the fixed-point arithmetic (gemmlowp, TFLite) ---- */

/* round(a * b / 2^31), ties away from zero, saturating the one overflow:
 * gemmlowp's SaturatingRoundingDoublingHighMul. */
static int32_t q_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : 1 - ((int64_t)1 << 30);
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^e rounded to nearest, ties away from zero: gemmlowp's
 * RoundingDivideByPOT (arithmetic shift of two's complement). */
static int32_t q_shift_round(int32_t x, int e)
{
    const int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
    const int32_t rem = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (rem > threshold ? 1 : 0);
}

/* x * m * 2^s / 2^31: TFLite's MultiplyByQuantizedMultiplier, with the
 * left shift's product saturated to int32 instead of overflowing. */
static int32_t q_mul(int32_t x, int32_t m, int32_t s)
{
    int64_t v = (int64_t)x * ((int64_t)1 << (s > 0 ? s : 0));
    if (v > INT32_MAX)
        v = INT32_MAX;
    if (v < INT32_MIN)
        v = INT32_MIN;
    return q_shift_round(q_high_mul((int32_t)v, m), s > 0 ? 0 : (int)-s);
}

static int8_t q_clamp(int32_t v, int lo, int hi)
{
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

/* v / n rounded to nearest, ties away from zero (TFLite's average pool). */
static int32_t q_div_round(int32_t v, int32_t n)
{
    return v > 0 ? (v + n / 2) / n : (v - n / 2) / n;
}

/* ---- storage ---- */

static const int8_t *i8_in(const Bufs *b, int id)
{
    return (const int8_t *)(const void *)b->rd[id];
}

static int8_t *i8_out(const Bufs *b, int id)
{
    return (int8_t *)(void *)b->wr[id];
}

static const int32_t *i32_of(const Bufs *b, int id)
{
    return id >= 0 ? (const int32_t *)(const void *)b->rd[id] : NULL;
}

/* ---- the float boundary ---- */

/* round half away from zero by truncation of v +- 0.5 in float, after a
 * clamp that also sends NaN to the low end */
void run_quantize(const Graph *g, const Op *op, const Bufs *b)
{
    const Tensor *to = &g->t[op->out];
    const float *x = b->rd[op->in[0]];
    int8_t *y = i8_out(b, op->out);
    for (long long i = 0; i < to->numel; i++) {
        float v = x[i] / to->qscale;
        v = v < 0.0f ? v - 0.5f : v + 0.5f;
        if (!(v > -256.0f))
            v = -256.0f;
        if (v > 256.0f)
            v = 256.0f;
        y[i] = q_clamp((int32_t)v + to->qzero, -128, 127);
    }
}

void run_dequantize(const Graph *g, const Op *op, const Bufs *b)
{
    const Tensor *ti = &g->t[op->in[0]];
    const int8_t *x = i8_in(b, op->in[0]);
    float *y = b->wr[op->out];
    for (long long i = 0; i < ti->numel; i++)
        y[i] = (float)(x[i] - ti->qzero) * ti->qscale;
}

/* ---- conv2d and dense ---- */

/* acc + bias, requantized with channel f's multiplier, offset, clamped */
static int8_t q_output(const Graph *g, const Op *op, const Bufs *b, int f, int32_t acc)
{
    const int32_t *m = i32_of(b, op->mean), *s = i32_of(b, op->var);
    return q_clamp(q_mul(acc, m[f], s[f]) + g->t[op->out].qzero, op->qlo, op->qhi);
}

void run_qconv(const Graph *g, const Op *op, const Bufs *b)
{
    const Tensor *ti = &g->t[op->in[0]];
    const int8_t *x = i8_in(b, op->in[0]), *w = i8_in(b, op->w);
    const int32_t *bias = i32_of(b, op->b);
    int8_t *y = i8_out(b, op->out);
    const Dims3 di = interp_dims3(ti), dout = interp_dims3(&g->t[op->out]);
    const int H = di.h, W = di.w, F = dout.c, OH = dout.h, OW = dout.w, zin = ti->qzero;
    const Window *k = &op->win;
    const int groups = op->groups > 0 ? op->groups : 1;
    const int Cg = di.c / groups, Fg = F / groups;

    for (int f = 0; f < F; f++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                int32_t acc = bias ? bias[f] : 0;
                for (int ic = 0; ic < Cg; ic++) {
                    const int8_t *plane = x + (long long)((f / Fg) * Cg + ic) * H * W;
                    const int8_t *kk = w + ((long long)f * Cg + ic) * k->kh * k->kw;
                    for (int ky = 0; ky < k->kh; ky++) {
                        const int iy = oy * k->sh - k->pt + ky * k->dh;
                        if (iy < 0 || iy >= H)
                            continue;               /* padding: adds a real 0 */
                        for (int kx = 0; kx < k->kw; kx++) {
                            const int ix = ox * k->sw - k->pl + kx * k->dw;
                            if (ix >= 0 && ix < W)
                                acc += kk[ky * k->kw + kx] * (plane[(long long)iy * W + ix] - zin);
                        }
                    }
                }
                y[((long long)f * OH + oy) * OW + ox] = q_output(g, op, b, f, acc);
            }
}

void run_qdense(const Graph *g, const Op *op, const Bufs *b)
{
    const Tensor *ti = &g->t[op->in[0]];
    const int8_t *x = i8_in(b, op->in[0]), *w = i8_in(b, op->w);
    const int32_t *bias = i32_of(b, op->b);
    int8_t *y = i8_out(b, op->out);
    const long long N = ti->numel, U = g->t[op->out].numel;
    for (long long u = 0; u < U; u++) {
        int32_t acc = bias ? bias[u] : 0;
        for (long long i = 0; i < N; i++)
            acc += w[u * N + i] * (x[i] - ti->qzero);
        y[u] = q_output(g, op, b, (int)u, acc);
    }
}

/* ---- pools: the input's scale and zero point ---- */

/* One window: the max, or the rounded mean of (q - zero point) plus the
 * zero point; a window without a real tap gives the zero point (a real 0). */
static int32_t q_window(const Op *op, const int8_t *plane, int H, int W, int oy, int ox, int z)
{
    int32_t m = -129, s = 0, n = 0;
    for (int ky = 0; ky < op->win.kh; ky++) {
        const int iy = oy * op->win.sh - op->win.pt + ky * op->win.dh;
        for (int kx = 0; kx < op->win.kw && iy >= 0 && iy < H; kx++) {
            const int ix = ox * op->win.sw - op->win.pl + kx * op->win.dw;
            if (ix < 0 || ix >= W)
                continue;
            const int32_t v = plane[(long long)iy * W + ix];
            m = v > m ? v : m;
            s += v - z;
            n++;
        }
    }
    if (op->kind == OP_QMAXPOOL)
        return n > 0 ? m : z;
    if (op->count_pad)
        n = op->win.kh * op->win.kw;
    return n > 0 ? z + q_div_round(s, n) : z;
}

void run_qpool(const Graph *g, const Op *op, const Bufs *b)
{
    const int8_t *x = i8_in(b, op->in[0]);
    int8_t *y = i8_out(b, op->out);
    const Dims3 di = interp_dims3(&g->t[op->in[0]]), dout = interp_dims3(&g->t[op->out]);
    const int z = g->t[op->in[0]].qzero;
    for (int c = 0; c < di.c; c++)
        for (int oy = 0; oy < dout.h; oy++)
            for (int ox = 0; ox < dout.w; ox++) {
                const int32_t v = q_window(op, x + (long long)c * di.h * di.w, di.h, di.w, oy, ox, z);
                y[((long long)c * dout.h + oy) * dout.w + ox] = q_clamp(v, op->qlo, op->qhi);
            }
}

void run_qgap(const Graph *g, const Op *op, const Bufs *b)
{
    const int8_t *x = i8_in(b, op->in[0]);
    int8_t *y = i8_out(b, op->out);
    const Dims3 di = interp_dims3(&g->t[op->in[0]]);
    const int32_t HW = di.h * di.w, z = g->t[op->in[0]].qzero;
    for (int c = 0; c < di.c; c++) {
        int32_t s = 0;
        for (int32_t i = 0; i < HW; i++)
            s += x[c * HW + i] - z;
        y[c] = q_clamp(z + q_div_round(s, HW), op->qlo, op->qhi);
    }
}

/* ---- add, concat, copies ---- */

/* Each input k: (q - zk) << 20, times its multiplier mean[k] (its scale
 * over twice the largest); the sum times the output's (mean[nin]). */
void run_qadd(const Graph *g, const Op *op, const Bufs *b)
{
    const int32_t *m = i32_of(b, op->mean), *s = i32_of(b, op->var);
    const Tensor *to = &g->t[op->out];
    int8_t *y = i8_out(b, op->out);
    for (long long i = 0; i < to->numel; i++) {
        int32_t sum = 0;
        for (int k = 0; k < op->nin; k++) {
            const int32_t v = (i8_in(b, op->in[k])[i] - g->t[op->in[k]].qzero) * (1 << 20);
            sum += q_mul(v, m[k], s[k]);
        }
        y[i] = q_clamp(q_mul(sum, m[op->nin], s[op->nin]) + to->qzero, op->qlo, op->qhi);
    }
}

void run_qconcat(const Graph *g, const Op *op, const Bufs *b)
{
    const int32_t *m = i32_of(b, op->mean), *s = i32_of(b, op->var);
    int8_t *y = i8_out(b, op->out);
    long long at = 0;
    for (int k = 0; k < op->nin; k++) {
        const Tensor *ti = &g->t[op->in[k]];
        const int8_t *x = i8_in(b, op->in[k]);
        for (long long i = 0; i < ti->numel; i++) {
            const int32_t v = q_mul(x[i] - ti->qzero, m[k], s[k]) + g->t[op->out].qzero;
            y[at + i] = q_clamp(v, op->qlo, op->qhi);
        }
        at += ti->numel;
    }
}

/* flatten, and relu / relu6 / clip as clamps in the input's own scale */
void run_qcopy(const Graph *g, const Op *op, const Bufs *b)
{
    const int8_t *x = i8_in(b, op->in[0]);
    int8_t *y = i8_out(b, op->out);
    for (long long i = 0; i < g->t[op->out].numel; i++)
        y[i] = q_clamp(x[i], op->qlo, op->qhi);
}
