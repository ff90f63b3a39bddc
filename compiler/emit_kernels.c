/* emit_kernels.c: the fast kernels the optimizer chose (Op.variant, set by
 * pack.c): conv2d with channels or pixels in the vector lanes, conv2d one
 * channel at a time along rows, and dense on transposed weights. Each op
 * gets a few "tile" functions, written before its own function, which
 * calls them over the output.
 *
 * In portable C (Emitter.isa NULL) a tile is plain C99 with literal trip
 * counts, shaped so that gcc -O3 -march=native keeps its accumulators (a
 * few arrays of 8 to 64 floats) in vector registers and emits full-width
 * FMAs. In a SIMD variant (Emitter.isa: AVX2, AVX-512, NEON; target.c) the
 * accumulators are GCC vector-extension values, register-blocked to the
 * ISA's register file, so any -O level gets the vector code (docs/targets.md).
 * Each output still sums bias, then ic, ky, kx (dense: i) in numerics.md's
 * order, so without contraction the results are the interpreter's bit for
 * bit. The conv tiles read every tap without a bounds test: they need an
 * unpadded window (pad.c pads explicitly); a padded conv falls back to
 * emit_ops.c.
 */
#include <string.h>

#include "backend.h"

enum {
    ROWS_XV = 32,      /* pixels of a portable KV_CONV_ROWS tile, at most */
    ROWS_VECS = 8,     /* vectors of a SIMD KV_CONV_ROWS tile, at most */
    PLANE_MAX = 4096,  /* floats of a wide plane (SIMD KV_CONV_ROWS), at most */
    BORDER_PIXELS = 4, /* border columns of a row written out one by one, at most */
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

/* "static void NAME(decl0, /" "* comment0 *" "/ ...)" and the opening brace;
 * a SIMD variant's function carries its target attribute first. */
void tile_open_n(Emitter *E, const char *name, int n, const char *const decl[],
                 const char *const comment[])
{
    const char *attr = emit_fn_attr(E);
    int col = (int)strlen(attr) + (int)strlen("static void (") + (int)strlen(name);
    buf_printf(E->c, "%sstatic void %s(", attr, name);
    for (int i = 0; i < n; i++)
        buf_printf(E->c, "%*s%s%s /* %s */\n", i ? col : 0, "", decl[i], i == n - 1 ? ")" : ",",
                   comment[i]);
    buf_puts(E->c, "{\n");
    E->depth = 1;
}

static void tile_open(Emitter *E, const char *name, const char *const decl[4],
                      const char *const comment[4])
{
    tile_open_n(E, name, 4, decl, comment);
}

void tile_close(Emitter *E)
{
    E->depth = 0;
    buf_puts(E->c, "}\n\n");
}

const char *tile_name(Emitter *E, const Op *op, const char *what, int n)
{
    return arena_printf(E->ctx->arena, "%s_%s%d", E->fname[op - E->g->ops], what, n);
}

/* ---- SIMD values: GCC vector extensions (emit_c.c defines the types) ---- */

/* Vectors of n lanes (n a power of two; 1: a float): the variant's own
 * width, E->isa->lanes, or a narrower one for the tail of a row. */
const char *vec_type_n(Emitter *E, int n)
{
    if (n == 1)
        return "float";
    return arena_printf(E->ctx->arena, "cnnc_f%d", n);
}

const char *vec_type(Emitter *E)
{
    return vec_type_n(E, E->isa->lanes);
}

/* "*(const cnnc_f8 *)(p + 8)": a vector load from any float address. */
const char *vec_load_n(Emitter *E, int n, const char *p, long long at)
{
    if (n == 1)
        return arena_printf(E->ctx->arena, "%s[%lld]", p, at);
    if (at)
        return arena_printf(E->ctx->arena, "*(const %s *)(%s + %lld)", vec_type_n(E, n), p, at);
    return arena_printf(E->ctx->arena, "*(const %s *)(%s)", vec_type_n(E, n), p);
}

const char *vec_load(Emitter *E, const char *p, long long at)
{
    return vec_load_n(E, E->isa->lanes, p, at);
}

/* "{ v, v, ... }": a vector of n copies of the scalar expression v. */
const char *vec_splat_n(Emitter *E, int n, const char *v)
{
    if (n == 1)
        return v;
    const char *r = arena_printf(E->ctx->arena, "{ %s", v);
    for (int l = 1; l < n; l++)
        r = arena_printf(E->ctx->arena, "%s, %s", r, v);
    return arena_printf(E->ctx->arena, "%s }", r);
}

const char *vec_splat(Emitter *E, const char *v)
{
    return vec_splat_n(E, E->isa->lanes, v);
}

/* The array NAME[n] (declared first: C90's declarations before code),
 * filled from the vectors of `lanes` ACC0 .. ACC(n/lanes - 1) (acc: "s3_"
 * names them s3_0, s3_1, ...): what the scalar stores read. */
static void vec_spill_n(Emitter *E, int lanes, const char *name, int n, const char *acc)
{
    for (int v = 0; v < n / lanes; v++)
        if (lanes == 1)
            emit_line(E, "%s[%d] = %s%d;", name, v, acc, v);
        else
            emit_line(E, "*(%s *)(%s + %d) = %s%d;", vec_type_n(E, lanes), name, v * lanes, acc, v);
}

static void vec_spill(Emitter *E, const char *name, int n, const char *acc)
{
    vec_spill_n(E, E->isa->lanes, name, n, acc);
}

/* "(cnnc_f8)(((cnnc_i8)a & m) | ((cnnc_i8)b & ~m))": lane j is a's where
 * mask m's lane j is set, else b's (bits moved, no arithmetic). */
static const char *vec_select(Emitter *E, int n, const char *m, const char *a, const char *b)
{
    return arena_printf(E->ctx->arena, "(%s)(((cnnc_i%d)%s & %s) | ((cnnc_i%d)%s & ~%s))",
                        vec_type_n(E, n), n, a, m, n, b, m);
}

/* The vector of n copies of float f, declared as NAME. */
static void vec_const(Emitter *E, int n, const char *name, float f)
{
    char lit[48];
    emit_float_lit(lit, sizeof lit, f);
    emit_line(E, "const %s %s = %s;", vec_type_n(E, n), name, vec_splat_n(E, n, lit));
}

/* The activations with a lane-wise vector form that makes acts.def's
 * comparisons and arithmetic exactly, lane by lane: none, relu (x > 0 ? x
 * : 0, so -0.0 and NaN give +0.0), relu6 and clip (NaN passes), leaky_relu. */
int vec_act_exact(const Act *a)
{
    const ActKind k = a->kind;
    return k == ACT_NONE || k == ACT_RELU || k == ACT_RELU6 || k == ACT_CLIP ||
           k == ACT_LEAKY_RELU;
}

/* Stores act(v) at dst for a vector v of n lanes (v: an expression, dst: a
 * float pointer expression); vec_act_exact(a) must hold. With E->residual,
 * act(v + the vector at dst). */
void emit_vec_store(Emitter *E, int n, const char *dst, const Act *a, const char *v)
{
    const char *vt = vec_type_n(E, n), *res;
    const ActKind k = a->kind;
    if (n == 1) {
        emit_store(E, arena_printf(E->ctx->arena, "*(%s)", dst), a, v);
        return;
    }
    if (E->residual)
        v = arena_printf(E->ctx->arena, "(%s + *(%s *)(%s))", v, vt, dst);
    if (k == ACT_NONE) {
        emit_line(E, "*(%s *)(%s) = %s;", vt, dst, v);
        return;
    }
    emit_line(E, "{");
    E->depth++;
    emit_line(E, "const %s vact = %s;", vt, v);
    if (k == ACT_RELU || k == ACT_LEAKY_RELU) {
        vec_const(E, n, "vzero", 0.0f);
        if (k == ACT_RELU) {
            res = arena_printf(E->ctx->arena, "(%s)((cnnc_i%d)vact & (vact > vzero))", vt, n);
        } else {
            vec_const(E, n, "vslope", a->alpha);
            res = vec_select(E, n, "(vact >= vzero)", "vact", "(vslope * vact)");
        }
    } else {   /* x < A ? A : (x > B ? B : x) */
        vec_const(E, n, "vlo", k == ACT_RELU6 ? 0.0f : a->alpha);
        vec_const(E, n, "vhi", k == ACT_RELU6 ? 6.0f : a->beta);
        emit_line(E, "const %s vclamp = %s;", vt, vec_select(E, n, "(vact > vhi)", "vhi", "vact"));
        res = vec_select(E, n, "(vact < vlo)", "vlo", "vclamp");
    }
    emit_line(E, "*(%s *)(%s) = %s;", vt, dst, res);
    E->depth--;
    emit_line(E, "}");
}

/* ---- a conv's shapes, and which kernels can be emitted ---- */

typedef struct ConvDims {
    int C, H, W, F, OH, OW, G, Cg, Fg, KH, KW, SH, SW, DH, DW;
    int B;             /* output channels per packed block; KV_CONV_ROWS: 1
                          (PyTorch's layout), or pack.c's depthwise blocks:
                          the weights of a tap B floats apart */
    int wide;          /* the plane as one wide row (conv_dims_for): OH 1, OW
                          (RH - 1) * W + RW; the real output is RH x RW */
    int RH, RW;
    /* A KV_CONV_ROWS conv that pads its input itself (pad.c leaves it no
     * pad op): PT, PL, PB, PR its padding; rowptr: rows read through
     * pointers r[ky] (a zero row above and below the map), border columns
     * one by one; local: a wide plane copied into a zeroed local plane of
     * H x W (padded), from the input's IH x IW. */
    int PT, PL, PB, PR, rowptr, local, IH, IW;
    int s2d;           /* a wide plane of stride 2, depthwise: split in four
                          (s2d_body) instead */
    int chl;           /* depthwise on a small map: its channels in the lanes
                          (chl_body) instead */
} ConvDims;

static ConvDims conv_dims(const Graph *g, const Op *op)
{
    const Shape *is = &g->t[op->in[0]].shape, *os = &g->t[op->out].shape;
    const int packed = op_packed_weight(op);
    ConvDims d;
    d.C = is->dim[0], d.H = is->dim[1], d.W = is->dim[2];
    d.F = os->dim[0], d.OH = os->dim[1], d.OW = os->dim[2];
    d.G = op->groups > 0 ? op->groups : 1;
    d.Cg = d.C / d.G, d.Fg = d.F / d.G;
    d.KH = op->win.kh, d.KW = op->win.kw;
    d.SH = op->win.sh, d.SW = op->win.sw, d.DH = op->win.dh, d.DW = op->win.dw;
    d.B = packed >= 0 ? g->t[packed].shape.dim[2] : 1;
    if (op_conv_pointwise(op)) {   /* the whole plane as one row */
        d.W *= d.H, d.H = 1;
        d.OW *= d.OH, d.OH = 1;
    }
    d.wide = 0, d.RH = d.OH, d.RW = d.OW;
    d.PT = op->win.pt, d.PL = op->win.pl, d.PB = op->win.pb, d.PR = op->win.pr;
    d.rowptr = d.local = d.s2d = d.chl = 0, d.IH = d.H, d.IW = d.W;
    return d;
}

static int unpadded(const Window *w)
{
    return !(w->pt || w->pl || w->pb || w->pr);
}

/* A depthwise conv (pack.c's blocks) in a SIMD variant of 8 lanes or more
 * takes its channels in the lanes (chl_body) when its padded input plane,
 * transposed, fits CHL_FLOATS, and both planes fill a vector. */
enum { CHL_FLOATS = 16384, CHL_TAPS = 25 };

static int chl_fits(const Emitter *E, const Op *op, const ConvDims *d)
{
    const int L = E->isa ? E->isa->lanes : 1;
    const long long th = (long long)d->H + d->PT + d->PB, tw = (long long)d->W + d->PL + d->PR;
    return L >= 8 && E->isa->guard && op->variant == KV_CONV_ROWS && d->B > 1 && d->B % L == 0 &&
           d->Cg == 1 && d->Fg == 1 && d->C % L == 0 && op_residual(op) < 0 &&
           vec_act_exact(&op->act) && d->KH * d->KW <= CHL_TAPS && (long long)d->H * d->W >= L &&
           (long long)d->OH * d->OW >= L && th * tw * L <= CHL_FLOATS;
}

/* In a SIMD variant, a KV_CONV_ROWS of stride 1 or 2 (both axes) on rows
 * too short for its vectors (depthwise on small maps) runs the channel's
 * plane as one wide row: output j = y * W + x reads input s * j + taps,
 * like a row of stride s over the (explicitly padded) input. Columns
 * x >= RW are computed into a local plane and dropped (stride 2: about
 * half of them); the row ends at the last real output, so no tap reads
 * past the input plane. Not with a residual: the local plane's stores
 * are not the output's. */
static ConvDims conv_dims_for(const Emitter *E, const Op *op)
{
    ConvDims d = conv_dims(E->g, op);
    if (chl_fits(E, op, &d)) {
        d.chl = 1;
        return d;
    }
    const int padded = !unpadded(&op->win) && op->variant == KV_CONV_ROWS;
    const long long ph = (long long)d.H + d.PT + d.PB, pw = (long long)d.W + d.PL + d.PR;
    const long long n = (long long)(d.OH - 1) * (padded ? pw : d.W) + d.OW;
    /* Not at one lane (cortex-m): no vectors to fill, and an MCU's stack is
     * no place for the local plane. */
    if (E->isa && E->isa->lanes > 1 && op->variant == KV_CONV_ROWS && op_residual(op) < 0 &&
        d.SW == d.SH && d.SW <= 2 && d.OH > 1 && d.OW < 4 * E->isa->lanes && n <= PLANE_MAX &&
        (!padded || ph * pw <= PLANE_MAX)) {
        if (padded) {
            d.local = 1;
            d.H = (int)ph, d.W = (int)pw;
        }
        d.wide = 1;
        d.OW = (int)n, d.OH = 1;
        d.s2d = d.SW == 2 && d.DH == 1 && d.DW == 1 && d.Cg == 1 && vec_act_exact(&op->act);
    } else if (padded) {
        d.rowptr = 1;
    }
    return d;
}

int emit_kernel_usable(const Graph *g, const Op *op)
{
    const int conv = op->kind == OP_CONV && unpadded(&op->win);
    switch (op->variant) {
    case KV_CONV_BLOCKED: return conv && op_packed_weight(op) >= 0;
    case KV_CONV_PIXELS: return conv && op->win.sw <= 2 && op_packed_weight(op) >= 0;
    case KV_CONV_WINOGRAD: return conv && op_packed_weight(op) >= 0 && op->work > 0;
    case KV_CONV_ROWS: return conv || pad_in_kernel(g, op);
    case KV_DENSE_BLOCKED: return op->kind == OP_DENSE && op_packed_weight(op) >= 0;
    case KV_VIEW:
        return (op_flags(op->kind) & OPF_VIEW) && g->t[op->in[0]].role == TR_ACT &&
               g->t[op->out].role == TR_ACT && g->t[op->out].offset >= 0 &&
               g->t[op->out].offset == g->t[op->in[0]].offset;
    case KV_GENERIC: return 0;
    }
    return 0;
}

int emit_kernel_channels_in_lanes(const Emitter *E, const Op *op)
{
    return op->kind == OP_CONV && op->variant == KV_CONV_ROWS && emit_kernel_usable(E->g, op) &&
           conv_dims_for(E, op).chl;
}

/* The SIMD variant's vectors fit the op's block (else: portable tiles). */
static int simd_fits(const Emitter *E, const ConvDims *d)
{
    return E->isa && d->B % E->isa->lanes == 0;
}

/* ---- tiles, and how a row of output pixels is cut into them ---- */

typedef enum { TILE_BLOCKED, TILE_PIXELS, TILE_ROWS } TileKind;

/* One tile function: n pixels of a row; TILE_PIXELS: x cb channels. */
typedef struct Tile {
    TileKind kind;
    int n, cb;
    int simd;          /* vector-extension code (Emitter.isa) */
    int rows;          /* TILE_BLOCKED: rows of n pixels (1, or 2: plan_two_rows) */
} Tile;

static int tile_rows(const Tile *t)
{
    return t->rows > 1 ? t->rows : 1;
}

/* count tiles side by side from pixel x0 of a row. */
typedef struct Segment {
    Tile tile;
    int x0, count;
} Segment;

typedef struct RowPlan {
    Segment seg[12];   /* conv_tiles joins two plans */
    int nseg;
} RowPlan;

static void plan_add(RowPlan *p, Tile t, int x0, int count)
{
    if (count > 0 && t.n > 0) {
        Segment s = { t, x0, count };
        p->seg[p->nseg++] = s;
    }
}

/* Pixels x0 .. x0 + n - 1 in tiles of `most` and one of the rest. */
static void plan_tiles(RowPlan *p, TileKind kind, int cb, int simd, int x0, int n, int most)
{
    const int width = n < most ? n : most;
    if (width <= 0)
        return;
    Tile full = { kind, width, cb, simd, 1 }, rest = { kind, n % width, cb, simd, 1 };
    plan_add(p, full, x0, n / width);
    plan_add(p, rest, x0 + n / width * width, 1);
}

/* SIMD blocked tiles: pixels x0 .. x0 + n - 1 in as few tiles of at most
 * `most` as can hold them, of widths as equal as can be (14 pixels: 7 + 7,
 * not 12 + 2, whose 2 accumulators would wait on the multiply-add latency
 * for most of the row's time). */
static void plan_balanced(RowPlan *p, int x0, int n, int most)
{
    if (n <= 0)
        return;
    const int tiles = (n + most - 1) / most, width = (n + tiles - 1) / tiles;
    plan_tiles(p, TILE_BLOCKED, 0, 1, x0, n, width);
}

/* Portable KV_CONV_PIXELS: rows of 16 pixels x a block of channels, or a
 * row of 16..32 (a multiple of 8) at once x half a block; the rest of a
 * row, a block of channels. At most 16 accumulator arrays. */
static void plan_portable_pixels(RowPlan *p, const ConvDims *d)
{
    const int ow = d->OW;
    const int whole = !(ow % 16 == 0 || ow > 32 || ow % 8 != 0);
    const int xv = whole ? ow : 16, cb = whole ? d->B / 2 : d->B;
    Tile main = { TILE_PIXELS, xv, cb, 0, 1 }, rest = { TILE_PIXELS, ow % xv, d->B, 0, 1 };
    plan_add(p, main, 0, ow / xv);
    plan_add(p, rest, ow / xv * xv, 1);
}

/* The pixels of a row whose vectors may read their inputs in pairs: with
 * stride 2 a vector's two loads end one float after its last tap, which
 * must still lie before `last` (the end of the row, or of a wide row's
 * plane); with stride 1, all of them. */
static int stride2_room(const ConvDims *d, long long last)
{
    if (d->SW != 2)
        return d->OW;
    const long long room = (last - (long long)(d->KW - 1) * d->DW) / 2;
    return d->OW < room ? d->OW : (int)room;
}

/* SIMD KV_CONV_PIXELS: pixel_vecs vectors of pixels x pixel_ch channels,
 * the rest of the row in blocked tiles (channels in the lanes). A rest
 * whose blocked tile would hold fewer than 4 accumulators, each waiting on
 * the last multiply-add, takes one pixel tile's pixels with it (AVX2, 1x1
 * convs on 7x7 maps, 24 + 24 + 1 pixels -> 24 + 5 x 5: 0.92-0.94x the
 * time on Zen 4; AVX-512's 2-pixel rest of a 66-pixel row ran as fast
 * either way, its 4-pixel rests on 14x14 maps, left as they are, lost 1%
 * when they took a tile's pixels). */
static void plan_simd_pixels(Emitter *E, RowPlan *p, const ConvDims *d)
{
    const Isa *isa = E->isa;
    const int m = stride2_room(d, d->W);
    int pv = m / isa->lanes;
    pv = pv < isa->pixel_vecs ? pv : isa->pixel_vecs;
    const int xv = pv * isa->lanes, cb = isa->pixel_ch <= d->B ? isa->pixel_ch : d->B;
    int tiles = pv ? m / xv : 0;
    const int rest = d->OW - tiles * xv;
    if (tiles >= 2 && rest > 0 && rest * (d->B / isa->lanes) < 4)
        tiles--;
    const int full = tiles * xv;
    if (pv) {
        Tile t = { TILE_PIXELS, xv, cb, 1, 1 };
        plan_add(p, t, 0, tiles);
    }
    plan_balanced(p, full, d->OW - full, isa->blocked_px);
}

/* A rowptr conv's output columns [*x0, *x1) whose taps all lie inside the
 * row (and, read in pairs for stride 2, whose last pair does too); the
 * others are its border columns. */
static void rows_inner(const ConvDims *d, int *x0, int *x1)
{
    const long long hi = (long long)d->W - 1 - (d->SW == 2) - (long long)(d->KW - 1) * d->DW + d->PL;
    const int lo = (d->PL + d->SW - 1) / d->SW;
    *x0 = lo < d->OW ? lo : d->OW;
    *x1 = hi < 0 ? 0 : hi / d->SW + 1 < d->OW ? (int)(hi / d->SW + 1) : d->OW;
    if (*x1 < *x0)
        *x1 = *x0;
}

/* A SIMD KV_CONV_ROWS tile's vector width: the variant's, or on a wide
 * plane its wide_lanes (Zen 4 ran DS-CNN's 25x5 depthwise planes in
 * 8-float vectors in two thirds of the time of 16-float ones; rows of 56
 * and more floats were faster at 16). */
static int rows_width(const Emitter *E, const ConvDims *d)
{
    return d->wide ? E->isa->wide_lanes : E->isa->lanes;
}

/* SIMD KV_CONV_ROWS (stride 1 or 2): vectors of pixels, up to ROWS_VECS
 * per tile; then one narrower vector for each half, quarter, ... of a
 * vector left (down to VEC_MIN_LANES); the last few pixels, portable. With
 * stride 2 a vector reads its pairs as two loads, so it must not touch the
 * float after the row's last tap: the pixels whose pair ends inside the
 * row. */
static void plan_simd_rows(Emitter *E, RowPlan *p, const ConvDims *d)
{
    const int L = rows_width(E, d);
    int x0 = 0, m, end = d->OW;
    if (d->rowptr)   /* its inner columns: vectors, then portable tiles */
        rows_inner(d, &x0, &m), end = m;
    else   /* a wide row may read to the end of the plane */
        m = stride2_room(d, d->wide ? (long long)d->H * d->W - (long long)(d->KH - 1) * d->DH * d->W
                                    : d->W);
    int n = x0 + (m - x0) / L * L;
    plan_tiles(p, TILE_ROWS, 0, 1, x0, n - x0, ROWS_VECS * L);
    for (int w = L / 2; w >= VEC_MIN_LANES; w /= 2)
        if (m - n >= w) {
            plan_tiles(p, TILE_ROWS, 0, 1, n, w, w);
            n += w;
        }
    plan_tiles(p, TILE_ROWS, 0, 0, n, end - n, ROWS_XV);
}

/* SIMD blocked tiles on rows too short to fill one (resnet18's 7x7 maps):
 * two rows per tile when both rows' accumulators, the tap's weights and a
 * broadcast fit the registers; rows_max 1 keeps one (an odd last row). */
static void plan_two_rows(Emitter *E, RowPlan *p, const ConvDims *d, int rows_max)
{
    const int nv = d->B / E->isa->lanes;
    if (rows_max < 2 || d->OH < 2 || d->wide || E->isa->lanes == 1)
        return;
    for (int i = 0; i < p->nseg; i++) {
        const Tile *t = &p->seg[i].tile;
        if (t->kind != TILE_BLOCKED || !t->simd || t->n >= E->isa->blocked_px ||
            2 * t->n * nv > E->isa->vregs - nv - 2)
            return;
    }
    for (int i = 0; i < p->nseg; i++)
        p->seg[i].tile.rows = 2;
}

/* The row plan of op's kernel; rows_max: rows per tile at most. */
static RowPlan row_plan(Emitter *E, const Op *op, const ConvDims *d, int rows_max)
{
    RowPlan p = { .nseg = 0 };
    const int simd = simd_fits(E, d);
    switch (op->variant) {
    case KV_CONV_ROWS:
        if (E->isa && (d->SW == 1 || d->SW == 2)) {
            plan_simd_rows(E, &p, d);
        } else {
            int x0 = 0, x1 = d->OW;
            if (d->rowptr)
                rows_inner(d, &x0, &x1);
            plan_tiles(&p, TILE_ROWS, 0, 0, x0, x1 - x0, ROWS_XV);
        }
        break;
    case KV_CONV_PIXELS:
        if (simd)
            plan_simd_pixels(E, &p, d);
        else
            plan_portable_pixels(&p, d);
        break;
    default:
        if (simd) {
            plan_balanced(&p, 0, d->OW, E->isa->blocked_px);
            plan_two_rows(E, &p, d, rows_max);
        } else
            plan_tiles(&p, TILE_BLOCKED, 0, 0, 0, d->OW, E->target->conv_xb);
        break;
    }
    return p;
}

static const char *tile_fn(Emitter *E, const Op *op, const Tile *t)
{
    static const char *const what[] = { "tile", "pix", "row" };
    /* A row may hold vector and portable rows tiles of one width. */
    if (tile_rows(t) > 1)
        return tile_name(E, op, arena_printf(E->ctx->arena, "tile%dr", tile_rows(t)), t->n);
    return tile_name(E, op, t->kind == TILE_ROWS && t->simd ? "vrow" : what[t->kind], t->n);
}

/* ---- the tap loops every conv tile shares ---- */

/* What a tile does for one tap: q points at its first pixel's input, kr at
 * the tap row's weights (w for the tap itself is kr + kx * lanes). */
typedef void (*TapBody)(Emitter *E, const ConvDims *d, const char *kx, const Tile *t);

/* Taps unrolled in SIMD tiles: all of a kernel of up to 9 taps, else the
 * taps of a row of up to 7. gcc -O2 unrolls nothing, and a 3-tap loop's
 * overhead is as long as its multiply-adds (resnet18 at -O2: 42 -> 37 ms,
 * what -funroll-loops gives). */
enum { UNROLL_TAPS = 9, UNROLL_ROW = 7 };

/* A loop of n, or n blocks each declaring "const int v = i" when unrolled:
 * the body is written once per block. */
typedef struct Unroll {
    const char *v;     /* the loop variable, NULL for a loop of one */
    long long n, i;
    int unrolled;
} Unroll;

static Unroll unroll_open(Emitter *E, const char *v, long long n, int unrolled)
{
    Unroll u = { NULL, n, 0, unrolled && n > 1 };
    if (!u.unrolled) {
        u.v = emit_loop_open(E, v, n, 0);
        return u;
    }
    u.v = v;
    emit_line(E, "{");
    E->depth++;
    emit_line(E, "const int %s = 0;", v);
    return u;
}

/* Closes the loop, or the block; returns 1 when another block follows. */
static int unroll_next(Emitter *E, Unroll *u)
{
    if (!u->unrolled) {
        emit_loop_close(E, u->v);
        return 0;
    }
    E->depth--;
    emit_line(E, "}");
    if (++u->i == u->n)
        return 0;
    emit_line(E, "{");
    E->depth++;
    emit_line(E, "const int %s = %lld;", u->v, u->i);
    return 1;
}

/* for ic, ky, kx in order: p = the input row, kr = the weights of (ic, ky);
 * lanes weights per tap, after a row of biases when lanes > 1. */
static void tap_loops(Emitter *E, const ConvDims *d, int lanes, TapBody body, const Tile *t)
{
    const int all = t->simd && d->KH * d->KW <= UNROLL_TAPS;
    const char *ic = emit_loop_open(E, "ic", d->Cg, 0);
    Unroll ky = unroll_open(E, "ky", d->KH, all);
    do {
        const int scope = scope_open(E, ic, ky.v);
        const long long row = (long long)d->KW * lanes;
        if (d->rowptr)   /* one input channel (pad_in_kernel) */
            emit_line(E, "const float *p = r[%s] + c;", ky.v ? ky.v : "0");
        else
            emit_line(E, "const float *p = %s;", emit_plus(E, "x", sum3(term(ic, (long long)d->H * d->W),
                                                           term(ky.v, (long long)d->DH * d->W), NONE, 0)));
        emit_line(E, "const float *kr = %s;", emit_plus(E, "k", sum3(term(ic, d->KH * row), term(ky.v, row),
                                                        NONE, lanes > 1 ? lanes : 0)));
        Unroll kx = unroll_open(E, "kx", d->KW, all || (t->simd && d->KW <= UNROLL_ROW));
        do {
            emit_line(E, "const float *q = %s;", emit_plus(E, "p", sum3(term(kx.v, d->DW), NONE, NONE, 0)));
            body(E, d, kx.v, t);
        } while (unroll_next(E, &kx));
        scope_close(E, scope);
    } while (unroll_next(E, &ky));
    emit_loop_close(E, ic);
}

/* ---- KV_CONV_BLOCKED: a block of channels in the lanes x n pixels ---- */

/* n input values, one per pixel; each times the tap's B weights. */
static void blocked_tap(Emitter *E, const ConvDims *d, const char *kx, const Tile *t)
{
    emit_line(E, "const float *w = %s;", emit_plus(E, "kr", sum3(term(kx, d->B), NONE, NONE, 0)));
    if (t->simd) {
        const int nv = d->B / E->isa->lanes;
        for (int v = 0; v < nv; v++)
            emit_line(E, "const %s w%d = %s;", vec_type(E), v,
                      vec_load(E, "w", (long long)v * E->isa->lanes));
        const int px = t->n * tile_rows(t);
        for (int x = 0; x < px; x++)   /* pixel x: row x / n, column x % n */
            emit_line(E, "const float v%d = q[%lld];", x,
                      (long long)(x / t->n) * d->SH * d->W + (long long)(x % t->n) * d->SW);
        for (int x = 0; x < px; x++)
            for (int v = 0; v < nv; v++)
                emit_line(E, "s%d_%d += w%d * v%d;", x, v, v, x);
        return;
    }
    for (int x = 0; x < t->n; x++)
        emit_line(E, "const float v%d = q[%lld];", x, (long long)x * d->SW);
    emit_line(E, "for (int j = 0; j < %d; ++j) {", d->B);
    for (int x = 0; x < t->n; x++)
        emit_line(E, "    a%d[j] += w[j] * v%d;", x, x);
    emit_line(E, "}");
}

/* The accumulators, one block of channels per pixel, from the biases. */
static void blocked_init(Emitter *E, const ConvDims *d, const Tile *t)
{
    if (t->simd) {
        const int px = t->n * tile_rows(t);
        for (int x = 0; x < px; x++)
            emit_line(E, "float a%d[%d];", x, d->B);
        for (int x = 0; x < px; x++)
            for (int v = 0; v < d->B / E->isa->lanes; v++)
                emit_line(E, "%s s%d_%d = %s;", vec_type(E), x, v,
                          vec_load(E, "k", (long long)v * E->isa->lanes));
        return;
    }
    for (int x = 0; x < t->n; x++)
        emit_line(E, "float a%d[%d];", x, d->B);
    emit_line(E, "for (int j = 0; j < %d; ++j) {", d->B);
    for (int x = 0; x < t->n; x++)
        emit_line(E, "    a%d[j] = k[j];", x);
    emit_line(E, "}");
}

static void blocked_tile(Emitter *E, const Op *op, const ConvDims *d, const Tile *t)
{
    static const char *const decl[4] = { "const float *restrict x", "const float *restrict k",
                                         "float *restrict o", "int nj" };
    static const char *const comment[4] = { "the first pixel's window", "a block of packed weights",
                                            "the first pixel of the first channel",
                                            "channels to store" };
    const int px = t->n * tile_rows(t);
    if (tile_rows(t) > 1)
        buf_printf(E->c, "/* %d output channels x %d pixels of %d rows, of op %d. */\n", d->B, t->n,
                   tile_rows(t), (int)(op - E->g->ops));
    else
        buf_printf(E->c, "/* %d output channels x %d pixels of a row, of op %d. */\n", d->B, t->n,
                   (int)(op - E->g->ops));
    tile_open(E, tile_fn(E, op, t), decl, comment);
    blocked_init(E, d, t);
    tap_loops(E, d, d->B, blocked_tap, t);
    if (t->simd)
        for (int x = 0; x < px; x++)
            vec_spill(E, arena_printf(E->ctx->arena, "a%d", x), d->B,
                      arena_printf(E->ctx->arena, "s%d_", x));
    emit_line(E, "for (int j = 0; j < nj; ++j) {");
    emit_line(E, "    float *y = %s;", emit_plus(E, "o", sum3(term("j", (long long)d->OH * d->OW),
                                                          NONE, NONE, 0)));
    E->depth++;
    for (int x = 0; x < px; x++)
        emit_store(E, arena_printf(E->ctx->arena, "y[%d]", x / t->n * d->OW + x % t->n), &op->act,
                   arena_printf(E->ctx->arena, "a%d[j]", x));
    E->depth--;
    emit_line(E, "}");
    tile_close(E);
}

/* ---- KV_CONV_PIXELS: a row of pixels in the lanes x up to a block of channels ---- */

/* The tap's cb weights as scalars; each times every pixel's input. */
static void pixel_tap(Emitter *E, const ConvDims *d, const char *kx, const Tile *t)
{
    emit_line(E, "const float *w = %s;", emit_plus(E, "kr", sum3(term(kx, d->B), NONE, NONE, 0)));
    for (int c = 0; c < t->cb; c++)
        emit_line(E, "const float w%d = w[%d];", c, c);
    if (t->simd) {
        const int nv = t->n / E->isa->lanes;
        for (int v = 0; v < nv; v++)
            emit_line(E, "const %s x%d = %s;", vec_type(E), v,
                      vec_load_strided(E, "q", (long long)v * E->isa->lanes * d->SW, d->SW));
        for (int c = 0; c < t->cb; c++)
            for (int v = 0; v < nv; v++)
                emit_line(E, "s%d_%d += w%d * x%d;", c, v, c, v);
        return;
    }
    emit_line(E, "for (int j = 0; j < %d; ++j) {", t->n);
    emit_line(E, "    const float v = q[%s];", lin_expr(E, sum3(term("j", d->SW), NONE, NONE, 0)));
    for (int c = 0; c < t->cb; c++)
        emit_line(E, "    a%d[j] += w%d * v;", c, c);
    emit_line(E, "}");
}

static void pixel_init(Emitter *E, const Op *op, const Tile *t)
{
    if (t->simd) {
        for (int c = 0; c < t->cb && !vec_act_exact(&op->act); c++)
            emit_line(E, "float a%d[%d];", c, t->n);
        for (int c = 0; c < t->cb; c++) {
            emit_line(E, "const float b%d = k[%d];", c, c);
            for (int v = 0; v < t->n / E->isa->lanes; v++)
                emit_line(E, "%s s%d_%d = %s;", vec_type(E), c, v,
                          vec_splat(E, arena_printf(E->ctx->arena, "b%d", c)));
        }
        return;
    }
    for (int c = 0; c < t->cb; c++)
        emit_line(E, "float a%d[%d];", c, t->n);
    emit_line(E, "for (int j = 0; j < %d; ++j) {", t->n);
    for (int c = 0; c < t->cb; c++)
        emit_line(E, "    a%d[j] = k[%d];", c, c);
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

/* Channel c's vectors stored with the activation, if c < nj. */
static void pixel_vec_store(Emitter *E, const Op *op, const ConvDims *d, const Tile *t, int c)
{
    const int L = E->isa->lanes;
    if (c > 0) {
        emit_line(E, "if (nj > %d) {", c);
        E->depth++;
    }
    for (int v = 0; v < t->n / L; v++)
        emit_vec_store(E, L, emit_plus(E, "o", sum3(NONE, NONE, NONE,
                                                    (long long)c * d->OH * d->OW + v * L)),
                       &op->act, arena_printf(E->ctx->arena, "s%d_%d", c, v));
    if (c > 0) {
        E->depth--;
        emit_line(E, "}");
    }
}

/* A SIMD tile adding a residual first asks for the lines of output (the
 * residual, read, added to and written back) it will store, one per 16
 * floats of each channel it stores: the tap loops hide their latency.
 * ResNet-50's conv3 on 56x56 maps (64 -> 256 channels, its residual 3.2 MB
 * of L3 or DRAM) ran at 65-80% of peak and at 92% with them (Zen 4). */
static void pixel_prefetch(Emitter *E, const ConvDims *d, const Tile *t)
{
    if (!E->residual || !t->simd)
        return;
    for (int c = 0; c < t->cb; c++) {
        const char *when = c > 0 ? arena_printf(E->ctx->arena, "if (nj > %d) ", c) : "";
        for (int x = 0; x < t->n; x += 16)
            emit_line(E, "%s__builtin_prefetch(%s, 1);", when,
                      emit_plus(E, "o", sum3(NONE, NONE, NONE, (long long)c * d->OH * d->OW + x)));
    }
}

static void pixel_tile(Emitter *E, const Op *op, const ConvDims *d, const Tile *t)
{
    static const char *const decl[4] = { "const float *restrict x", "const float *restrict k",
                                         "float *restrict o", "int nj" };
    static const char *const comment[4] = { "the first pixel's window",
                                            "packed weights of the first channel",
                                            "the first pixel of the first channel",
                                            "channels to store" };
    buf_printf(E->c, "/* %d pixels of a row x %d output channels, of op %d. */\n", t->n, t->cb,
               (int)(op - E->g->ops));
    tile_open(E, tile_fn(E, op, t), decl, comment);
    pixel_init(E, op, t);
    pixel_prefetch(E, d, t);
    tap_loops(E, d, d->B, pixel_tap, t);
    if (t->simd && vec_act_exact(&op->act)) {
        for (int c = 0; c < t->cb; c++)
            pixel_vec_store(E, op, d, t, c);
    } else {
        if (t->simd)
            for (int c = 0; c < t->cb; c++)
                vec_spill(E, arena_printf(E->ctx->arena, "a%d", c), t->n,
                          arena_printf(E->ctx->arena, "s%d_", c));
        for (int c = 0; c < t->cb; c++)
            pixel_store(E, op, d, t->n, c);
    }
    tile_close(E);
}

/* ---- KV_CONV_ROWS: a row of pixels of one channel in the lanes ---- */

/* The vector of n floats q[s*j] (j < n) for stride s 1 or 2; with 2, two
 * loads and an even-lane shuffle (reading q[2 * n - 1] too). */
const char *vec_load_strided_n(Emitter *E, int n, const char *q, long long at, int s)
{
    if (s == 1 || n == 1)
        return vec_load_n(E, n, q, at);
    const char *r = arena_printf(E->ctx->arena, "__builtin_shufflevector(%s, %s",
                                 vec_load_n(E, n, q, at), vec_load_n(E, n, q, at + n));
    for (int l = 0; l < n; l++)
        r = arena_printf(E->ctx->arena, "%s, %d", r, 2 * l);
    return arena_printf(E->ctx->arena, "%s)", r);
}

const char *vec_load_strided(Emitter *E, const char *q, long long at, int s)
{
    return vec_load_strided_n(E, E->isa->lanes, q, at, s);
}

/* A SIMD rows tile's vector width: rows_width, or for a row's tail a
 * narrower one (the tile is then one vector). */
static int rows_lanes(const Emitter *E, const ConvDims *d, const Tile *t)
{
    return t->n < rows_width(E, d) ? t->n : rows_width(E, d);
}

/* Vector v of a stride-1 or stride-2 row at q: the pixels' taps. */
static const char *rows_vec(Emitter *E, const ConvDims *d, const Tile *t, int v)
{
    const int L = rows_lanes(E, d, t);
    return vec_load_strided_n(E, L, "q", (long long)v * L * d->SW, d->SW);
}

static void rows_tap(Emitter *E, const ConvDims *d, const char *kx, const Tile *t)
{
    emit_line(E, "const float w = kr[%s];", lin_expr(E, sum3(term(kx, d->B), NONE, NONE, 0)));
    if (t->simd) {
        for (int v = 0; v < t->n / rows_lanes(E, d, t); v++)
            emit_line(E, "s%d += %s * w;", v, rows_vec(E, d, t, v));
        return;
    }
    emit_line(E, "for (int j = 0; j < %d; ++j)", t->n);
    emit_line(E, "    a[j] += w * q[%s];", lin_expr(E, sum3(term("j", d->SW), NONE, NONE, 0)));
}

static void rows_tile(Emitter *E, const Op *op, const ConvDims *d, const Tile *t)
{
    static const char *const decl[5] = { "const float *restrict x", "const float *restrict k",
                                         "float b", "float *restrict o" };
    static const char *const comment[5] = { "the first pixel's window", "the channel's weights",
                                            "its bias", "the first pixel" };
    static const char *const rdecl[5] = { "const float *const *r", "int c", "const float *restrict k",
                                          "float b", "float *restrict o" };
    static const char *const rcomment[5] = { "the window's input rows (a zero row off the map)",
                                             "the first pixel's first column in them",
                                             "the channel's weights", "its bias", "the first pixel" };
    buf_printf(E->c, "/* %d pixels of a row of one output channel, of op %d. */\n", t->n,
               (int)(op - E->g->ops));
    if (d->rowptr)
        tile_open_n(E, tile_fn(E, op, t), 5, rdecl, rcomment);
    else
        tile_open(E, tile_fn(E, op, t), decl, comment);
    if (t->simd) {
        const int L = rows_lanes(E, d, t);
        if (!vec_act_exact(&op->act))
            emit_line(E, "float a[%d];", t->n);
        for (int v = 0; v < t->n / L; v++)
            emit_line(E, "%s s%d = %s;", vec_type_n(E, L), v, vec_splat_n(E, L, "b"));
        tap_loops(E, d, d->B, rows_tap, t);
        if (vec_act_exact(&op->act)) {   /* no spill, no store loop */
            for (int v = 0; v < t->n / L; v++)
                emit_vec_store(E, L, arena_printf(E->ctx->arena, "o + %d", v * L), &op->act,
                               arena_printf(E->ctx->arena, "s%d", v));
            tile_close(E);
            return;
        }
        vec_spill_n(E, L, "a", t->n, "s");
    } else {
        emit_line(E, "float a[%d];", t->n);
        emit_line(E, "for (int j = 0; j < %d; ++j)", t->n);
        emit_line(E, "    a[j] = b;");
        tap_loops(E, d, d->B, rows_tap, t);
    }
    emit_line(E, "for (int j = 0; j < %d; ++j)", t->n);
    E->depth++;
    emit_store(E, "o[j]", &op->act, "a[j]");
    tile_close(E);
}

/* ---- the conv functions: tiles along each output row ---- */

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
    if (d->wide)
        return emit_plus(E, "a", sum3(ox, NONE, NONE, px));
    return emit_plus(E, "out", sum3(term(ch, plane), term(oy, d->OW), ox, px + dc * plane));
}

/* One call of tile t at (oy, ox + px) of channel ch (the first of a block:
 * f0; KV_CONV_ROWS: f, or NULL for channel 0). A TILE_PIXELS tile of cb
 * channels is called for each cb channels of the block. */
static void tile_call(Emitter *E, const Op *op, const ConvDims *d, const Tile *t,
                      const char *ch, const char *oy, Term ox, long long px)
{
    const char *in = at_in(E, d, oy, ox, px), *fn = tile_fn(E, op, t);
    if (t->kind == TILE_ROWS && d->rowptr) {
        emit_line(E, "%s(r, %s, k, b, %s);", fn,
                  lin_expr(E, sum3(term(ox.var, d->SW), NONE, NONE, px * d->SW - d->PL)),
                  at_out(E, d, ch, 0, oy, ox, px));
        return;
    }
    if (t->kind == TILE_ROWS) {
        emit_line(E, "%s(%s, k, b, %s);", fn, in, at_out(E, d, ch, 0, oy, ox, px));
        return;
    }
    if (t->kind == TILE_BLOCKED) {
        emit_line(E, "%s(%s, k, %s, nj);", fn, in, at_out(E, d, ch, 0, oy, ox, px));
        return;
    }
    for (int h = 0; h < d->B / t->cb; h++) {
        if (h)
            emit_line(E, "if (nj > %d)", h * t->cb);
        emit_line(E, "%s%s(%s, %s, %s, %s);", h ? "    " : "", fn, in,
                  h ? arena_printf(E->ctx->arena, "k + %d", h * t->cb) : "k",
                  at_out(E, d, ch, (long long)h * t->cb, oy, ox, px),
                  h ? arena_printf(E->ctx->arena, "nj - %d", h * t->cb) : "nj");
    }
}

/* A segment's calls: one, or a loop over ox. */
static void segment_calls(Emitter *E, const Op *op, const ConvDims *d, const Segment *s,
                          const char *ch, const char *oy)
{
    if (s->count == 1) {
        tile_call(E, op, d, &s->tile, ch, oy, NONE, s->x0);
        return;
    }
    if (s->x0)
        emit_line(E, "for (int ox = %d; ox < %d; ox += %d) {", s->x0,
                  s->x0 + s->count * s->tile.n, s->tile.n);
    else
        emit_line(E, "for (int ox = 0; ox < %d; ox += %d) {", s->count * s->tile.n, s->tile.n);
    E->depth++;
    tile_call(E, op, d, &s->tile, ch, oy, term("ox", 1), 0);
    E->depth--;
    emit_line(E, "}");
}

/* The weight of tap t (ky * KW + kx) of the channel k points at (k[0] is
 * its bias in pack.c's depthwise blocks). */
static const char *rows_weight(Emitter *E, const ConvDims *d, int t)
{
    return arena_printf(E->ctx->arena, "k[%lld]", d->B == 1 ? t : (1LL + t) * d->B);
}

/* Channel f's weights k and bias b (f NULL: channel 0): PyTorch's layout,
 * or its lane of pack.c's depthwise blocks. */
static void rows_weight_vars(Emitter *E, const Op *op, const ConvDims *d, const char *f)
{
    const char *fv = f ? f : "0";
    if (d->B > 1) {
        const long long block = (1 + (long long)d->KH * d->KW) * d->B;
        emit_line(E, "const float *k = %s;", f ? arena_printf(E->ctx->arena, "%s + %s / %d * %lld + %s %% %d",
                                                              E->wexpr[op->packed], f, d->B, block, f, d->B)
                                                : E->wexpr[op->packed]);
        emit_line(E, "const float b = k[0];");
        return;
    }
    emit_line(E, "const float *k = %s;", emit_plus(E, E->wexpr[op->w],
                                               sum3(term(f, (long long)d->Cg * d->KH * d->KW),
                                                    NONE, NONE, 0)));
    if (op->b >= 0)
        emit_line(E, "const float b = %s[%s];", E->wexpr[op->b], fv);
    else
        emit_line(E, "const float b = 0.0f;");
}

/* Border column ox (a constant) of a rowptr conv's row oy: its taps on
 * the row written out, in the tiles' order (those off the row skipped). */
static void rows_border_pixel(Emitter *E, const Op *op, const ConvDims *d, const char *ch,
                              const char *oy, int ox)
{
    emit_line(E, "{");
    E->depth++;
    emit_line(E, "float s = b;");
    for (int ky = 0; ky < d->KH; ky++)
        for (int kx = 0; kx < d->KW; kx++) {
            const long long ix = (long long)ox * d->SW + (long long)kx * d->DW - d->PL;
            if (ix >= 0 && ix < d->W)
                emit_line(E, "s += r[%d][%lld] * %s;", ky, ix,
                          rows_weight(E, d, ky * d->KW + kx));
        }
    emit_store(E, arena_printf(E->ctx->arena, "out[%s]",
                               lin_expr(E, sum3(term(ch, (long long)d->OH * d->OW),
                                                term(oy, d->OW), NONE, ox))),
               &op->act, "s");
    E->depth--;
    emit_line(E, "}");
}

/* A rowptr conv's border columns [a, b) of row oy: each written out, or a
 * loop testing each tap when there are many (a map narrower than the
 * kernel's reach, in portable code). */
static void rows_border(Emitter *E, const Op *op, const ConvDims *d, const char *ch,
                        const char *oy, int a, int b)
{
    if (b - a <= BORDER_PIXELS) {
        for (int ox = a; ox < b; ox++)
            rows_border_pixel(E, op, d, ch, oy, ox);
        return;
    }
    emit_line(E, "for (int ox = %d; ox < %d; ++ox) {", a, b);
    E->depth++;
    emit_line(E, "float s = b;");
    emit_line(E, "for (int ky = 0; ky < %d; ++ky)", d->KH);
    emit_line(E, "    for (int kx = 0; kx < %d; ++kx) {", d->KW);
    emit_line(E, "        const int ix = %s;",
              lin_expr(E, sum3(term("ox", d->SW), term("kx", d->DW), NONE, -d->PL)));
    emit_line(E, "        if (ix >= 0 && ix < %d)", d->W);
    if (d->B == 1)
        emit_line(E, "            s += r[ky][ix] * k[ky * %d + kx];", d->KW);
    else
        emit_line(E, "            s += r[ky][ix] * k[%d + (ky * %d + kx) * %d];", d->B, d->KW, d->B);
    emit_line(E, "    }");
    emit_store(E, arena_printf(E->ctx->arena, "out[%s]",
                               lin_expr(E, sum3(term(ch, (long long)d->OH * d->OW),
                                                term(oy, d->OW), term("ox", 1), 0))),
               &op->act, "s");
    E->depth--;
    emit_line(E, "}");
}

static void conv_row(Emitter *E, const Op *op, const ConvDims *d, const char *ch,
                     const char *oy, int rows_max)
{
    const RowPlan p = row_plan(E, op, d, rows_max);
    int x0 = 0, x1 = d->OW;
    if (d->rowptr)
        rows_inner(d, &x0, &x1);
    rows_border(E, op, d, ch, oy, 0, x0);
    for (int i = 0; i < p.nseg; i++)
        segment_calls(E, op, d, &p.seg[i], ch, oy);
    rows_border(E, op, d, ch, oy, x1, d->OW);
}

/* A rowptr conv's output row oy: r[ky], its window's input rows. */
static void rows_pointers(Emitter *E, const ConvDims *d)
{
    emit_line(E, "const float *r[%d];", d->KH);
    emit_line(E, "for (int ky = 0; ky < %d; ++ky) {", d->KH);
    emit_line(E, "    const int iy = %s;",
              lin_expr(E, sum3(term("oy", d->SH), term("ky", d->DH), NONE, -d->PT)));
    emit_line(E, "    r[ky] = iy >= 0 && iy < %d ? %s : zrow;", d->H,
              emit_plus(E, "x", sum3(term("iy", d->W), NONE, NONE, 0)));
    emit_line(E, "}");
}

/* What a conv does for output row oy (NULL: its only row) or, with rows
 * 2, for rows oy and oy + 1; arg is the caller's. */
typedef void RowsBody(Emitter *E, const Op *op, const ConvDims *d, const char *oy, int rows,
                      const void *arg);

/* The output rows of op, each through body: one at a time, or, when the
 * tiles of its plan take two rows at once, pairs, then the odd last row
 * with tiles of one. */
static void row_loops(Emitter *E, const Op *op, const ConvDims *d, RowsBody *body, const void *arg)
{
    if (tile_rows(&row_plan(E, op, d, 2).seg[0].tile) == 1) {
        const char *oy = emit_loop_open(E, "oy", d->OH, 0);
        body(E, op, d, oy, 1, arg);
        emit_loop_close(E, oy);
        return;
    }
    emit_line(E, "for (int oy = 0; oy < %d; oy += 2) {", d->OH / 2 * 2);
    E->depth++;
    body(E, op, d, "oy", 2, arg);
    E->depth--;
    emit_line(E, "}");
    if (d->OH % 2) {
        emit_line(E, "{");
        E->depth++;
        emit_line(E, "const int oy = %d;", d->OH - 1);
        body(E, op, d, "oy", 1, arg);
        E->depth--;
        emit_line(E, "}");
    }
}

/* The row(s) of the channels ch names (arg). */
static void row_of_channels(Emitter *E, const Op *op, const ConvDims *d, const char *oy, int rows,
                            const void *arg)
{
    conv_row(E, op, d, arg, oy, rows);
}

/* A blocked conv's packed block: its B biases, then B weights per tap of
 * each input channel; and the number of blocks, ceil(Fg / B) per group. */
static long long packed_block_floats(const ConvDims *d)
{
    return (1 + (long long)d->Cg * d->KH * d->KW) * d->B;
}

static long long packed_blocks(const ConvDims *d)
{
    return (long long)d->G * ((d->Fg + d->B - 1) / d->B);
}

/* n floats of a local plane lp, zeroed (once: the copies fill the inside
 * only). */
static void emit_zeroed_plane(Emitter *E, long long n)
{
    emit_line(E, "float lp[%lld];", n);
    emit_line(E, "for (int i = 0; i < %lld; ++i)", n);
    emit_line(E, "    lp[i] = 0.0f;");
}

/* Per block ob of B channels (of group ob / nbg): its packed weights k,
 * first channel f0, input x and the count nj of real channels in it. */
static void blocked_block_vars(Emitter *E, const Op *op, const ConvDims *d, const char *ob)
{
    const int B = d->B, nbg = (d->Fg + B - 1) / B;
    const long long size = packed_block_floats(d);
    const char *obv = ob ? ob : "0";
    emit_line(E, "const float *k = %s;", emit_plus(E, E->wexpr[op->packed],
                                               sum3(term(ob, size), NONE, NONE, 0)));
    if (d->G > 1) {
        emit_line(E, "const int f0 = %s / %d * %d + %s %% %d * %d;", obv, nbg, d->Fg, obv, nbg, B);
        emit_line(E, "const float *x = in + %s / %d * %lld;", obv, nbg,
                  (long long)d->Cg * d->H * d->W);
    } else {
        emit_line(E, "const int f0 = %s;", lin_expr(E, sum3(term(ob, B), NONE, NONE, 0)));
        emit_line(E, "const float *x = in;");
    }
    if (d->Fg % B == 0)
        emit_line(E, "const int nj = %d;", B);
    else if (nbg == 1)
        emit_line(E, "const int nj = %d;", d->Fg);
    else
        emit_line(E, "const int nj = %s %% %d == %d ? %d : %d;", obv, nbg, nbg - 1, d->Fg % B, B);
}

/* n floats from src to dst (expressions): vectors of the variant's lanes,
 * then one of each narrower width down to VEC_MIN_LANES, then floats; it
 * declares s and y, in the caller's block. */
static void emit_row_copy(Emitter *E, const char *dst, const char *src, int n)
{
    int x = 0;
    emit_line(E, "const float *s = %s;", src);
    emit_line(E, "float *y = %s;", dst);
    for (int w = E->isa->lanes; w >= VEC_MIN_LANES; w /= 2)
        for (; n - x >= w; x += w)
            emit_line(E, "*(%s *)(y + %d) = %s;", vec_type_n(E, w), x, vec_load_n(E, w, "s", x));
    for (; x < n; x++)
        emit_line(E, "y[%d] = s[%d];", x, x);
}

/* A local plane's inside: the input plane xi, row by row. */
static void local_copy(Emitter *E, const ConvDims *d)
{
    emit_line(E, "for (int iy = 0; iy < %d; ++iy) {", d->IH);
    E->depth++;
    emit_row_copy(E, emit_plus(E, "lp", sum3(term("iy", d->W), NONE, NONE,
                                             (long long)d->PT * d->W + d->PL)),
                  emit_plus(E, "xi", sum3(term("iy", d->IW), NONE, NONE, 0)), d->IW);
    E->depth--;
    emit_line(E, "}");
}

/* Per channel f: its weights k, bias b and input x. */
static void rows_channel_vars(Emitter *E, const Op *op, const ConvDims *d, const char *f)
{
    const char *fv = f ? f : "0";
    if (d->local) {   /* one input channel (pad_in_kernel), copied by local_copy */
        if (d->G > 1)
            emit_line(E, "const float *xi = in + %s / %d * %lld;", fv, d->Fg, (long long)d->IH * d->IW);
        else
            emit_line(E, "const float *xi = in;");
        emit_line(E, "const float *x = lp;");
    } else if (d->G > 1)
        emit_line(E, "const float *x = in + %s / %d * %lld;", fv, d->Fg,
                  (long long)d->Cg * d->H * d->W);
    else
        emit_line(E, "const float *x = in;");
    rows_weight_vars(E, op, d, f);
}

/* A wide plane's real columns, to channel f's output. */
static void wide_store(Emitter *E, const ConvDims *d, const char *f)
{
    const long long plane = (long long)d->RH * d->RW;
    emit_line(E, "for (int py = 0; py < %d; ++py) {", d->RH);
    E->depth++;
    emit_row_copy(E, emit_plus(E, "out", sum3(term(f, plane), term("py", d->RW), NONE, 0)),
                  emit_plus(E, "a", sum3(term("py", d->W), NONE, NONE, 0)), d->RW);
    E->depth--;
    emit_line(E, "}");
}

/* ---- a depthwise stride-2 wide plane, split in four (space to depth) ----
 *
 * As one wide row, a stride-2 plane computes every output row twice over
 * (columns x >= RW, half of them, are dropped) and each tap's vector takes
 * two loads and a shuffle. Split the padded plane instead into the four
 * planes of its even and odd rows and columns, each Hh x Wh (half the
 * padded size, rounded up): tap (ky, kx) of output (y, x) is element
 * (y + ky / 2, x + kx / 2) of plane (ky % 2, kx % 2), so output j = y * Wh
 * + x reads j + (ky / 2) * Wh + kx / 2 there: one load per tap and vector,
 * and only the columns x >= RW of Wh dropped (MobileNetV2's 56x56 to 28x28
 * planes: 1 of 29). The split is the local copy (zeroed once: the copies
 * fill the inside only), its even and odd columns separated by shuffles. */
typedef struct S2d {
    int Hh, Wh, n;   /* the planes' size; outputs of the wide row */
} S2d;

static S2d s2d_dims(const ConvDims *r)
{
    S2d s;
    s.Hh = (r->H + r->PT + r->PB + 1) / 2, s.Wh = (r->W + r->PL + r->PR + 1) / 2;
    s.n = (r->OH - 1) * s.Wh + r->OW;
    return s;
}

/* "head {": input floats at + 0 .. 2w - 1 (of src) to columns at / 2 ..
 * at / 2 + w - 1 of c0 (the even ones) and c1 (the odd): two loads and two
 * shuffles. */
static void s2d_split(Emitter *E, const char *head, int w, const char *at)
{
    const char *vt = vec_type_n(E, w), *idx[2] = { "", "" };
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < w; i++)
            idx[e] = arena_printf(E->ctx->arena, "%s, %d", idx[e], 2 * i + e);
    emit_line(E, "%s{", head);
    E->depth++;
    emit_line(E, "const %s lo = *(const %s *)(src + %s), hi = *(const %s *)(src + %s + %d);", vt,
              vt, at, vt, at, w);
    for (int e = 0; e < 2; e++)
        emit_line(E, "*(%s *)(c%d + (%s) / 2) = __builtin_shufflevector(lo, hi%s);", vt, e, at,
                  idx[e]);
    E->depth--;
    emit_line(E, "}");
}

