/* emit_kernels.c: the fast kernels the optimizer chose (Op.variant, set by
 * pack.c): conv2d with channels or pixels in the vector lanes, conv2d one
 * channel at a time along rows, and dense on transposed weights. Each op
 * gets one or two "tile" functions, written before its own function, which
 * calls them over the output.
 *
 * A tile is plain C99 with literal trip counts, shaped so that gcc -O3
 * -march=native keeps its accumulators (a few arrays of 8 to 64 floats) in
 * vector registers and emits full-width FMAs (docs/passes.md, "pack"). Each
 * output still sums bias, then ic, ky, kx (dense: i) in numerics.md's order,
 * so without contraction the results are the interpreter's bit for bit. The
 * conv tiles read every tap without a bounds test: they need an unpadded
 * window (pad.c pads explicitly); a padded conv falls back to emit_ops.c.
 */
#include <string.h>

#include "backend.h"

enum {
    CONV_XB = 8,       /* pixels of a KV_CONV_BLOCKED tile */
    ROWS_XV = 32,      /* pixels of a KV_CONV_ROWS tile, at most */
};

/* ---- index expressions: "ic * 676 + ky * 26 + 16", zero terms left out ---- */

typedef struct Term {
    const char *var;   /* NULL: left out (a loop of one iteration) */
    long long coef;
} Term;

static const Term NONE = { NULL, 0 };

static Term term(const char *var, long long coef)
{
    Term t = { var, coef };
    return t;
}

/* t0 + t1 + t2 + k as a Lin. */
static Lin sum3(Term t0, Term t1, Term t2, long long k)
{
    return lin_add(lin_add(lin_add(lin(k), t0.var, t0.coef), t1.var, t1.coef), t2.var, t2.coef);
}

/* ---- blocks ---- */

/* A block for declarations that follow statements, when no loop opened
 * one (C99 allows them, but clang -Weverything asks for blocks). */
static int scope_open(Emitter *E, const char *a, const char *b)
{
    if (a || b)
        return 0;
    emit_line(E, "{");
    E->depth++;
    return 1;
}

static void scope_close(Emitter *E, int opened)
{
    if (opened) {
        E->depth--;
        emit_line(E, "}");
    }
}

/* "static void NAME(decl0, /" "* comment0 *" "/ ...)" and the opening brace. */
static void tile_open(Emitter *E, const char *name, const char *const decl[4],
                      const char *const comment[4])
{
    int col = (int)strlen("static void (") + (int)strlen(name);
    buf_printf(E->c, "static void %s(", name);
    for (int i = 0; i < 4; i++)
        buf_printf(E->c, "%*s%s%s /* %s */\n", i ? col : 0, "", decl[i], i == 3 ? ")" : ",",
                   comment[i]);
    buf_puts(E->c, "{\n");
    E->depth = 1;
}

static void tile_close(Emitter *E)
{
    E->depth = 0;
    buf_puts(E->c, "}\n\n");
}

static const char *tile_name(Emitter *E, const Op *op, const char *what, int n)
{
    return arena_printf(E->ctx->arena, "%s_%s%d", E->fname[op - E->g->ops], what, n);
}

/* ---- a conv's shapes, and which kernels can be emitted ---- */

typedef struct ConvDims {
    int C, H, W, F, OH, OW, G, Cg, Fg, KH, KW, SH, SW, DH, DW;
} ConvDims;

static ConvDims conv_dims(const Graph *g, const Op *op)
{
    const Shape *is = &g->t[op->in[0]].shape, *os = &g->t[op->out].shape;
    ConvDims d;
    d.C = is->dim[0], d.H = is->dim[1], d.W = is->dim[2];
    d.F = os->dim[0], d.OH = os->dim[1], d.OW = os->dim[2];
    d.G = op->groups > 0 ? op->groups : 1;
    d.Cg = d.C / d.G, d.Fg = d.F / d.G;
    d.KH = op->win.kh, d.KW = op->win.kw;
    d.SH = op->win.sh, d.SW = op->win.sw, d.DH = op->win.dh, d.DW = op->win.dw;
    return d;
}

static int unpadded(const Window *w)
{
    return !(w->pt || w->pl || w->pb || w->pr);
}

