/* emit_ops.c: the body of each op's static function, one emitter per op kind.
 *
 * Each writes the loop nest of docs/numerics.md in the interpreter's
 * accumulation order, with every dimension, stride, pad and offset folded to
 * a literal, so that emitted code and interp.c agree bit for bit under
 * -ffp-contract=off. Loops of one iteration are left out (their index is 0),
 * and a bound test is written only where some tap can fall into padding.
 * Activations are written as C expressions equal to act_apply().
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* ---- activations ---- */

/* The float literal at *p (e.g. "0.0f"), re-spelled exactly; advances *p. */
static void emit_const(Buf *b, const char **p)
{
    char lit[48], *end;
    float f = strtof(*p, &end);
    if (*end == 'f')
        end++;
    emit_float_lit(lit, sizeof lit, f);
    buf_puts(b, lit);
    *p = end;
}

/* The activation applied to the float variable v: acts.def's formula,
 * which act_apply() runs, with x replaced by v, A and B by the exact
 * literals of alpha and beta, and constants spelled by emit_float_lit. */
static void emit_act_expr(Buf *b, const Act *a, const char *v)
{
    char al[48], be[48];
    emit_float_lit(al, sizeof al, a->alpha);
    emit_float_lit(be, sizeof be, a->beta);
    const char *p = act_desc(a->kind)->expr;
    while (*p) {
        if (isalpha((unsigned char)*p) || *p == '_') {
            const char *q = p;
            while (isalnum((unsigned char)*q) || *q == '_')
                q++;
            if (q - p == 1 && (*p == 'x' || *p == 'A' || *p == 'B'))
                buf_puts(b, *p == 'x' ? v : *p == 'A' ? al : be);
            else
                buf_put(b, p, (size_t)(q - p));
            p = q;
        } else if (isdigit((unsigned char)*p)) {
            emit_const(b, &p);
        } else {
            buf_putc(b, *p++);
        }
    }
}

/* "dst = act(v);", or with E->residual "dst = act(v + dst);" */
void emit_store(Emitter *E, const char *dst, const Act *a, const char *v)
{
    for (int i = 0; i < E->depth; i++)
        buf_put(E->c, "    ", 4);
    buf_printf(E->c, "%s = ", dst);
    if (E->residual)
        v = arena_printf(E->ctx->arena, "(%s + %s)", v, dst);
    emit_act_expr(E->c, a, v);
    buf_puts(E->c, ";\n");
}

/* ---- windows: conv2d, maxpool, avgpool ---- */


