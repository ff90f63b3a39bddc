/* quantize.c: pass: post-training static quantization to int8, in the
 * scheme of TFLite Micro and CMSIS-NN (docs/quantization.md).
 *
 * Consumes a fused float graph (batchnorms folded) and g->quant, the
 * calibration samples; produces the same graph with int8 ops wherever an op
 * has an int8 form: conv2d and dense (int8 weights symmetric per output
 * channel, int32 biases, a Q31 multiplier and shift per channel), the
 * pools, global_avgpool and mean, add and concat (rescaling their inputs),
 * flatten, and relu / relu6 / clip, fused or not, as clamps. Activations
 * are int8 per tensor, with scale and zero point from calibrate.c's ranges.
 * Every other op stays float between a dequantize and a quantize op, so
 * the interpreter and the emitted C run exactly the same ops.
 *
 * A quantized ONNX file brings its own scales (g->quant->params, by
 * tensor name: onnx/qdq.c): they take precedence over calibrated ranges.
 * Without calibration an op is int8 only where the file gives every
 * scale it needs; the rest stays float, as the file has it. The input
 * is always quantized first (op 0) and an int8 result dequantized last:
 * the int8 entry point runs what lies between.
 *
 *   requires: topological order, no dead ops; activations fused and
 *             batchnorms folded (pass.c runs both even with -O0)
 *   provides: int8 ops (g->quantized)
 *   breaks:   the arena plan
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "passes.h"

enum {
    MAX_TAPS = (1 << 30) / (127 * 255),  /* int32 accumulators cannot overflow */
    MAX_ADD_INPUTS = 8,                  /* qadd's int32 sum cannot overflow */
    ADD_LEFT_SHIFT = 20,                 /* TFLite's add */
};

typedef struct Quant {
    Ctx *ctx;
    Graph *g;
    const float *lo, *hi; /* calibrated range of each original tensor */
    int calibrated;       /* lo, hi hold ranges (else only the file's scales) */
    const QuantParam **qp;/* per original tensor: the file's scales, or NULL */
    int nt;               /* original tensors */
    int *qimg, *fimg;     /* per tensor: its int8 / float image, -1: none yet */
    size_t cap;           /* of qimg and fimg */
} Quant;

/* ---- scales, zero points, multipliers (all computed here, once) ---- */

/* TFLite's ChooseQuantizationParams for [-128, 127]: the range (which
 * includes 0) over 255 steps, the zero point nudged onto an integer. */
static void choose_params(float lo, float hi, float *scale, int *zero)
{
    const double rmin = lo < 0.0f ? lo : 0.0, rmax = hi > 0.0f ? hi : 0.0;
    if (!(rmax - rmin > 0.0) || !isfinite(rmax - rmin)) {
        *scale = 1.0f;
        *zero = 0;
        return;
    }
    const double s = (rmax - rmin) / 255.0;
    const double from_min = -128.0 - rmin / s, from_max = 127.0 - rmax / s;
    const double z = 128.0 + fabs(rmin / s) < 127.0 + fabs(rmax / s) ? from_min : from_max;
    *scale = (float)s;
    *zero = z < -128.0 ? -128 : z > 127.0 ? 127 : (int)lround(z);
}

/* Tensor t's scale and zero point: the file's, else from its calibrated
 * range; 0 when it has neither. t is an original tensor, or an int8 one. */
static int known_params(const Quant *q, int t, float *scale, int *zero)
{
    const Tensor *ten = &q->g->t[t];
    if (ten->dtype == DT_I8) {
        *scale = ten->qscale, *zero = ten->qzero;
        return 1;
    }
    if (t < q->nt && q->qp[t]) {
        *scale = q->qp[t]->scale[0], *zero = q->qp[t]->zero;
        return 1;
    }
    if (t < q->nt && q->calibrated) {
        choose_params(q->lo[t], q->hi[t], scale, zero);
        return 1;
    }
    return 0;
}

/* real = m * 2^s / 2^31 with m in [2^30, 2^31): TFLite's QuantizeMultiplier;
 * a multiplier past 2^30 saturates. */
static void quantize_multiplier(double real, int32_t *m, int32_t *s)
{
    int e = 0;
    if (!(real > 0.0)) {
        *m = 0, *s = 0;
        return;
    }
    if (!isfinite(real))
        real = 0x1p30;   /* saturates below */
    const double f = frexp(real, &e);
    long long q = llround(f * 2147483648.0);
    if (q == 2147483648LL)
        q /= 2, e++;
    if (e < -31)
        q = 0, e = 0;
    if (e > 30)
        q = 2147483647LL, e = 30;
    *m = (int32_t)q;
    *s = e;
}

