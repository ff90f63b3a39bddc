/* interp.c: the reference interpreter, the project's test oracle.
 *
 * Consumes a Graph (ops in topological order, shapes set, weights bound) and
 * one input tensor; produces the output tensor. Every op is one plain loop
 * nest in the TFLite-Micro reference-kernel spirit: unpack the parameters
 * into locals, then compute exactly what docs/numerics.md says, in its
 * accumulation order. The arena plan is ignored: every TR_ACT tensor gets a
 * buffer of its own, so a bug in plan.c can never hide here.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* Tensor id -> storage for one run. rd is what ops read, wr what they write
 * (NULL for the input and weights, which are never written). */
typedef struct Bufs {
    const float **rd;
    float **wr;
} Bufs;

/* A feature map [C, H, W], or a vector [N] seen as [N, 1, 1]. */
typedef struct Dims3 {
    int c, h, w;
} Dims3;

static Dims3 dims3_of(const Tensor *t)
{
    Dims3 d = { 1, 1, 1 };
    if (t->shape.rank >= 1)
        d.c = t->shape.dim[0];
    if (t->shape.rank >= 2)
        d.h = t->shape.dim[1];
    if (t->shape.rank >= 3)
        d.w = t->shape.dim[2];
    return d;
}

/* acts.def's formulas, as code. */
float act_apply(const Act *act, float x)
{
    const float A = act->alpha, B = act->beta;
    (void)A, (void)B;
    switch (act->kind) {
#define ACT(kind, name, flags, p1, d1, p2, d2, expr) \
    case kind: return expr;
#include "acts.def"
#undef ACT
    case ACT__COUNT: break;
    }
    ICE("act_apply: bad activation kind %d", (int)act->kind);
    return x;                           /* not reached; for compilers without _Noreturn */
}

/* ---- windowed ops: conv2d, maxpool, avgpool ---- */

static void run_conv(const Graph *g, const Op *op, const Bufs *b)
{
    const Tensor *ti = &g->t[op->in[0]], *to = &g->t[op->out];
    const float *x = b->rd[op->in[0]], *w = b->rd[op->w];
    const float *bias = op->b >= 0 ? b->rd[op->b] : NULL;
    float *y = b->wr[op->out];
    const Dims3 di = dims3_of(ti), dout = dims3_of(to);
    const int H = di.h, W = di.w, F = dout.c, OH = dout.h, OW = dout.w;
    const int kh = op->win.kh, kw = op->win.kw, sh = op->win.sh, sw = op->win.sw;
    const int dh = op->win.dh, dw = op->win.dw, pt = op->win.pt, pl = op->win.pl;
    const int groups = op->groups > 0 ? op->groups : 1;  /* 0: a zeroed Op, ungrouped */
    const int Cg = di.c / groups, Fg = F / groups;

    for (int f = 0; f < F; f++) {
        const int grp = f / Fg;
        for (int oy = 0; oy < OH; oy++) {
            for (int ox = 0; ox < OW; ox++) {
                float acc = bias ? bias[f] : 0.0f;
                for (int ic = 0; ic < Cg; ic++) {
                    const float *plane = x + (long long)(grp * Cg + ic) * H * W;
                    const float *k = w + ((long long)f * Cg + ic) * kh * kw;
                    for (int ky = 0; ky < kh; ky++) {
                        const int iy = oy * sh - pt + ky * dh;
                        if (iy < 0 || iy >= H)
                            continue;                   /* padding row: skipped */
                        for (int kx = 0; kx < kw; kx++) {
                            const int ix = ox * sw - pl + kx * dw;
                            if (ix < 0 || ix >= W)
                                continue;
                            acc += k[ky * kw + kx] * plane[(long long)iy * W + ix];
                        }
                    }
                }
                y[((long long)f * OH + oy) * OW + ox] = act_apply(&op->act, acc);
            }
        }
    }
}

/* One pooling window: max or sum over its real (non-padding) taps, and
 * how many there were. */
typedef struct PoolWin {
    float max, sum;
    int n;
} PoolWin;

static PoolWin pool_window(const Op *op, const float *plane, int H, int W, int oy, int ox)
{
    PoolWin p = { -INFINITY, 0.0f, 0 };
    for (int ky = 0; ky < op->win.kh; ky++) {
        const int iy = oy * op->win.sh - op->win.pt + ky * op->win.dh;
        if (iy < 0 || iy >= H)
            continue;
        for (int kx = 0; kx < op->win.kw; kx++) {
            const int ix = ox * op->win.sw - op->win.pl + kx * op->win.dw;
            if (ix < 0 || ix >= W)
                continue;
            const float v = plane[(long long)iy * W + ix];
            if (v > p.max)
                p.max = v;
            p.sum += v;
            p.n++;
        }
    }
    return p;
}

