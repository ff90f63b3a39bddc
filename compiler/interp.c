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

#include "interp.h"

Dims3 interp_dims3(const Tensor *t)
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
    const float *res = op_residual(op) >= 0 ? b->rd[op_residual(op)] : NULL;
    float *y = b->wr[op->out];
    const Dims3 di = interp_dims3(ti), dout = interp_dims3(to);
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
                const long long at = ((long long)f * OH + oy) * OW + ox;
                if (res)
                    acc = acc + res[at];   /* the fused add (fuse.c) */
                y[at] = act_apply(&op->act, acc);
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
    const Dims3 di = interp_dims3(&g->t[op->in[0]]), dout = interp_dims3(&g->t[op->out]);
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
    const Dims3 di = interp_dims3(&g->t[op->in[0]]);
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

/* With several inputs (a concat fused in: fuse.c), each holds the output
 * channels that follow the previous one's. */
static void run_batchnorm(const Graph *g, const Op *op, const Bufs *b)
{
    const float *gamma = b->rd[op->w], *beta = b->rd[op->b];
    const float *mean = b->rd[op->mean], *var = b->rd[op->var];
    float *y = b->wr[op->out];
    const Dims3 d = interp_dims3(&g->t[op->out]);   /* [C] is [C, 1, 1] */
    const long long HW = (long long)d.h * d.w;
    int c = 0;

    for (int k = 0; k < op->nin; k++) {
        const float *x = b->rd[op->in[k]];
        const int n = interp_dims3(&g->t[op->in[k]]).c;
        for (int j = 0; j < n; j++, c++) {
            const float scale = gamma[c] / sqrtf(var[c] + op->epsilon);
            for (long long i = 0; i < HW; i++) {
                const float v = (x[j * HW + i] - mean[c]) * scale + beta[c];
                y[c * HW + i] = act_apply(&op->act, v);
            }
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

/* One coordinate of pad's reflect mode: -1 -> 1, n -> n - 2 (pad < n). */
static int reflect(int i, int n)
{
    if (i < 0)
        return -i;
    if (i >= n)
        return 2 * (n - 1) - i;
    return i;
}

/* A constant around the input (pt rows on top, pl columns on the left, and
 * so on; pad.c makes zero pads before convs), or its reflection. */
static void run_pad(const Graph *g, const Op *op, const Bufs *b)
{
    const float *x = b->rd[op->in[0]];
    float *y = b->wr[op->out];
    const Dims3 di = interp_dims3(&g->t[op->in[0]]), dout = interp_dims3(&g->t[op->out]);
    const int pt = op->win.pt, pl = op->win.pl;

    for (int c = 0; c < dout.c; c++)
        for (int py = 0; py < dout.h; py++)
            for (int px = 0; px < dout.w; px++) {
                int iy = py - pt, ix = px - pl;
                if (op->mode == PAD_REFLECT)
                    iy = reflect(iy, di.h), ix = reflect(ix, di.w);
                const int inside = iy >= 0 && iy < di.h && ix >= 0 && ix < di.w;
                y[((long long)c * dout.h + py) * dout.w + px] =
                    inside ? x[((long long)c * di.h + iy) * di.w + ix] : op->value;
            }
}

/* Elements per channel of t: H*W of a map, 1 of a vector. */
static long long per_channel(const Tensor *t)
{
    return t->numel / t->shape.dim[0];
}

/* mul, sub: an operand with fewer elements than the output has one value
 * per channel. */
static void run_binary(const Graph *g, const Op *op, const Bufs *b)
{
    const Tensor *to = &g->t[op->out];
    const float *x0 = b->rd[op->in[0]], *x1 = b->rd[op->in[1]];
    const int bc0 = g->t[op->in[0]].numel < to->numel, bc1 = g->t[op->in[1]].numel < to->numel;
    const long long HW = per_channel(to);
    float *y = b->wr[op->out];

    for (long long i = 0; i < to->numel; i++) {
        const float a = bc0 ? x0[i / HW] : x0[i], c = bc1 ? x1[i / HW] : x1[i];
        y[i] = act_apply(&op->act, op->kind == OP_MUL ? a * c : a - c);
    }
}

static void run_scale(const Graph *g, const Op *op, const Bufs *b)
{
    const float *x = b->rd[op->in[0]], *w = b->rd[op->w];
    const float *bias = op->b >= 0 ? b->rd[op->b] : NULL;
    float *y = b->wr[op->out];
    const Tensor *t = &g->t[op->out];
    const long long HW = per_channel(t);

    for (int c = 0; c < t->shape.dim[0]; c++)
        for (long long i = 0; i < HW; i++) {
            const float v = x[c * HW + i] * w[c];
            y[c * HW + i] = act_apply(&op->act, bias ? v + bias[c] : v);
        }
}

static void run_shuffle(const Graph *g, const Op *op, const Bufs *b)
{
    const float *x = b->rd[op->in[0]];
    float *y = b->wr[op->out];
    const Tensor *t = &g->t[op->out];
    const int C = t->shape.dim[0], G = op->groups, per = C / G;
    const long long HW = per_channel(t);

    for (int oc = 0; oc < C; oc++) {
        const int ic = (oc % G) * per + oc / G;
        for (long long i = 0; i < HW; i++)
            y[oc * HW + i] = act_apply(&op->act, x[ic * HW + i]);
    }
}

/* Per pixel: mean and variance over the channels in channel order, then
 * each channel normalized, scaled and shifted. */
static void run_layernorm(const Graph *g, const Op *op, const Bufs *b)
{
    const float *x = b->rd[op->in[0]], *w = b->rd[op->w], *beta = b->rd[op->b];
    float *y = b->wr[op->out];
    const Tensor *t = &g->t[op->out];
    const int C = t->shape.dim[0];
    const long long HW = per_channel(t);

    for (long long p = 0; p < HW; p++) {
        float s = 0.0f, q = 0.0f;
        for (int c = 0; c < C; c++)
            s += x[c * HW + p];
        const float mean = s / (float)C;
        for (int c = 0; c < C; c++) {
            const float d = x[c * HW + p] - mean;
            q += d * d;
        }
        const float inv = 1.0f / sqrtf(q / (float)C + op->epsilon);
        for (int c = 0; c < C; c++) {
            const float v = (x[c * HW + p] - mean) * inv * w[c] + beta[c];
            y[c * HW + p] = act_apply(&op->act, v);
        }
    }
}

/* One axis of bilinear upsampling (PyTorch, align_corners=False): the
 * source coordinate (o + 0.5) / s - 0.5, at least 0, as a cell i0, the
 * next cell i1 (the last cell repeats) and the weight l of i1. */
typedef struct Lerp {
    int i0, i1;
    float l;
} Lerp;

static Lerp lerp_at(int o, int s, int n)
{
    float src = ((float)o + 0.5f) / (float)s - 0.5f;
    if (src < 0.0f)
        src = 0.0f;
    Lerp r;
    r.i0 = (int)src;
    r.i1 = r.i0 < n - 1 ? r.i0 + 1 : r.i0;
    r.l = src - (float)r.i0;
    return r;
}

static float upsample_value(const Op *op, const float *plane, int H, int W, int oy, int ox)
{
    if (op->mode == UP_NEAREST)
        return plane[(long long)(oy / op->win.sh) * W + ox / op->win.sw];
    const Lerp ly = lerp_at(oy, op->win.sh, H), lx = lerp_at(ox, op->win.sw, W);
    const float *r0 = plane + (long long)ly.i0 * W, *r1 = plane + (long long)ly.i1 * W;
    const float top = (1.0f - lx.l) * r0[lx.i0] + lx.l * r0[lx.i1];
    const float bot = (1.0f - lx.l) * r1[lx.i0] + lx.l * r1[lx.i1];
    return (1.0f - ly.l) * top + ly.l * bot;
}

static void run_upsample(const Graph *g, const Op *op, const Bufs *b)
{
    const float *x = b->rd[op->in[0]];
    float *y = b->wr[op->out];
    const Dims3 di = interp_dims3(&g->t[op->in[0]]), dout = interp_dims3(&g->t[op->out]);

    for (int c = 0; c < dout.c; c++) {
        const float *plane = x + (long long)c * di.h * di.w;
        for (int oy = 0; oy < dout.h; oy++)
            for (int ox = 0; ox < dout.w; ox++) {
                const float v = upsample_value(op, plane, di.h, di.w, oy, ox);
                y[((long long)c * dout.h + oy) * dout.w + ox] = act_apply(&op->act, v);
            }
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
        case TR_WEIGHT: b->rd[i] = t->dtype == DT_F32 ? t->data : (const float *)t->qdata; break;
        case TR_OUTPUT: b->rd[i] = b->wr[i] = output; break;
        case TR_ACT:
            /* +1: malloc(0) may return NULL, which is not out of memory */
            b->wr[i] = malloc(((size_t)t->numel + 1) * (size_t)tensor_elem_bytes(t));
            if (!b->wr[i])
                return -1;
            b->rd[i] = b->wr[i];
            break;
        }
    }
    return 0;
}

/* The observer of interp_run_observed, or none. */
typedef struct Observer {
    InterpObserve *fn;
    void *user;
} Observer;

static int run_sample(const Graph *g, const float *input, float *output, const Observer *obs)
{
    Bufs b = { NULL, NULL };
    if (bufs_init(g, &b, input, output) != 0) {
        bufs_free(g, &b);
        return -1;
    }
    if (obs->fn)
        obs->fn(obs->user, g->input, input);
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        run_op(g, op, &b);
        if (obs->fn && g->t[op->out].dtype == DT_F32)
            obs->fn(obs->user, op->out, b.rd[op->out]);
    }
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
int interp_run_observed(const Graph *g, const float *input, float *output, InterpObserve *fn,
                        void *user)
{
    const Observer obs = { fn, user };
    long long in = g->t[g->input].numel, out = g->t[g->output].numel;
    for (int n = 0; n < (g->batch > 1 ? g->batch : 1); n++)
        if (run_sample(g, input + n * in, output + n * out, &obs) != 0)
            return -1;
    return 0;
}

int interp_run(const Graph *g, const float *input, float *output)
{
    return interp_run_observed(g, input, output, NULL, NULL);
}