int emit_kernel_usable(const Graph *g, const Op *op)
{
    const int conv = op->kind == OP_CONV && unpadded(&op->win);
    switch (op->variant) {
    case KV_CONV_BLOCKED: return conv && op_packed_weight(op) >= 0;
    case KV_CONV_PIXELS: return conv && op->win.sw == 1 && op_packed_weight(op) >= 0;
    case KV_CONV_ROWS: return conv;
    case KV_DENSE_BLOCKED: return op->kind == OP_DENSE && op_packed_weight(op) >= 0;
    case KV_VIEW:
        return (op_flags(op->kind) & OPF_VIEW) && g->t[op->in[0]].role == TR_ACT &&
               g->t[op->out].role == TR_ACT && g->t[op->out].offset >= 0 &&
               g->t[op->out].offset == g->t[op->in[0]].offset;
    case KV_GENERIC: return 0;
    }
    return 0;
}

/* ---- the tap loops every conv tile shares ---- */

/* What a tile does for one tap: q points at its first pixel's input, kr at
 * the tap row's weights (w for the tap itself is kr + kx * lanes). */
typedef void (*TapBody)(Emitter *E, const ConvDims *d, const char *kx, int n);

/* for ic, ky, kx in order: p = the input row, kr = the weights of (ic, ky);
 * lanes weights per tap, after a row of biases when lanes > 1. */
static void tap_loops(Emitter *E, const ConvDims *d, int lanes, TapBody body, int n)
{
    const char *ic = emit_loop_open(E, "ic", d->Cg, 0);
    const char *ky = emit_loop_open(E, "ky", d->KH, 0);
    const int scope = scope_open(E, ic, ky);
    const long long row = (long long)d->KW * lanes;
    emit_line(E, "const float *p = %s;", emit_plus(E, "x", sum3(term(ic, (long long)d->H * d->W),
                                                   term(ky, (long long)d->DH * d->W), NONE, 0)));
    emit_line(E, "const float *kr = %s;", emit_plus(E, "k", sum3(term(ic, d->KH * row), term(ky, row),
                                                    NONE, lanes > 1 ? lanes : 0)));
    const char *kx = emit_loop_open(E, "kx", d->KW, 0);
    emit_line(E, "const float *q = %s;", emit_plus(E, "p", sum3(term(kx, d->DW), NONE, NONE, 0)));
    body(E, d, kx, n);
    emit_loop_close(E, kx);
    scope_close(E, scope);
    emit_loop_close(E, ky);
    emit_loop_close(E, ic);
}

/* ---- KV_CONV_BLOCKED: 16 channels in the lanes x n pixels ---- */

/* n input values, one per pixel; each times the tap's 16 weights. */
static void blocked_tap(Emitter *E, const ConvDims *d, const char *kx, int n)
{
    emit_line(E, "const float *w = %s;", emit_plus(E, "kr", sum3(term(kx, KV_BLOCK), NONE, NONE, 0)));
    for (int x = 0; x < n; x++)
        emit_line(E, "const float v%d = q[%lld];", x, (long long)x * d->SW);
    emit_line(E, "for (int j = 0; j < %d; ++j) {", KV_BLOCK);
    for (int x = 0; x < n; x++)
        emit_line(E, "    a%d[j] += w[j] * v%d;", x, x);
    emit_line(E, "}");
}

static void blocked_tile(Emitter *E, const Op *op, const ConvDims *d, int n)
{
    static const char *const decl[4] = { "const float *restrict x", "const float *restrict k",
                                         "float *restrict o", "int nj" };
    static const char *const comment[4] = { "the first pixel's window", "a block of packed weights",
                                            "the first pixel of the first channel",
                                            "channels to store" };
    buf_printf(E->c, "/* %d output channels x %d pixels of a row, of op %d. */\n", KV_BLOCK, n,
               (int)(op - E->g->ops));
    tile_open(E, tile_name(E, op, "tile", n), decl, comment);
    for (int x = 0; x < n; x++)
        emit_line(E, "float a%d[%d];", x, KV_BLOCK);
    emit_line(E, "for (int j = 0; j < %d; ++j) {", KV_BLOCK);
    for (int x = 0; x < n; x++)
        emit_line(E, "    a%d[j] = k[j];", x);
    emit_line(E, "}");
    tap_loops(E, d, KV_BLOCK, blocked_tap, n);
    emit_line(E, "for (int j = 0; j < nj; ++j) {");
    emit_line(E, "    float *y = %s;", emit_plus(E, "o", sum3(term("j", (long long)d->OH * d->OW),
                                                          NONE, NONE, 0)));
    E->depth++;
    for (int x = 0; x < n; x++)
        emit_store(E, arena_printf(E->ctx->arena, "y[%d]", x), &op->act,
                   arena_printf(E->ctx->arena, "a%d[j]", x));
    E->depth--;
    emit_line(E, "}");
    tile_close(E);
}