static int8_t clamp_i8(double v, int lo, int hi)
{
    return (int8_t)(v < lo ? lo : v > hi ? hi : lround(v));
}

/* The output's clamp for a fused relu, relu6 or clip (none: all of int8). */
static void act_clamp(const Act *a, float scale, int zero, int *lo, int *hi)
{
    float rlo = -INFINITY, rhi = INFINITY;
    if (a->kind == ACT_RELU || a->kind == ACT_RELU6)
        rlo = 0.0f;
    if (a->kind == ACT_RELU6)
        rhi = 6.0f;
    if (a->kind == ACT_CLIP)
        rlo = a->alpha, rhi = a->beta;
    *lo = rlo == -INFINITY ? -128 : clamp_i8(zero + (double)rlo / scale, -128, 127);
    *hi = rhi == INFINITY ? 127 : clamp_i8(zero + (double)rhi / scale, -128, 127);
}

static int clamp_act(ActKind k)
{
    return k == ACT_NONE || k == ACT_RELU || k == ACT_RELU6 || k == ACT_CLIP;
}

/* ---- which ops have an int8 form ---- */

/* Multiply-adds per output of a conv2d or dense. */
static long long op_taps(const Graph *g, const Op *op)
{
    if (op->kind == OP_DENSE)
        return g->t[op->in[0]].numel;
    const int groups = op->groups > 0 ? op->groups : 1;
    return (long long)g->t[op->in[0]].shape.dim[0] / groups * op->win.kh * op->win.kw;
}

static int has_int8_form(const Graph *g, const Op *op)
{
    switch (op->kind) {
    case OP_CONV:
    case OP_DENSE:
        return clamp_act(op->act.kind) && g->t[op->w].data && op_taps(g, op) <= MAX_TAPS;
    case OP_ADD: return clamp_act(op->act.kind) && op->nin <= MAX_ADD_INPUTS;
    case OP_MAXPOOL:
    case OP_AVGPOOL:
    case OP_GLOBAL_AVGPOOL:
    case OP_MEAN:
    case OP_CONCAT:
    case OP_FLATTEN: return clamp_act(op->act.kind);
    case OP_ACT: return op->act.kind != ACT_NONE && clamp_act(op->act.kind);
    default: return 0;
    }
}

/* ---- images: quantize and dequantize ops ---- */

static int new_tensor(Quant *q, int like, const char *suffix, DType dt)
{
    Graph *g = q->g;
    const char *name = arena_printf(q->ctx->arena, "%s%s", g->t[like].name ? g->t[like].name : "t", suffix);
    int id = graph_add_tensor(q->ctx, g, name, TR_ACT, g->t[like].shape);
    g->t[id].dtype = dt;
    if ((size_t)id >= q->cap)
        ICE("quantize: tensor %d past the %zu planned", id, q->cap);
    return id;
}

/* A conversion op at index *at (the reader moves on by one). */
static void insert_convert(Quant *q, int *at, OpKind kind, int in, int out)
{
    Op *op = graph_insert_op(q->ctx, q->g, *at, kind);
    op->name = q->g->t[out].name;
    op->in = arena_alloc(q->ctx->arena, sizeof *op->in);
    op->in[0] = in;
    op->nin = 1;
    op->out = out;
    op->loc = *at + 1 < q->g->nops ? q->g->ops[*at + 1].loc : op->loc;
    q->g->t[out].producer = *at;
    (*at)++;
}

/* The int8 image of tensor t (itself if it is int8), made before op *at. */
static int int8_of(Quant *q, int t, int *at)
{
    Graph *g = q->g;
    if (g->t[t].dtype == DT_I8)
        return t;
    if (q->qimg[t] < 0) {
        int id = new_tensor(q, t, ".q", DT_I8);
        if (!known_params(q, t, &g->t[id].qscale, &g->t[id].qzero))
            diag_file_error(q->ctx, g->path, "--quantize: the input '%s' has no scale: the file does not "
                            "quantize it; give --quantize int8 --calibrate CAL.npy", g->t[t].name);
        insert_convert(q, at, OP_QUANTIZE, t, id);
        q->qimg[t] = id;
    }
    return q->qimg[t];
}

