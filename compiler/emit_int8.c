/* emit_int8.c: the C of the int8 ops of a quantized graph (quantize.c).
 *
 * Each emitter writes interp_int8.c's arithmetic with every dimension,
 * zero point and clamp folded to a literal, and the multipliers and shifts
 * read from their int32 weight arrays: integer arithmetic only (quantize
 * and dequantize, at the float boundary, excepted), so the C and the
 * interpreter agree exactly. The fixed-point helpers (gemmlowp's, as TFLite
 * Micro's reference kernels use them) are written once per file, before the
 * op functions of every variant.
 */
#include <string.h>

#include "backend.h"

const char *emit_ctype(const Tensor *t)
{
    return t->dtype == DT_I8 ? "int8_t" : t->dtype == DT_I32 ? "int32_t" : "float";
}

/* ---- the helpers ---- */

static const char helper_mul[] =
    "/* round(a * b / 2^31), ties away from zero; the one overflow saturates\n"
    " * (gemmlowp's SaturatingRoundingDoublingHighMul). */\n"
    "static int32_t cnnc_q_high_mul(int32_t a, int32_t b)\n"
    "{\n"
    "    int64_t ab, nudge;\n"
    "    if (a == INT32_MIN && b == INT32_MIN)\n"
    "        return INT32_MAX;\n"
    "    ab = (int64_t)a * (int64_t)b;\n"
    "    nudge = ab >= 0 ? ((int64_t)1 << 30) : 1 - ((int64_t)1 << 30);\n"
    "    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));\n"
    "}\n\n"
    "/* x / 2^e rounded to nearest, ties away from zero (gemmlowp's\n"
    " * RoundingDivideByPOT; an arithmetic shift of two's complement). */\n"
    "static int32_t cnnc_q_shift_round(int32_t x, int e)\n"
    "{\n"
    "    const int32_t mask = (int32_t)(((int64_t)1 << e) - 1);\n"
    "    const int32_t rem = x & mask;\n"
    "    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);\n"
    "    return (x >> e) + (rem > threshold ? 1 : 0);\n"
    "}\n\n"
    "/* x * m * 2^s / 2^31 (TFLite's MultiplyByQuantizedMultiplier), the left\n"
    " * shift's product saturated to int32. */\n"
    "static int32_t cnnc_q_mul(int32_t x, int32_t m, int32_t s)\n"
    "{\n"
    "    int64_t v = (int64_t)x * ((int64_t)1 << (s > 0 ? s : 0));\n"
    "    if (v > INT32_MAX)\n"
    "        v = INT32_MAX;\n"
    "    if (v < INT32_MIN)\n"
    "        v = INT32_MIN;\n"
    "    return cnnc_q_shift_round(cnnc_q_high_mul((int32_t)v, m), s > 0 ? 0 : (int)-s);\n"
    "}\n\n";

/* cnnc_q_mul for the Cortex-M kernels, equal to it for every input: with
 * m >= 0 and s <= 0 (quantize.c's multipliers below 1), the high multiply
 * is floor((x * m + 2^30) / 2^31) (its nudge and truncation toward zero
 * come to that), and the shift's mask is 32-bit. */
static const char helper_mul_fast[] =
    "static int32_t cnnc_q_mul_fast(int32_t x, int32_t m, int32_t s)\n"
    "{\n"
    "    int32_t h, mask;\n"
    "    if (s > 0 || m < 0)\n"
    "        return cnnc_q_mul(x, m, s);\n"
    "    h = (int32_t)(((int64_t)x * m + ((int64_t)1 << 30)) >> 31);\n"
    "    mask = (int32_t)((1u << -s) - 1u);\n"
    "    return (h >> -s) + ((h & mask) > (mask >> 1) + (h < 0) ? 1 : 0);\n"
    "}\n\n";

static const char helper_div[] =
    "/* v / n rounded to nearest, ties away from zero (TFLite's average pool). */\n"
    "static int32_t cnnc_q_div_round(int32_t v, int32_t n)\n"
    "{\n"
    "    return v > 0 ? (v + n / 2) / n : (v - n / 2) / n;\n"
    "}\n\n";

static const char helper_clamp[] =
    "static int8_t cnnc_q_clamp(int32_t v, int32_t lo, int32_t hi)\n"
    "{\n"
    "    return (int8_t)(v < lo ? lo : v > hi ? hi : v);\n"
    "}\n\n";

/* The DSP extension's sign extension and dual 16-bit multiply-accumulate
 * through ACLE, or the same arithmetic in portable C: words of 4 int8 or 2
 * int16, little-endian (the Cortex-M kernels, pack_int8.c). */