/* ---- KV_CONV_PIXELS: a row of pixels in the lanes x up to 16 channels ---- */

/* The tiles of a row of ow pixels: xv pixels x cb channels, then a rest of
 * ow % xv pixels x 16 channels (0: none). At most 16 vector accumulators:
 * half of AVX-512's registers, the rest for inputs and weights. */
static void pixel_tiles(int ow, int *xv, int *cb, int *rest)
{
    if (ow % 16 == 0 || ow > 32 || ow % 8 != 0)
        *xv = 16, *cb = KV_BLOCK;
    else
        *xv = ow, *cb = KV_BLOCK / 2;
    *rest = ow % *xv;
}

static int pixel_channels(int ow, int n)
{
    int xv, cb, rest;
    pixel_tiles(ow, &xv, &cb, &rest);
    return n == xv ? cb : KV_BLOCK;
}

/* The tap's weights as scalars; for each pixel j, one input value times
 * each of them. */
static void pixel_tap(Emitter *E, const ConvDims *d, const char *kx, int n)
{
    const int cb = pixel_channels(d->OW, n);
    emit_line(E, "const float *w = %s;", emit_plus(E, "kr", sum3(term(kx, KV_BLOCK), NONE, NONE, 0)));
    for (int c = 0; c < cb; c++)
        emit_line(E, "const float w%d = w[%d];", c, c);
    emit_line(E, "for (int j = 0; j < %d; ++j) {", n);
    emit_line(E, "    const float v = q[j];");
    for (int c = 0; c < cb; c++)
        emit_line(E, "    a%d[j] += w%d * v;", c, c);
    emit_line(E, "}");
}

/* Channel c's n pixels, stored if c < nj (channel 0 always is). */
static void pixel_store(Emitter *E, const Op *op, const ConvDims *d, int n, int c)
{
    if (c > 0) {
        emit_line(E, "if (nj > %d)", c);
        E->depth++;
    }
    emit_line(E, "for (int j = 0; j < %d; ++j)", n);
    E->depth++;
    emit_store(E, arena_printf(E->ctx->arena, "o[%s]",
                               lin_expr(E, sum3(term("j", 1), NONE, NONE, (long long)c * d->OH * d->OW))),
               &op->act, arena_printf(E->ctx->arena, "a%d[j]", c));
    E->depth -= c > 0 ? 2 : 1;
}

static void pixel_tile(Emitter *E, const Op *op, const ConvDims *d, int n)
{
    static const char *const decl[4] = { "const float *restrict x", "const float *restrict k",
                                         "float *restrict o", "int nj" };
    static const char *const comment[4] = { "the first pixel's window",
                                            "packed weights of the first channel",
                                            "the first pixel of the first channel",
                                            "channels to store" };
    const int cb = pixel_channels(d->OW, n);
    buf_printf(E->c, "/* %d pixels of a row x %d output channels, of op %d. */\n", n, cb,
               (int)(op - E->g->ops));
    tile_open(E, tile_name(E, op, "pix", n), decl, comment);
    for (int c = 0; c < cb; c++)
        emit_line(E, "float a%d[%d];", c, n);
    emit_line(E, "for (int j = 0; j < %d; ++j) {", n);
    for (int c = 0; c < cb; c++)
        emit_line(E, "    a%d[j] = k[%d];", c, c);
    emit_line(E, "}");
    tap_loops(E, d, KV_BLOCK, pixel_tap, n);
    for (int c = 0; c < cb; c++)
        pixel_store(E, op, d, n, c);
    tile_close(E);
}

/* ---- KV_CONV_ROWS: a row of pixels of one channel in the lanes ---- */