/* The value of one window: numerics.md's maxpool and avgpool rows. */
static float pool_value(const Op *op, PoolWin p)
{
    if (op->kind == OP_MAXPOOL)
        return p.n > 0 ? p.max : 0.0f;         /* no real tap: 0 */
    const int n = op->count_pad ? op->win.kh * op->win.kw : p.n;
    return n > 0 ? p.sum / (float)n : 0.0f;
}

static void run_pool(const Graph *g, const Op *op, const Bufs *b)
{
    const float *x = b->rd[op->in[0]];
    float *y = b->wr[op->out];
    const Dims3 di = dims3_of(&g->t[op->in[0]]), dout = dims3_of(&g->t[op->out]);
    const int C = di.c, H = di.h, W = di.w, OH = dout.h, OW = dout.w;

    for (int c = 0; c < C; c++) {
        const float *plane = x + (long long)c * H * W;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const float v = pool_value(op, pool_window(op, plane, H, W, oy, ox));
                y[((long long)c * OH + oy) * OW + ox] = act_apply(&op->act, v);
            }
    }
}

/* ---- the other ops ---- */

static void run_global_avgpool(const Graph *g, const Op *op, const Bufs *b)
{
    const float *x = b->rd[op->in[0]];
    float *y = b->wr[op->out];
    const Dims3 di = dims3_of(&g->t[op->in[0]]);
    const long long HW = (long long)di.h * di.w;

    for (int c = 0; c < di.c; c++) {
        float s = 0.0f;
        for (long long i = 0; i < HW; i++)
            s += x[c * HW + i];
        y[c] = act_apply(&op->act, s / (float)HW);
    }
}

/* flatten is a copy; OP_ACT is the activation itself. */
static void run_map(const Graph *g, const Op *op, const Bufs *b)
{
    const float *x = b->rd[op->in[0]];
    float *y = b->wr[op->out];
    const long long n = g->t[op->out].numel;
    for (long long i = 0; i < n; i++)
        y[i] = act_apply(&op->act, x[i]);
}

static void run_dense(const Graph *g, const Op *op, const Bufs *b)
{
    const float *x = b->rd[op->in[0]], *w = b->rd[op->w];
    const float *bias = op->b >= 0 ? b->rd[op->b] : NULL;
    float *y = b->wr[op->out];
    const long long N = g->t[op->in[0]].numel, U = g->t[op->out].numel;

    for (long long u = 0; u < U; u++) {
        float acc = bias ? bias[u] : 0.0f;
        for (long long i = 0; i < N; i++)
            acc += w[u * N + i] * x[i];
        y[u] = act_apply(&op->act, acc);
    }
}

static void run_batchnorm(const Graph *g, const Op *op, const Bufs *b)
{
    const float *x = b->rd[op->in[0]];
    const float *gamma = b->rd[op->w], *beta = b->rd[op->b];
    const float *mean = b->rd[op->mean], *var = b->rd[op->var];
    float *y = b->wr[op->out];
    const Dims3 d = dims3_of(&g->t[op->in[0]]);   /* [C] is [C, 1, 1] */
    const long long HW = (long long)d.h * d.w;

    for (int c = 0; c < d.c; c++) {
        const float scale = gamma[c] / sqrtf(var[c] + op->epsilon);
        for (long long i = 0; i < HW; i++) {
            const float v = (x[c * HW + i] - mean[c]) * scale + beta[c];
            y[c * HW + i] = act_apply(&op->act, v);
        }
    }
}

static void run_add(const Graph *g, const Op *op, const Bufs *b)
{
    float *y = b->wr[op->out];
    const long long n = g->t[op->out].numel;

    for (long long i = 0; i < n; i++) {
        float s = b->rd[op->in[0]][i] + b->rd[op->in[1]][i];
        for (int k = 2; k < op->nin; k++)
            s += b->rd[op->in[k]][i];                /* left to right */
        y[i] = act_apply(&op->act, s);
    }
}

/* Along dimension 0 of a C-major layout, concatenation is the inputs'
 * buffers one after another, for any rank. */
static void run_concat(const Graph *g, const Op *op, const Bufs *b)
{
    float *y = b->wr[op->out];
    long long at = 0;

    for (int k = 0; k < op->nin; k++) {
        const float *x = b->rd[op->in[k]];
        const long long n = g->t[op->in[k]].numel;
        for (long long i = 0; i < n; i++)
            y[at + i] = act_apply(&op->act, x[i]);
        at += n;
    }
}

/* Softmax of the n values x[0], x[stride], ... into y likewise. */
static void softmax_line(const float *x, float *y, long long n, long long stride)
{
    float m = -INFINITY, s = 0.0f;
    for (long long i = 0; i < n; i++)
        if (x[i * stride] > m)
            m = x[i * stride];
    for (long long i = 0; i < n; i++) {
        y[i * stride] = expf(x[i * stride] - m);
        s += y[i * stride];                          /* index order */
    }
    for (long long i = 0; i < n; i++)
        y[i * stride] = y[i * stride] / s;
}