/* The float image of tensor t (itself if it is float but the input, which
 * float ops read through its int8 image), made before op *at. */
static int float_of(Quant *q, int t, int *at)
{
    Graph *g = q->g;
    if (t == g->input)
        return float_of(q, q->qimg[t], at);
    if (g->t[t].dtype != DT_I8)
        return t;
    if (q->fimg[t] < 0) {
        int id = new_tensor(q, t, ".f", DT_F32);
        insert_convert(q, at, OP_DEQUANTIZE, t, id);
        q->fimg[t] = id;
    }
    return q->fimg[t];
}

/* ---- weights ---- */

static int add_i32(Quant *q, const char *name, int n, int32_t **data)
{
    Shape s = { 1, { n, 0, 0, 0 } };
    int id = graph_add_tensor(q->ctx, q->g, name, TR_WEIGHT, s);
    *data = arena_alloc(q->ctx->arena, sizeof **data * (size_t)(n ? n : 1));
    q->g->t[id].dtype = DT_I32;
    q->g->t[id].qdata = *data;
    return id;
}

/* conv2d, dense: w per output channel c: scale max|w| / 127, values
 * round(w / scale); bias round(b / (s_in * scale)); multiplier
 * s_in * scale / s_out. */
/* The file's weight scale of channel f, or 0 (none); the values must be
 * the file's int8 values times it. */
static float file_wscale(Quant *q, const Op *op, int f)
{
    const QuantParam *p = op->w < q->nt ? q->qp[op->w] : NULL;
    const Tensor *w = &q->g->t[op->w];
    if (!p || p->nscale != w->shape.dim[0])
        return 0.0f;
    const long long per = w->numel / w->shape.dim[0];
    for (long long i = 0; i < per; i++) {
        const double v = (double)w->data[f * per + i] / p->scale[f];
        if (!(fabs(v - round(v)) < 0.01 && v > -128.5 && v < 127.5)) {
            diag_file_error(q->ctx, q->g->path, "%s: weight '%s' value %lld is not an int8 value times the "
                            "file's scale %g (a batchnorm folded into quantized weights?)", p->node, w->name,
                            f * per + i, (double)p->scale[f]);
            return 0.0f;
        }
    }
    return p->scale[f];
}

/* The file's bias scale must be s_in * the weight's (an int32 bias). */
static void check_bias_scale(Quant *q, const Op *op, int f, double acc_scale)
{
    const QuantParam *p = op->b >= 0 && op->b < q->nt ? q->qp[op->b] : NULL;
    if (p && f < p->nscale && fabs(p->scale[f] - acc_scale) > 1e-5 * acc_scale)
        diag_file_error(q->ctx, q->g->path, "%s: bias '%s' channel %d has scale %g, not input scale * weight "
                        "scale = %g: cnnc's int32 bias has the accumulator's scale", p->node,
                        q->g->t[op->b].name, f, (double)p->scale[f], acc_scale);
}

static void quantize_weights(Quant *q, Op *op, float s_in, float s_out)
{
    Graph *g = q->g;
    Arena *a = q->ctx->arena;
    const Tensor *w = &g->t[op->w];
    const int orig_w = op->w;
    const int F = w->shape.dim[0];
    const long long per = w->numel / F;
    const float *b = op->b >= 0 ? g->t[op->b].data : NULL;
    int8_t *wq = arena_alloc(a, (size_t)w->numel);
    float *ws = arena_alloc(a, sizeof *ws * (size_t)F);
    int32_t *bq = NULL, *m, *sh;
    int wid = graph_add_tensor(q->ctx, g, arena_printf(a, "%s.weight_q", op->name), TR_WEIGHT, w->shape);
    int bid = b ? add_i32(q, arena_printf(a, "%s.bias_q", op->name), F, &bq) : -1;
    op->mean = add_i32(q, arena_printf(a, "%s.multiplier", op->name), F, &m);
    op->var = add_i32(q, arena_printf(a, "%s.shift", op->name), F, &sh);
    w = &g->t[op->w];
    for (int f = 0; f < F; f++) {
        const Op file_op = { .w = orig_w, .b = op->b };
        const float fs = file_wscale(q, &file_op, f);
        float mx = 0.0f;
        for (long long i = 0; i < per; i++)
            mx = fabsf(w->data[f * per + i]) > mx ? fabsf(w->data[f * per + i]) : mx;
        ws[f] = fs > 0.0f ? fs : mx > 0.0f ? mx / 127.0f : 1.0f;
        for (long long i = 0; i < per; i++)
            wq[f * per + i] = clamp_i8((double)w->data[f * per + i] / ws[f], fs > 0.0f ? -128 : -127, 127);
        const double acc_scale = (double)s_in * ws[f];
        if (fs > 0.0f)
            check_bias_scale(q, &file_op, f, acc_scale);
        if (bq) {
            double v = round((double)b[f] / acc_scale);
            bq[f] = (int32_t)(v < -(1 << 30) ? -(1 << 30) : v > (1 << 30) ? (1 << 30) : v);
        }
        quantize_multiplier(acc_scale / s_out, &m[f], &sh[f]);
    }
    g->t[wid].dtype = DT_I8;
    g->t[wid].qdata = wq;
    g->t[wid].wscale = ws;
    op->w = wid;
    op->b = bid;
}

