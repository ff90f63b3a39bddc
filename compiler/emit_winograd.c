/* emit_winograd.c: KV_CONV_WINOGRAD, a 3x3 stride-1 conv as Winograd
 * F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2015): each 2x2 block of outputs ("tile") of an output channel
 * f is A^T [sum over c of U[f][c] * V[c]] A, where V = B^T d B is the
 * tile's 4x4 input window d of channel c transformed and U = G g G^T the
 * 3x3 kernel transformed (pack.c, at compile time): 16 multiply-adds per
 * tile and channel pair instead of 36.
 *
 * The op's function takes its input (explicitly padded by pad.c) one row
 * of tiles at a time and writes the 16 transformed values of every tile and
 * channel into its work tensor (plan.c gives it arena space while the op
 * runs): V[xi][c][tile], the tiles of a row side by side. For each block of
 * B output channels, a tile function then runs the 16 sums over c, for R
 * tiles at once with the channels in the vector lanes (xi by xi: R x B/L
 * accumulators, like KV_CONV_BLOCKED's tile), keeps the 16 x R results in a
 * local array and transforms them back to 2x2 outputs per tile: bias,
 * residual and activation applied there.
 *
 * Loop order: when the work tensor holds one row of tiles (pack.c decides:
 * the layer's transformed weights are small), rows of tiles outside,
 * blocks inside; else the whole map is transformed first and each block's
 * weights are read once, from L2, for all the tiles.
 *
 * Not bit for bit the direct sum (docs/numerics.md): the transforms round.
 */
#include "backend.h"

typedef struct Wino {
    int C, H, W, F, OH, OW;  /* H, W: the padded input, 2 * TY + 2, 2 * T + 2 */
    int T, TY;               /* tiles in a row, rows of tiles */
    int TT;                  /* tiles the work tensor holds per (xi, c) */
    int B, nb;               /* output channels per block, blocks */
    int L, R;                /* lanes of a vector; tiles of a tile function, at most */
    int big, nbig, small;    /* the TT tiles of a pass in groups of equal size:
                                nbig of big tiles, then groups of small */
} Wino;

static Wino wino_dims(const Emitter *E, const Op *op)
{
    const Graph *g = E->g;
    const Shape *is = &g->t[op->in[0]].shape, *os = &g->t[op->out].shape;
    Wino w;
    w.C = is->dim[0], w.H = is->dim[1], w.W = is->dim[2];
    w.F = os->dim[0], w.OH = os->dim[1], w.OW = os->dim[2];
    w.T = (w.OW + 1) / 2, w.TY = (w.OH + 1) / 2;   /* odd: the last tiles hang over */
    w.B = g->t[op->packed].shape.dim[2];
    w.nb = (w.F + w.B - 1) / w.B;
    w.TT = (int)(g->t[op->work - 1].numel / (16LL * w.C));
    const int simd = E->isa && E->isa->lanes > 1 && w.B % E->isa->lanes == 0;
    w.L = simd ? E->isa->lanes : 1;
    w.R = simd ? E->isa->blocked_px : 4;
    const int groups = (w.TT + w.R - 1) / w.R;
    w.small = w.TT / groups;
    w.nbig = w.TT % groups;
    w.big = w.small + (w.nbig > 0);
    return w;
}

/* ---- the input transform: V = B^T d B for L tiles at once ---- */

/* d: rows p0..p3 at column 2t; V[xi] stored at q + xi * C * TT. B^T is
 * [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. */