/* Input row iy (of xi, r->W floats) to its plane rows: input column ix
 * is padded column px = ix + PL, plane column px % 2, element px / 2;
 * vectors of 2L floats, then one of each narrower width, then floats. */
static void s2d_copy_row(Emitter *E, const ConvDims *r, const S2d *s)
{
    const long long plane = (long long)s->Hh * s->Wh;
    const int L = E->isa->lanes;
    int x = r->W / (2 * L) * 2 * L;
    emit_line(E, "const float *src = xi + iy * %d;", r->W);
    emit_line(E, "float *row = lp + (iy + %d) %% 2 * %lld + (iy + %d) / 2 * %d;", r->PT, 2 * plane,
              r->PT, s->Wh);
    for (int e = 0; e < 2 && e < r->W; e++)   /* the input's even, odd columns */
        emit_line(E, "float *c%d = row + %lld;", e,
                  (e + r->PL) % 2 * plane + (e + r->PL) / 2);
    if (x)
        s2d_split(E, arena_printf(E->ctx->arena, "for (int ix = 0; ix < %d; ix += %d) ", x, 2 * L),
                  L, "ix");
    for (int w = L / 2; w >= VEC_MIN_LANES; w /= 2)
        if (r->W - x >= 2 * w) {
            s2d_split(E, "", w, arena_printf(E->ctx->arena, "%d", x));
            x += 2 * w;
        }
    for (; x < r->W; x++)
        emit_line(E, "c%d[%d] = src[%d];", x % 2, x / 2, x);
}

