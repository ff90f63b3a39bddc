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

void emit_int8_helpers(Emitter *E)
{
    int mul = 0, div = 0, clamp = 0;
    for (int i = 0; i < E->g->nops; i++) {
        const OpKind k = E->g->ops[i].kind;
        mul |= k == OP_QCONV || k == OP_QDENSE || k == OP_QADD || k == OP_QCONCAT;
        div |= k == OP_QAVGPOOL || k == OP_QGAP;
        clamp |= k >= OP_QUANTIZE && k != OP_DEQUANTIZE;
    }
    if (!E->g->quantized)
        return;
    buf_puts(E->c, "/* The int8 arithmetic (docs/quantization.md): integers only. */\n");
    if (mul)
        buf_puts(E->c, helper_mul);
    if (div)
        buf_puts(E->c, helper_div);
    if (clamp)
        buf_puts(E->c, helper_clamp);
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

/* "cnnc_q_mul(x, M[i], S[i]) + z" */
static const char *requant(Emitter *E, const Op *op, const char *x, const char *i, int z)
{
    return arena_printf(E->ctx->arena, "cnnc_q_mul(%s, %s[%s], %s[%s])%s", x, E->wexpr[op->mean],
                        i, E->wexpr[op->var], i, plus(E, z));
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

/* ---- conv2d and dense ---- */

void emit_qconv(Emitter *E, const Op *op)
{
    const Tensor *ti = &E->g->t[op->in[0]], *to = &E->g->t[op->out];
    const int H = ti->shape.dim[1], W = ti->shape.dim[2];
    const int F = to->shape.dim[0], OH = to->shape.dim[1], OW = to->shape.dim[2];
    const int G = op->groups > 0 ? op->groups : 1, Cg = ti->shape.dim[0] / G;
    const int KH = op->win.kh, KW = op->win.kw;
    Axis ay, ax;
    window_axes(E->g, op, &ay, &ax);

    const char *oc = emit_loop_open(E, "oc", F, 1);
    if (G > 1)
        emit_line(E, "const int grp = oc / %d;", F / G);
    const char *oy = emit_loop_open(E, "oy", OH, 1);
    const char *ox = emit_loop_open(E, "ox", OW, 1);
    emit_line(E, "int32_t acc = %s;", op->b >= 0 ? arena_printf(E->ctx->arena, "%s[oc]", E->wexpr[op->b]) : "0");
    const char *ic = emit_loop_open(E, "ic", Cg, 1);
    Lin xoff = lin_add(lin_add(lin(0), G > 1 ? "grp" : NULL, (long long)Cg * H * W), ic, (long long)H * W);
    Lin koff = lin_add(lin_add(lin(0), oc, (long long)Cg * KH * KW), ic, (long long)KH * KW);
    emit_line(E, "const int8_t *x = %s;", emit_plus(E, "in", xoff));
    emit_line(E, "const int8_t *k = %s;", emit_plus(E, E->wexpr[op->w], koff));
    const char *ky, *kx;
    window_open(E, &ay, &ax, oy, ox, &ky, &kx);
    emit_line(E, "acc += k[%s] * (x[%s]%s);", lin_expr(E, lin_add(lin_add(lin(0), ky, KW), kx, 1)),
              lin_expr(E, lin_add(lin_add(lin(0), "iy", W), "ix", 1)), plus(E, -(long long)ti->qzero));
    window_close(E, ky, kx);
    emit_loop_close(E, ic);
    const char *o = lin_expr(E, lin_add(lin_add(lin_add(lin(0), oc, (long long)OH * OW), oy, OW), ox, 1));
    store(E, op, o, requant(E, op, "acc", "oc", to->qzero));
    emit_loop_close(E, ox);
    emit_loop_close(E, oy);
    emit_loop_close(E, oc);
}

void emit_qdense(Emitter *E, const Op *op)
{
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