static const char helper_dsp_acle[] =
    "/* Cortex-M kernels: SXTB16 and SMLAD of the DSP extension (ACLE), else\n"
    " * the same arithmetic in portable C; -DCNNC_NO_DSP chooses the latter. */\n"
    "#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_BIG_ENDIAN) && !defined(CNNC_NO_DSP)\n"
    "#include <arm_acle.h>\n"
    "typedef uint32_t cnnc_u32_any __attribute__((aligned(1), may_alias));\n"
    "#define CNNC_RD8X4(p) (*(const cnnc_u32_any *)(const void *)(p))\n"
    "#define CNNC_RD16X2(p) (*(const cnnc_u32_any *)(const void *)(p))\n"
    "#define CNNC_SXTB16(x) ((uint32_t)__sxtb16((int32_t)(x)))\n"
    "#define CNNC_SXTB16_ROR8(x) ((uint32_t)__sxtb16((int32_t)((x) >> 8 | (x) << 24)))\n"
    "#define CNNC_SMLAD(a, b, acc) __smlad((int32_t)(a), (int32_t)(b), (acc))\n"
    "#else\n";

static const char helper_dsp_c[] =
    "/* p[0] + p[1] * 2^8 + ...: 4 int8 as a little-endian word */\n"
    "static uint32_t cnnc_rd8x4(const int8_t *p)\n"
    "{\n"
    "    return (uint32_t)(uint8_t)p[0] | (uint32_t)(uint8_t)p[1] << 8 |\n"
    "           (uint32_t)(uint8_t)p[2] << 16 | (uint32_t)(uint8_t)p[3] << 24;\n"
    "}\n\n"
    "static int32_t cnnc_lo16(uint32_t x)\n"
    "{\n"
    "    return (int32_t)((x & 0xffffu) ^ 0x8000u) - 0x8000;\n"
    "}\n\n"
    "/* bytes 0 and 2 sign-extended into the two 16-bit halves */\n"
    "static uint32_t cnnc_sxtb16(uint32_t x)\n"
    "{\n"
    "    const uint32_t lo = (x & 0xffu) | (x & 0x80u ? 0xff00u : 0u);\n"
    "    const uint32_t hi = ((x >> 16) & 0xffu) | (x & 0x800000u ? 0xff00u : 0u);\n"
    "    return lo | hi << 16;\n"
    "}\n\n"
    "/* acc + lo(a) * lo(b) + hi(a) * hi(b), wrapping as SMLAD does */\n"
    "static int32_t cnnc_smlad(uint32_t a, uint32_t b, int32_t acc)\n"
    "{\n"
    "    const int32_t lo = cnnc_lo16(a) * cnnc_lo16(b), hi = cnnc_lo16(a >> 16) * cnnc_lo16(b >> 16);\n"
    "    return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi);\n"
    "}\n"
    "#define CNNC_RD8X4(p) cnnc_rd8x4(p)\n"
    "#define CNNC_SXTB16(x) cnnc_sxtb16(x)\n"
    "#define CNNC_SXTB16_ROR8(x) cnnc_sxtb16((x) >> 8 | (x) << 24)\n"
    "#define CNNC_SMLAD(a, b, acc) cnnc_smlad((a), (b), (acc))\n";

static const char helper_dsp_c16[] =
    "\n/* p[0] + p[1] * 2^16: 2 int16 as a word */\n"
    "static uint32_t cnnc_rd16x2(const int16_t *p)\n"
    "{\n"
    "    return (uint32_t)(uint16_t)p[0] | (uint32_t)(uint16_t)p[1] << 16;\n"
    "}\n"
    "#define CNNC_RD16X2(p) cnnc_rd16x2(p)\n";

/* Whether op runs a Cortex-M kernel of packed weights (pack_int8.c). */
static int int8_packed(const Op *op)
{
    return (op->kind == OP_QCONV || op->kind == OP_QDENSE) && op_packed_weight(op) >= 0;
}

int emit_int8_params(const Op *op, int ids[4])
{
    if (!int8_packed(op))
        return -1;
    int n = 0;
    const int all[4] = { op->packed, op->kind == OP_QCONV ? op->b : -1, op->mean, op->var };
    for (int k = 0; k < 4; k++)
        if (all[k] >= 0)
            ids[n++] = all[k];
    return n;
}