/* Outputs j .. j + nv * w - 1 of the wide row in vectors of w lanes. */
static void s2d_vectors(Emitter *E, const Op *op, const ConvDims *r, const S2d *s, int nv, int w)
{
    const char *vt = vec_type_n(E, w);
    for (int v = 0; v < nv; v++)
        emit_line(E, "%s s%d = %s;", vt, v, vec_splat_n(E, w, "b"));
    for (int ky = 0; ky < r->KH; ky++)
        for (int kx = 0; kx < r->KW; kx++) {
            const long long at = (long long)(ky % 2 * 2 + kx % 2) * s->Hh * s->Wh +
                                 (long long)ky / 2 * s->Wh + kx / 2;
            for (int v = 0; v < nv; v++)
                emit_line(E, "s%d += %s * %s;", v,
                          vec_load_n(E, w, "q", at + (long long)v * w),
                          w == 1 ? rows_weight(E, r, ky * r->KW + kx)
                                 : arena_printf(E->ctx->arena, "kv%d", ky * r->KW + kx));
        }
    for (int v = 0; v < nv; v++)
        emit_vec_store(E, w, arena_printf(E->ctx->arena, "a + j + %d", v * w), &op->act,
                       arena_printf(E->ctx->arena, "s%d", v));
}

/* One loop over the wide row: nv vectors of w lanes per step, while they fit. */
static void s2d_loop(Emitter *E, const Op *op, const ConvDims *r, const S2d *s, int nv, int w)
{
    if (nv * w > s->n)
        return;
    emit_line(E, "for (; j + %d <= %d; j += %d) {", nv * w, s->n, nv * w);
    E->depth++;
    emit_line(E, "const float *q = lp + j;");
    s2d_vectors(E, op, r, s, nv, w);
    E->depth--;
    emit_line(E, "}");
}