/* add: each input's scale over twice the largest, then the sum's
 * 2 * largest / (2^20 * s_out); concat: each input's scale over s_out. */
static void rescale_inputs(Quant *q, Op *op, float s_out)
{
    Graph *g = q->g;
    Arena *a = q->ctx->arena;
    int32_t *m, *s;
    const int n = op->nin + (op->kind == OP_ADD);
    op->mean = add_i32(q, arena_printf(a, "%s.multiplier", op->name), n, &m);
    op->var = add_i32(q, arena_printf(a, "%s.shift", op->name), n, &s);
    double twice = 0.0;
    for (int k = 0; k < op->nin; k++)
        twice = 2.0 * g->t[op->in[k]].qscale > twice ? 2.0 * g->t[op->in[k]].qscale : twice;
    const double base = op->kind == OP_ADD ? twice : s_out;
    for (int k = 0; k < op->nin; k++)
        quantize_multiplier(g->t[op->in[k]].qscale / base, &m[k], &s[k]);
    if (op->kind == OP_ADD)
        quantize_multiplier(twice / ((double)(1 << ADD_LEFT_SHIFT) * s_out), &m[op->nin], &s[op->nin]);
}

/* ---- the rewrite ---- */

static OpKind int8_kind(OpKind k)
{
    switch (k) {
    case OP_CONV: return OP_QCONV;
    case OP_DENSE: return OP_QDENSE;
    case OP_MAXPOOL: return OP_QMAXPOOL;
    case OP_AVGPOOL: return OP_QAVGPOOL;
    case OP_GLOBAL_AVGPOOL:
    case OP_MEAN: return OP_QGAP;
    case OP_ADD: return OP_QADD;
    case OP_CONCAT: return OP_QCONCAT;
    case OP_FLATTEN: return OP_QFLATTEN;
    default: return OP_QCLAMP;
    }
}

/* Ops whose output keeps the input's scale and zero point. */
static int passes_params(OpKind k)
{
    return k != OP_CONV && k != OP_DENSE && k != OP_ADD && k != OP_CONCAT;
}

/* Op *at becomes its int8 form; *at moves past the ops put before it. */
static void to_int8(Quant *q, int *at)
{
    Graph *g = q->g;
    for (int k = 0; k < g->ops[*at].nin; k++) {
        int t = int8_of(q, g->ops[*at].in[k], at);
        g->ops[*at].in[k] = t;
    }
    Op *op = &g->ops[*at];
    const int orig = op->out;
    if (orig == g->output) {   /* the int8 result, dequantized at the end */
        op->out = new_tensor(q, orig, ".q", DT_I8);
        g->t[op->out].pinned = 1;
        g->t[op->out].producer = *at;
    }
    Tensor *to = &g->t[op->out];
    if (passes_params(op->kind))
        to->qscale = g->t[op->in[0]].qscale, to->qzero = g->t[op->in[0]].qzero;
    else if (!known_params(q, orig, &to->qscale, &to->qzero))
        ICE("quantize: tensor %d has no scale", orig);
    to->dtype = DT_I8;   /* after: known_params reads an int8 tensor's own */
    const float s_out = to->qscale;     /* to moves when weights are added */
    const int z_out = to->qzero;
    if (op->kind == OP_CONV || op->kind == OP_DENSE)
        quantize_weights(q, op, g->t[op->in[0]].qscale, s_out);
    else if (op->kind == OP_ADD || op->kind == OP_CONCAT)
        rescale_inputs(q, op, s_out);
    act_clamp(&op->act, s_out, z_out, &op->qlo, &op->qhi);
    op->kind = int8_kind(op->kind);
}