void emit_int8_helpers(Emitter *E)
{
    int mul = 0, div = 0, clamp = 0, dsp = 0, dsp16 = 0, dw = 0;
    for (int i = 0; i < E->g->nops; i++) {
        const Op *op = &E->g->ops[i];
        const OpKind k = op->kind;
        mul |= k == OP_QCONV || k == OP_QDENSE || k == OP_QADD || k == OP_QCONCAT;
        div |= k == OP_QAVGPOOL || k == OP_QGAP;
        clamp |= k >= OP_QUANTIZE && k != OP_DEQUANTIZE;
        dsp |= int8_packed(op);
        dsp16 |= int8_packed(op) && k == OP_QCONV;
        dw |= k == OP_QCONV && op->variant == KV_CONV_ROWS;
    }
    if (!E->g->quantized)
        return;
    buf_puts(E->c, "/* The int8 arithmetic (docs/quantization.md): integers only. */\n");
    if (mul)
        buf_puts(E->c, helper_mul);
    if (dsp || dw)
        buf_puts(E->c, helper_mul_fast);
    if (div)
        buf_puts(E->c, helper_div);
    if (clamp)
        buf_puts(E->c, helper_clamp);
    if (!dsp)
        return;
    buf_puts(E->c, helper_dsp_acle);
    buf_puts(E->c, helper_dsp_c);
    if (dsp16)
        buf_puts(E->c, helper_dsp_c16);
    buf_puts(E->c, "#endif\n\n");
}

/* ---- small pieces ---- */

/* " + 5", " - 128", "" for 0: adding a literal. */
static const char *plus(Emitter *E, long long v)
{
    if (v == 0)
        return "";
    return arena_printf(E->ctx->arena, " %c %lld", v > 0 ? '+' : '-', v > 0 ? v : -v);
}

static const char *in_name(const Op *op, int k)
{
    static const char *const names[] = { "in0", "in1", "in2", "in3", "in4", "in5", "in6", "in7" };
    if (op->nin == 1)
        return "in";
    if (k >= (int)(sizeof names / sizeof names[0]))
        ICE("emit_int8: input %d of '%s'", k, op->name);
    return names[k];
}

/* "out[o] = cnnc_q_clamp(v, lo, hi);" */
static void store(Emitter *E, const Op *op, const char *o, const char *v)
{
    emit_line(E, "out[%s] = cnnc_q_clamp(%s, %d, %d);", o, v, op->qlo, op->qhi);
}

/* "cnnc_q_mul(x, M[i], S[i]) + z"; the Cortex-M kernels' cnnc_q_mul_fast. */
static const char *requant(Emitter *E, const Op *op, const char *x, const char *i, int z)
{
    const int fast = (op->kind == OP_QCONV || op->kind == OP_QDENSE) && op->variant != KV_GENERIC;
    return arena_printf(E->ctx->arena, "cnnc_q_mul%s(%s, %s[%s], %s[%s])%s", fast ? "_fast" : "", x,
                        E->wexpr[op->mean], i, E->wexpr[op->var], i, plus(E, z));
}

/* ---- the float boundary ---- */

void emit_quantize(Emitter *E, const Op *op)
{
    const Tensor *to = &E->g->t[op->out];
    char s[48];
    emit_float_lit(s, sizeof s, to->qscale);
    const char *i = emit_loop_open(E, "i", to->numel, 1);
    emit_line(E, "float v = in[i] / %s;", s);
    emit_line(E, "v = v < 0.0f ? v - 0.5f : v + 0.5f;   /* rounds half away from 0 */");
    emit_line(E, "if (!(v > -256.0f))");
    emit_line(E, "    v = -256.0f;                       /* NaN too */");
    emit_line(E, "if (v > 256.0f)");
    emit_line(E, "    v = 256.0f;");
    emit_line(E, "out[i] = cnnc_q_clamp((int32_t)v%s, -128, 127);", plus(E, to->qzero));
    emit_loop_close(E, i);
}

void emit_dequantize(Emitter *E, const Op *op)
{
    const Tensor *ti = &E->g->t[op->in[0]];
    char s[48];
    emit_float_lit(s, sizeof s, ti->qscale);
    const char *i = emit_loop_open(E, "i", ti->numel, 1);
    emit_line(E, "out[i] = (float)(in[i]%s) * %s;", plus(E, -(long long)ti->qzero), s);
    emit_loop_close(E, i);
}

/* ---- conv2d and dense: the Cortex-M kernels (pack_int8.c's layouts) ---- */

/* The outputs [lo, hi) of an axis whose window lies inside the input. */
static void axis_inner(const Axis *a, int *lo, int *hi)
{
    *lo = (a->pad + a->s - 1) / a->s;
    const long long last = (long long)a->n - 1 + a->pad - (long long)(a->k - 1) * a->d;
    *hi = last < 0 ? 0 : (int)(last / a->s) + 1;
    *hi = *hi < a->out ? *hi : a->out;
    *hi = *hi > *lo ? *hi : *lo;
}

/* "oy >= 1 && oy < 25 && ox >= 1 && ox < 25": the pixel's window lies
 * inside the input; NULL when every pixel's does. */