static void tin_tiles(Emitter *E, const Wino *w, int L)
{
    const char *vt = vec_type_n(E, L);
    emit_line(E, "{");
    E->depth++;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            emit_line(E, "const %s d%d%d = %s;", vt, a, b,
                      vec_load_strided_n(E, L, arena_printf(E->ctx->arena, "p%d", a), b, 2));
    for (int b = 0; b < 4; b++) {
        emit_line(E, "const %s e0%d = d0%d - d2%d;", vt, b, b, b);
        emit_line(E, "const %s e1%d = d1%d + d2%d;", vt, b, b, b);
        emit_line(E, "const %s e2%d = d2%d - d1%d;", vt, b, b, b);
        emit_line(E, "const %s e3%d = d1%d - d3%d;", vt, b, b, b);
    }
    static const char *const col[4] = { "e%d0 - e%d2", "e%d1 + e%d2", "e%d2 - e%d1",
                                        "e%d1 - e%d3" };
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) {
            const char *v = arena_printf(E->ctx->arena, col[b], a, a);
            const long long at = (long long)(4 * a + b) * w->C * w->TT;
            if (L == 1)
                emit_line(E, "q[%lld] = %s;", at, v);
            else
                emit_line(E, "*(%s *)(q + %lld) = %s;", vt, at, v);
        }
    E->depth--;
    emit_line(E, "}");
}

static void emit_tin(Emitter *E, const Op *op, const Wino *w)
{
    static const char *const decl[2] = { "const float *restrict x", "float *restrict v" };
    static const char *const comment[2] = { "the row of tiles' first input row",
                                            "V[0][0][its first tile]" };
    tile_open_n(E, tile_name(E, op, "tin", w->L), 2, decl, comment);
    emit_line(E, "for (int c = 0; c < %d; ++c) {", w->C);
    E->depth++;
    for (int a = 0; a < 4; a++)
        emit_line(E, "const float *p%d = x + c * %lld + %d;", a, (long long)w->H * w->W, a * w->W);
    emit_line(E, "float *q = v + c * %d;", w->TT);
    emit_line(E, "int t = 0;");
    /* n tiles at once while n < T (a vector of n reads 2n floats from
     * column 2t + 3: t + n < T), then narrower vectors: a short row
     * (ResNet-50's layer3: 7 tiles) is not left to the scalar loop. */
    for (int n = w->L; n >= VEC_MIN_LANES; n /= 2) {
        if (n >= w->T)
            continue;
        emit_line(E, "for (; t + %d < %d; t += %d) {", n, w->T, n);
        E->depth++;
        tin_tiles(E, w, n);
        for (int a = 0; a < 4; a++)
            emit_line(E, "p%d += %d;", a, 2 * n);
        emit_line(E, "q += %d;", n);
        E->depth--;
        emit_line(E, "}");
    }
    emit_line(E, "for (; t < %d; ++t) {", w->T);
    E->depth++;
    tin_tiles(E, w, 1);
    for (int a = 0; a < 4; a++)
        emit_line(E, "p%d += 2;", a);
    emit_line(E, "q += 1;");
    E->depth--;
    emit_line(E, "}");
    E->depth--;
    emit_line(E, "}");
    tile_close(E);
}

/* ---- a tile function: R tiles x a block of B output channels ---- */

/* m[xi][r][B] = sum over c of V[xi][c][r] * U[xi][c][B], xi by xi. */
static void tile_sums(Emitter *E, const Wino *w, int R)
{
    const int NV = w->B / w->L;
    const char *vt = vec_type_n(E, w->L);
    emit_line(E, "for (int xi = 0; xi < 16; ++xi) {");
    E->depth++;
    emit_line(E, "const float *vx = v + xi * %lld;", (long long)w->C * w->TT);
    emit_line(E, "const float *kx = k + %d + xi * %lld;", w->B, (long long)w->C * w->B);
    for (int r = 0; r < R; r++)
        for (int u = 0; u < NV; u++)
            emit_line(E, "%s s%d_%d = %s;", vt, r, u, vec_splat_n(E, w->L, "0.0f"));
    emit_line(E, "for (int c = 0; c < %d; ++c) {", w->C);
    E->depth++;
    for (int u = 0; u < NV; u++)
        emit_line(E, "const %s w%d = %s;", vt, u, vec_load_n(E, w->L, "kx", (long long)u * w->L));
    for (int r = 0; r < R; r++)
        emit_line(E, "const float x%d = vx[%d];", r, r);
    for (int r = 0; r < R; r++)
        for (int u = 0; u < NV; u++)
            emit_line(E, "s%d_%d += w%d * x%d;", r, u, u, r);
    emit_line(E, "kx += %d;", w->B);
    emit_line(E, "vx += %d;", w->TT);
    E->depth--;
    emit_line(E, "}");
    for (int r = 0; r < R; r++)
        for (int u = 0; u < NV; u++) {
            const long long at = (long long)r * w->B + u * w->L;
            if (w->L == 1)
                emit_line(E, "m[xi * %d + %lld] = s%d_%d;", R * w->B, at, r, u);
            else
                emit_line(E, "*(%s *)(m + xi * %d + %lld) = s%d_%d;", vt, R * w->B, at, r, u);
        }
    E->depth--;
    emit_line(E, "}");
}