static void to_float(Quant *q, int *at)
{
    for (int k = 0; k < q->g->ops[*at].nin; k++) {
        int t = float_of(q, q->g->ops[*at].in[k], at);
        q->g->ops[*at].in[k] = t;
    }
}

/* Whether op can be int8 here: it has an int8 form, every input has a
 * scale and so has its output; one that keeps its input's scale stays
 * float where the file gives its output another. */
static int goes_int8(const Quant *q, const Op *op)
{
    float s, s0 = 0.0f;
    int z, z0 = 0;
    if (!has_int8_form(q->g, op))
        return 0;
    for (int k = 0; k < op->nin; k++)
        if (!known_params(q, op->in[k], k ? &s : &s0, k ? &z : &z0))
            return 0;
    if (!passes_params(op->kind))
        return known_params(q, op->out, &s, &z);
    const QuantParam *p = op->out < q->nt ? q->qp[op->out] : NULL;
    return !p || (p->scale[0] == s0 && p->zero == z0);
}

/* The input's int8 image first; the int8 result's float image last. */
static void rewrite(Quant *q)
{
    Graph *g = q->g;
    int at = 0;
    int qin = int8_of(q, g->input, &at);
    g->t[qin].pinned = 1;
    for (; at < g->nops; at++) {
        if (q->ctx->nerrors)
            return;
        if (goes_int8(q, &g->ops[at]))
            to_int8(q, &at);
        else
            to_float(q, &at);
    }
    const Op *last = &g->ops[g->nops - 1];
    if (last->out != g->output) {       /* to_int8 redirected it */
        Op *dq = graph_add_op(q->ctx, g, OP_DEQUANTIZE);
        dq->name = g->t[g->output].name;
        dq->loc = g->ops[g->nops - 2].loc;
        dq->in = arena_alloc(q->ctx->arena, sizeof *dq->in);
        dq->in[0] = g->ops[g->nops - 2].out;
        dq->nin = 1;
        dq->out = g->output;
        g->t[g->output].producer = g->nops - 1;
    }
}

/* Per tensor: the file's parameters with its name, or NULL. */
static const QuantParam **file_params(Ctx *ctx, const Graph *g)
{
    const QuantParam **qp = arena_alloc(ctx->arena, sizeof *qp * (size_t)(g->nt + 1));
    memset(qp, 0, sizeof *qp * (size_t)(g->nt + 1));
    for (int k = 0; k < g->quant->nparams; k++)
        for (int t = 0; t < g->nt; t++)
            if (g->t[t].name && strcmp(g->t[t].name, g->quant->params[k].tensor) == 0)
                qp[t] = &g->quant->params[k];
    return qp;
}

void quantize_run(Ctx *ctx, Graph *g)
{
    if (!g->quant)
        return;
    if (g->nops == 0) {
        diag_file_error(ctx, g->path, "--quantize: the model computes nothing to quantize");
        return;
    }
    /* each op adds at most 4 weights and an int8 output, each tensor an
     * int8 and a float image */
    const size_t cap = (size_t)g->nt * 8 + 16;
    Quant q = { ctx, g, NULL, NULL, g->quant->n > 0, NULL, g->nt, NULL, NULL, cap };
    float *lo = arena_alloc(ctx->arena, sizeof *lo * cap), *hi = arena_alloc(ctx->arena, sizeof *hi * cap);
    q.lo = lo, q.hi = hi;
    q.qimg = arena_alloc(ctx->arena, sizeof *q.qimg * cap);
    q.fimg = arena_alloc(ctx->arena, sizeof *q.fimg * cap);
    for (size_t t = 0; t < cap; t++)
        q.qimg[t] = q.fimg[t] = -1;
    q.qp = file_params(ctx, g);
    if (q.calibrated && calibrate_ranges(g, g->quant, lo, hi) != 0) {
        diag_file_error(ctx, g->path, "out of memory calibrating the model");
        return;
    }
    rewrite(&q);
    if (ctx->nerrors)
        return;
    g->batch = 0;   /* a batch of 1 (an ONNX model's [1, ...]) is one sample */
    g->quantized = 1;
    graph_compact(ctx, g);
}