static const char *inner_test(Emitter *E, const Axis *ay, const Axis *ax)
{
    int y0, y1, x0, x1;
    axis_inner(ay, &y0, &y1);
    axis_inner(ax, &x0, &x1);
    if (y0 == 0 && y1 == ay->out && x0 == 0 && x1 == ax->out)
        return NULL;
    return arena_printf(E->ctx->arena, "oy >= %d && oy < %d && ox >= %d && ox < %d", y0, y1, x0, x1);
}

/* "(iy >= 0 && iy < 26)" and the like for the taps that can fall outside;
 * "" when none can. */
static const char *tap_test(Emitter *E, const Axis *a, const char *v, const char *prev)
{
    const char *lo = a->test_lo ? arena_printf(E->ctx->arena, "%s >= 0", v) : NULL;
    const char *hi = a->test_hi ? arena_printf(E->ctx->arena, "%s < %d", v, a->n) : NULL;
    const char *t = prev;
    if (lo)
        t = *t ? arena_printf(E->ctx->arena, "%s && %s", t, lo) : lo;
    if (hi)
        t = *t ? arena_printf(E->ctx->arena, "%s && %s", t, hi) : hi;
    return t;
}

typedef struct QConvDims {
    int H, W, F, OH, OW, G, Cg, Fg, KH, KW, K, KP, pairs, zin;
    Axis ay, ax;
} QConvDims;

static QConvDims qconv_dims(const Graph *g, const Op *op)
{
    const Tensor *ti = &g->t[op->in[0]], *to = &g->t[op->out];
    QConvDims d;
    d.H = ti->shape.dim[1], d.W = ti->shape.dim[2];
    d.F = to->shape.dim[0], d.OH = to->shape.dim[1], d.OW = to->shape.dim[2];
    d.G = op->groups > 0 ? op->groups : 1, d.Cg = ti->shape.dim[0] / d.G, d.Fg = d.F / d.G;
    d.KH = op->win.kh, d.KW = op->win.kw, d.K = d.Cg * d.KH * d.KW, d.KP = (d.K + 3) / 4 * 4;
    d.pairs = (d.Fg + 1) / 2, d.zin = ti->qzero;
    window_axes(g, op, &d.ay, &d.ax);
    return d;
}

/* The column of pixel (oy, ox) into d: x - z_in for each (ic, ky, kx) of
 * the group, 0 for a padding tap. with_tests: some tap may be padding. */
static void im2col_taps(Emitter *E, const QConvDims *d, int with_tests)
{
    const char *ic = emit_loop_open(E, "ic", d->Cg, 0);
    emit_line(E, "const int8_t *x = %s;",
              emit_plus(E, "in", lin_add(lin_add(lin(0), d->G > 1 ? "grp" : NULL, (long long)d->Cg * d->H * d->W),
                                         ic, (long long)d->H * d->W)));
    const char *ky = emit_loop_open(E, "ky", d->KH, 0);
    emit_line(E, "const int iy = %s;", lin_expr(E, lin_add(lin_add(lin(-d->ay.pad), "oy", d->ay.s), ky, d->ay.d)));
    const char *kx = emit_loop_open(E, "kx", d->KW, 0);
    emit_line(E, "const int ix = %s;", lin_expr(E, lin_add(lin_add(lin(-d->ax.pad), "ox", d->ax.s), kx, d->ax.d)));
    const char *at = lin_expr(E, lin_add(lin_add(lin_add(lin(0), ic, (long long)d->KH * d->KW), ky, d->KW), kx, 1));
    const char *v = arena_printf(E->ctx->arena, "(int16_t)(x[iy * %d + ix]%s)", d->W, plus(E, -(long long)d->zin));
    const char *t = with_tests ? tap_test(E, &d->ax, "ix", tap_test(E, &d->ay, "iy", "")) : "";
    if (*t)
        emit_line(E, "c[%s] = %s ? %s : 0;", at, t, v);
    else
        emit_line(E, "c[%s] = %s;", at, v);
    emit_loop_close(E, kx);
    emit_loop_close(E, ky);
    emit_loop_close(E, ic);
}

/* Columns 0 and 1 of col: pixels p and p + 1 (p again past the last). */
static void im2col_pair(Emitter *E, const QConvDims *d)
{
    const long long P = (long long)d->OH * d->OW;
    emit_line(E, "for (int n = 0; n < 2; ++n) {");
    E->depth++;
    emit_line(E, P % 2 ? "const int q = p + n < %lld ? p + n : p;" : "const int q = p + n;", P);
    emit_line(E, "const int oy = q / %d, ox = q %% %d;", d->OW, d->OW);
    emit_line(E, "int16_t *c = col[n];");
    const char *inner = inner_test(E, &d->ay, &d->ax);
    if (inner) {
        emit_line(E, "if (%s) {", inner);
        E->depth++;
    }
    im2col_taps(E, d, 0);
    if (inner) {
        E->depth--;
        emit_line(E, "} else {");
        E->depth++;
        im2col_taps(E, d, 1);
        E->depth--;
        emit_line(E, "}");
    }
    E->depth--;
    emit_line(E, "}");
}