/* Per tile r: Y = A^T M A + bias, A^T = [1 1 1 0; 0 1 -1 -1], vector by
 * vector over the block; then each channel's 2x2 outputs, at tile t0 + r
 * of the map (row by row); for an odd size, the last column's or row's
 * tiles store only the outputs inside the map. */
static void tile_outputs(Emitter *E, const Op *op, const Wino *w, int R)
{
    const int NV = w->B / w->L;
    const char *vt = vec_type_n(E, w->L);
    static const char *const y[4] = {
        "bias + t0_0 + t0_1 + t0_2", "bias + t0_1 - t0_2 - t0_3",
        "bias + t1_0 + t1_1 + t1_2", "bias + t1_1 - t1_2 - t1_3",
    };
    emit_line(E, "for (int r = 0; r < %d; ++r) {", R);
    E->depth++;
    const int odd_x = w->OW % 2, odd_y = w->OH % 2;
    if (odd_x)
        emit_line(E, "const int wide = (t0 + r) %% %d != %d;", w->T, w->T - 1);
    if (odd_y)
        emit_line(E, "const int tall = (t0 + r) / %d != %d;", w->T, w->TY - 1);
    emit_line(E, "float y[4][%d];", w->B);
    emit_line(E, "for (int u = 0; u < %d; ++u) {", NV);
    E->depth++;
    emit_line(E, "const float *mr = m + r * %d + u * %d;", w->B, w->L);
    for (int xi = 0; xi < 16; xi++)
        emit_line(E, "const %s m%d = %s;", vt, xi,
                  vec_load_n(E, w->L, "mr", (long long)xi * R * w->B));
    for (int j = 0; j < 4; j++) {
        emit_line(E, "const %s t0_%d = m%d + m%d + m%d;", vt, j, j, 4 + j, 8 + j);
        emit_line(E, "const %s t1_%d = m%d - m%d - m%d;", vt, j, 4 + j, 8 + j, 12 + j);
    }
    emit_line(E, "const %s bias = %s;", vt,
              w->L == 1 ? "k[u]" : arena_printf(E->ctx->arena, "*(const %s *)(k + u * %d)", vt, w->L));
    for (int i = 0; i < 4; i++)
        if (w->L == 1)
            emit_line(E, "y[%d][u] = %s;", i, y[i]);
        else
            emit_line(E, "*(%s *)(y[%d] + u * %d) = %s;", vt, i, w->L, y[i]);
    E->depth--;
    emit_line(E, "}");
    emit_line(E, "for (int j = 0; j < nj; ++j) {");
    E->depth++;
    emit_line(E, "float *oj = o + j * %lld + (t0 + r) / %d * %d + (t0 + r) %% %d * 2;",
              (long long)w->OH * w->OW, w->T, 2 * w->OW, w->T);
    static const char *const at[4] = { "oj[0]", "oj[1]", "oj[%d]", "oj[%d]" };
    for (int i = 0; i < 4; i++) {
        const int right = i % 2 && odd_x, below = i >= 2 && odd_y;
        if (right || below)
            emit_line(E, "if (%s%s%s) {", below ? "tall" : "", right && below ? " && " : "",
                      right ? "wide" : "");
        E->depth += right || below;
        const char *dst = arena_printf(E->ctx->arena, at[i], w->OW + (i == 3));
        emit_store(E, dst, &op->act, arena_printf(E->ctx->arena, "y[%d][j]", i));
        E->depth -= right || below;
        if (right || below)
            emit_line(E, "}");
    }
    E->depth--;
    emit_line(E, "}");
    E->depth--;
    emit_line(E, "}");
}