static void rows_tap(Emitter *E, const ConvDims *d, const char *kx, int n)
{
    emit_line(E, "const float w = kr[%s];", kx ? kx : "0");
    emit_line(E, "for (int j = 0; j < %d; ++j)", n);
    emit_line(E, "    a[j] += w * q[%s];", lin_expr(E, sum3(term("j", d->SW), NONE, NONE, 0)));
}

static void rows_tile(Emitter *E, const Op *op, const ConvDims *d, int n)
{
    static const char *const decl[4] = { "const float *restrict x", "const float *restrict k",
                                         "float b", "float *restrict o" };
    static const char *const comment[4] = { "the first pixel's window", "the channel's weights",
                                            "its bias", "the first pixel" };
    buf_printf(E->c, "/* %d pixels of a row of one output channel, of op %d. */\n", n,
               (int)(op - E->g->ops));
    tile_open(E, tile_name(E, op, "row", n), decl, comment);
    emit_line(E, "float a[%d];", n);
    emit_line(E, "for (int j = 0; j < %d; ++j)", n);
    emit_line(E, "    a[j] = b;");
    tap_loops(E, d, 1, rows_tap, n);
    emit_line(E, "for (int j = 0; j < %d; ++j)", n);
    E->depth++;
    emit_store(E, "o[j]", &op->act, "a[j]");
    tile_close(E);
}

/* ---- the conv functions: tiles along each output row ---- */

/* Tile widths along a row: the main one and the rest (0: none). */
static void row_split(const Op *op, const ConvDims *d, int *width, int *rest)
{
    int cb;
    if (op->variant == KV_CONV_PIXELS) {
        pixel_tiles(d->OW, width, &cb, rest);
        return;
    }
    const int most = op->variant == KV_CONV_ROWS ? ROWS_XV : CONV_XB;
    *width = d->OW < most ? d->OW : most;
    *rest = d->OW % *width;
}

/* The tile's window and output for output pixel ox + px (ox: a loop
 * variable or NONE) of row oy, channel expression ch (+ dc channels). */
static const char *at_in(Emitter *E, const ConvDims *d, const char *oy, Term ox, long long px)
{
    return emit_plus(E, "x", sum3(term(oy, (long long)d->SH * d->W), term(ox.var, d->SW), NONE,
                             px * d->SW));
}

static const char *at_out(Emitter *E, const ConvDims *d, const char *ch, long long dc,
                          const char *oy, Term ox, long long px)
{
    const long long plane = (long long)d->OH * d->OW;
    return emit_plus(E, "out", sum3(term(ch, plane), term(oy, d->OW), ox, px + dc * plane));
}

/* One tile call of width n at (oy, ox + px) of channel ch (the first of
 * a block: f0; KV_CONV_ROWS: f, or NULL for channel 0). A KV_CONV_PIXELS
 * tile of half a block is called for each half. */
static void tile_call(Emitter *E, const Op *op, const ConvDims *d, const char *ch,
                      const char *oy, Term ox, long long px, int n)
{
    const char *in = at_in(E, d, oy, ox, px);
    switch (op->variant) {
    case KV_CONV_ROWS:
        emit_line(E, "%s(%s, k, b, %s);", tile_name(E, op, "row", n), in,
                  at_out(E, d, ch, 0, oy, ox, px));
        return;
    case KV_CONV_BLOCKED:
        emit_line(E, "%s(%s, k, %s, nj);", tile_name(E, op, "tile", n), in,
                  at_out(E, d, ch, 0, oy, ox, px));
        return;
    default:
        break;
    }
    const int cb = pixel_channels(d->OW, n);
    for (int h = 0; h < KV_BLOCK / cb; h++) {
        if (h)
            emit_line(E, "if (nj > %d)", h * cb);
        emit_line(E, "%s%s(%s, %s, %s, %s);", h ? "    " : "", tile_name(E, op, "pix", n), in,
                  h ? arena_printf(E->ctx->arena, "k + %d", h * cb) : "k",
                  at_out(E, d, ch, (long long)h * cb, oy, ox, px),
                  h ? arena_printf(E->ctx->arena, "nj - %d", h * cb) : "nj");
    }
}