/* Four taps of two channels (a, b) x two pixels (0, 1): 8 SMLADs. */
static void qconv_step(Emitter *E)
{
    emit_line(E, "const uint32_t wa = CNNC_RD8X4(wp), wb = CNNC_RD8X4(wp + 4);");
    emit_line(E, "const uint32_t wa0 = CNNC_SXTB16(wa), wa1 = CNNC_SXTB16_ROR8(wa);");
    emit_line(E, "const uint32_t wb0 = CNNC_SXTB16(wb), wb1 = CNNC_SXTB16_ROR8(wb);");
    emit_line(E, "const uint32_t x00 = CNNC_RD16X2(c0), x01 = CNNC_RD16X2(c0 + 2);");
    emit_line(E, "const uint32_t x10 = CNNC_RD16X2(c1), x11 = CNNC_RD16X2(c1 + 2);");
    emit_line(E, "a0 = CNNC_SMLAD(wa0, x00, a0);");
    emit_line(E, "a0 = CNNC_SMLAD(wa1, x01, a0);");
    emit_line(E, "a1 = CNNC_SMLAD(wa0, x10, a1);");
    emit_line(E, "a1 = CNNC_SMLAD(wa1, x11, a1);");
    emit_line(E, "b0 = CNNC_SMLAD(wb0, x00, b0);");
    emit_line(E, "b0 = CNNC_SMLAD(wb1, x01, b0);");
    emit_line(E, "b1 = CNNC_SMLAD(wb0, x10, b1);");
    emit_line(E, "b1 = CNNC_SMLAD(wb1, x11, b1);");
    emit_line(E, "wp += 8;");
    emit_line(E, "c0 += 4;");
    emit_line(E, "c1 += 4;");
}

/* out[f][q] for the accumulator v of channel f (an expression) at pixel q. */
static void qconv_store(Emitter *E, const Op *op, const QConvDims *d, const char *f, const char *q,
                        const char *v)
{
    const char *o = arena_printf(E->ctx->arena, "(%s) * %lld + %s", f, (long long)d->OH * d->OW, q);
    store(E, op, o, requant(E, op, v, f, E->g->t[op->out].qzero));
}

/* Channel f's accumulators acc0, acc1 at pixels p and p + 1 (if any). */
static void qconv_store_pixels(Emitter *E, const Op *op, const QConvDims *d, const char *f, const char *acc)
{
    const long long P = (long long)d->OH * d->OW;
    qconv_store(E, op, d, f, "p", arena_printf(E->ctx->arena, "%s0", acc));
    if (P % 2)
        emit_line(E, "if (p + 1 < %lld)", P), E->depth++;
    qconv_store(E, op, d, f, "p + 1", arena_printf(E->ctx->arena, "%s1", acc));
    if (P % 2)
        E->depth--;
}

/* The pair j of output channels over columns 0 and 1. */
static void qconv_pair(Emitter *E, const Op *op, const QConvDims *d)
{
    const char *bias = op->b >= 0 ? E->wexpr[op->b] : NULL;
    emit_line(E, "const int f = %s2 * j;", d->G > 1 ? arena_printf(E->ctx->arena, "grp * %d + ", d->Fg) : "");
    emit_line(E, "const int8_t *wp = %s + %s;", E->wexpr[op->packed],
              lin_expr(E, lin_add(lin_add(lin(0), d->G > 1 ? "grp" : NULL, (long long)d->pairs * 2 * d->KP), "j",
                                  2LL * d->KP)));
    emit_line(E, "int32_t a0 = %s, a1 = a0;", bias ? arena_printf(E->ctx->arena, "%s[f]", bias) : "0");
    if (d->Fg % 2)
        emit_line(E, "int32_t b0 = %s, b1 = b0;",
                  bias ? arena_printf(E->ctx->arena, "2 * j + 1 < %d ? %s[f + 1] : 0", d->Fg, bias) : "0");
    else
        emit_line(E, "int32_t b0 = %s, b1 = b0;", bias ? arena_printf(E->ctx->arena, "%s[f + 1]", bias) : "0");
    emit_line(E, "const int16_t *c0 = col[0], *c1 = col[1];");
    const char *k = emit_loop_open(E, "k", d->KP / 4, 1);
    qconv_step(E);
    emit_loop_close(E, k);
    qconv_store_pixels(E, op, d, "f", "a");
    if (d->Fg % 2)
        emit_line(E, "if (2 * j + 1 == %d)", d->Fg), emit_line(E, "    continue;");
    qconv_store_pixels(E, op, d, "f + 1", "b");
}