static long long floor_div(long long a, long long b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Whether output o sees a real tap: some k in [0, K) with
 * 0 <= o*s - pad + k*d < n. */
static int axis_has_tap(const Axis *a, int o)
{
    long long base = (long long)o * a->s - a->pad;
    long long lo = floor_div(-base + a->d - 1, a->d);   /* ceil(-base / d) */
    long long hi = floor_div(a->n - 1 - base, a->d);
    if (lo < 0)
        lo = 0;
    if (hi > a->k - 1)
        hi = a->k - 1;
    return lo <= hi;
}

static Axis axis_make(int n, int k, int s, int d, int pad, int out)
{
    Axis a = { n, k, s > 0 ? s : 1, d > 0 ? d : 1, pad, out, 0, 0, 0 };
    a.test_lo = pad > 0;
    a.test_hi = (long long)(out - 1) * a.s - pad + (long long)(k - 1) * a.d > n - 1;
    for (int o = 0; o < out && !a.empty; o++)
        a.empty = !axis_has_tap(&a, o);
    return a;
}

void window_axes(const Graph *g, const Op *op, Axis *ay, Axis *ax)
{
    const Shape *is = &g->t[op->in[0]].shape, *os = &g->t[op->out].shape;
    const Window *w = &op->win;
    *ay = axis_make(is->dim[1], w->kh, w->sh, w->dh, w->pt, os->dim[1]);
    *ax = axis_make(is->dim[2], w->kw, w->sw, w->dw, w->pl, os->dim[2]);
}

/* "const int iy = oy * 2 + ky - 1;" and the test that skips padding. */
static void emit_coord(Emitter *E, const char *name, const char *o, const char *k,
                       const Axis *a)
{
    Lin l = lin_add(lin_add(lin(-a->pad), o, a->s), k, a->d);
    emit_line(E, "const int %s = %s;", name, lin_expr(E, l));
    if (a->test_lo && a->test_hi)
        emit_line(E, "if (%s < 0 || %s >= %d)", name, name, a->n);
    else if (a->test_lo)
        emit_line(E, "if (%s < 0)", name);
    else if (a->test_hi)
        emit_line(E, "if (%s >= %d)", name, a->n);
    if (a->test_lo || a->test_hi)
        emit_line(E, "    continue;");
}

/* The tap loops. A loop with a bound test is always written, so that its
 * `continue` skips exactly one tap row or tap. */
void window_open(Emitter *E, const Axis *ay, const Axis *ax, const char *oy, const char *ox,
                 const char **ky, const char **kx)
{
    *ky = emit_loop_open(E, "ky", ay->k, ay->test_lo || ay->test_hi);
    emit_coord(E, "iy", oy, *ky, ay);
    *kx = emit_loop_open(E, "kx", ax->k, ax->test_lo || ax->test_hi);
    emit_coord(E, "ix", ox, *kx, ax);
}

void window_close(Emitter *E, const char *ky, const char *kx)
{
    emit_loop_close(E, kx);
    emit_loop_close(E, ky);
}

static const char *bias_init(Emitter *E, const Op *op, const char *at)
{
    if (op->b < 0)
        return "0.0f";
    return arena_printf(E->ctx->arena, "%s[%s]", E->wexpr[op->b], at ? at : "0");
}

void conv_nest_open(Emitter *E, const Op *op, const ConvNestKind *kind, ConvNest *n)
{
    const Shape *is = &E->g->t[op->in[0]].shape, *os = &E->g->t[op->out].shape;
    const int H = is->dim[1], W = is->dim[2], F = os->dim[0];
    const int G = op->groups > 0 ? op->groups : 1, Cg = is->dim[0] / G;
    const int KH = op->win.kh, KW = op->win.kw;
    Axis ay, ax;
    window_axes(E->g, op, &ay, &ax);
    n->OH = os->dim[1], n->OW = os->dim[2];
    n->oc = emit_loop_open(E, "oc", F, kind->force);
    if (G > 1)
        emit_line(E, "const int grp = oc / %d;", F / G);
    n->oy = emit_loop_open(E, "oy", n->OH, kind->force);
    n->ox = emit_loop_open(E, "ox", n->OW, kind->force);
    emit_line(E, "%s acc = %s;", kind->acc, op->b < 0 ? kind->zero
              : arena_printf(E->ctx->arena, "%s[%s]", E->wexpr[op->b], n->oc ? n->oc : "0"));
    n->ic = emit_loop_open(E, "ic", Cg, kind->force);
    Lin xoff = lin_add(lin_add(lin(0), G > 1 ? "grp" : NULL, (long long)Cg * H * W), n->ic, (long long)H * W);
    Lin koff = lin_add(lin_add(lin(0), n->oc, (long long)Cg * KH * KW), n->ic, (long long)KH * KW);
    emit_line(E, "const %s *x = %s;", kind->elem, emit_plus(E, "in", xoff));
    emit_line(E, "const %s *k = %s;", kind->elem, emit_plus(E, E->wexpr[op->w], koff));
    window_open(E, &ay, &ax, n->oy, n->ox, &n->ky, &n->kx);
    n->kat = lin_expr(E, lin_add(lin_add(lin(0), n->ky, KW), n->kx, 1));
    n->xat = lin_expr(E, lin_add(lin_add(lin(0), "iy", W), "ix", 1));
}

const char *conv_nest_taps_close(Emitter *E, ConvNest *n)
{
    window_close(E, n->ky, n->kx);
    emit_loop_close(E, n->ic);
    return lin_expr(E, lin_add(lin_add(lin_add(lin(0), n->oc, (long long)n->OH * n->OW), n->oy, n->OW), n->ox, 1));
}

void conv_nest_close(Emitter *E, ConvNest *n)
{
    emit_loop_close(E, n->ox);
    emit_loop_close(E, n->oy);
    emit_loop_close(E, n->oc);
}

/* numerics.md conv2d: acc = bias; for ic, ky, kx: acc += w * x. */
static void emit_conv(Emitter *E, const Op *op)
{
    static const ConvNestKind f32 = { "float", "float", "0.0f", 0 };
    ConvNest n;
    conv_nest_open(E, op, &f32, &n);
    emit_line(E, "acc += k[%s] * x[%s];", n.kat, n.xat);
    const char *o = conv_nest_taps_close(E, &n);
    emit_store(E, arena_printf(E->ctx->arena, "out[%s]", o), &op->act, "acc");
    conv_nest_close(E, &n);
}

/* The reduction of one pooling window into m (max) or s (sum), counting
 * real taps in n where the divisor or an empty window needs it. */
static void emit_pool_window(Emitter *E, const Op *op, const Axis *ay, const Axis *ax,
                             const char *oy, const char *ox, int count)
{
    const int is_max = op->kind == OP_MAXPOOL;
    emit_line(E, is_max ? "float m = -INFINITY;" : "float s = 0.0f;");
    if (count)
        emit_line(E, "int n = 0;");
    const char *ky, *kx;
    window_open(E, ay, ax, oy, ox, &ky, &kx);
    const char *at = lin_expr(E, lin_add(lin_add(lin(0), "iy", ax->n), "ix", 1));
    if (is_max) {
        emit_line(E, "if (x[%s] > m)", at);
        emit_line(E, "    m = x[%s];", at);
    } else {
        emit_line(E, "s += x[%s];", at);
    }
    if (count)
        emit_line(E, "++n;");
    window_close(E, ky, kx);
}

/* The window's value in m or s: numerics.md's maxpool and avgpool rows. */
static const char *emit_pool_value(Emitter *E, const Op *op, const Axis *ay,
                                   const Axis *ax, int count)
{
    const int empty = ay->empty || ax->empty;
    if (op->kind == OP_MAXPOOL) {
        if (empty) {
            emit_line(E, "if (n == 0)");
            emit_line(E, "    m = 0.0f;");
        }
        return "m";
    }
    if (count) {
        if (empty)
            emit_line(E, "s = n > 0 ? s / (float)n : 0.0f;");
        else
            emit_line(E, "s = s / (float)n;");
    } else {
        char d[48];
        emit_float_lit(d, sizeof d, (float)(op->win.kh * op->win.kw));
        emit_line(E, "s = s / %s;", d);
    }
    return "s";
}

/* Windows of at most this many taps are written out tap by tap: gcc -O2
 * unrolls no loop, and a loop's counting cost as much as the taps. */
enum { POOL_TAPS_OUT = 16 };

/* Whether a stride-2 window row's taps are built from one another (tap kx
 * from tap kx - 2 and one load): the row's loads then stay inside its
 * taps, where a tap's own pair of loads reads one float past its last. */
static int pool_pairs(const Axis *ax)
{
    return ax->s == 2 && ax->d == 1 && ax->k >= 2 && ax->k <= POOL_TAPS_OUT;
}

/* The output columns [x0, x1) whose windows lie inside the input along x
 * (and, read in pairs for stride 2, whose last pair does too): x1 <= x0
 * when none. */
static void pool_inner_columns(const Axis *ax, int *x0, int *x1)
{
    const int extra = ax->s == 2 && !pool_pairs(ax);
    int hi = (ax->n - 1 - extra - (ax->k - 1) * ax->d + ax->pad) / ax->s + 1;
    *x0 = (ax->pad + ax->s - 1) / ax->s;
    *x1 = hi < ax->out ? hi : ax->out;
}

/* The output rows [y0, y1) whose windows lie inside the input along y. */
static void pool_inner_rows(const Axis *ay, int *y0, int *y1)
{
    long long hi = floor_div(ay->n - 1 - (long long)(ay->k - 1) * ay->d + ay->pad, ay->s) + 1;
    *y0 = (ay->pad + ay->s - 1) / ay->s;
    *y1 = hi < ay->out ? (int)hi : ay->out;
    if (*y1 < *y0)
        *y1 = *y0;
}

/* A SIMD variant's maxpool, or avgpool without padding taps, of stride 1
 * or 2 with no empty window and a vector's worth of inner columns. */
static int pool_vectorizes(const Emitter *E, const Op *op, const Axis *ay, const Axis *ax)
{
    if (!E->isa || E->isa->lanes < VEC_MIN_LANES || ay->empty || ax->empty ||
        (ax->s != 1 && ax->s != 2))
        return 0;
    if (op->kind == OP_AVGPOOL && (ay->test_lo || ay->test_hi || ax->test_lo || ax->test_hi))
        return 0;
    int x0, x1;
    pool_inner_columns(ax, &x0, &x1);
    return x1 - x0 >= VEC_MIN_LANES;
}

/* The tap in the vector variable v folded into m: max as "if (v > m)
 * m = v" lane by lane, which gcc turns into a compare and a masked move
 * (x86's maxps is exactly this, NaN and -0 too). */
static void emit_pool_fold(Emitter *E, const Op *op, int n, const char *v)
{
    if (op->kind != OP_MAXPOOL) {
        emit_line(E, "m += %s;", v);
        return;
    }
    emit_line(E, "k = %s > m;", v);
    emit_line(E, "m = (%s)(((cnnc_i%d)%s & k) | ((cnnc_i%d)m & ~k));", vec_type_n(E, n), n, v, n);
}

/* One tap of n lanes at q + at (a stride-2 row's pair of loads). */
static void emit_pool_tap(Emitter *E, const Op *op, int n, int s, const char *q, long long at)
{
    emit_line(E, "v = %s;", vec_load_strided_n(E, n, q, at, s));
    emit_pool_fold(E, op, n, "v");
}

/* "__builtin_shufflevector(a, b, ...)": lanes i0, i0 + step, ... of a and
 * b for n - 1 lanes, then lane `last`. */
static const char *pool_shuffle(Emitter *E, int n, const char *a, const char *b, int i0,
                                int step, int last)
{
    const char *r = arena_printf(E->ctx->arena, "__builtin_shufflevector(%s, %s", a, b);
    for (int l = 0; l < n - 1; l++)
        r = arena_printf(E->ctx->arena, "%s, %d", r, i0 + l * step);
    return arena_printf(E->ctx->arena, "%s, %d)", r, last);
}

/* A stride-2 window row at q + at (pool_pairs): taps 0 and 1 are the even
 * and odd lanes of one pair of loads, tap kx > 1 is tap kx - 2 moved down
 * a lane with the float at its end, from a load that ends there. */
static void emit_pool_pairs(Emitter *E, const Op *op, const Axis *ax, int n,
                            const char *q, long long at)
{
    const char *a = vec_load_n(E, n, q, at), *b = vec_load_n(E, n, q, at + n);
    for (int kx = 0; kx < ax->k; kx++) {
        const char *v = kx % 2 ? "vo" : "ve";
        if (kx < 2)
            emit_line(E, "%s = %s;", v, pool_shuffle(E, n, a, b, kx, 2, kx + 2 * n - 2));
        else
            emit_line(E, "%s = %s;", v, pool_shuffle(E, n, v, vec_load_n(E, n, q, at + kx + n - 1),
                                                     1, 1, 2 * n - 1));
        emit_pool_fold(E, op, n, v);
    }
}

/* The taps kx = 0 .. KW-1 of the window row at q, in order. */
static void emit_pool_tap_row(Emitter *E, const Op *op, const Axis *ax, int n,
                              const char *q, long long at)
{
    if (ax->k > POOL_TAPS_OUT) {
        emit_line(E, "for (int kx = 0; kx < %d; ++kx) {", ax->k);
        E->depth++;
        emit_line(E, "const float *r = %s + %lld + kx * %d;", q, at, ax->d);
        emit_pool_tap(E, op, n, ax->s, "r", 0);
        E->depth--;
        emit_line(E, "}");
        return;
    }
    if (pool_pairs(ax)) {
        emit_pool_pairs(E, op, ax, n, q, at);
        return;
    }
    for (int kx = 0; kx < ax->k; kx++)
        emit_pool_tap(E, op, n, ax->s, q, at + (long long)kx * ax->d);
}

/* Output columns ox..ox+n-1 of row oy: the window's taps in order, as
 * vectors of n kept in registers, then stored as one vector (or, under an
 * activation, one by one). Rows with `tested` may have taps above or below
 * the input: their taps rows are a loop that skips those. */
static void emit_pool_vector(Emitter *E, const Op *op, const Axis *ay, const Axis *ax,
                             const char *oy, const char *c, int n, int tested)
{
    const int is_max = op->kind == OP_MAXPOOL;
    const char *vt = vec_type_n(E, n);
    emit_line(E, "%s m = %s;", vt, vec_splat_n(E, n, is_max ? "-INFINITY" : "0.0f"));
    if (pool_pairs(ax))
        emit_line(E, "%s ve, vo;", vt);
    else
        emit_line(E, "%s v;", vt);
    if (is_max)
        emit_line(E, "cnnc_i%d k;", n);
    if (op->act.kind != ACT_NONE)
        emit_line(E, "float t[%d];", n);
    emit_line(E, "const float *q;");   /* declarations first: -Wdeclaration-after-statement */
    Lin col = lin_add(lin(-ax->pad), "ox", ax->s);
    if (tested || (long long)ay->k * ax->k > POOL_TAPS_OUT) {
        const char *ky = emit_loop_open(E, "ky", ay->k, tested);
        emit_coord(E, "iy", oy, ky, ay);
        emit_line(E, "q = %s;", emit_plus(E, "x", lin_add(col, "iy", ax->n)));
        emit_pool_tap_row(E, op, ax, n, "q", 0);
        emit_loop_close(E, ky);
    } else {
        Lin row = lin_add(col, oy, (long long)ay->s * ax->n);
        row.k -= (long long)ay->pad * ax->n;
        emit_line(E, "q = %s;", emit_plus(E, "x", row));
        for (int ky = 0; ky < ay->k; ky++)
            emit_pool_tap_row(E, op, ax, n, "q", (long long)ky * ay->d * ax->n);
    }
    if (!is_max) {
        char d[48];
        emit_float_lit(d, sizeof d, (float)(op->win.kh * op->win.kw));
        emit_line(E, "m = m / %s;", d);   /* each lane divided by the scalar */
    }
    Lin o = lin_add(lin_add(lin_add(lin(0), c, (long long)ay->out * ax->out), oy, ax->out), "ox", 1);
    if (op->act.kind == ACT_NONE) {
        emit_line(E, "*(%s *)(%s) = m;", vt, emit_plus(E, "out", o));
        return;
    }
    emit_line(E, "*(%s *)t = m;", vt);
    emit_line(E, "for (int j = 0; j < %d; ++j)", n);
    E->depth++;
    emit_store(E, arena_printf(E->ctx->arena, "out[%s]", lin_expr(E, lin_add(o, "j", 1))),
               &op->act, "t[j]");
    E->depth--;
}

/* Columns x .. x+n-1 of row oy as one vector of n. */
static void emit_pool_block(Emitter *E, const Op *op, const Axis *ay, const Axis *ax,
                            const char *oy, const char *c, int x, int n, int tested)
{
    emit_line(E, "{");
    E->depth++;
    emit_line(E, "const int ox = %d;", x);
    emit_pool_vector(E, op, ay, ax, oy, c, n, tested);
    E->depth--;
    emit_line(E, "}");
}

/* The inner columns [x0, x1) of row oy (at least VEC_MIN_LANES) as vectors
 * of the widest width that fits, then, for what is left, one vector of the
 * next power of two that ends at x1, overlapping the columns before it:
 * 13 columns of AVX-512 are 8 + 8 (columns 5 .. 7 computed twice, the same
 * values stored twice), where narrower vectors and reference columns would
 * cost three times as much. */
static void emit_pool_vectors(Emitter *E, const Op *op, const Axis *ay, const Axis *ax,
                              const char *oy, const char *c, int x0, int x1, int tested)
{
    int n = E->isa->lanes;
    while (n > VEC_MIN_LANES && n > x1 - x0)
        n /= 2;
    const int x = x0 + (x1 - x0) / n * n;
    if (x > x0 + n) {
        emit_line(E, "for (int ox = %d; ox < %d; ox += %d) {", x0, x, n);
        E->depth++;
        emit_pool_vector(E, op, ay, ax, oy, c, n, tested);
        E->depth--;
        emit_line(E, "}");
    } else {
        emit_pool_block(E, op, ay, ax, oy, c, x0, n, tested);
    }
    if (x == x1)
        return;
    int r = VEC_MIN_LANES;
    while (r < x1 - x)
        r *= 2;
    emit_pool_block(E, op, ay, ax, oy, c, x1 - r, r, tested);
}

/* Output columns [a, b) of row oy, one window at a time: the reference loops. */
static void emit_pool_columns(Emitter *E, const Op *op, const Axis *ay, const Axis *ax,
                              const char *oy, const char *c, int a, int b, int count)
{
    if (a >= b)
        return;
    emit_line(E, "for (int ox = %d; ox < %d; ++ox) {", a, b);
    E->depth++;
    emit_pool_window(E, op, ay, ax, oy, "ox", count);
    const char *v = emit_pool_value(E, op, ay, ax, count);
    const char *o = lin_expr(E, lin_add(lin_add(lin_add(lin(0), c, (long long)ay->out * ax->out),
                                                oy, ax->out), "ox", 1));
    emit_store(E, arena_printf(E->ctx->arena, "out[%s]", o), &op->act, v);
    E->depth--;
    emit_line(E, "}");
}

/* Channels summed side by side: each channel's sum is one chain of adds,
 * each add waiting for the one before, so P independent chains keep the
 * adder busy (latency 3-4 cycles, two adds a cycle); each chain still adds
 * its channel's values in order, as the interpreter does. */
enum { MEAN_CHANNELS = 8 };

/* out[oc + j] = act(sum over i of x[j*HW + i], / HW) for j < p: the
 * channels at x, one accumulator each. */
static void emit_mean_channels(Emitter *E, const Act *act, Lin oc, long long HW, int p)
{
    const char *sum[MEAN_CHANNELS];
    char d[48];
    emit_float_lit(d, sizeof d, (float)HW);
    for (int j = 0; j < p; j++) {
        sum[j] = p == 1 ? "s" : arena_printf(E->ctx->arena, "s%d", j);
        emit_line(E, "float %s = 0.0f;", sum[j]);
    }
    const char *i = emit_loop_open(E, "i", HW, 0);
    for (int j = 0; j < p; j++)
        emit_line(E, "%s += x[%s];", sum[j], lin_expr(E, lin_add(lin((long long)j * HW), i, 1)));
    emit_loop_close(E, i);
    for (int j = 0; j < p; j++) {
        Lin o = oc;
        o.k += j;
        emit_line(E, "%s = %s / %s;", sum[j], sum[j], d);
        emit_store(E, arena_printf(E->ctx->arena, "out[%s]", lin_expr(E, o)), act, sum[j]);
    }
}

/* Channels [c0, c1) of HW values, p at a time (p divides c1 - c0). */
static void emit_mean_range(Emitter *E, const Act *act, long long c0, long long c1, int p,
                            long long HW)
{
    if (c0 >= c1)
        return;
    const char *c = c1 - c0 > p ? "c" : NULL;
    if (!c)
        emit_line(E, "{");
    else if (p == 1)
        emit_line(E, "for (int c = %lld; c < %lld; ++c) {", c0, c1);
    else
        emit_line(E, "for (int c = %lld; c < %lld; c += %d) {", c0, c1, p);
    E->depth++;
    Lin oc = c ? lin_add(lin(0), c, 1) : lin(c0);
    emit_line(E, "const float *x = %s;", emit_plus(E, "in", lin_add(lin(c ? 0 : c0 * HW), c, HW)));
    emit_mean_channels(E, act, oc, HW, p);
    E->depth--;
    emit_line(E, "}");
}

/* numerics.md's global_avgpool over C channels of HW values, MEAN_CHANNELS
 * at a time, then the channels left one by one. */
static void emit_mean(Emitter *E, const Act *act, long long C, long long HW)
{
    const long long CP = C / MEAN_CHANNELS * MEAN_CHANNELS;
    emit_mean_range(E, act, 0, CP, MEAN_CHANNELS, HW);
    emit_mean_range(E, act, CP, C, 1, HW);
}

/* Output rows [y0, y1): border columns as reference loops, inner ones as
 * vectors; `tested` rows have taps above or below the input. */
static void emit_pool_rows(Emitter *E, const Op *op, const Axis *ay, const Axis *ax,
                           const char *c, int y0, int y1, int count, int tested)
{
    if (y0 >= y1)
        return;
    const char *oy = NULL;   /* a single row 0: no loop, as emit_loop_open */
    if (y0 > 0 || y1 > 1) {
        emit_line(E, "for (int oy = %d; oy < %d; ++oy) {", y0, y1);
        E->depth++;
        oy = "oy";
    }
    int x0, x1;
    pool_inner_columns(ax, &x0, &x1);
    emit_pool_columns(E, op, ay, ax, oy, c, 0, x0, count);
    emit_pool_vectors(E, op, ay, ax, oy, c, x0, x1, tested);
    emit_pool_columns(E, op, ay, ax, oy, c, x1, ax->out, count);
    if (oy) {
        E->depth--;
        emit_line(E, "}");
    }
}

static void emit_pool(Emitter *E, const Op *op)
{
    const Shape *is = &E->g->t[op->in[0]].shape, *os = &E->g->t[op->out].shape;
    const int H = is->dim[1], W = is->dim[2], C = os->dim[0], OH = os->dim[1], OW = os->dim[2];
    Axis ay, ax;
    window_axes(E->g, op, &ay, &ax);
    const int tests = ay.test_lo || ay.test_hi || ax.test_lo || ax.test_hi;
    /* Count taps for maxpool's empty windows, or avgpool's divisor when
     * padding taps are not counted. */
    const int count = op->kind == OP_MAXPOOL ? (ay.empty || ax.empty)
                                             : (tests && !op->count_pad);
    if (op->kind == OP_AVGPOOL && !tests && op->win.kh == H && op->win.kw == W) {
        emit_mean(E, &op->act, C, (long long)H * W);   /* the window is the map */
        return;
    }

    const char *c = emit_loop_open(E, "c", C, 0);
    emit_line(E, "const float *x = %s;", emit_plus(E, "in", lin_add(lin(0), c, (long long)H * W)));
    if (pool_vectorizes(E, op, &ay, &ax)) {
        int y0, y1;
        pool_inner_rows(&ay, &y0, &y1);
        emit_pool_rows(E, op, &ay, &ax, c, 0, y0, count, 1);
        emit_pool_rows(E, op, &ay, &ax, c, y0, y1, count, 0);
        emit_pool_rows(E, op, &ay, &ax, c, y1, OH, count, 1);
    } else {
        const char *oy = emit_loop_open(E, "oy", OH, 0);
        const char *ox = emit_loop_open(E, "ox", OW, 0);
        emit_pool_window(E, op, &ay, &ax, oy, ox, count);
        const char *v = emit_pool_value(E, op, &ay, &ax, count);
        const char *o = lin_expr(E, lin_add(lin_add(lin_add(lin(0), c, (long long)OH * OW), oy, OW), ox, 1));
        emit_store(E, arena_printf(E->ctx->arena, "out[%s]", o), &op->act, v);
        emit_loop_close(E, ox);
        emit_loop_close(E, oy);
    }
    emit_loop_close(E, c);
}

/* ---- the other ops ---- */

static void emit_global_avgpool(Emitter *E, const Op *op)
{
    const long long C = E->g->t[op->in[0]].shape.dim[0];
    emit_mean(E, &op->act, C, E->g->t[op->in[0]].numel / C);
}

/* ---- elementwise loops in a SIMD variant's vectors ---- */

/* Whether an elementwise op's loop is written in vectors: in a SIMD variant,
 * with an activation whose vector form is exact. gcc -O2 leaves these
 * loops scalar when the output may overlap an input (in place). */
static int lanes_ok(const Emitter *E, const Act *act)
{
    return E->isa && E->isa->guard && E->isa->lanes > 1 && vec_act_exact(act);
}

/* `lanes` floats at p + i (lanes 1: the float p[i]). */
static const char *lanes_load(Emitter *E, int lanes, const char *p, const char *i)
{
    if (lanes == 1)
        return arena_printf(E->ctx->arena, "%s[%s]", p, i);
    return arena_printf(E->ctx->arena, "*(const %s *)(%s + %s)", vec_type_n(E, lanes), p, i);
}

/* The value of `lanes` floats at index i (an expression), arg the op's. */
typedef const char *LanesValue(Emitter *E, int lanes, const char *i, const void *arg);

/* y[i] = act(val at i) for i < n: vectors of the variant's lanes while
 * whole ones fit, then floats, each lane computing what the scalar
 * loop does (lanes_ok must hold). */
static void emit_lanes_loop(Emitter *E, const char *y, long long n, const Act *act,
                            LanesValue *val, const void *arg)
{
    const int L = E->isa->lanes;
    const long long nv = n / L * L;
    if (nv > 0) {
        emit_line(E, "for (int i = 0; i < %lld; i += %d)", nv, L);
        E->depth++;
        emit_vec_store(E, L, arena_printf(E->ctx->arena, "%s + i", y), act, val(E, L, "i", arg));
        E->depth--;
    }
    if (n > nv) {
        emit_line(E, "for (int i = %lld; i < %lld; ++i)", nv, n);
        E->depth++;
        emit_store(E, arena_printf(E->ctx->arena, "%s[i]", y), act, val(E, 1, "i", arg));
        E->depth--;
    }
}

static const char *copy_value(Emitter *E, int lanes, const char *i, const void *arg)
{
    return lanes_load(E, lanes, arg, i);
}

/* dst[at + i] = act(src[i]) for i < n: flatten, activations, concat. */
static void emit_map(Emitter *E, const Act *act, const char *src, long long at, long long n)
{
    if (lanes_ok(E, act) && n >= E->isa->lanes) {
        emit_line(E, "{");
        E->depth++;
        emit_line(E, "float *y = %s;", emit_plus(E, "out", lin(at)));
        emit_lanes_loop(E, "y", n, act, copy_value, src);
        E->depth--;
        emit_line(E, "}");
        return;
    }
    const char *i = emit_loop_open(E, "i", n, 0);
    const char *o = lin_expr(E, lin_add(lin(at), i, 1));
    const char *dst = arena_printf(E->ctx->arena, "out[%s]", o);
    if (act->kind == ACT_NONE) {
        emit_line(E, "%s = %s[%s];", dst, src, i ? i : "0");
    } else if (i) {
        emit_line(E, "const float v = %s[%s];", src, i);
        emit_store(E, dst, act, "v");
    } else {                     /* one element: no loop, so no scope for v */
        emit_store(E, dst, act, arena_printf(E->ctx->arena, "%s[0]", src));
    }
    emit_loop_close(E, i);
}

/* flatten and OP_ACT: out[i] = act(in[i]). */
static void emit_map_op(Emitter *E, const Op *op)
{
    emit_map(E, &op->act, "in", 0, E->g->t[op->out].numel);
}

static void emit_dense(Emitter *E, const Op *op)
{
    const long long N = E->g->t[op->in[0]].numel, U = E->g->t[op->out].numel;
    const char *u = emit_loop_open(E, "u", U, 0);
    emit_line(E, "const float *k = %s;", emit_plus(E, E->wexpr[op->w], lin_add(lin(0), u, N)));
    emit_line(E, "float acc = %s;", bias_init(E, op, u));
    const char *i = emit_loop_open(E, "i", N, 0);
    emit_line(E, "acc += k[%s] * in[%s];", i ? i : "0", i ? i : "0");
    emit_loop_close(E, i);
    emit_store(E, arena_printf(E->ctx->arena, "out[%s]", u ? u : "0"), &op->act, "acc");
    emit_loop_close(E, u);
}

/* A batchnorm channel's value at i: x, y, mean, scale, beta as scalars
 * and vm, vs, vb as vectors (emit_bn_channels). */
static const char *bn_value(Emitter *E, int lanes, const char *i, const void *arg)
{
    (void)arg;
    if (lanes == 1)
        return arena_printf(E->ctx->arena, "(x[%s] - mean) * scale + beta", i);
    return arena_printf(E->ctx->arena, "(%s - vm) * vs + vb", lanes_load(E, lanes, "x", i));
}

/* The n channels of batchnorm input `in`, the output's channels c0 ..
 * c0 + n - 1: per channel its scale, then its HW values. */
static void emit_bn_channels(Emitter *E, const Op *op, const char *in, int c0, int n, long long HW,
                             const char *eps)
{
    const char *c = emit_loop_open(E, "c", n, 0);
    const char *ch = lin_expr(E, lin_add(lin(c0), c, 1));
    emit_line(E, "const float scale = %s[%s] / sqrtf(%s[%s] + %s);", E->wexpr[op->w], ch,
              E->wexpr[op->var], ch, eps);
    emit_line(E, "const float mean = %s[%s], beta = %s[%s];", E->wexpr[op->mean], ch,
              E->wexpr[op->b], ch);
    if (lanes_ok(E, &op->act) && HW >= E->isa->lanes) {
        emit_line(E, "const %s vs = %s;", vec_type(E), vec_splat(E, "scale"));
        emit_line(E, "const %s vm = %s;", vec_type(E), vec_splat(E, "mean"));
        emit_line(E, "const %s vb = %s;", vec_type(E), vec_splat(E, "beta"));
    }
    emit_line(E, "const float *x = %s;", emit_plus(E, in, lin_add(lin(0), c, HW)));
    emit_line(E, "float *y = %s;", emit_plus(E, "out", lin_add(lin((long long)c0 * HW), c, HW)));
    if (lanes_ok(E, &op->act) && HW >= E->isa->lanes) {
        emit_lanes_loop(E, "y", HW, &op->act, bn_value, NULL);
    } else {
        const char *i = emit_loop_open(E, "i", HW, 0), *ii = i ? i : "0";
        emit_line(E, "const float v = (x[%s] - mean) * scale + beta;", ii);
        emit_store(E, arena_printf(E->ctx->arena, "y[%s]", ii), &op->act, "v");
        emit_loop_close(E, i);
    }
    emit_loop_close(E, c);
}

/* numerics.md: scale = gamma / sqrtf(var + eps); y = (x - mean) * scale + beta.
 * With several inputs (a concat fused in: fuse.c), each gives the output
 * channels that follow the previous one's. */
static void emit_batchnorm(Emitter *E, const Op *op)
{
    const Tensor *to = &E->g->t[op->out];
    const long long HW = to->numel / to->shape.dim[0];
    char eps[48];
    emit_float_lit(eps, sizeof eps, op->epsilon);
    int c0 = 0;
    for (int k = 0; k < op->nin; k++) {
        const int n = E->g->t[op->in[k]].shape.dim[0];
        if (op->nin == 1) {
            emit_bn_channels(E, op, "in", 0, n, HW, eps);
            break;
        }
        emit_line(E, "{");
        E->depth++;
        emit_bn_channels(E, op, arena_printf(E->ctx->arena, "in%d", k), c0, n, HW, eps);
        E->depth--;
        emit_line(E, "}");
        c0 += n;
    }
}

/* The add's sum at i of its inputs in0, in1, ... (arg: the op). */
static const char *add_value(Emitter *E, int lanes, const char *i, const void *arg)
{
    const Op *op = arg;
    const char *v = lanes_load(E, lanes, "in0", i);
    for (int k = 1; k < op->nin; k++)
        v = arena_printf(E->ctx->arena, "%s + %s", v,
                         lanes_load(E, lanes, arena_printf(E->ctx->arena, "in%d", k), i));
    return v;
}

/* y = x0 + x1 + x2 ...: C's + is left-associative, numerics.md's order. */
static void emit_add(Emitter *E, const Op *op)
{
    if (lanes_ok(E, &op->act) && E->g->t[op->out].numel >= E->isa->lanes) {
        emit_lanes_loop(E, "out", E->g->t[op->out].numel, &op->act, add_value, op);
        return;
    }
    const char *i = emit_loop_open(E, "i", E->g->t[op->out].numel, 0), *ii = i ? i : "0";
    for (int k = 0; k < E->depth; k++)
        buf_put(E->c, "    ", 4);
    buf_puts(E->c, "const float v = ");
    for (int k = 0; k < op->nin; k++)
        buf_printf(E->c, "%sin%d[%s]", k ? " + " : "", k, ii);
    buf_puts(E->c, ";\n");
    emit_store(E, arena_printf(E->ctx->arena, "out[%s]", ii), &op->act, "v");
    emit_loop_close(E, i);
}

/* Input k of concat op, at element at of its output, is already there:
 * its producer wrote it into its slice (concat_view.c) and the plan put it
 * there. The concat copies the other inputs only. */
static int concat_slice_done(const Graph *g, const Op *op, int k, long long at)
{
    const Tensor *x = &g->t[op->in[k]], *y = &g->t[op->out];
    return x->slice_of == 1 + op->out && x->slice_at == at && op->act.kind == ACT_NONE &&
           x->role == TR_ACT && y->role == TR_ACT && y->offset >= 0 &&
           x->offset == y->offset + at;
}

int emit_concat_is_view(const Graph *g, const Op *op)
{
    long long at = 0;
    if (op->kind != OP_CONCAT)
        return 0;
    for (int k = 0; k < op->nin; at += g->t[op->in[k]].numel, k++)
        if (!concat_slice_done(g, op, k, at))
            return 0;
    return 1;
}

static void emit_concat(Emitter *E, const Op *op)
{
    long long at = 0;
    for (int k = 0; k < op->nin; k++) {
        const long long n = E->g->t[op->in[k]].numel;
        const char *in = op->nin > 1 ? arena_printf(E->ctx->arena, "in%d", k) : "in";
        if (concat_slice_done(E->g, op, k, at))
            emit_line(E, "(void)%s; /* written into out + %lld by its producer */", in, at);
        else
            emit_map(E, &op->act, in, at, n);
        at += n;
    }
}

/* One softmax line of n values at x[0], x[inner], ...: max, exp and sum
 * in index order, divide. */
static void emit_softmax_line(Emitter *E, long long n, long long inner)
{
    const char *a;
    emit_line(E, "float m = -INFINITY;");
    emit_line(E, "float s = 0.0f;");
    const char *i = emit_loop_open(E, "i", n, 0);
    a = lin_expr(E, lin_add(lin(0), i, inner));
    emit_line(E, "if (x[%s] > m)", a);
    emit_line(E, "    m = x[%s];", a);
    emit_loop_close(E, i);
    i = emit_loop_open(E, "i", n, 0);
    emit_line(E, "y[%s] = expf(x[%s] - m);", a, a);
    emit_line(E, "s += y[%s];", a);
    emit_loop_close(E, i);
    i = emit_loop_open(E, "i", n, 0);
    emit_line(E, "y[%s] = y[%s] / s;", a, a);
    emit_loop_close(E, i);
}

static void emit_softmax(Emitter *E, const Op *op)
{
    const Tensor *t = &E->g->t[op->in[0]];
    long long outer = 1, inner = 1, n = t->shape.dim[op->axis];
    for (int k = 0; k < op->axis; k++)
        outer *= t->shape.dim[k];
    for (int k = op->axis + 1; k < t->shape.rank; k++)
        inner *= t->shape.dim[k];
    const char *o = emit_loop_open(E, "o", outer, 0);
    const char *j = emit_loop_open(E, "j", inner, 0);
    Lin base = lin_add(lin_add(lin(0), o, n * inner), j, 1);
    emit_line(E, "const float *x = %s;", emit_plus(E, "in", base));
    emit_line(E, "float *y = %s;", emit_plus(E, "out", base));
    emit_softmax_line(E, n, inner);
    emit_loop_close(E, j);
    emit_loop_close(E, o);
    if (op->act.kind != ACT_NONE)
        emit_map(E, &op->act, "out", 0, t->numel);
}

/* dst[at .. at + n) = val, as one statement or a loop. */
static void emit_fill(Emitter *E, const char *dst, long long at, long long n, const char *val)
{
    if (n <= 0)
        return;
    if (n == 1) {
        emit_line(E, "%s[%lld] = %s;", dst, at, val);
        return;
    }
    emit_line(E, "for (int i = 0; i < %lld; ++i)", n);
    emit_line(E, "    %s[%s] = %s;", dst, lin_expr(E, lin_add(lin(at), "i", 1)), val);
}

/* "const int iy = ...;": pad's reflected coordinate of output o. */
static void emit_reflect(Emitter *E, const char *name, const char *o, int pad, int n)
{
    emit_line(E, "const int %s0 = %s;", name, lin_expr(E, lin_add(lin(-pad), o, 1)));
    emit_line(E, "const int %s1 = %s0 < 0 ? -%s0 : %s0;", name, name, name, name);
    emit_line(E, "const int %s = %s1 >= %d ? %d - %s1 : %s1;", name, name, n, 2 * (n - 1), name, name);
}

/* pad's reflect mode: each output cell from its reflected input cell. */
static void emit_pad_reflect(Emitter *E, const Op *op)
{
    const Shape *is = &E->g->t[op->in[0]].shape, *os = &E->g->t[op->out].shape;
    const int H = is->dim[1], W = is->dim[2], Hp = os->dim[1], Wp = os->dim[2];
    const char *c = emit_loop_open(E, "c", is->dim[0], 0);
    emit_line(E, "const float *x = %s;", emit_plus(E, "in", lin_add(lin(0), c, (long long)H * W)));
    emit_line(E, "float *y = %s;", emit_plus(E, "out", lin_add(lin(0), c, (long long)Hp * Wp)));
    const char *py = emit_loop_open(E, "py", Hp, 1);
    emit_reflect(E, "iy", py, op->win.pt, H);
    const char *px = emit_loop_open(E, "px", Wp, 1);
    emit_reflect(E, "ix", px, op->win.pl, W);
    emit_line(E, "y[%s] = x[%s];", lin_expr(E, lin_add(lin_add(lin(0), py, Wp), px, 1)),
              lin_expr(E, lin_add(lin_add(lin(0), "iy", W), "ix", 1)));
    emit_loop_close(E, px);
    emit_loop_close(E, py);
    emit_loop_close(E, c);
}

/* A constant around the input (pad.c's zeros): per channel, rows of it on
 * top, then each input row between columns of it, then rows below. */
static void emit_pad(Emitter *E, const Op *op)
{
    if (op->mode == PAD_REFLECT) {
        emit_pad_reflect(E, op);
        return;
    }
    const Shape *is = &E->g->t[op->in[0]].shape, *os = &E->g->t[op->out].shape;
    const int H = is->dim[1], W = is->dim[2], Hp = os->dim[1], Wp = os->dim[2];
    const int pt = op->win.pt, pl = op->win.pl;
    char v[48];
    emit_float_lit(v, sizeof v, op->value);
    const char *c = emit_loop_open(E, "c", is->dim[0], 0);
    emit_line(E, "const float *x = %s;", emit_plus(E, "in", lin_add(lin(0), c, (long long)H * W)));
    emit_line(E, "float *y = %s;", emit_plus(E, "out", lin_add(lin(0), c, (long long)Hp * Wp)));
    emit_fill(E, "y", 0, (long long)pt * Wp, v);
    const char *r = emit_loop_open(E, "r", H, 1);
    emit_line(E, "float *yr = y + %s;", lin_expr(E, lin_add(lin((long long)pt * Wp), r, Wp)));
    emit_fill(E, "yr", 0, pl, v);
    emit_line(E, "for (int i = 0; i < %d; ++i)", W);
    emit_line(E, "    yr[%s] = x[%s];", lin_expr(E, lin_add(lin(pl), "i", 1)),
              lin_expr(E, lin_add(lin_add(lin(0), r, W), "i", 1)));
    emit_fill(E, "yr", pl + W, Wp - W - pl, v);
    emit_loop_close(E, r);
    emit_fill(E, "y", (long long)(pt + H) * Wp, (long long)(Hp - H - pt) * Wp, v);
    emit_loop_close(E, c);
}

/* A loop variable, or 0 where its loop of one iteration was left out. */
static const char *v0(const char *v)
{
    return v ? v : "0";
}

/* Opens the loops over t's channels (c) and each channel's elements (i);
 * returns the flat index c * HW + i. Close with emit_loop_close(i), (c). */
static const char *open_channel_elements(Emitter *E, const Tensor *t, const char **c,
                                         const char **i)
{
    const long long HW = t->numel / t->shape.dim[0];
    *c = emit_loop_open(E, "c", t->shape.dim[0], 0);
    *i = emit_loop_open(E, "i", HW, 0);
    return lin_expr(E, lin_add(lin_add(lin(0), *c, HW), *i, 1));
}

/* mul, sub: "const float v = in0[...] * in1[c];" per element; an operand
 * smaller than the output is read once per channel. */
static void emit_binary(Emitter *E, const Op *op)
{
    const Tensor *to = &E->g->t[op->out];
    const char *c, *i, *full = open_channel_elements(E, to, &c, &i);
    const char *at[2];
    for (int k = 0; k < 2; k++)
        at[k] = E->g->t[op->in[k]].numel < to->numel ? v0(c) : full;
    emit_line(E, "const float v = in0[%s] %s in1[%s];", at[0], op->kind == OP_MUL ? "*" : "-", at[1]);
    emit_store(E, arena_printf(E->ctx->arena, "out[%s]", full), &op->act, "v");
    emit_loop_close(E, i);
    emit_loop_close(E, c);
}

/* numerics.md scale: y = x * w[c] (+ b[c]). */
static void emit_scale(Emitter *E, const Op *op)
{
    const char *c, *i, *at = open_channel_elements(E, &E->g->t[op->out], &c, &i);
    if (op->b >= 0)
        emit_line(E, "const float v = in[%s] * %s[%s] + %s[%s];", at, E->wexpr[op->w], v0(c),
                  E->wexpr[op->b], v0(c));
    else
        emit_line(E, "const float v = in[%s] * %s[%s];", at, E->wexpr[op->w], v0(c));
    emit_store(E, arena_printf(E->ctx->arena, "out[%s]", at), &op->act, "v");
    emit_loop_close(E, i);
    emit_loop_close(E, c);
}

/* channel_shuffle: output channel oc copies input channel
 * (oc % groups) * (C / groups) + oc / groups. */
static void emit_shuffle(Emitter *E, const Op *op)
{
    const Tensor *t = &E->g->t[op->out];
    const int C = t->shape.dim[0], G = op->groups;
    const long long HW = t->numel / C;
    const char *oc = emit_loop_open(E, "oc", C, 0);
    emit_line(E, "const float *x = in + ((%s %% %d) * %d + %s / %d) * %lld;", v0(oc), G, C / G,
              v0(oc), G, HW);
    emit_line(E, "float *y = %s;", emit_plus(E, "out", lin_add(lin(0), oc, HW)));
    const char *i = emit_loop_open(E, "i", HW, 0);
    emit_line(E, "const float v = x[%s];", v0(i));
    emit_store(E, arena_printf(E->ctx->arena, "y[%s]", v0(i)), &op->act, "v");
    emit_loop_close(E, i);
    emit_loop_close(E, oc);
}

/* numerics.md layernorm, per pixel p: the channels' mean, their variance,
 * then each channel normalized, scaled and shifted. */
static void emit_layernorm(Emitter *E, const Op *op)
{
    const Tensor *t = &E->g->t[op->out];
    const int C = t->shape.dim[0];
    const long long HW = t->numel / C;
    char nc[48], eps[48];
    emit_float_lit(nc, sizeof nc, (float)C);
    emit_float_lit(eps, sizeof eps, op->epsilon);
    const char *p = emit_loop_open(E, "p", HW, 0);
    emit_line(E, "float s = 0.0f;");
    emit_line(E, "float q = 0.0f;");
    emit_line(E, "float mean;");
    emit_line(E, "float inv;");
    const char *c = emit_loop_open(E, "c", C, 0);
    const char *at = lin_expr(E, lin_add(lin_add(lin(0), c, HW), p, 1));
    emit_line(E, "s += in[%s];", at);
    emit_loop_close(E, c);
    emit_line(E, "mean = s / %s;", nc);
    c = emit_loop_open(E, "c", C, 0);
    emit_line(E, "const float d = in[%s] - mean;", at);
    emit_line(E, "q += d * d;");
    emit_loop_close(E, c);
    emit_line(E, "inv = 1.0f / sqrtf(q / %s + %s);", nc, eps);
    c = emit_loop_open(E, "c", C, 0);
    emit_line(E, "const float v = (in[%s] - mean) * inv * %s[%s] + %s[%s];", at, E->wexpr[op->w],
              v0(c), E->wexpr[op->b], v0(c));
    emit_store(E, arena_printf(E->ctx->arena, "out[%s]", at), &op->act, "v");
    emit_loop_close(E, c);
    emit_loop_close(E, p);
}

/* One axis of bilinear upsampling, as interp.c's lerp_at(): "i0", "i1" and
 * the weight "l" of i1 for output coordinate o, prefixed by name. */
static void emit_lerp(Emitter *E, const char *name, const char *o, int s, int n)
{
    char sc[48];
    emit_float_lit(sc, sizeof sc, (float)s);
    emit_line(E, "const float s%s0 = ((float)%s + 0.5f) / %s - 0.5f;", name, o, sc);
    emit_line(E, "const float s%s = s%s0 < 0.0f ? 0.0f : s%s0;", name, name, name);
    emit_line(E, "const int %s0 = (int)s%s;", name, name);
    emit_line(E, "const int %s1 = %s0 < %d ? %s0 + 1 : %s0;", name, name, n - 1, name, name);
    emit_line(E, "const float l%s = s%s - (float)%s0;", name, name, name);
}

static void emit_upsample(Emitter *E, const Op *op)
{
    const Shape *is = &E->g->t[op->in[0]].shape, *os = &E->g->t[op->out].shape;
    const int H = is->dim[1], W = is->dim[2], OH = os->dim[1], OW = os->dim[2];
    const int sh = op->win.sh, sw = op->win.sw;
    const char *c = emit_loop_open(E, "c", os->dim[0], 0);
    emit_line(E, "const float *x = %s;", emit_plus(E, "in", lin_add(lin(0), c, (long long)H * W)));
    const char *oy = emit_loop_open(E, "oy", OH, 0);
    if (op->mode == UP_BILINEAR)
        emit_lerp(E, "y", v0(oy), sh, H);
    const char *ox = emit_loop_open(E, "ox", OW, 0);
    const char *o = lin_expr(E, lin_add(lin_add(lin_add(lin(0), c, (long long)OH * OW), oy, OW), ox, 1));
    if (op->mode == UP_NEAREST) {
        emit_line(E, "const float v = x[(%s / %d) * %d + %s / %d];", v0(oy), sh, W, v0(ox), sw);
    } else {
        emit_lerp(E, "x", v0(ox), sw, W);
        emit_line(E, "const float top = (1.0f - lx) * x[y0 * %d + x0] + lx * x[y0 * %d + x1];", W, W);
        emit_line(E, "const float bot = (1.0f - lx) * x[y1 * %d + x0] + lx * x[y1 * %d + x1];", W, W);
        emit_line(E, "const float v = (1.0f - ly) * top + ly * bot;");
    }
    emit_store(E, arena_printf(E->ctx->arena, "out[%s]", o), &op->act, "v");
    emit_loop_close(E, ox);
    emit_loop_close(E, oy);
    emit_loop_close(E, c);
}

typedef void EmitFn(Emitter *E, const Op *op);

/* ops.def's emit column. */
static EmitFn *const emit_fns[OP__COUNT] = {
#define OP(kind, name, nin, flags, check, keys, run, emit) [kind] = emit,
#include "ops.def"
#undef OP
};

/* The op's statements: the kernel's or its kind's emitter. */
static void emit_op_code(Emitter *E, const Op *op)
{
    if (emit_kernel_body(E, op))
        return;
    if ((unsigned)op->kind >= OP__COUNT)
        ICE("emit: bad op kind %d in '%s'", (int)op->kind, op->name ? op->name : "?");
    emit_fns[op->kind](E, op);
}

/* A conv with a residual adds to what its output holds: the residual
 * itself when the output overwrites it (inplace.c), else a copy of it,
 * made before the conv's own block (C90 declarations come first there). */
void emit_op_body(Emitter *E, const Op *op)
{
    if (op_residual(op) < 0) {
        emit_op_code(E, op);
        return;
    }
    if (op->inplace == 2) {
        emit_op_code(E, op);
        emit_line(E, "(void)res; /* out is res, overwritten */");
        return;
    }
    static const Act none = { ACT_NONE, 0.0f, 0.0f };
    E->residual = 0;   /* the copy itself stores plainly */
    emit_map(E, &none, "res", 0, E->g->t[op->out].numel);
    E->residual = 1;
    emit_line(E, "{");
    E->depth++;
    emit_op_code(E, op);
    E->depth--;
    emit_line(E, "}");
}

/* ---- the parameter line of an op's comment ---- */

static void emit_window_params(Buf *b, const Window *w)
{
    buf_printf(b, "kernel=%dx%d stride=%dx%d dilation=%dx%d pad=[%d, %d, %d, %d]",
               w->kh, w->kw, w->sh, w->sw, w->dh, w->dw, w->pt, w->pl, w->pb, w->pr);
}

static void emit_act_params(Buf *b, const Act *a)
{
    const ActDesc *d = act_desc(a->kind);
    const float val[2] = { a->alpha, a->beta };
    buf_printf(b, "%s", d->name);
    for (int k = 0; k < 2 && d->param[k]; k++)
        buf_printf(b, " %s=%.9g", d->param[k], (double)val[k]);
}

static void emit_kind_params(Emitter *E, const Op *op)
{
    Buf *b = E->c;
    const Tensor *out = &E->g->t[op->out];
    switch (op->kind) {
    case OP_CONV:
        buf_printf(b, " *   filters=%d ", out->shape.dim[0]);
        emit_window_params(b, &op->win);
        buf_printf(b, " groups=%d bias=%s\n", op->groups > 0 ? op->groups : 1,
                   op->b >= 0 ? "true" : "false");
        return;
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        buf_puts(b, " *   ");
        emit_window_params(b, &op->win);
        buf_puts(b, op->kind == OP_AVGPOOL && op->count_pad ? " count_pad=true\n" : "\n");
        return;
    case OP_DENSE:
        buf_printf(b, " *   units=%d bias=%s\n", out->shape.dim[0], op->b >= 0 ? "true" : "false");
        return;
    case OP_LAYERNORM:
    case OP_BATCHNORM: buf_printf(b, " *   epsilon=%.9g\n", (double)op->epsilon); return;
    case OP_CHANNEL_SHUFFLE: buf_printf(b, " *   groups=%d\n", op->groups); return;
    case OP_UPSAMPLE:
        buf_printf(b, " *   scale=%dx%d mode=%s\n", op->win.sh, op->win.sw,
                   op->mode == UP_BILINEAR ? "bilinear" : "nearest");
        return;
    case OP_SOFTMAX: buf_printf(b, " *   axis=%d\n", op->axis); return;
    case OP_PAD:
        if (op->mode == PAD_REFLECT)
            buf_puts(b, " *   reflect:");
        else if (op->value != 0.0f)
            buf_printf(b, " *   value %.9g:", (double)op->value);
        else
            buf_puts(b, " *   zeros:");
        buf_printf(b, " top=%d left=%d bottom=%d right=%d\n", op->win.pt, op->win.pl, op->win.pb,
                   op->win.pr);
        return;
    case OP_ACT:   /* the kind is on the line above; its parameters, if any */
        if (act_desc(op->act.kind)->param[0]) {
            buf_puts(b, " *   ");
            emit_act_params(b, &op->act);
            buf_putc(b, '\n');
        }
        return;
    default: return;
    }
}

void emit_op_params_comment(Emitter *E, const Op *op)
{
    emit_kind_params(E, op);
    if (op->kind != OP_ACT && op->act.kind != ACT_NONE) {
        buf_puts(E->c, " *   then ");
        emit_act_params(E->c, &op->act);
        buf_puts(E->c, " (fused)\n");
    }
}