static void s2d_body(Emitter *E, const Op *op)
{
    const ConvDims r = conv_dims(E->g, op);
    const S2d s = s2d_dims(&r);
    const int L = E->isa->lanes, K = r.KH * r.KW;
    emit_zeroed_plane(E, 4LL * s.Hh * s.Wh);
    const char *f = emit_loop_open(E, "f", r.F, 0);
    const char *fv = f ? f : "0";
    emit_line(E, "const float *xi = in + %s / %d * %lld;", fv, r.Fg, (long long)r.H * r.W);
    rows_weight_vars(E, op, &r, f);
    emit_line(E, "float a[%d];", s.n);
    for (int t = 0; t < K && s.n >= L; t++)   /* none when no vector fits */
        emit_line(E, "const %s kv%d = %s;", vec_type(E), t,
                  vec_splat(E, rows_weight(E, &r, t)));
    emit_line(E, "int j = 0;");
    emit_line(E, "for (int iy = 0; iy < %d; ++iy) {", r.H);
    E->depth++;
    s2d_copy_row(E, &r, &s);
    E->depth--;
    emit_line(E, "}");
    s2d_loop(E, op, &r, &s, 4, L);
    s2d_loop(E, op, &r, &s, 1, L);
    emit_line(E, "for (; j < %d; ++j) {", s.n);
    E->depth++;
    emit_line(E, "const float *q = lp + j;");
    s2d_vectors(E, op, &r, &s, 1, 1);
    E->depth--;
    emit_line(E, "}");
    emit_line(E, "for (int py = 0; py < %d; ++py) {", r.OH);
    E->depth++;
    emit_row_copy(E, emit_plus(E, "out", sum3(term(f, (long long)r.OH * r.OW), term("py", r.OW),
                                             NONE, 0)),
                  emit_plus(E, "a", sum3(term("py", s.Wh), NONE, NONE, 0)), r.OW);
    E->depth--;
    emit_line(E, "}");
    emit_loop_close(E, f);
}