static void conv_row(Emitter *E, const Op *op, const ConvDims *d, const char *ch,
                     const char *oy)
{
    int width, rest;
    row_split(op, d, &width, &rest);
    const int full = d->OW - rest;
    if (full == width) {
        tile_call(E, op, d, ch, oy, NONE, 0, width);
    } else {
        emit_line(E, "for (int ox = 0; ox < %d; ox += %d) {", full, width);
        E->depth++;
        tile_call(E, op, d, ch, oy, term("ox", 1), 0, width);
        E->depth--;
        emit_line(E, "}");
    }
    if (rest)
        tile_call(E, op, d, ch, oy, NONE, full, rest);
}

/* Per block ob of 16 channels (of group ob / nbg): its packed weights k,
 * first channel f0, input x and the count nj of real channels in it. */
static void blocked_block_vars(Emitter *E, const Op *op, const ConvDims *d, const char *ob)
{
    const int nbg = (d->Fg + KV_BLOCK - 1) / KV_BLOCK;
    const long long size = (long long)(1 + d->Cg * d->KH * d->KW) * KV_BLOCK;
    const char *obv = ob ? ob : "0";
    emit_line(E, "const float *k = %s;", emit_plus(E, E->wexpr[op->packed],
                                               sum3(term(ob, size), NONE, NONE, 0)));
    if (d->G > 1) {
        emit_line(E, "const int f0 = %s / %d * %d + %s %% %d * %d;", obv, nbg, d->Fg, obv, nbg,
                  KV_BLOCK);
        emit_line(E, "const float *x = in + %s / %d * %lld;", obv, nbg,
                  (long long)d->Cg * d->H * d->W);
    } else {
        emit_line(E, "const int f0 = %s;", lin_expr(E, sum3(term(ob, KV_BLOCK), NONE, NONE, 0)));
        emit_line(E, "const float *x = in;");
    }
    if (d->Fg % KV_BLOCK == 0)
        emit_line(E, "const int nj = %d;", KV_BLOCK);
    else if (nbg == 1)
        emit_line(E, "const int nj = %d;", d->Fg);
    else
        emit_line(E, "const int nj = %s %% %d == %d ? %d : %d;", obv, nbg, nbg - 1,
                  d->Fg % KV_BLOCK, KV_BLOCK);
}

/* Per channel f: its weights k (PyTorch layout), bias b and input x. */
static void rows_channel_vars(Emitter *E, const Op *op, const ConvDims *d, const char *f)
{
    const char *fv = f ? f : "0";
    if (d->G > 1)
        emit_line(E, "const float *x = in + %s / %d * %lld;", fv, d->Fg,
                  (long long)d->Cg * d->H * d->W);
    else
        emit_line(E, "const float *x = in;");
    emit_line(E, "const float *k = %s;", emit_plus(E, E->wexpr[op->w],
                                               sum3(term(f, (long long)d->Cg * d->KH * d->KW),
                                                    NONE, NONE, 0)));
    if (op->b >= 0)
        emit_line(E, "const float b = %s[%s];", E->wexpr[op->b], fv);
    else
        emit_line(E, "const float b = 0.0f;");
}

static void conv_body(Emitter *E, const Op *op)
{
    const ConvDims d = conv_dims(E->g, op);
    const char *outer;
    if (op->variant == KV_CONV_ROWS) {
        outer = emit_loop_open(E, "f", d.F, 0);
        rows_channel_vars(E, op, &d, outer);
    } else {
        outer = emit_loop_open(E, "ob", (long long)d.G * ((d.Fg + KV_BLOCK - 1) / KV_BLOCK), 0);
        blocked_block_vars(E, op, &d, outer);
    }
    const char *oy = emit_loop_open(E, "oy", d.OH, 0);
    conv_row(E, op, &d, op->variant == KV_CONV_ROWS ? outer : "f0", oy);
    emit_loop_close(E, oy);
    emit_loop_close(E, outer);
}

static void conv_tiles(Emitter *E, const Op *op)
{
    const ConvDims d = conv_dims(E->g, op);
    void (*tile)(Emitter *, const Op *, const ConvDims *, int) =
        op->variant == KV_CONV_PIXELS ? pixel_tile
        : op->variant == KV_CONV_ROWS ? rows_tile : blocked_tile;
    int width, rest;
    row_split(op, &d, &width, &rest);
    tile(E, op, &d, width);
    if (rest)
        tile(E, op, &d, rest);
}

/* ---- KV_DENSE_BLOCKED: the units of a block in the lanes ---- */