/* im2col of two pixels into int16 (x - z_in), then 2 channels x 2 pixels
 * per inner step, 4 taps at a time through SMLAD. */
static void emit_qconv_im2col(Emitter *E, const Op *op)
{
    const QConvDims d = qconv_dims(E->g, op);
    const long long P = (long long)d.OH * d.OW;
    emit_line(E, "int16_t col[2][%d];   /* the columns of two pixels: x - z_in per tap */", d.KP);
    for (int t = d.K; t < d.KP; t++)
        emit_line(E, "col[0][%d] = col[1][%d] = 0;", t, t);
    const char *grp = emit_loop_open(E, "grp", d.G, 0);
    emit_line(E, "for (int p = 0; p < %lld; p += 2) {", P);
    E->depth++;
    im2col_pair(E, &d);
    const char *j = emit_loop_open(E, "j", d.pairs, 1);
    qconv_pair(E, op, &d);
    emit_loop_close(E, j);
    E->depth--;
    emit_line(E, "}");
    emit_loop_close(E, grp);
}

/* Channel c's weights as the locals k0..k(T-1), its bias, and bz: the bias
 * with z_in * sum w taken out, for sums of w * x over real taps only. */
static void dw_channel(Emitter *E, const Op *op, const QConvDims *d)
{
    const int T = d->KH * d->KW;
    emit_line(E, "const int8_t *x = in + c * %lld;", (long long)d->H * d->W);
    emit_line(E, "const int8_t *k = %s + c * %d;", E->wexpr[op->w], T);
    Buf sum;
    buf_init(&sum);
    for (int t = 0; t < T; t++) {
        emit_line(E, "const int32_t k%d = k[%d];", t, t);
        buf_printf(&sum, "%sk%d", t ? " + " : "", t);
    }
    emit_line(E, "const int32_t bias = %s;", op->b >= 0 ? arena_printf(E->ctx->arena, "%s[c]", E->wexpr[op->b]) : "0");
    if (d->zin)
        emit_line(E, "const int32_t bz = bias%s * (%s);", plus(E, -(long long)d->zin), sum.data);
    else
        emit_line(E, "const int32_t bz = bias;");
    buf_free(&sum);
}

/* A window inside the input: acc = bz + the sum of k * x, unrolled. */
static void dw_inner(Emitter *E, const QConvDims *d)
{
    emit_line(E, "const int8_t *r = x + %s;",
              lin_expr(E, lin_add(lin_add(lin(-(long long)d->ay.pad * d->W - d->ax.pad), "oy", (long long)d->ay.s * d->W),
                                  "ox", d->ax.s)));
    emit_line(E, "acc = bz;");
    for (int ky = 0; ky < d->KH; ky++) {
        Buf row;
        buf_init(&row);
        for (int kx = 0; kx < d->KW; kx++)
            buf_printf(&row, " + k%d * r[%lld]", ky * d->KW + kx, (long long)ky * d->ay.d * d->W + (long long)kx * d->ax.d);
        emit_line(E, "acc = acc%s;", row.data);
        buf_free(&row);
    }
}

/* A window at the border: the reference loops, padding taps skipped. */
static void dw_border(Emitter *E, const QConvDims *d, const char *oy, const char *ox)
{
    emit_line(E, "acc = bias;");
    const char *ky, *kx;
    window_open(E, &d->ay, &d->ax, oy, ox, &ky, &kx);
    emit_line(E, "acc += k[%s] * (x[iy * %d + ix]%s);", lin_expr(E, lin_add(lin_add(lin(0), ky, d->KW), kx, 1)),
              d->W, plus(E, -(long long)d->zin));
    window_close(E, ky, kx);
}

/* Depthwise: each channel's weights in locals; inside the input one sum of
 * x * w with z_in * sum w folded into the bias, at the border the
 * reference loops. */
static void emit_qconv_dw(Emitter *E, const Op *op)
{
    const QConvDims d = qconv_dims(E->g, op);
    const char *c = emit_loop_open(E, "c", d.F, 1);
    dw_channel(E, op, &d);
    const char *oy = emit_loop_open(E, "oy", d.OH, 1), *ox = emit_loop_open(E, "ox", d.OW, 1);
    emit_line(E, "int32_t acc;");
    const char *inner = inner_test(E, &d.ay, &d.ax);
    if (inner)
        emit_line(E, "if (%s) {", inner);
    E->depth += inner != NULL;
    dw_inner(E, &d);
    E->depth -= inner != NULL;
    if (inner) {
        emit_line(E, "} else {");
        E->depth++;
        dw_border(E, &d, oy, ox);
        E->depth--;
        emit_line(E, "}");
    }
    store(E, op, arena_printf(E->ctx->arena, "c * %lld + oy * %d + ox", (long long)d.OH * d.OW, d.OW),
          requant(E, op, "acc", "c", E->g->t[op->out].qzero));
    emit_loop_close(E, ox);
    emit_loop_close(E, oy);
    emit_loop_close(E, c);
}