static void emit_tile(Emitter *E, const Op *op, const Wino *w, int R)
{
    static const char *const decl[5] = { "const float *restrict v", "const float *restrict k",
                                         "float *restrict o", "int t0", "int nj" };
    static const char *const comment[5] = { "the group's first transformed tile",
                                            "the block's biases, then its 16 x C x 16 weights",
                                            "the block's first output",
                                            "the group's first tile in the map",
                                            "output channels in the block" };
    tile_open_n(E, tile_name(E, op, "tile", R), 5, decl, comment);
    emit_line(E, "float m[%d];", 16 * R * w->B);
    tile_sums(E, w, R);
    tile_outputs(E, op, w, R);
    tile_close(E);
}

void emit_winograd_helpers(Emitter *E, const Op *op)
{
    const Wino w = wino_dims(E, op);
    emit_tin(E, op, &w);
    if (w.nbig)
        emit_tile(E, op, &w, w.big);
    emit_tile(E, op, &w, w.small);
}

/* ---- the op's function ---- */

/* The tile calls of one pass for block ob: o its first output, vr the
 * pass's first tile in the work tensor, tb its index in the map. */
static void pass_tiles(Emitter *E, const Op *op, const Wino *w, const char *tb)
{
    const char *big = tile_name(E, op, "tile", w->big);
    const char *small = tile_name(E, op, "tile", w->small);
    emit_line(E, "int t0 = 0;");
    if (w->nbig) {
        emit_line(E, "for (; t0 < %d; t0 += %d)", w->nbig * w->big, w->big);
        emit_line(E, "    %s(vr + t0, k, o, %st0, nj);", big, tb);
    }
    emit_line(E, "for (; t0 < %d; t0 += %d)", w->TT, w->small);
    emit_line(E, "    %s(vr + t0, k, o, %st0, nj);", small, tb);
}

static void block_vars(Emitter *E, const Wino *w, const char *packed)
{
    emit_line(E, "const float *k = %s + ob * %lld;", packed, (long long)(1 + 16 * w->C) * w->B);
    if (w->F % w->B)
        emit_line(E, "const int nj = ob < %d ? %d : %d;", w->nb - 1, w->B, w->F - (w->nb - 1) * w->B);
    else
        emit_line(E, "const int nj = %d;", w->B);
}

void emit_winograd_body(Emitter *E, const Op *op)
{
    const Wino w = wino_dims(E, op);
    const char *packed = E->wexpr[op->packed], *tin = tile_name(E, op, "tin", w.L);
    const long long rowin = 2LL * w.W, plane = (long long)w.OH * w.OW;
    if (w.TT == w.T) {   /* rows of tiles outside */
        emit_line(E, "for (int ty = 0; ty < %d; ++ty) {", w.TY);
        E->depth++;
        emit_line(E, "%s(in + ty * %lld, work);", tin, rowin);
        emit_line(E, "for (int ob = 0; ob < %d; ++ob) {", w.nb);
        E->depth++;
        block_vars(E, &w, packed);
        emit_line(E, "float *o = out + ob * %lld;", w.B * plane);
        emit_line(E, "const float *vr = work;");
        pass_tiles(E, op, &w, arena_printf(E->ctx->arena, "ty * %d + ", w.T));
        E->depth--;
        emit_line(E, "}");
    } else {             /* the whole map first, then block by block */
        emit_line(E, "for (int ty = 0; ty < %d; ++ty)", w.TY);
        emit_line(E, "    %s(in + ty * %lld, work + ty * %d);", tin, rowin, w.T);
        emit_line(E, "for (int ob = 0; ob < %d; ++ob) {", w.nb);
        E->depth++;
        block_vars(E, &w, packed);
        emit_line(E, "float *o = out + ob * %lld;", w.B * plane);
        emit_line(E, "const float *vr = work;");
        pass_tiles(E, op, &w, "");
    }
    E->depth--;
    emit_line(E, "}");
}