/* The tensor is [outer, n, inner] around the axis, for any rank. */
static void run_softmax(const Graph *g, const Op *op, const Bufs *b)
{
    const Tensor *t = &g->t[op->in[0]];
    const float *x = b->rd[op->in[0]];
    float *y = b->wr[op->out];
    long long outer = 1, inner = 1;
    const long long n = t->shape.dim[op->axis];
    for (int i = 0; i < op->axis; i++)
        outer *= t->shape.dim[i];
    for (int i = op->axis + 1; i < t->shape.rank; i++)
        inner *= t->shape.dim[i];

    for (long long o = 0; o < outer; o++)
        for (long long j = 0; j < inner; j++)
            softmax_line(x + o * n * inner + j, y + o * n * inner + j, n, inner);
    for (long long i = 0; i < t->numel; i++)
        y[i] = act_apply(&op->act, y[i]);
}

/* Zeros around the input: pt rows on top, pl columns on the left, and so
 * on (pad.c makes these ops before convs). */
static void run_pad(const Graph *g, const Op *op, const Bufs *b)
{
    const float *x = b->rd[op->in[0]];
    float *y = b->wr[op->out];
    const Dims3 di = dims3_of(&g->t[op->in[0]]), dout = dims3_of(&g->t[op->out]);
    const int pt = op->win.pt, pl = op->win.pl;

    for (int c = 0; c < dout.c; c++)
        for (int py = 0; py < dout.h; py++)
            for (int px = 0; px < dout.w; px++) {
                const int iy = py - pt, ix = px - pl;
                const int inside = iy >= 0 && iy < di.h && ix >= 0 && ix < di.w;
                y[((long long)c * dout.h + py) * dout.w + px] =
                    inside ? x[((long long)c * di.h + iy) * di.w + ix] : 0.0f;
            }
}

typedef void RunFn(const Graph *g, const Op *op, const Bufs *b);

/* ops.def's run column. */
static RunFn *const run_fns[OP__COUNT] = {
#define OP(kind, name, nin, flags, check, keys, run, emit) [kind] = run,
#include "ops.def"
#undef OP
};

static void run_op(const Graph *g, const Op *op, const Bufs *b)
{
    if ((unsigned)op->kind >= OP__COUNT)
        ICE("interp: bad op kind %d in '%s'", (int)op->kind, op->name ? op->name : "?");
    run_fns[op->kind](g, op, b);
}

/* ---- storage ---- */

static void bufs_free(const Graph *g, Bufs *b)
{
    for (int i = 0; b->wr && i < g->nt; i++)
        if (g->t[i].role == TR_ACT)
            free(b->wr[i]);
    free(b->wr);
    free(b->rd);
}

/* Binds every tensor to its storage; -1 when out of memory. */
static int bufs_init(const Graph *g, Bufs *b, const float *input, float *output)
{
    b->rd = calloc((size_t)g->nt + 1, sizeof *b->rd);
    b->wr = calloc((size_t)g->nt + 1, sizeof *b->wr);
    if (!b->rd || !b->wr)
        return -1;
    for (int i = 0; i < g->nt; i++) {
        const Tensor *t = &g->t[i];
        switch (t->role) {
        case TR_INPUT: b->rd[i] = input; break;
        case TR_WEIGHT: b->rd[i] = t->data; break;
        case TR_OUTPUT: b->rd[i] = b->wr[i] = output; break;
        case TR_ACT:
            /* +1: malloc(0) may return NULL, which is not out of memory */
            b->wr[i] = malloc(((size_t)t->numel + 1) * sizeof(float));
            if (!b->wr[i])
                return -1;
            b->rd[i] = b->wr[i];
            break;
        }
    }
    return 0;
}

static int run_sample(const Graph *g, const float *input, float *output)
{
    Bufs b = { NULL, NULL };
    if (bufs_init(g, &b, input, output) != 0) {
        bufs_free(g, &b);
        return -1;
    }
    for (int i = 0; i < g->nops; i++)
        run_op(g, &g->ops[i], &b);
    /* A model whose output is its input, or whose output tensor was not
     * marked TR_OUTPUT, still delivers its result into output. */
    const Tensor *to = &g->t[g->output];
    if (to->role != TR_OUTPUT)
        memmove(output, b.rd[g->output], (size_t)to->numel * sizeof(float));
    bufs_free(g, &b);
    return 0;
}

long long graph_run_floats(const Graph *g, int id)
{
    return g->t[id].numel * (g->batch > 1 ? g->batch : 1);
}

/* A graph with a batch runs each of its samples, one after another. */
int interp_run(const Graph *g, const float *input, float *output)
{
    long long in = g->t[g->input].numel, out = g->t[g->output].numel;
    for (int n = 0; n < (g->batch > 1 ? g->batch : 1); n++)
        if (run_sample(g, input + n * in, output + n * out) != 0)
            return -1;
    return 0;
}