/* ---- a depthwise conv on a small map: its channels in the lanes ----
 *
 * On a small map the rows kernels spend more on copies, row ends and
 * dropped columns than on multiply-adds (MobileNetV2's 7x7 planes of 960
 * channels: 41 us, where ONNX Runtime's channel-blocked layout takes 22).
 * Here each group of L channels (the variant's lanes) is transposed into
 * a padded local plane lp of pixels whose L lanes are the L channels: vectors
 * of L pixels of L channels, transposed in registers, each stored at its
 * pixel. Then each output pixel is one vector: the bias plus a multiply-
 * add per tap of the tap's pixel and the tap's L weights (one row of
 * pack.c's block). L output pixels at a time are transposed back and
 * stored in the L channels' planes. A plane whose size is not a multiple
 * of L takes its last L pixels for its last vector, overlapping the one
 * before. lp's border is zeroed once and never written: the padding.
 * On Zen 5 with AVX-512 (one-layer harness, best of 3000 runs; rows
 * kernels -> this): 960 channels 7x7 39.2 -> 17.1 us, 384 and 576
 * channels 14x14 36.5 -> 17.7 and 58.4 -> 29.9, 192 channels 28x28
 * 67.7 -> 40.9, 576 channels 14x14 -> 7x7 at stride 2 27.0 -> 13.6; the
 * AVX2 code, 8 lanes, 0.65x at 7x7 and 0.84-0.96x at 14x14 and 28x28. */