/* Dense, 4 units at a time: each word of 4 inputs is sign-extended once
 * for the 4 units; the zero point is in the packed biases. */
static void emit_qdense_blocks(Emitter *E, const Op *op)
{
    const long long N = E->g->t[op->in[0]].numel, N4 = N / 4;
    const int U = (int)E->g->t[op->out].numel;
    const char *ub = emit_loop_open(E, "ub", (U + 3) / 4, 1);
    emit_line(E, "const int8_t *blk = %s + ub * %lld;", E->wexpr[op->packed], 16 + 4 * N);
    emit_line(E, "int32_t a0 = (int32_t)CNNC_RD8X4(blk), a1 = (int32_t)CNNC_RD8X4(blk + 4);");
    emit_line(E, "int32_t a2 = (int32_t)CNNC_RD8X4(blk + 8), a3 = (int32_t)CNNC_RD8X4(blk + 12);");
    emit_line(E, "const int8_t *wp = blk + 16, *xp = in;");
    if (N4 > 0) {
        const char *i = emit_loop_open(E, "i", N4, 1);
        emit_line(E, "const uint32_t xw = CNNC_RD8X4(xp);");
        emit_line(E, "const uint32_t x0 = CNNC_SXTB16(xw), x1 = CNNC_SXTB16_ROR8(xw);");
        emit_line(E, "uint32_t w;");
        for (int u = 0; u < 4; u++) {
            emit_line(E, "w = CNNC_RD8X4(wp + %d);", 4 * u);
            emit_line(E, "a%d = CNNC_SMLAD(CNNC_SXTB16(w), x0, a%d);", u, u);
            emit_line(E, "a%d = CNNC_SMLAD(CNNC_SXTB16_ROR8(w), x1, a%d);", u, u);
        }
        emit_line(E, "wp += 16;");
        emit_line(E, "xp += 4;");
        emit_loop_close(E, i);
    }
    for (long long r = 0; r < N % 4; r++)
        for (int u = 0; u < 4; u++)
            emit_line(E, "a%d += wp[%lld] * xp[%lld];", u, 4 * r + u, r);
    for (int u = 0; u < 4; u++) {
        if (U % 4)
            emit_line(E, "if (ub * 4 + %d < %d)", u, U), E->depth++;
        const char *o = arena_printf(E->ctx->arena, "ub * 4 + %d", u);
        store(E, op, o, requant(E, op, arena_printf(E->ctx->arena, "a%d", u), o, E->g->t[op->out].qzero));
        if (U % 4)
            E->depth--;
    }
    emit_loop_close(E, ub);
}

/* ---- conv2d and dense: the reference loops ---- */

void emit_qconv(Emitter *E, const Op *op)
{
    if (int8_packed(op)) {
        emit_qconv_im2col(E, op);
        return;
    }
    if (op->variant == KV_CONV_ROWS) {
        emit_qconv_dw(E, op);
        return;
    }
    static const ConvNestKind i8 = { "int8_t", "int32_t", "0", 1 };
    const Tensor *ti = &E->g->t[op->in[0]];
    ConvNest n;
    conv_nest_open(E, op, &i8, &n);
    emit_line(E, "acc += k[%s] * (x[%s]%s);", n.kat, n.xat, plus(E, -(long long)ti->qzero));
    const char *o = conv_nest_taps_close(E, &n);
    store(E, op, o, requant(E, op, "acc", "oc", E->g->t[op->out].qzero));
    conv_nest_close(E, &n);
}

void emit_qdense(Emitter *E, const Op *op)
{
    if (int8_packed(op)) {
        emit_qdense_blocks(E, op);
        return;
    }
    const Tensor *ti = &E->g->t[op->in[0]], *to = &E->g->t[op->out];
    const long long N = ti->numel;
    const char *u = emit_loop_open(E, "u", to->numel, 1);
    emit_line(E, "int32_t acc = %s;", op->b >= 0 ? arena_printf(E->ctx->arena, "%s[u]", E->wexpr[op->b]) : "0");
    emit_line(E, "const int8_t *k = %s + u * %lld;", E->wexpr[op->w], N);
    const char *i = emit_loop_open(E, "i", N, 1);
    emit_line(E, "acc += k[i] * (in[i]%s);", plus(E, -(long long)ti->qzero));
    emit_loop_close(E, i);
    store(E, op, "u", requant(E, op, "acc", "u", to->qzero));
    emit_loop_close(E, u);
}

/* ---- pools: the input's scale and zero point ---- */

/* One window into v: the max, or zero point + the rounded mean of
 * (q - zero point); a window without a real tap gives the zero point. */