static void dense_tile(Emitter *E, const Op *op, int width)
{
    static const char *const decl[4] = { "const float *restrict x", "const float *restrict k",
                                         "float *restrict o", "int nj" };
    static const char *const comment[4] = { "the layer's input", "a block of packed weights",
                                            "the block's first unit", "units to store" };
    const long long N = E->g->t[op->in[0]].numel;
    buf_printf(E->c, "/* %d output units of op %d: the biases, then for each input i the\n"
                     " * units' weights for i, so the block streams its weights once. */\n",
               width, (int)(op - E->g->ops));
    tile_open(E, tile_name(E, op, "units", width), decl, comment);
    emit_line(E, "float a[%d];", width);
    emit_line(E, "for (int j = 0; j < %d; ++j)", width);
    emit_line(E, "    a[j] = k[j];");
    const char *i = emit_loop_open(E, "i", N, 0);
    const int scope = scope_open(E, i, NULL);
    emit_line(E, "const float v = x[%s];", i ? i : "0");
    emit_line(E, "const float *r = %s;", emit_plus(E, "k", sum3(term(i, width), NONE, NONE, width)));
    emit_line(E, "for (int j = 0; j < %d; ++j)", width);
    emit_line(E, "    a[j] += r[j] * v;");
    scope_close(E, scope);
    emit_loop_close(E, i);
    emit_line(E, "for (int j = 0; j < nj; ++j)");
    E->depth++;
    emit_store(E, "o[j]", &op->act, "a[j]");
    tile_close(E);
}

/* One helper per block width: the full one, and the last block's when it
 * differs (a last block of 49..63 units is padded to the full width, so
 * the full helper serves it, storing only nj units). */
static void dense_tiles(Emitter *E, const Op *op)
{
    const int U = (int)E->g->t[op->out].numel;
    const int rest = U % KV_DENSE_UNITS ? pack_dense_width(U, U / KV_DENSE_UNITS) : 0;
    if (U >= KV_DENSE_UNITS)
        dense_tile(E, op, KV_DENSE_UNITS);
    if (rest && (U < KV_DENSE_UNITS || rest != KV_DENSE_UNITS))
        dense_tile(E, op, rest);
}

/* Full blocks of KV_DENSE_UNITS, then the rest. */
static void dense_body(Emitter *E, const Op *op)
{
    const long long N = E->g->t[op->in[0]].numel;
    const int U = (int)E->g->t[op->out].numel, nfull = U / KV_DENSE_UNITS;
    const long long blk = (1 + N) * KV_DENSE_UNITS;
    const char *k = E->wexpr[op->packed], *full = tile_name(E, op, "units", KV_DENSE_UNITS);
    if (nfull > 1) {
        emit_line(E, "for (int ub = 0; ub < %d; ++ub)", nfull);
        emit_line(E, "    %s(in, %s + ub * %lld, out + ub * %d, %d);", full, k, blk,
                  KV_DENSE_UNITS, KV_DENSE_UNITS);
    } else if (nfull == 1) {
        emit_line(E, "%s(in, %s, out, %d);", full, k, KV_DENSE_UNITS);
    }
    if (U % KV_DENSE_UNITS)
        emit_line(E, "%s(in, %s, %s, %d);", tile_name(E, op, "units", pack_dense_width(U, nfull)),
                  emit_plus(E, k, sum3(NONE, NONE, NONE, nfull * blk)),
                  emit_plus(E, "out", sum3(NONE, NONE, NONE, (long long)nfull * KV_DENSE_UNITS)),
                  U % KV_DENSE_UNITS);
}

/* ---- entry points ---- */

void emit_kernel_helpers(Emitter *E, const Op *op)
{
    if (!emit_kernel_usable(E->g, op))
        return;
    if (op->variant == KV_DENSE_BLOCKED)
        dense_tiles(E, op);
    else if (op->variant != KV_VIEW)
        conv_tiles(E, op);
}

int emit_kernel_body(Emitter *E, const Op *op)
{
    if (!emit_kernel_usable(E->g, op))
        return 0;
    switch (op->variant) {
    case KV_CONV_BLOCKED:
    case KV_CONV_PIXELS:
    case KV_CONV_ROWS: conv_body(E, op); return 1;
    case KV_DENSE_BLOCKED: dense_body(E, op); return 1;
    case KV_VIEW:
    case KV_GENERIC: return 0;
    }
    return 0;
}