/* The vectors <p>0 .. <p>(L-1), rows of an L x L matrix, transposed: at
 * scale c = 1, 2, 4, ..., rows i and i + c (i & c == 0) swap their
 * off-diagonal c x c blocks, two two-source shuffles each (AVX2: 32
 * shuffle instructions for 8 x 8; AVX-512: 64 for 16 x 16). */
static void emit_transpose(Emitter *E, const char *p)
{
    const int L = E->isa->lanes;
    const char *vt = vec_type(E);
    for (int c = 1; c < L; c *= 2) {
        emit_line(E, "{");
        E->depth++;
        for (int i = 0; i < L; i++) {
            if (i & c)
                continue;
            const char *lo = "", *hi = "";
            for (int blk = 0; blk < L; blk += 2 * c)
                for (int h = 0; h < 2; h++)
                    for (int j = 0; j < c; j++) {
                        lo = arena_printf(E->ctx->arena, "%s, %d", lo, blk + j + h * L);
                        hi = arena_printf(E->ctx->arena, "%s, %d", hi, blk + c + j + h * L);
                    }
            emit_line(E, "const %s t%d = __builtin_shufflevector(%s%d, %s%d%s);", vt, i, p, i, p,
                      i + c, lo);
            emit_line(E, "const %s t%d = __builtin_shufflevector(%s%d, %s%d%s);", vt, i + c, p, i,
                      p, i + c, hi);
        }
        for (int i = 0; i < L; i++)
            emit_line(E, "%s%d = t%d;", p, i, i);
        E->depth--;
        emit_line(E, "}");
    }
}