static void qpool_window(Emitter *E, const Op *op, const Axis *ay, const Axis *ax, int z)
{
    const int is_max = op->kind == OP_QMAXPOOL, count = !is_max && !op->count_pad;
    emit_line(E, is_max ? "int32_t v = -129;" : "int32_t v = 0;");
    if (count)
        emit_line(E, "int32_t n = 0;");
    const char *ky, *kx;
    window_open(E, ay, ax, "oy", "ox", &ky, &kx);
    const char *at = lin_expr(E, lin_add(lin_add(lin(0), "iy", ax->n), "ix", 1));
    if (is_max)
        emit_line(E, "v = x[%s] > v ? x[%s] : v;", at, at);
    else
        emit_line(E, "v += x[%s]%s;", at, plus(E, -(long long)z));
    if (count)
        emit_line(E, "++n;");
    window_close(E, ky, kx);
    if (is_max)
        emit_line(E, "v = v < -128 ? %d : v;", z);
    else if (count)
        emit_line(E, "v = n > 0 ? %d + cnnc_q_div_round(v, n) : %d;", z, z);
    else
        emit_line(E, "v = %d + cnnc_q_div_round(v, %d);", z, op->win.kh * op->win.kw);
}

void emit_qpool(Emitter *E, const Op *op)
{
    const Tensor *ti = &E->g->t[op->in[0]], *to = &E->g->t[op->out];
    const int H = ti->shape.dim[1], W = ti->shape.dim[2];
    const int C = to->shape.dim[0], OH = to->shape.dim[1], OW = to->shape.dim[2];
    Axis ay, ax;
    window_axes(E->g, op, &ay, &ax);
    const char *c = emit_loop_open(E, "c", C, 1);
    emit_line(E, "const int8_t *x = in + c * %lld;", (long long)H * W);
    const char *oy = emit_loop_open(E, "oy", OH, 1);
    const char *ox = emit_loop_open(E, "ox", OW, 1);
    qpool_window(E, op, &ay, &ax, ti->qzero);
    store(E, op, lin_expr(E, lin_add(lin_add(lin_add(lin(0), c, (long long)OH * OW), oy, OW), ox, 1)), "v");
    emit_loop_close(E, ox);
    emit_loop_close(E, oy);
    emit_loop_close(E, c);
}

void emit_qgap(Emitter *E, const Op *op)
{
    const Tensor *ti = &E->g->t[op->in[0]];
    const long long HW = ti->numel / ti->shape.dim[0];
    const char *c = emit_loop_open(E, "c", ti->shape.dim[0], 1);
    emit_line(E, "int32_t s = 0;");
    const char *i = emit_loop_open(E, "i", HW, 1);
    emit_line(E, "s += in[c * %lld + i]%s;", HW, plus(E, -(long long)ti->qzero));
    emit_loop_close(E, i);
    store(E, op, "c", arena_printf(E->ctx->arena, "%d + cnnc_q_div_round(s, %lld)", ti->qzero, HW));
    emit_loop_close(E, c);
}

/* ---- add, concat, copies ---- */

void emit_qadd(Emitter *E, const Op *op)
{
    const Tensor *to = &E->g->t[op->out];
    const char *i = emit_loop_open(E, "i", to->numel, 1);
    emit_line(E, "int32_t sum = 0;");
    for (int k = 0; k < op->nin; k++) {
        const char *x = arena_printf(E->ctx->arena, "(%s[i]%s) * 1048576", in_name(op, k),
                                     plus(E, -(long long)E->g->t[op->in[k]].qzero));
        emit_line(E, "sum += %s;", requant(E, op, x, arena_printf(E->ctx->arena, "%d", k), 0));
    }
    store(E, op, "i", requant(E, op, "sum", arena_printf(E->ctx->arena, "%d", op->nin), to->qzero));
    emit_loop_close(E, i);
}

void emit_qconcat(Emitter *E, const Op *op)
{
    const int z = E->g->t[op->out].qzero;
    long long at = 0;
    for (int k = 0; k < op->nin; k++) {
        const Tensor *ti = &E->g->t[op->in[k]];
        const char *i = emit_loop_open(E, "i", ti->numel, 1);
        const char *x = arena_printf(E->ctx->arena, "%s[i]%s", in_name(op, k), plus(E, -(long long)ti->qzero));
        store(E, op, arena_printf(E->ctx->arena, "i%s", plus(E, at)),
              requant(E, op, x, arena_printf(E->ctx->arena, "%d", k), z));
        emit_loop_close(E, i);
        at += ti->numel;
    }
}

void emit_qcopy(Emitter *E, const Op *op)
{
    const char *i = emit_loop_open(E, "i", E->g->t[op->out].numel, 1);
    store(E, op, "i", "in[i]");
    emit_loop_close(E, i);
}