/* "for each vector of L pixels of an n-pixel plane: s, its first": the
 * last one overlaps the one before when L does not divide n. */
static void chl_chunks_open(Emitter *E, long long n)
{
    const int L = E->isa->lanes;
    emit_line(E, "for (int c = 0; c < %lld; ++c) {", (n + L - 1) / L);
    E->depth++;
    emit_line(E, "const int s = c * %d < %lld ? c * %d : %lld;", L, n - L, L, n - L);
}

/* Group cg's input planes, L pixels at a time, into lp. */
static void chl_transpose_in(Emitter *E, const ConvDims *d, long long tw)
{
    const int L = E->isa->lanes;
    const long long hw = (long long)d->H * d->W;
    chl_chunks_open(E, hw);
    for (int i = 0; i < L; i++)
        emit_line(E, "%s v%d = %s;", vec_type(E), i, vec_load(E, "xi + s", i * hw));
    emit_transpose(E, "v");
    for (int j = 0; j < L; j++)
        emit_line(E, "*(%s *)(lp + ((s + %d) / %d * %lld + (s + %d) %% %d + %lld) * %d) = v%d;",
                  vec_type(E), j, d->W, tw, j, d->W, d->PT * tw + d->PL, L, j);
    E->depth--;
    emit_line(E, "}");
}

/* Group cg's outputs, L pixels at a time: each from its taps in lp. */
static void chl_outputs(Emitter *E, const Op *op, const ConvDims *d, long long tw)
{
    const int L = E->isa->lanes;
    const long long ohw = (long long)d->OH * d->OW;
    chl_chunks_open(E, ohw);
    for (int j = 0; j < L; j++)
        emit_line(E, "%s a%d = b;", vec_type(E), j);
    for (int j = 0; j < L; j++) {
        emit_line(E, "{");
        E->depth++;
        emit_line(E, "const float *q = lp + ((s + %d) / %d * %lld + (s + %d) %% %d * %d) * %d;", j,
                  d->OW, d->SH * tw, j, d->OW, d->SW, L);
        for (int ky = 0; ky < d->KH; ky++)
            for (int kx = 0; kx < d->KW; kx++)
                emit_line(E, "a%d += %s * w%d;", j,
                          vec_load(E, "q", ((long long)ky * d->DH * tw + (long long)kx * d->DW) * L),
                          ky * d->KW + kx);
        E->depth--;
        emit_line(E, "}");
    }
    emit_transpose(E, "a");
    for (int i = 0; i < L; i++)
        emit_vec_store(E, L, arena_printf(E->ctx->arena, "o + s + %lld", i * ohw), &op->act,
                       arena_printf(E->ctx->arena, "a%d", i));
    E->depth--;
    emit_line(E, "}");
}

static void chl_body(Emitter *E, const Op *op, const ConvDims *d)
{
    const int L = E->isa->lanes, K = d->KH * d->KW;
    const long long th = (long long)d->H + d->PT + d->PB, tw = (long long)d->W + d->PL + d->PR;
    const long long block = (1LL + K) * d->B;
    if (d->PT || d->PL || d->PB || d->PR)
        emit_zeroed_plane(E, th * tw * L);
    else
        emit_line(E, "float lp[%lld];", th * tw * L);
    const char *cg = emit_loop_open(E, "cg", d->C / L, 1);   /* a loop even of one */
    if (d->B == L)
        emit_line(E, "const float *k = %s + cg * %lld;", E->wexpr[op->packed], block);
    else
        emit_line(E, "const float *k = %s + cg / %d * %lld + cg %% %d * %d;", E->wexpr[op->packed],
                  d->B / L, block, d->B / L, L);
    emit_line(E, "const float *xi = %s;", emit_plus(E, "in", sum3(term(cg, L * (long long)d->H * d->W),
                                                              NONE, NONE, 0)));
    emit_line(E, "float *o = %s;", emit_plus(E, "out", sum3(term(cg, L * (long long)d->OH * d->OW),
                                                        NONE, NONE, 0)));
    chl_transpose_in(E, d, tw);
    emit_line(E, "{");
    E->depth++;
    emit_line(E, "const %s b = %s;", vec_type(E), vec_load(E, "k", 0));
    for (int t = 0; t < K; t++)
        emit_line(E, "const %s w%d = %s;", vec_type(E), t, vec_load(E, "k", (1LL + t) * d->B));
    chl_outputs(E, op, d, tw);
    E->depth--;
    emit_line(E, "}");
    emit_loop_close(E, cg);
}

/* A blocked conv's blocks of output channels each read its whole input:
 * with an input of 512 KB or more that no longer stays in L2 from one
 * block to the next, and comes from L3 each time (ResNet-50's stride-2
 * 1x1 downsamples read 51 MB so, at 70-80% of peak). Such a conv takes its
 * blocks in groups whose packed weights fill 256 KB at most, and inside a
 * group, row by row: for each row, every block of the group, so the row's
 * input stays in L1/L2 while the group's weights stay in L2. Returns the
 * blocks per group, or 0 for the plain order (all rows of a block). */
enum { ROWS_OUTER_INPUT_BYTES = 512 << 10, ROWS_OUTER_GROUP_BYTES = 256 << 10 };

static int rows_outer_group(const Op *op, const ConvDims *d)
{
    const int nb = (d->F + d->B - 1) / d->B;
    const long long block_bytes = 4 * packed_block_floats(d);
    if (op->variant != KV_CONV_BLOCKED || d->G > 1 || nb < 2 || d->OH < 2 ||
        4LL * d->C * d->H * d->W < ROWS_OUTER_INPUT_BYTES)
        return 0;
    int gb = (int)(ROWS_OUTER_GROUP_BYTES / block_bytes);
    gb = gb < 1 ? 1 : gb > nb ? nb : gb;
    while (nb % gb)   /* whole groups only */
        gb--;
    return gb;
}

/* A group of gb blocks, starting at block og (NULL: at block 0). */
typedef struct BlockGroup {
    const char *og;
    int gb;
} BlockGroup;

/* The row(s) of each block of the group arg. */
static void rows_of_group(Emitter *E, const Op *op, const ConvDims *d, const char *oy, int rows,
                          const void *arg)
{
    const BlockGroup *g = arg;
    emit_line(E, "for (int ob = %s; ob < %s%d; ++ob) {", g->og ? g->og : "0",
              g->og ? "og + " : "", g->gb);
    E->depth++;
    blocked_block_vars(E, op, d, "ob");
    conv_row(E, op, d, "f0", oy, rows);
    E->depth--;
    emit_line(E, "}");
}

static void conv_rows_outer(Emitter *E, const Op *op, const ConvDims *d, int gb)
{
    const int nb = (d->F + d->B - 1) / d->B;
    BlockGroup g = { NULL, gb };
    if (gb < nb) {
        emit_line(E, "for (int og = 0; og < %d; og += %d) {", nb, gb);
        E->depth++;
        g.og = "og";
    }
    row_loops(E, op, d, rows_of_group, &g);
    emit_loop_close(E, g.og);
}

/* A blocked conv whose packed weights do not stay in L2 from one run to
 * the next (512 KB or more) reads each block's weights from L3 or DRAM.
 * On a small map a block computes for too short a time for the hardware
 * prefetcher to keep up, so each block first asks for the next block's
 * weights, into L1 (measured with the weights evicted before each run,
 * Zen 5: MobileNetV2's 1x1 conv of 320 -> 1280 channels on its 7x7 map,
 * blocks of 20 KB, 256 -> 215 us; its 960 -> 320 conv, blocks of 61 KB,
 * 193 -> 165 us into L1 and 180 us into L2). */
enum { PREFETCH_WEIGHTS_BYTES = 512 << 10 };

static void block_prefetch(Emitter *E, const ConvDims *d, const char *ob)
{
    const long long size = packed_block_floats(d), nb = packed_blocks(d);
    if (!E->isa || !E->isa->guard || !ob || 4 * size * nb < PREFETCH_WEIGHTS_BYTES)
        return;
    emit_line(E, "if (%s + 1 < %lld)   /* the next block's weights */", ob, nb);
    emit_line(E, "    for (int l = 0; l < %lld; l += 16)", size);
    emit_line(E, "        __builtin_prefetch(k + %lld + l);", size);
}

static void conv_body(Emitter *E, const Op *op)
{
    const ConvDims d = conv_dims_for(E, op);
    const char *outer;
    if (d.s2d) {
        s2d_body(E, op);
        return;
    }
    if (d.chl) {
        chl_body(E, op, &d);
        return;
    }
    if (d.local)
        emit_zeroed_plane(E, (long long)d.H * d.W);
    if (d.rowptr)
        emit_line(E, "static const float zrow[%d] = { 0.0f };", d.W);
    if (op->variant == KV_CONV_ROWS) {
        outer = emit_loop_open(E, "f", d.F, 0);
        rows_channel_vars(E, op, &d, outer);
        if (d.wide) {
            emit_line(E, "float a[%d];", d.OW);
            if (d.local)
                local_copy(E, &d);
            conv_row(E, op, &d, outer, NULL, 1);
            wide_store(E, &d, outer);
            emit_loop_close(E, outer);
            return;
        }
        if (d.rowptr) {
            emit_line(E, "for (int oy = 0; oy < %d; ++oy) {", d.OH);
            E->depth++;
            rows_pointers(E, &d);
            conv_row(E, op, &d, outer, "oy", 1);
            E->depth--;
            emit_line(E, "}");
            emit_loop_close(E, outer);
            return;
        }
    } else {
        const int gb = rows_outer_group(op, &d);
        if (gb) {
            conv_rows_outer(E, op, &d, gb);
            return;
        }
        outer = emit_loop_open(E, "ob", packed_blocks(&d), 0);
        blocked_block_vars(E, op, &d, outer);
        block_prefetch(E, &d, outer);
    }
    row_loops(E, op, &d, row_of_channels, op->variant == KV_CONV_ROWS ? outer : "f0");
    emit_loop_close(E, outer);
}

/* One function per distinct tile of the row plan. */
static void conv_tiles(Emitter *E, const Op *op)
{
    const ConvDims d = conv_dims_for(E, op);
    if (d.s2d || d.chl)   /* no tile functions: s2d_body, chl_body */
        return;
    const RowPlan two = row_plan(E, op, &d, 2), one = row_plan(E, op, &d, 1);
    RowPlan p = two;   /* the tiles of both plans: pairs of rows, an odd last row */
    if (tile_rows(&two.seg[0].tile) > 1 && d.OH % 2)
        for (int i = 0; i < one.nseg; i++)
            p.seg[p.nseg++] = one.seg[i];
    for (int i = 0; i < p.nseg; i++) {
        const Tile *t = &p.seg[i].tile;
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= p.seg[j].tile.kind == t->kind && p.seg[j].tile.n == t->n &&
                    p.seg[j].tile.simd == t->simd && tile_rows(&p.seg[j].tile) == tile_rows(t);
        if (seen)
            continue;
        if (t->kind == TILE_PIXELS)
            pixel_tile(E, op, &d, t);
        else if (t->kind == TILE_ROWS)
            rows_tile(E, op, &d, t);
        else
            blocked_tile(E, op, &d, t);
    }
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
    const int simd = E->isa && E->isa->lanes > 1 && width % E->isa->lanes == 0;
    const int nv = simd ? width / E->isa->lanes : 0;
    emit_line(E, "float a[%d];", width);
    if (simd)
        for (int v = 0; v < nv; v++)
            emit_line(E, "%s s%d = %s;", vec_type(E), v, vec_load(E, "k", (long long)v * E->isa->lanes));
    else {
        emit_line(E, "for (int j = 0; j < %d; ++j)", width);
        emit_line(E, "    a[j] = k[j];");
    }
    const char *i = emit_loop_open(E, "i", N, 0);
    const int scope = scope_open(E, i, NULL);
    emit_line(E, "const float v = x[%s];", i ? i : "0");
    emit_line(E, "const float *r = %s;", emit_plus(E, "k", sum3(term(i, width), NONE, NONE, width)));
    if (simd) {
        for (int v = 0; v < nv; v++)
            emit_line(E, "s%d += %s * v;", v, vec_load(E, "r", (long long)v * E->isa->lanes));
    } else {
        emit_line(E, "for (int j = 0; j < %d; ++j)", width);
        emit_line(E, "    a[j] += r[j] * v;");
    }
    scope_close(E, scope);
    emit_loop_close(E, i);
    if (simd)
        vec_spill(E, "a", width, "s");
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
    else if (op->variant == KV_CONV_WINOGRAD)
        emit_winograd_helpers(E, op);
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
    case KV_CONV_WINOGRAD: emit_winograd_body(E, op); return 1;
    case KV_VIEW:
    case KV_GENERIC: return 0;
    }
    return 0;
}
