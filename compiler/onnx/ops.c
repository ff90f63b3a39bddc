/* onnx/ops.c: one translator per ONNX op, from the node being translated
 * (Imp.node) to .cnn statements (import.c prints them).
 *
 * Each translator checks the node's attributes (an unknown one is an
 * error naming it), its inputs (activation or constant, shapes), writes at
 * most one statement, and defines the node's outputs: an activation, a
 * constant, or an alias. Folds keep torch.onnx.export's output compact: a
 * constant Add into the bias of the Conv/Gemm/MatMul before it, a zero Pad
 * into the Conv after it, x * Sigmoid(x) into swish.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "onnx.h"

static const char *const no_attrs[] = { NULL };

static const char *shape_text(Imp *im, const OnnxVal *v)
{
    Buf b;
    buf_init(&b);
    buf_putc(&b, '[');
    for (int i = 0; i < v->rank; i++)
        buf_printf(&b, "%s%lld", i ? ", " : "", v->dims[i]);
    buf_putc(&b, ']');
    const char *s = arena_strdup(im->a, b.data);
    buf_free(&b);
    return s;
}

static const char *vname(Imp *im, const OnnxVal *v)
{
    return onnx_printable(im->a, v->name);
}

static int stmt_index(const Imp *im, const OnnxStmt *s)
{
    return (int)(s - im->stmts);
}

/* The graph's output, read by nothing else: a reshape of it moves no data. */
static int is_final(Imp *im, const OnnxVal *v)
{
    return v && v->nuses == 1 && strcmp(v->name, im->g->outputs[0].name) == 0;
}

/* [N, C, H, W] or [N, C, L]: what conv, pools and batchnorm read. */
static int need_nchw(Imp *im, const OnnxVal *x, const char *what)
{
    if (x->lead && x->layout != LAY_VEC)
        return 0;
    return imp_error(im, "input '%s' has shape %s; %s needs [N, C, H, W] or [N, C, L]",
                     vname(im, x), shape_text(im, x), what);
}

/* ---- elementwise ---- */

/* A one-source statement on x whose output has x's shape. */
static int same_shape(Imp *im, const OnnxVal *x, const char *op, const char *args)
{
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, op, args, src, 1);
    imp_set_act(im, imp_output(im, 0), x, stmt_index(im, s), x->rank, x->dims);
    return 0;
}

static int unary(Imp *im, const char *op, const char *args)
{
    OnnxVal *x = imp_act_nhwc(im, 0);   /* elementwise: any layout */
    return x ? same_shape(im, x, op, args) : -1;
}

static int op_relu(Imp *im)
{
    static const char *const known[] = { "consumed_inputs", NULL };
    return imp_attrs_known(im, known) ? -1 : unary(im, "relu", "");
}

static int op_sigmoid(Imp *im)
{
    static const char *const known[] = { "consumed_inputs", NULL };
    return imp_attrs_known(im, known) ? -1 : unary(im, "sigmoid", "");
}

static int op_tanh(Imp *im)
{
    static const char *const known[] = { "consumed_inputs", NULL };
    return imp_attrs_known(im, known) ? -1 : unary(im, "tanh", "");
}

static int op_softplus(Imp *im)
{
    return imp_attrs_known(im, no_attrs) ? -1 : unary(im, "softplus", "");
}

static int op_leaky_relu(Imp *im)
{
    static const char *const known[] = { "alpha", "consumed_inputs", NULL };
    float alpha;
    if (imp_attrs_known(im, known) || imp_attr_float(im, "alpha", 0.01f, &alpha))
        return -1;
    return unary(im, "leaky_relu", arena_printf(im->a, "alpha=%s", imp_fmt_float(im, alpha)));
}

static int op_elu(Imp *im)
{
    static const char *const known[] = { "alpha", "consumed_inputs", NULL };
    float alpha;
    if (imp_attrs_known(im, known) || imp_attr_float(im, "alpha", 1.0f, &alpha))
        return -1;
    return unary(im, "elu", alpha == 1.0f ? "" : arena_printf(im->a, "alpha=%s", imp_fmt_float(im, alpha)));
}

/* .cnn's selu has fixed constants: other values do not map. */
static int op_selu(Imp *im)
{
    static const char *const known[] = { "alpha", "gamma", "consumed_inputs", NULL };
    const float alpha0 = 1.67326319217681884765625f, gamma0 = 1.05070102214813232421875f;
    float alpha, gamma;
    if (imp_attrs_known(im, known) || imp_attr_float(im, "alpha", alpha0, &alpha) ||
        imp_attr_float(im, "gamma", gamma0, &gamma))
        return -1;
    if (fabsf(alpha - alpha0) > 1e-6f * alpha0)
        return imp_error(im, "attribute 'alpha' = %g is not supported: cnnc's selu has alpha 1.6732632", (double)alpha);
    if (fabsf(gamma - gamma0) > 1e-6f * gamma0)
        return imp_error(im, "attribute 'gamma' = %g is not supported: cnnc's selu has lambda 1.0507010", (double)gamma);
    return unary(im, "selu", "");
}

static long long sample_dim0(const OnnxVal *x);

/* HardSigmoid max(0, min(1, alpha*x + beta)) is cnnc's hard_sigmoid
 * (relu6(x + 3) / 6) for PyTorch's alpha = 1/6, beta = 0.5; other values
 * are a scale (x * alpha + beta, one value for every channel) with
 * clip(min=0, max=1) as its activation. */
static int op_hard_sigmoid(Imp *im)
{
    static const char *const known[] = { "alpha", "beta", "consumed_inputs", NULL };
    float alpha, beta;
    OnnxVal *x = imp_act_nhwc(im, 0);
    if (!x || imp_attrs_known(im, known) || imp_attr_float(im, "alpha", 0.2f, &alpha) ||
        imp_attr_float(im, "beta", 0.5f, &beta))
        return -1;
    if (fabsf(alpha - 1.0f / 6.0f) <= 1e-6f && beta == 0.5f)
        return same_shape(im, x, "hard_sigmoid", "");
    long long c = sample_dim0(x);
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, "scale", "bias=true", src, 1);
    s->note = arena_printf(im->a, "%s * x + %s, then clipped to [0, 1]", imp_fmt_float(im, alpha),
                           imp_fmt_float(im, beta));
    float *w = imp_weight(im, s, "weight", 1, &c)->data, *b = imp_weight(im, s, "bias", 1, &c)->data;
    for (long long i = 0; i < c; i++)
        w[i] = alpha, b[i] = beta;
    OnnxVal y = *x;
    y.stmt = stmt_index(im, s);
    src[0] = &y;
    OnnxStmt *clip = imp_stmt(im, "clip", "min=0, max=1", src, 1);
    imp_set_act(im, imp_output(im, 0), x, stmt_index(im, clip), x->rank, x->dims);
    return 0;
}

static int op_hard_swish(Imp *im)
{
    return imp_attrs_known(im, no_attrs) ? -1 : unary(im, "hard_swish", "");
}

/* One bound of a Clip from opset 11 on: an optional constant scalar input. */
static int clip_bound(Imp *im, int k, float *out)
{
    OnnxVal *v = imp_input_opt(im, k);
    if (!v)
        return 0;
    if (v->kind != VAL_CONST || v->dtype != ONNX_FLOAT || v->numel != 1)
        return imp_error(im, "input %d '%s' (%s) must be a constant scalar", k, vname(im, v), k == 1 ? "min" : "max");
    *out = v->f[0];
    return 0;
}

/* Clip is relu6 for [0, 6], else clip; an infinite or absent bound is left out. */
static int op_clip(Imp *im)
{
    static const char *const known[] = { "min", "max", "consumed_inputs", NULL };
    float lo = -INFINITY, hi = INFINITY;
    if (imp_attrs_known(im, known))
        return -1;
    if (im->opset < 11 ? imp_attr_float(im, "min", -INFINITY, &lo) || imp_attr_float(im, "max", INFINITY, &hi)
                       : clip_bound(im, 1, &lo) || clip_bound(im, 2, &hi))
        return -1;
    if (isnan(lo) || isnan(hi) || lo > hi)
        return imp_error(im, "min %g and max %g are not supported: cnnc's clip needs min <= max", (double)lo, (double)hi);
    if (lo == 0.0f && hi == 6.0f)
        return unary(im, "relu6", "");
    int has_lo = lo > -FLT_MAX, has_hi = hi < FLT_MAX;
    return unary(im, "clip", arena_printf(im->a, "%s%s%s%s%s", has_lo ? "min=" : "", has_lo ? imp_fmt_float(im, lo) : "",
                                          has_lo && has_hi ? ", " : "", has_hi ? "max=" : "",
                                          has_hi ? imp_fmt_float(im, hi) : ""));
}

/* Opset < 13 flattens dims [axis, rank) and normalizes them together: that
 * is one .cnn axis when at most one of those dims is larger than 1. */
static int op_softmax(Imp *im)
{
    static const char *const known[] = { "axis", NULL };
    long long axis;
    OnnxVal *x = imp_act(im, 0);
    if (!x || imp_attrs_known(im, known) || imp_attr_int(im, "axis", im->opset >= 13 ? -1 : 1, &axis))
        return -1;
    long long a = axis < 0 ? axis + x->rank : axis;
    if (a < 0 || a >= x->rank)
        return imp_error(im, "attribute 'axis' = %lld is out of range for rank %d", axis, x->rank);
    long long k = a;
    if (im->opset < 13) {
        k = -1;
        for (long long i = a; i < x->rank; i++) {
            if (x->dims[i] > 1 && k >= 0)
                return imp_error(im, "attribute 'axis' = %lld: Softmax (opset %lld) normalizes dims %lld..%d of %s "
                                 "together; cnnc normalizes along one axis", axis, im->opset, a, x->rank - 1,
                                 shape_text(im, x));
            if (x->dims[i] > 1)
                k = i;
        }
        if (k < 0)
            k = x->rank - 1;
    }
    int c = imp_cnn_axis(x, k);
    if (c < 0)
        return imp_error(im, "attribute 'axis' = %lld is the batch axis; cnnc normalizes within one sample", axis);
    return unary(im, "softmax", c ? arena_printf(im->a, "axis=%d", c) : "");
}

/* ---- shape-only ops ---- */

static int op_identity(Imp *im)
{
    OnnxVal *x = imp_input(im, 0);
    if (!x || imp_attrs_known(im, no_attrs))
        return -1;
    imp_alias(imp_output(im, 0), x);
    return 0;
}

static int bool_input(Imp *im, int k, int *out)
{
    OnnxVal *v = imp_input_opt(im, k);
    *out = 0;
    if (!v)
        return im->ctx->nerrors ? -1 : 0;
    if (v->kind != VAL_CONST || v->dtype != ONNX_INT64 || v->numel != 1)
        return imp_error(im, "input %d '%s' must be a constant boolean", k, vname(im, v));
    *out = v->i[0] != 0;
    return 0;
}

static int op_dropout(Imp *im)
{
    static const char *const known[] = { "ratio", "seed", "is_test", "consumed_inputs", NULL };
    long long is_test;
    int training;
    float ratio;
    OnnxVal *x = imp_input(im, 0);
    if (!x || imp_attrs_known(im, known) || imp_attr_int(im, "is_test", 1, &is_test) ||
        imp_attr_float(im, "ratio", 0.5f, &ratio) || bool_input(im, 2, &training))
        return -1;
    OnnxVal *r = imp_input_opt(im, 1);
    if (r && (r->kind != VAL_CONST || r->dtype != ONNX_FLOAT || r->numel != 1))
        return imp_error(im, "input 1 '%s' (ratio) must be a constant float", vname(im, r));
    if (r)
        ratio = r->f[0];
    if (!is_test)
        return imp_error(im, "attribute 'is_test' = 0 (training: random dropout) is not supported");
    if (training && ratio != 0.0f)
        return imp_error(im, "input 2 (training_mode) is true: random dropout is not supported");
    if (!imp_output_unused(im, 1))
        return imp_error(im, "output 1 (mask) is not supported");
    imp_alias(imp_output(im, 0), x);
    return 0;
}

/* Output of a per-sample flatten: [N, F], a batch of vectors. */
static int flatten_to(Imp *im, OnnxVal *x, long long inner)
{
    OnnxVal *out = imp_output(im, 0);
    long long dims[2] = { im->batch, inner };
    if (x->layout == LAY_VEC) {
        imp_alias(out, x);
    } else {
        const OnnxVal *src[1] = { x };
        OnnxStmt *s = imp_stmt(im, "flatten", "", src, 1);
        imp_set_act(im, out, x, stmt_index(im, s), 2, dims);
    }
    if (out) {
        out->lead = 1;
        out->layout = LAY_VEC;
        out->rank = 2;
        memcpy(out->dims, dims, sizeof dims);
    }
    return 0;
}

/* A reshape to target (rank r): a flatten that keeps the batch, no change,
 * or, as the graph's last op, a relabelling of the same floats. */
static int reshape_to(Imp *im, OnnxVal *x, int r, const long long *target, const char *what)
{
    OnnxVal *out = imp_output(im, 0);
    long long n = imp_numel(x->rank, x->dims);
    if (r == 2 && target[0] == im->batch && (x->lead || im->batch == 1))
        return flatten_to(im, x, n / im->batch);
    if (r == x->rank && memcmp(target, x->dims, sizeof *target * (size_t)r) == 0) {
        imp_alias(out, x);
        return 0;
    }
    if (is_final(im, out)) {
        imp_alias(out, x);
        out->rank = r;
        memcpy(out->dims, target, sizeof *target * (size_t)r);
        return 0;
    }
    OnnxVal t = { .rank = r };
    memcpy(t.dims, target, sizeof *target * (size_t)r);
    return imp_error(im, "%s %s to %s is not supported: cnnc reshapes only to [N, -1] (a flatten that "
                     "keeps the batch), except as the graph's last op", what, shape_text(im, x), shape_text(im, &t));
}

static int op_flatten(Imp *im)
{
    static const char *const known[] = { "axis", NULL };
    long long axis;
    OnnxVal *x = imp_act(im, 0);
    if (!x || imp_attrs_known(im, known) || imp_attr_int(im, "axis", 1, &axis))
        return -1;
    long long a = axis < 0 ? axis + x->rank : axis;
    if (a < 0 || a > x->rank)
        return imp_error(im, "attribute 'axis' = %lld is out of range for rank %d", axis, x->rank);
    long long target[2] = { imp_numel((int)a, x->dims), 1 };
    target[1] = imp_numel(x->rank, x->dims) / (target[0] ? target[0] : 1);
    return reshape_to(im, x, 2, target, arena_printf(im->a, "Flatten(axis=%lld) of", axis));
}

/* a * b for a, b >= 0, saturating at 2^62 (then no size can match). */
static long long mul_sat(long long a, long long b)
{
    const long long cap = 1LL << 62;
    return b && a > cap / b ? cap : a * b;
}

int imp_reshape_target(Imp *im, const OnnxVal *x, const long long *shape, int r, int allowzero,
                       long long *target)
{
    int infer = -1;
    long long known = 1;
    for (int i = 0; i < r; i++) {
        target[i] = shape[i] == 0 && !allowzero && i < x->rank ? x->dims[i] : shape[i];
        if (target[i] == -1 && infer < 0)
            infer = i;
        else if (target[i] < 0 || target[i] > (1LL << 40))
            return imp_error(im, "shape value %lld is not supported", shape[i]);
        else
            known = mul_sat(known, target[i] ? target[i] : 1);
    }
    long long n = imp_numel(x->rank, x->dims);
    if (infer >= 0)
        target[infer] = known ? n / known : 0;
    if (imp_numel(r, target) != n)
        return imp_error(im, "cannot reshape %s (%lld values) to a shape of a different size",
                         shape_text(im, x), n);
    return 0;
}

/* ---- channel shuffle: Reshape [N, G, C/G, H, W], Transpose (1 2), Reshape
 * [N, C, H, W], as PyTorch's (and ShuffleNet's) code writes it ---- */

enum { SHUF_SPLIT = 21, SHUF_SWAP };   /* VAL_EXPR stages after gelu's */

static int set_stage(Imp *im, const OnnxVal *e, int stage)
{
    OnnxVal *out = imp_output(im, 0);
    imp_alias(out, e);
    if (out) {
        out->kind = VAL_EXPR;
        out->expr = stage;
        out->producer = im->node;
    }
    return 0;
}

/* The first Reshape: [N, C, H, W] to [N, G, C/G, H, W]; 1 when it is not. */
static int shuffle_split(Imp *im, const OnnxVal *x, int r, const long long *t)
{
    if (x->kind != VAL_ACT || x->rank != 4 || !x->lead || r != 5 || t[0] != x->dims[0] || t[1] < 2 ||
        t[1] * t[2] != x->dims[1] || t[3] != x->dims[2] || t[4] != x->dims[3])
        return 1;
    OnnxVal e = *x;
    e.rank = 5;
    memcpy(e.dims, t, sizeof *t * 5);
    e.groups = (int)t[1];
    return set_stage(im, &e, SHUF_SPLIT);
}

/* The last Reshape, back to [N, C, H, W]: cnnc's channel_shuffle. */
static int shuffle_join(Imp *im, OnnxVal *e)
{
    long long shape[ONNX_MAX_RANK], target[ONNX_MAX_RANK];
    OnnxVal *s = imp_const(im, 1, ONNX_INT64);
    if (!s || s->rank != 1 || s->numel != 4)
        return s ? imp_error(im, "a channel shuffle must reshape back to [N, C, H, W]") : -1;
    memcpy(shape, s->i, sizeof *shape * 4);
    if (imp_reshape_target(im, e, shape, 4, 0, target) != 0)
        return -1;
    long long dims[ONNX_MAX_RANK] = { e->dims[0], e->dims[1] * e->dims[2], e->dims[3], e->dims[4] };
    if (memcmp(target, dims, sizeof *dims * 4) != 0)
        return imp_error(im, "a channel shuffle must reshape back to [N, C, H, W]");
    OnnxVal x = *e;
    x.kind = VAL_ACT;
    x.rank = 4;
    memcpy(x.dims, dims, sizeof dims);
    const OnnxVal *src[1] = { &x };
    OnnxStmt *st = imp_stmt(im, "channel_shuffle", arena_printf(im->a, "groups=%d", e->groups), src, 1);
    imp_set_act(im, imp_output(im, 0), &x, stmt_index(im, st), 4, dims);
    return 0;
}

static int op_reshape(Imp *im)
{
    static const char *const known[] = { "allowzero", "shape", "consumed_inputs", NULL };
    long long allowzero, shape[ONNX_MAX_RANK], target[ONNX_MAX_RANK];
    int r;
    OnnxVal *x0 = imp_input(im, 0);
    if (x0 && x0->kind == VAL_EXPR && x0->expr == SHUF_SWAP)
        return imp_attrs_known(im, known) ? -1 : shuffle_join(im, x0);
    OnnxVal *x = imp_act(im, 0);
    if (!x || imp_attrs_known(im, known) || imp_attr_int(im, "allowzero", 0, &allowzero) ||
        imp_attr_ints(im, "shape", ONNX_MAX_RANK, shape, &r))
        return -1;
    if (r < 0) {
        OnnxVal *s = imp_const(im, 1, ONNX_INT64);
        if (!s)
            return -1;
        if (s->rank != 1 || s->numel > ONNX_MAX_RANK)
            return imp_error(im, "input 1 '%s' must be a list of at most %d sizes", vname(im, s), ONNX_MAX_RANK);
        r = (int)s->numel;
        memcpy(shape, s->i, sizeof *shape * (size_t)r);
    }
    if (imp_reshape_target(im, x, shape, r, (int)allowzero, target) != 0)
        return -1;
    int sh = shuffle_split(im, x, r, target);
    return sh <= 0 ? sh : reshape_to(im, x, r, target, "Reshape of");
}

/* ---- windows: Conv, MaxPool, AveragePool ---- */

typedef struct Win {
    long long k[2], s[2], d[2], pb[2], pe[2];   /* per axis H, W: kernel, stride, dilation, pads */
    long long n[2], out[2];                     /* input and output size */
} Win;

static int read_list(Imp *im, const char *name, int nsp, long long def, long long lo, long long *out)
{
    long long v[4];
    int n;
    if (imp_attr_ints(im, name, 4, v, &n) != 0)
        return -1;
    int want = strcmp(name, "pads") == 0 ? 2 * nsp : nsp;
    if (n >= 0 && n != want)
        return imp_error(im, "attribute '%s' has %d values, expected %d", name, n, want);
    for (int i = 0; i < want; i++) {
        out[i] = n < 0 ? def : v[i];
        if (out[i] < lo || out[i] > LIMIT_DIM)
            return imp_error(im, "attribute '%s' value %lld is out of range", name, out[i]);
    }
    return 0;
}

static void same_pads(Win *w, int ax, int lower)
{
    long long out = (w->n[ax] + w->s[ax] - 1) / w->s[ax];
    long long total = (out - 1) * w->s[ax] + w->d[ax] * (w->k[ax] - 1) + 1 - w->n[ax];
    if (total < 0)
        total = 0;
    w->pb[ax] = lower ? total - total / 2 : total / 2;
    w->pe[ax] = total - w->pb[ax];
}

static int auto_pad(Imp *im, Win *w, int nsp, int pads_given)
{
    const char *mode;
    if (imp_attr_string(im, "auto_pad", "NOTSET", &mode) != 0)
        return -1;
    int same = strcmp(mode, "SAME_UPPER") == 0 || strcmp(mode, "SAME_LOWER") == 0;
    if (!same && strcmp(mode, "VALID") != 0 && strcmp(mode, "NOTSET") != 0 && mode[0])
        return imp_error(im, "attribute 'auto_pad' value '%s' is not supported", onnx_printable(im->a, mode));
    if ((same || strcmp(mode, "VALID") == 0) && pads_given)
        return imp_error(im, "attribute 'pads' cannot be used with auto_pad=%s", mode);
    for (int ax = 2 - nsp; same && ax < 2; ax++)
        same_pads(w, ax, strcmp(mode, "SAME_LOWER") == 0);
    return 0;
}

/* Reads strides, dilations, pads and auto_pad for x (its last nsp axes);
 * w->k must be set. 1-D data is the W axis of a [C, 1, L] map. */
static int read_window(Imp *im, const OnnxVal *x, Win *w)
{
    int nsp = x->layout == LAY_MAP1D ? 1 : 2, o = 2 - nsp;
    long long s[2], d[2], p[4];
    if (read_list(im, "strides", nsp, 1, 1, s) || read_list(im, "dilations", nsp, 1, 1, d) ||
        read_list(im, "pads", nsp, 0, 0, p))
        return -1;
    w->s[0] = w->d[0] = 1;
    w->pb[0] = w->pe[0] = 0;
    w->n[0] = 1;
    for (int i = 0; i < nsp; i++) {
        w->s[o + i] = s[i];
        w->d[o + i] = d[i];
        w->pb[o + i] = p[i];
        w->pe[o + i] = p[nsp + i];
        w->n[o + i] = x->dims[x->rank - nsp + i];
    }
    return auto_pad(im, w, nsp, imp_attr(im, "pads") != NULL);
}

static long long extent(const Win *w, int ax)
{
    return w->d[ax] * (w->k[ax] - 1) + 1;
}

static int window_out(Imp *im, Win *w)
{
    for (int ax = 0; ax < 2; ax++) {
        long long span = w->n[ax] + w->pb[ax] + w->pe[ax] - extent(w, ax);
        if (span < 0)
            return imp_error(im, "the kernel %lldx%lld (dilated %lldx%lld) is larger than the padded input %lldx%lld",
                             w->k[0], w->k[1], extent(w, 0), extent(w, 1),
                             w->n[0] + w->pb[0] + w->pe[0], w->n[1] + w->pb[1] + w->pe[1]);
        w->out[ax] = span / w->s[ax] + 1;
    }
    return 0;
}

/* ceil_mode=1: the windows that start in the input and run past its end
 * become ordinary windows over extra padding at the end. Returns 1 when
 * that changed the output size. */
static int ceil_pads(Win *w)
{
    int changed = 0;
    for (int ax = 0; ax < 2; ax++) {
        long long span = w->n[ax] + w->pb[ax] + w->pe[ax] - extent(w, ax);
        long long out = (span + w->s[ax] - 1) / w->s[ax] + 1;
        if ((out - 1) * w->s[ax] >= w->n[ax] + w->pb[ax])
            out--;   /* the last window would start in the end padding */
        if (out > span / w->s[ax] + 1) {
            w->pe[ax] += (out - 1) * w->s[ax] + extent(w, ax) - (w->n[ax] + w->pb[ax] + w->pe[ax]);
            changed = 1;
        }
    }
    return changed;
}

static const char *pair_text(Imp *im, long long h, long long w)
{
    return h == w ? arena_printf(im->a, "%lld", h) : arena_printf(im->a, "[%lld, %lld]", h, w);
}

static const char *window_args(Imp *im, const Win *w, int stride_always)
{
    Buf b;
    buf_init(&b);
    buf_printf(&b, "kernel=%s", pair_text(im, w->k[0], w->k[1]));
    if (stride_always || w->s[0] != 1 || w->s[1] != 1)
        buf_printf(&b, ", stride=%s", pair_text(im, w->s[0], w->s[1]));
    int sym = w->pb[0] == w->pe[0] && w->pb[1] == w->pe[1];
    if (w->pb[0] || w->pb[1] || w->pe[0] || w->pe[1])
        buf_printf(&b, ", padding=%s", sym ? pair_text(im, w->pb[0], w->pb[1])
                   : arena_printf(im->a, "[%lld, %lld, %lld, %lld]", w->pb[0], w->pb[1], w->pe[0], w->pe[1]));
    if (w->d[0] != 1 || w->d[1] != 1)
        buf_printf(&b, ", dilation=%s", pair_text(im, w->d[0], w->d[1]));
    const char *s = arena_strdup(im->a, b.data);
    buf_free(&b);
    return s;
}

/* The output dims of a window op on x, with c channels. */
static void window_dims(const OnnxVal *x, const Win *w, long long c, int *rank, long long *dims)
{
    *rank = x->rank;
    dims[0] = x->dims[0];
    dims[1] = c;
    if (x->layout == LAY_MAP1D) {
        dims[2] = w->out[1];
    } else {
        dims[2] = w->out[0];
        dims[3] = w->out[1];
    }
}

static int kernel_matches(Imp *im, const OnnxVal *x, const Win *w)
{
    long long k[2];
    int nsp = x->layout == LAY_MAP1D ? 1 : 2;
    if (!imp_attr(im, "kernel_shape"))
        return 0;
    if (read_list(im, "kernel_shape", nsp, 1, 1, k) != 0)
        return -1;
    if (k[0] != w->k[2 - nsp] || (nsp == 2 && k[1] != w->k[1]))
        return imp_error(im, "attribute 'kernel_shape' does not match the weight's shape");
    return 0;
}

/* The Conv's data input: an activation, perhaps with a Pad owed to it. */
static OnnxVal *conv_input(Imp *im, const char *what)
{
    OnnxVal *x = imp_input(im, 0);
    if (!x)
        return NULL;
    if (x->kind != VAL_ACT || !x->padded)
        x = imp_act(im, 0);   /* reports a constant or an expression */
    return x && !need_nchw(im, x, what) ? x : NULL;
}

static int conv_weights(Imp *im, OnnxStmt *s, const OnnxVal *wt, const OnnxVal *b, const Win *w)
{
    long long shape[4] = { wt->dims[0], wt->dims[1], w->k[0], w->k[1] };
    OnnxWeight *ow = imp_weight(im, s, "weight", 4, shape);
    memcpy(ow->data, wt->f, sizeof *ow->data * (size_t)wt->numel);
    if (!b)
        return 0;
    if (b->rank != 1 || b->dims[0] != wt->dims[0])
        return imp_error(im, "input 2 '%s' (bias) has shape %s, expected [%lld]", vname(im, b),
                         shape_text(im, b), wt->dims[0]);
    OnnxWeight *ob = imp_weight(im, s, "bias", 1, shape);
    memcpy(ob->data, b->f, sizeof *ob->data * (size_t)b->numel);
    return 0;
}

static int conv_groups(Imp *im, const OnnxVal *x, const OnnxVal *wt, long long *group)
{
    if (imp_attr_int(im, "group", 1, group) != 0)
        return -1;
    long long c = x->dims[1], f = wt->dims[0];
    if (*group < 1 || *group > c || c % *group || f % *group || wt->dims[1] != c / *group)
        return imp_error(im, "attribute 'group' = %lld does not fit %lld input channels, %lld filters and weight %s",
                         *group, c, f, shape_text(im, wt));
    return 0;
}

static int op_conv(Imp *im)
{
    OnnxVal *x = conv_input(im, "Conv");
    OnnxVal *wt = x ? imp_const(im, 1, ONNX_FLOAT) : NULL;
    if (!wt)
        return -1;
    OnnxVal *b = imp_input_opt(im, 2);
    if (im->ctx->nerrors || (b && !(b = imp_const(im, 2, ONNX_FLOAT))))
        return -1;
    return imp_conv_stmt(im, x, wt, b);
}

/* A conv2d statement: x convolved with wt, plus b (or NULL). */
int imp_conv_stmt(Imp *im, OnnxVal *x, const OnnxVal *wt, const OnnxVal *b)
{
    static const char *const known[] = { "auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", NULL };
    if (imp_attrs_known(im, known))
        return -1;
    int nsp = x->layout == LAY_MAP1D ? 1 : 2;
    if (wt->rank != 2 + nsp || imp_numel(wt->rank, wt->dims) == 0)
        return imp_error(im, "input 1 '%s' (weight) has shape %s; a %d-D Conv needs rank %d, no size 0",
                         vname(im, wt), shape_text(im, wt), nsp, 2 + nsp);
    long long group;
    Win w;
    w.k[0] = nsp == 2 ? wt->dims[2] : 1;
    w.k[1] = wt->dims[wt->rank - 1];
    if (conv_groups(im, x, wt, &group) || kernel_matches(im, x, &w) || read_window(im, x, &w))
        return -1;
    if (window_out(im, &w) != 0)
        return -1;
    w.pb[0] += x->pad[0], w.pb[1] += x->pad[1], w.pe[0] += x->pad[2], w.pe[1] += x->pad[3];
    const char *args = arena_printf(im->a, "filters=%lld, %s%s", wt->dims[0], window_args(im, &w, 0),
                                    group > 1 ? arena_printf(im->a, ", groups=%lld", group) : "");
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, "conv2d", args, src, 1);
    s->has_bias_arg = 1;
    if (conv_weights(im, s, wt, b, &w) != 0 || imp_quant_weights(im, s, wt, 0, b) != 0)
        return -1;
    int rank;
    long long dims[4];
    window_dims(x, &w, wt->dims[0], &rank, dims);
    imp_set_act(im, imp_output(im, 0), x, stmt_index(im, s), rank, dims);
    return 0;
}

/* The pools: no window may lie wholly in the padding. */
static int pool_pads_fit(Imp *im, const Win *w)
{
    for (int ax = 0; ax < 2; ax++)
        if (w->pb[ax] >= extent(w, ax) || w->pe[ax] >= extent(w, ax))
            return imp_error(im, "padding %lld/%lld is not smaller than the kernel %lld: a window would lie wholly "
                             "in the padding", w->pb[ax], w->pe[ax], extent(w, ax));
    return 0;
}

static int pool_window(Imp *im, OnnxVal *x, Win *w, int *ceil_changed)
{
    long long k[2], ceil_mode;
    int nsp = x->layout == LAY_MAP1D ? 1 : 2;
    if (!imp_attr(im, "kernel_shape"))
        return imp_error(im, "attribute 'kernel_shape' is missing");
    if (read_list(im, "kernel_shape", nsp, 1, 1, k) || imp_attr_int(im, "ceil_mode", 0, &ceil_mode))
        return -1;
    w->k[0] = nsp == 2 ? k[0] : 1;
    w->k[1] = k[nsp - 1];
    if (read_window(im, x, w) != 0 || window_out(im, w) != 0)
        return -1;
    *ceil_changed = ceil_mode ? ceil_pads(w) : 0;
    if (*ceil_changed && window_out(im, w) != 0)
        return -1;
    return pool_pads_fit(im, w);
}

/* Zero padding from a Pad counts in an average: count_pad with the pads
 * added (PyTorch exports AvgPool2d(count_include_pad=True) this way). */
static int pool_take_pad(Imp *im, const OnnxVal *x, Win *w, long long *count_pad)
{
    if (!x->padded)
        return 0;
    if (!*count_pad && (w->pb[0] || w->pb[1] || w->pe[0] || w->pe[1]))
        return imp_error(im, "input 0 '%s' comes from a Pad, and the pool has pads of its own that do not count "
                         "(count_include_pad = 0)", vname(im, x));
    w->pb[0] += x->pad[0], w->pb[1] += x->pad[1], w->pe[0] += x->pad[2], w->pe[1] += x->pad[3];
    *count_pad = 1;
    return pool_pads_fit(im, w);
}

static int pool(Imp *im, const char *op, const char *extra)
{
    OnnxVal *x = extra ? conv_input(im, "AveragePool") : imp_act(im, 0);
    Win w;
    int ceil_changed = 0;
    if (!x || need_nchw(im, x, imp_node(im)->op_type) || pool_window(im, x, &w, &ceil_changed))
        return -1;
    long long count_pad = 0;
    if (extra && (imp_attr_int(im, "count_include_pad", 0, &count_pad) || pool_take_pad(im, x, &w, &count_pad)))
        return -1;
    if (count_pad && ceil_changed)
        return imp_error(im, "attribute 'ceil_mode' = 1 with count_include_pad = 1 is not supported "
                         "(the windows past the end would count cells outside the padding)");
    const char *args = arena_printf(im->a, "%s%s", window_args(im, &w, 1), count_pad ? ", count_pad=true" : "");
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, op, args, src, 1);
    int rank;
    long long dims[4];
    window_dims(x, &w, x->dims[1], &rank, dims);
    imp_set_act(im, imp_output(im, 0), x, stmt_index(im, s), rank, dims);
    return 0;
}

static int op_maxpool(Imp *im)
{
    static const char *const known[] = { "auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                                         "storage_order", "strides", NULL };
    if (imp_attrs_known(im, known))
        return -1;
    if (!imp_output_unused(im, 1))
        return imp_error(im, "output 1 (Indices) is not supported");
    return pool(im, "maxpool", NULL);
}

static int op_avgpool(Imp *im)
{
    static const char *const known[] = { "auto_pad", "ceil_mode", "count_include_pad", "dilations",
                                         "kernel_shape", "pads", "strides", NULL };
    return imp_attrs_known(im, known) ? -1 : pool(im, "avgpool", "count");
}

static int op_global_avgpool(Imp *im)
{
    OnnxVal *x = imp_act(im, 0);
    if (!x || imp_attrs_known(im, no_attrs) || need_nchw(im, x, "GlobalAveragePool"))
        return -1;
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, "global_avgpool", "", src, 1);
    long long dims[4] = { x->dims[0], x->dims[1], 1, 1 };
    imp_set_act(im, imp_output(im, 0), x, stmt_index(im, s), x->rank, dims);
    return 0;
}

/* ---- BatchNormalization ---- */

static int bn_mode(Imp *im)
{
    long long training, spatial, is_test;
    if (imp_attr_int(im, "training_mode", 0, &training) || imp_attr_int(im, "spatial", 1, &spatial) ||
        imp_attr_int(im, "is_test", 1, &is_test))
        return -1;
    if (training)
        return imp_error(im, "attribute 'training_mode' = 1 is not supported: export the model in eval mode");
    if (!is_test)
        return imp_error(im, "attribute 'is_test' = 0 (training) is not supported: export the model in eval mode");
    if (!spatial)
        return imp_error(im, "attribute 'spatial' = 0 (per-activation statistics) is not supported");
    for (int k = 1; k < imp_node(im)->noutputs; k++)
        if (!imp_output_unused(im, k))
            return imp_error(im, "output %d (training statistics) is not supported", k);
    return 0;
}

static int op_batchnorm(Imp *im)
{
    static const char *const known[] = { "epsilon", "momentum", "training_mode", "spatial", "is_test",
                                         "consumed_inputs", NULL };
    static const char *const suffix[] = { "weight", "bias", "running_mean", "running_var" };
    float eps;
    OnnxVal *x = imp_act(im, 0);
    if (!x || imp_attrs_known(im, known) || bn_mode(im) || imp_attr_float(im, "epsilon", 1e-5f, &eps))
        return -1;
    if (!x->lead || x->rank < 2)
        return imp_error(im, "input '%s' has shape %s; BatchNormalization needs [N, C, ...]", vname(im, x),
                         shape_text(im, x));
    if (!(eps > 0))
        return imp_error(im, "attribute 'epsilon' must be greater than 0");
    OnnxVal *p[4];
    for (int k = 0; k < 4; k++) {
        p[k] = imp_const(im, k + 1, ONNX_FLOAT);
        if (!p[k])
            return -1;
        if (p[k]->numel != x->dims[1])
            return imp_error(im, "input %d '%s' has shape %s, expected [%lld] (one per channel)",
                             k + 1, vname(im, p[k]), shape_text(im, p[k]), x->dims[1]);
    }
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, "batchnorm", eps == 1e-5f ? "" :
                           arena_printf(im->a, "epsilon=%s", imp_fmt_float(im, eps)), src, 1);
    for (int k = 0; k < 4; k++) {
        OnnxWeight *w = imp_weight(im, s, suffix[k], 1, &x->dims[1]);
        memcpy(w->data, p[k]->f, sizeof *w->data * (size_t)x->dims[1]);
    }
    imp_set_act(im, imp_output(im, 0), x, stmt_index(im, s), x->rank, x->dims);
    return 0;
}

/* ---- Gemm, MatMul ---- */

static OnnxVal *batch_of_vectors(Imp *im, const char *what)
{
    OnnxVal *a = imp_act(im, 0);
    if (a && !(a->lead && a->layout == LAY_VEC && a->rank == 2)) {
        imp_error(im, "input 0 '%s' has shape %s; %s needs a batch of vectors [N, K] (add a Flatten)",
                  vname(im, a), shape_text(im, a), what);
        return NULL;
    }
    return a;
}

/* A dense statement with weight [U, K] = alpha * (trans ? B : B^T). */
OnnxStmt *imp_dense_stmt(Imp *im, OnnxVal *a, const OnnxVal *b, int trans, float alpha)
{
    long long k = a->dims[1], u = trans ? b->dims[0] : b->dims[1];
    if (b->rank != 2 || (trans ? b->dims[1] : b->dims[0]) != k) {
        imp_error(im, "input 1 '%s' has shape %s, which does not fit input 0 %s%s", vname(im, b),
                  shape_text(im, b), shape_text(im, a), trans ? " (transposed)" : "");
        return NULL;
    }
    const OnnxVal *src[1] = { a };
    OnnxStmt *s = imp_stmt(im, "dense", arena_printf(im->a, "units=%lld", u), src, 1);
    s->has_bias_arg = 1;
    long long shape[2] = { u, k };
    OnnxWeight *w = imp_weight(im, s, "weight", 2, shape);
    for (long long i = 0; i < u; i++)
        for (long long j = 0; j < k; j++)
            w->data[i * k + j] = alpha * (trans ? b->f[i * k + j] : b->f[j * u + i]);
    long long dims[2] = { a->dims[0], u };
    imp_set_act(im, imp_output(im, 0), a, stmt_index(im, s), 2, dims);
    return s;
}

/* Gemm's C, broadcast to [N, U]: one bias per unit when every row agrees. */
static int gemm_bias(Imp *im, OnnxStmt *s, const OnnxVal *c, float beta, long long n, long long u)
{
    int r = c->rank;
    long long rows = r == 2 ? c->dims[0] : 1, cols = r >= 1 ? c->dims[r - 1] : 1;
    if (r > 2 || (rows != 1 && rows != n) || (cols != 1 && cols != u))
        return imp_error(im, "input 2 '%s' has shape %s, which does not broadcast to [%lld, %lld]",
                         vname(im, c), shape_text(im, c), n, u);
    for (long long i = 1; i < rows; i++)
        if (memcmp(c->f + i * cols, c->f, sizeof *c->f * (size_t)cols) != 0)
            return imp_error(im, "input 2 '%s' %s gives each sample a different bias; cnnc's dense has one per unit",
                             vname(im, c), shape_text(im, c));
    OnnxWeight *w = imp_weight(im, s, "bias", 1, &u);
    for (long long i = 0; i < u; i++)
        w->data[i] = beta * c->f[cols == 1 ? 0 : i];
    return 0;
}

static int op_gemm(Imp *im)
{
    static const char *const known[] = { "alpha", "beta", "transA", "transB", "broadcast", NULL };
    long long ta, tb;
    float alpha, beta;
    OnnxVal *a = batch_of_vectors(im, "Gemm");
    if (!a || imp_attrs_known(im, known) || imp_attr_int(im, "transA", 0, &ta) ||
        imp_attr_int(im, "transB", 0, &tb) || imp_attr_float(im, "alpha", 1.0f, &alpha) ||
        imp_attr_float(im, "beta", 1.0f, &beta))
        return -1;
    if (ta)
        return imp_error(im, "attribute 'transA' = 1 is not supported: it would transpose the batch of activations");
    OnnxVal *b = imp_const(im, 1, ONNX_FLOAT);
    OnnxVal *c = b ? imp_input_opt(im, 2) : NULL;
    if (!b || im->ctx->nerrors || (c && !(c = imp_const(im, 2, ONNX_FLOAT))))
        return -1;
    if ((b->dqs || (c && c->dqs)) && (alpha != 1.0f || beta != 1.0f))
        return imp_error(im, "alpha = %s, beta = %s with quantized weights: cnnc takes the file's int8 weights "
                         "and int32 bias as they are (alpha = beta = 1)", imp_fmt_float(im, alpha),
                         imp_fmt_float(im, beta));
    OnnxStmt *s = imp_dense_stmt(im, a, b, (int)tb, alpha);
    if (!s)
        return -1;
    if (c && beta != 0.0f && gemm_bias(im, s, c, beta, a->dims[0], s->w[0].shape[0]) != 0)
        return -1;
    return imp_quant_weights(im, s, b, tb ? 0 : 1, c && c->rank == 1 ? c : NULL);
}

static int matmul_channels_last(Imp *im, OnnxVal *x);

static int op_matmul(Imp *im)
{
    OnnxVal *x = imp_input(im, 0);
    if (x && x->kind == VAL_ACT && x->nhwc)
        return matmul_channels_last(im, x);
    OnnxVal *a = batch_of_vectors(im, "MatMul");
    OnnxVal *b = a ? imp_const(im, 1, ONNX_FLOAT) : NULL;
    if (!b || imp_attrs_known(im, no_attrs))
        return -1;
    OnnxStmt *s = imp_dense_stmt(im, a, b, 0, 1.0f);
    return s ? imp_quant_weights(im, s, b, 1, NULL) : -1;
}

/* ---- Add, Mul, Concat ---- */

/* The axis of x that holds the .cnn map's channels: 1 of [N, C, ...],
 * the last of a channels-last [N, H, W, C]. */
static int chan_axis(const OnnxVal *x)
{
    return x->nhwc ? x->rank - 1 : 1;
}

/* The first dim of x's .cnn sample: a map's channels, a vector's length. */
static long long sample_dim0(const OnnxVal *x)
{
    return x->nhwc ? x->dims[x->rank - 1] : x->dims[x->lead];
}

static float *stmt_bias(Imp *im, OnnxStmt *s)
{
    for (int k = 0; k < s->nw; k++)
        if (strcmp(s->w[k].suffix, "bias") == 0)
            return s->w[k].data;
    return imp_weight(im, s, "bias", 1, &s->w[0].shape[0])->data;
}

/* The dim of x that constant dim j of c lines up with (numpy: from the
 * right; opset < 7 with broadcast=1: from attribute axis). */
static int bias_axis_ok(Imp *im, const OnnxVal *x, const OnnxVal *c, long long first)
{
    int ch = chan_axis(x);
    for (int j = 0; j < c->rank; j++) {
        long long p = first + j;
        if (c->dims[j] != 1 && (p != ch || c->dims[j] != x->dims[ch]))
            return 0;
    }
    (void)im;
    return first >= 0 && first + c->rank <= x->rank;
}

/* x op c for a constant c of one value, or of one per channel: cnnc's
 * scale (input normalization, layer scale). op is '*', '/' (as the
 * product with 1/c, within a rounding of the division), '+', '-', or '~'
 * (c - x). A product with the result of a layernorm that nothing else
 * reads scales its weight instead. 1 when x and c are not that. */
static int const_scale(Imp *im, const OnnxVal *x, const OnnxVal *c, char op)
{
    if (x->kind != VAL_ACT || x->padded || c->kind != VAL_CONST || c->dtype != ONNX_FLOAT || x->rank < 2 ||
        !x->lead)
        return 1;
    long long C = x->dims[chan_axis(x)];
    if (c->numel != 1 && !(c->numel == C && c->rank <= x->rank && bias_axis_ok(im, x, c, x->rank - c->rank)))
        return 1;
    OnnxStmt *ln = x->stmt >= 0 ? &im->stmts[x->stmt] : NULL;
    if (op == '*' && ln && strcmp(ln->op, "layernorm") == 0 && x->nuses == 1) {
        for (int k = 0; k < 2; k++)   /* the LayerNorm's weight: scales its weight and bias */
            for (long long i = 0; i < C; i++)
                ln->w[k].data[i] *= c->f[c->numel == 1 ? 0 : i];
        imp_alias(imp_output(im, 0), x);
        return 0;
    }
    int shift = op == '+' || op == '-' || op == '~';
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, "scale", shift ? "bias=true" : "", src, 1);
    float *w = imp_weight(im, s, "weight", 1, &C)->data;
    float *b = shift ? imp_weight(im, s, "bias", 1, &C)->data : NULL;
    for (long long i = 0; i < C; i++) {
        const float v = c->f[c->numel == 1 ? 0 : i];
        w[i] = op == '*' ? v : op == '/' ? 1.0f / v : op == '~' ? -1.0f : 1.0f;
        if (b)
            b[i] = op == '-' ? -v : v;
    }
    imp_set_act(im, imp_output(im, 0), x, stmt_index(im, s), x->rank, x->dims);
    return 0;
}

/* x + c folds into the bias of the conv2d/dense that made x, when c varies
 * only along its channels (units) and nothing else reads x. */
static int fold_bias(Imp *im, OnnxVal *x, OnnxVal *c)
{
    long long legacy, axis;
    if (imp_attr_int(im, "broadcast", 0, &legacy) || imp_attr_int(im, "axis", x->rank - c->rank, &axis))
        return -1;
    long long first = legacy ? axis : x->rank - c->rank;
    OnnxStmt *s = x->stmt >= 0 ? &im->stmts[x->stmt] : NULL;
    int foldable = s && x->kind == VAL_ACT && x->nuses == 1 &&
                   (strcmp(s->op, "conv2d") == 0 || strcmp(s->op, "dense") == 0 || strcmp(s->op, "layernorm") == 0) &&
                   x->lead && !x->padded && c->dtype == ONNX_FLOAT;
    if (!foldable || !bias_axis_ok(im, x, c, first) || (!legacy && im->opset < 7 && c->rank != x->rank)) {
        int r = legacy ? 1 : const_scale(im, x, c, '+');
        if (r <= 0)
            return r;
        return imp_error(im, "adding the constant '%s' %s to '%s' %s is not supported: cnnc adds a constant only "
                         "as the per-channel bias of the Conv, Gemm or MatMul that computes the other input, "
                         "or one value or one per channel (a scale)",
                         vname(im, c), shape_text(im, c), vname(im, x), shape_text(im, x));
    }
    float *bias = stmt_bias(im, s);
    long long f = s->w[0].shape[0];
    for (long long i = 0; i < f; i++)
        bias[i] += c->f[c->numel == 1 ? 0 : i];
    imp_alias(imp_output(im, 0), x);
    return 0;
}

static int gelu_add(Imp *im, const OnnxVal *a, const OnnxVal *b);
static int ln_add(Imp *im, const OnnxVal *a, const OnnxVal *b);
static int ln_sub(Imp *im, OnnxVal *a, const OnnxVal *b);
static int ln_square(Imp *im, const OnnxVal *a, const OnnxVal *b, int mul);
static int ln_div(Imp *im, const OnnxVal *a, const OnnxVal *b);
static int feeds_rbf(Imp *im);

static int op_add(Imp *im)
{
    static const char *const known[] = { "broadcast", "axis", "consumed_inputs", NULL };
    OnnxVal *a = imp_input(im, 0);
    OnnxVal *b = a ? imp_input(im, 1) : NULL;
    if (!b || imp_attrs_known(im, known))
        return -1;
    int g = gelu_add(im, a, b);
    if (g > 0)
        g = ln_add(im, a, b);
    if (g <= 0)
        return g;
    if (a->kind == VAL_CONST || b->kind == VAL_CONST)
        return a->kind == VAL_CONST ? fold_bias(im, b, a) : fold_bias(im, a, b);
    if (!imp_act_nhwc(im, 0) || !imp_act_nhwc(im, 1))
        return -1;
    if (a->rank != b->rank || memcmp(a->dims, b->dims, sizeof *a->dims * (size_t)a->rank) != 0 ||
        a->layout != b->layout || a->nhwc != b->nhwc)
        return imp_error(im, "inputs '%s' %s and '%s' %s differ in shape; cnnc adds activations of one shape",
                         vname(im, a), shape_text(im, a), vname(im, b), shape_text(im, b));
    const OnnxVal *src[2] = { a, b };
    OnnxStmt *s = imp_stmt(im, "add", "", src, 2);
    imp_set_act(im, imp_output(im, 0), a, stmt_index(im, s), a->rank, a->dims);
    return 0;
}

/* Whether small is one value per channel of big: [N, C, 1, 1] against
 * [N, C, H, W]. */
static int per_channel_of(const OnnxVal *small, const OnnxVal *big)
{
    return big->rank == 4 && small->rank == 4 && small->dims[0] == big->dims[0] &&
           small->dims[1] == big->dims[1] && small->dims[2] == 1 && small->dims[3] == 1;
}

/* mul or sub of two activations: equal shapes, or one per channel of the
 * other (squeeze-and-excitation). 1 when a or b is not an activation. */
static int binary_act(Imp *im, const char *op, OnnxVal *a, OnnxVal *b)
{
    if (a->kind != VAL_ACT || b->kind != VAL_ACT)
        return 1;
    if (!imp_act(im, 0) || !imp_act(im, 1))
        return -1;
    int same = a->rank == b->rank && memcmp(a->dims, b->dims, sizeof *a->dims * (size_t)a->rank) == 0;
    const OnnxVal *big = per_channel_of(a, b) ? b : a;
    if (a->layout != b->layout || (!same && !per_channel_of(a, b) && !per_channel_of(b, a)))
        return imp_error(im, "inputs '%s' %s and '%s' %s: cnnc's %s needs equal shapes, or [N, C, 1, 1] "
                         "against [N, C, H, W]", vname(im, a), shape_text(im, a), vname(im, b),
                         shape_text(im, b), op);
    const OnnxVal *src[2] = { a, b };
    OnnxStmt *s = imp_stmt(im, op, "", src, 2);
    imp_set_act(im, imp_output(im, 0), big, stmt_index(im, s), big->rank, big->dims);
    return 0;
}

/* ---- rbf: exp(-(epsilon * (x - center))^2), as PyTorch exports it ---- */

static int is_scalar(const OnnxVal *v)
{
    return v->kind == VAL_CONST && v->dtype == ONNX_FLOAT && v->numel == 1;
}

/* x (an activation or a stage-1 expression) as a stage-1 expression. */
static int lin_of(const OnnxVal *x, OnnxVal *e)
{
    if (!(x->kind == VAL_ACT && !x->padded) && !(x->kind == VAL_EXPR && x->expr == 1))
        return 0;
    *e = *x;
    if (x->kind == VAL_ACT) {
        e->kind = VAL_EXPR;
        e->expr = 1;
        e->center = 0.0f;
        e->epsilon = 1.0f;
    }
    return 1;
}

static int set_expr(Imp *im, const OnnxVal *e, int stage)
{
    OnnxVal *out = imp_output(im, 0);
    imp_alias(out, e);
    if (out) {
        out->expr = stage;
        out->producer = im->node;
    }
    return 0;
}

static const char *const rbf_msg = "is supported only inside exp(-(e*(x - c))^2), cnnc's rbf activation";

static int op_sub(Imp *im)
{
    static const char *const known[] = { "broadcast", "axis", NULL };
    OnnxVal *a = imp_input(im, 0), *b = a ? imp_input(im, 1) : NULL, e;
    if (!b || imp_attrs_known(im, known))
        return -1;
    int r = ln_sub(im, a, b);
    if (r > 0)
        r = binary_act(im, "sub", a, b);
    if (r > 0 && (!is_scalar(b) || !feeds_rbf(im)))
        r = const_scale(im, a, b, '-');
    if (r > 0)
        r = const_scale(im, b, a, '~');
    if (r <= 0)
        return r;
    if (!lin_of(a, &e) || !is_scalar(b))
        return imp_error(im, "Sub %s (as x - c), or of two activations", rbf_msg);
    e.center += b->f[0] / e.epsilon;
    return set_expr(im, &e, 1);
}

static int op_pow(Imp *im)
{
    OnnxVal *a = imp_input(im, 0), *b = a ? imp_input(im, 1) : NULL, e;
    if (!b || imp_attrs_known(im, no_attrs))
        return -1;
    int l = ln_square(im, a, b, 0);
    if (l <= 0)
        return l;
    if (!lin_of(a, &e) || !is_scalar(b) || b->f[0] != 2.0f)
        return imp_error(im, "Pow %s (as d^2)", rbf_msg);
    return set_expr(im, &e, 2);
}

static int op_neg(Imp *im)
{
    OnnxVal *a = imp_input(im, 0);
    if (!a || imp_attrs_known(im, no_attrs))
        return -1;
    if (a->kind != VAL_EXPR || a->expr != 2)
        return imp_error(im, "Neg %s", rbf_msg);
    return set_expr(im, a, 3);
}

static int op_exp(Imp *im)
{
    OnnxVal *a = imp_input(im, 0);
    if (!a || imp_attrs_known(im, no_attrs))
        return -1;
    if (a->kind != VAL_EXPR || a->expr != 3)
        return imp_error(im, "Exp %s", rbf_msg);
    OnnxVal x = *a;
    x.kind = VAL_ACT;
    return same_shape(im, &x, "rbf", arena_printf(im->a, "center=%s, epsilon=%s", imp_fmt_float(im, a->center),
                                                  imp_fmt_float(im, a->epsilon)));
}

/* ---- gelu: Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5), PyTorch's export ---- */

enum { GELU_DIV = 11, GELU_ERF, GELU_ADD, GELU_MUL };   /* VAL_EXPR stages after rbf's */

static const char *const gelu_msg = "is supported only inside x * 0.5 * (1 + erf(x / sqrt(2))), cnnc's gelu";

static int is_stage(const OnnxVal *v, int stage)
{
    return v->kind == VAL_EXPR && v->expr == stage;
}

static int scalar_is(const OnnxVal *v, float want)
{
    return is_scalar(v) && fabsf(v->f[0] - want) <= 1e-6f * fabsf(want);
}

/* x / c: the first step of a gelu (c = sqrt 2). */
static int op_div(Imp *im)
{
    OnnxVal *a = imp_input(im, 0), *b = a ? imp_input(im, 1) : NULL;
    if (!b || imp_attrs_known(im, no_attrs))
        return -1;
    int l = ln_div(im, a, b);
    if (l <= 0)
        return l;
    if (a->kind != VAL_ACT || a->padded || !scalar_is(b, 1.41421356f)) {
        int r = const_scale(im, a, b, '/');
        return r <= 0 ? r : imp_error(im, "Div is supported only by a constant (one value, or one per channel) or %s",
                                      gelu_msg + strlen("is supported only "));
    }
    OnnxVal e = *a;
    e.kind = VAL_EXPR;
    return set_expr(im, &e, GELU_DIV);
}

static int op_erf(Imp *im)
{
    OnnxVal *a = imp_input(im, 0);
    if (!a || imp_attrs_known(im, no_attrs))
        return -1;
    if (!is_stage(a, GELU_DIV))
        return imp_error(im, "Erf %s", gelu_msg);
    return set_expr(im, a, GELU_ERF);
}

/* Add(erf, 1) of a gelu; 1 when a and b are not that. */
static int gelu_add(Imp *im, const OnnxVal *a, const OnnxVal *b)
{
    const OnnxVal *e = is_stage(a, GELU_ERF) ? a : is_stage(b, GELU_ERF) ? b : NULL;
    if (!e)
        return 1;
    if (!scalar_is(e == a ? b : a, 1.0f))
        return imp_error(im, "Add %s", gelu_msg);
    return set_expr(im, e, GELU_ADD);
}

/* Mul(x, 1 + erf) and Mul(that, 0.5) of a gelu; 1 when a and b are not
 * those. */
static int gelu_mul(Imp *im, OnnxVal *a, OnnxVal *b)
{
    for (int k = 0; k < 2; k++) {
        OnnxVal *e = k ? b : a, *o = k ? a : b;
        if (is_stage(e, GELU_ADD)) {
            if (o->kind != VAL_ACT || o->stmt != e->stmt || o->padded)
                return imp_error(im, "Mul %s (as x * (1 + erf(...)) of the same x)", gelu_msg);
            return set_expr(im, e, GELU_MUL);
        }
        if (is_stage(e, GELU_MUL)) {
            if (!scalar_is(o, 0.5f))
                return imp_error(im, "Mul %s (as ... * 0.5)", gelu_msg);
            OnnxVal x = *e;
            x.kind = VAL_ACT;
            return same_shape(im, &x, "gelu", "");
        }
    }
    return 1;
}

/* x * Sigmoid(x) is swish (PyTorch exports SiLU this way); x * e and d * d
 * are parts of an rbf. */
static int op_mul(Imp *im)
{
    OnnxVal *a = imp_input(im, 0);
    OnnxVal *b = a ? imp_input(im, 1) : NULL, e;
    if (!b || imp_attrs_known(im, no_attrs))
        return -1;
    int g = ln_square(im, a, b, 1);
    if (g > 0)
        g = gelu_mul(im, a, b);
    if (g <= 0)
        return g;
    for (int k = 0; k < 2; k++) {
        OnnxVal *x = k ? b : a, *sg = k ? a : b;
        OnnxStmt *s = sg->kind == VAL_ACT && sg->stmt >= 0 ? &im->stmts[sg->stmt] : NULL;
        if (x->kind == VAL_ACT && !x->padded && s && strcmp(s->op, "sigmoid") == 0 && s->src[0] == x->stmt) {
            if (sg->nuses > 1)
                return same_shape(im, x, "swish", "");
            s->op = "swish";      /* the sigmoid only fed this Mul: it becomes the swish */
            s->node = im->node;
            imp_alias(imp_output(im, 0), sg);
            return 0;
        }
        if (is_scalar(sg) && lin_of(x, &e) && (x->kind == VAL_EXPR || feeds_rbf(im))) {
            e.epsilon *= sg->f[0];
            return set_expr(im, &e, 1);
        }
    }
    if (a == b && lin_of(a, &e))
        return set_expr(im, &e, 2);
    int r = binary_act(im, "mul", a, b);
    if (r > 0)
        r = b->kind == VAL_CONST ? const_scale(im, a, b, '*') : const_scale(im, b, a, '*');
    if (r <= 0)
        return r;
    return imp_error(im, "Mul is supported only as x * Sigmoid(x) (swish), of two activations, by a constant "
                     "of one value or one per channel, or inside exp(-(e*(x - c))^2) (rbf), a gelu or a layer norm");
}

static int concat_fits(Imp *im, const OnnxVal *first, const OnnxVal *x, long long a)
{
    int same = x->rank == first->rank && x->layout == first->layout && x->lead == first->lead;
    for (int i = 0; same && i < x->rank; i++)
        same = i == a || x->dims[i] == first->dims[i];
    if (!same)
        return imp_error(im, "input '%s' %s does not fit '%s' %s for a concatenation along axis %lld",
                         vname(im, x), shape_text(im, x), vname(im, first), shape_text(im, first), a);
    return 0;
}

static int op_concat(Imp *im)
{
    static const char *const known[] = { "axis", NULL };
    const OnnxNode *n = imp_node(im);
    long long axis;
    if (imp_attrs_known(im, known) || imp_attr_int(im, "axis", 1, &axis))
        return -1;
    if (n->ninputs < 1 || n->ninputs > LIMIT_SOURCES)
        return imp_error(im, "%d inputs; cnnc concatenates 1 to %d", n->ninputs, LIMIT_SOURCES);
    const OnnxVal **src = arena_alloc(im->a, sizeof *src * (size_t)n->ninputs);
    long long dims[ONNX_MAX_RANK];
    for (int k = 0; k < n->ninputs; k++)
        if (!(src[k] = imp_act(im, k)))
            return -1;
    long long a = axis < 0 ? axis + src[0]->rank : axis;
    int c = imp_cnn_axis(src[0], axis);
    if (c != 0)
        return imp_error(im, "attribute 'axis' = %lld is not supported: cnnc concatenates along channels "
                         "(axis 1 of [N, C, ...])", axis);
    memcpy(dims, src[0]->dims, sizeof dims);
    for (int k = 1; k < n->ninputs; k++) {
        if (concat_fits(im, src[0], src[k], a) != 0)
            return -1;
        dims[a] += src[k]->dims[a];
    }
    if (n->ninputs == 1) {
        imp_alias(imp_output(im, 0), src[0]);
        return 0;
    }
    OnnxStmt *s = imp_stmt(im, "concat", "", src, n->ninputs);
    imp_set_act(im, imp_output(im, 0), src[0], stmt_index(im, s), src[0]->rank, dims);
    return 0;
}

/* ---- Constant, Pad, Transpose ---- */

/* A Constant's value_float(s) or value_int(s) as a tensor: n values, a
 * scalar (rank 0) or a vector. */
static void constant_list(Imp *im, OnnxTensor *t, int dtype, const void *values, long long n,
                          int scalar)
{
    size_t esize = dtype == ONNX_FLOAT ? sizeof *t->floats : sizeof *t->ints;
    void *data = arena_alloc(im->a, esize * (size_t)(n + 1));
    if (n)
        memcpy(data, values, esize * (size_t)n);
    t->dtype = dtype;
    t->numel = n;
    t->rank = !scalar;
    t->dims[0] = n;
    if (dtype == ONNX_FLOAT) {
        t->floats = data;
        t->nfloats = n;
    } else {
        t->ints = data;
        t->nints = n;
    }
}

/* Fills t from the Constant's one attribute; -1 after an error. */
static int constant_tensor(Imp *im, const OnnxAttr *a, OnnxTensor *t)
{
    if (strcmp(a->name, "value") == 0 && a->t)
        *t = *a->t;
    else if (strcmp(a->name, "value_float") == 0)
        constant_list(im, t, ONNX_FLOAT, &a->f, 1, 1);
    else if (strcmp(a->name, "value_floats") == 0)
        constant_list(im, t, ONNX_FLOAT, a->floats, a->nfloats, 0);
    else if (strcmp(a->name, "value_int") == 0)
        constant_list(im, t, ONNX_INT64, &a->i, 1, 1);
    else if (strcmp(a->name, "value_ints") == 0)
        constant_list(im, t, ONNX_INT64, a->ints, a->nints, 0);
    else
        return imp_error(im, "attribute '%s' is not supported", onnx_printable(im->a, a->name));
    return 0;
}

static int op_constant(Imp *im)
{
    const OnnxNode *n = imp_node(im);
    OnnxVal *out = imp_output(im, 0);
    if (n->nattrs != 1)
        return imp_error(im, "a Constant needs exactly one attribute, got %d", n->nattrs);
    OnnxTensor *t = arena_alloc(im->a, sizeof *t);
    if (constant_tensor(im, &n->attrs[0], t) != 0)
        return -1;
    if (!out)
        return 0;
    out->kind = VAL_CONST;
    out->tensor = t;
    out->rank = t->rank;
    memcpy(out->dims, t->dims, sizeof t->dims);
    out->numel = t->numel;
    out->dtype = t->dtype;
    return 0;
}

static int pad_list(Imp *im, const OnnxVal *x, long long *pads, float *value)
{
    int n;
    *value = 0.0f;
    if (im->opset < 11) {
        if (imp_attr_ints(im, imp_attr(im, "paddings") ? "paddings" : "pads", ONNX_MAX_RANK * 2, pads, &n) ||
            imp_attr_float(im, "value", 0.0f, value))
            return -1;
    } else {
        OnnxVal *p = imp_const(im, 1, ONNX_INT64);
        OnnxVal *v = p ? imp_input_opt(im, 2) : NULL;
        if (!p || im->ctx->nerrors)
            return -1;
        if (v && (v->kind != VAL_CONST || v->dtype != ONNX_FLOAT || v->numel != 1))
            return imp_error(im, "input 2 '%s' (constant_value) must be a constant scalar", vname(im, v));
        if (v)
            *value = v->f[0];
        if (imp_input_opt(im, 3))
            return imp_error(im, "input 3 (axes) is not supported");
        n = p->numel > 2 * ONNX_MAX_RANK ? -1 : (int)p->numel;
        if (n > 0)
            memcpy(pads, p->i, sizeof *pads * (size_t)n);
    }
    if (n != 2 * x->rank)
        return imp_error(im, "pads have %d values, expected %d", n, 2 * x->rank);
    return 0;
}

/* A reflect or non-zero Pad is cnnc's pad statement. */
static int pad_stmt(Imp *im, OnnxVal *x, const long long *p, int reflect, float value)
{
    int r = x->rank, h = r == 4 ? 2 : -1, w = r - 1;
    if (x->padded || !imp_act(im, 0))
        return x->padded ? imp_error(im, "a Pad of a Pad is not supported") : -1;
    long long t = h >= 0 ? p[h] : 0, b = h >= 0 ? p[r + h] : 0, dims[ONNX_MAX_RANK];
    const char *args = arena_printf(im->a, "padding=[%lld, %lld, %lld, %lld]", t, p[w], b, p[r + w]);
    if (reflect)
        args = arena_printf(im->a, "%s, mode=reflect", args);
    else
        args = arena_printf(im->a, "%s, value=%s", args, imp_fmt_float(im, value));
    memcpy(dims, x->dims, sizeof dims);
    for (int i = 0; i < r; i++)
        dims[i] += p[i] + p[r + i];
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, "pad", args, src, 1);
    imp_set_act(im, imp_output(im, 0), x, stmt_index(im, s), r, dims);
    return 0;
}

/* A zero Pad of the spatial axes stays owed to the Conv that reads it; a
 * reflect or non-zero one is a pad statement. */
static int op_pad(Imp *im)
{
    static const char *const known[] = { "mode", "pads", "paddings", "value", NULL };
    const char *mode;
    float value;
    long long p[2 * ONNX_MAX_RANK];
    OnnxVal *x = conv_input(im, "Pad");
    if (!x || imp_attrs_known(im, known) || imp_attr_string(im, "mode", "constant", &mode))
        return -1;
    int reflect = strcmp(mode, "reflect") == 0;
    if (strcmp(mode, "constant") != 0 && !reflect)
        return imp_error(im, "attribute 'mode' = '%s' is not supported (only constant and reflect)",
                         onnx_printable(im->a, mode));
    if (pad_list(im, x, p, &value) != 0)
        return -1;
    int r = x->rank;
    for (int i = 0; i < r; i++)
        if (p[i] < 0 || p[r + i] < 0 || p[i] > LIMIT_DIM || p[r + i] > LIMIT_DIM || (i < 2 && (p[i] || p[r + i])))
            return imp_error(im, "pads on axis %d are not supported: cnnc pads only the spatial axes, by 0 to %d",
                             i, LIMIT_DIM);
    if (reflect || value != 0.0f)
        return pad_stmt(im, x, p, reflect, value);
    OnnxVal *out = imp_output(im, 0);
    imp_alias(out, x);
    if (!out)
        return 0;
    int h = r == 4 ? 2 : -1, w = r - 1;
    out->padded = 1;
    out->pad[0] += h >= 0 ? (int)p[h] : 0;
    out->pad[1] += (int)p[w];
    out->pad[2] += h >= 0 ? (int)p[r + h] : 0;
    out->pad[3] += (int)p[r + w];
    for (int i = 0; i < r; i++)
        out->dims[i] += p[i] + p[r + i];
    return 0;
}

/* ---- Resize, Upsample: cnnc's upsample by integer factors ---- */

/* The integer factors of H and W from constant scales (or sizes); the
 * batch and channels must keep their size. */
static int resize_factors(Imp *im, const OnnxVal *x, int scales_at, long long *f)
{
    OnnxVal *sc = imp_input_opt(im, scales_at), *sz = scales_at == 2 ? imp_input_opt(im, 3) : NULL;
    if (sc && sc->kind == VAL_CONST && sc->numel == 0)
        sc = NULL;
    const OnnxVal *v = sc ? sc : sz;
    if (!v || v->kind != VAL_CONST || v->dtype != (sc ? ONNX_FLOAT : ONNX_INT64) || v->numel != x->rank ||
        x->rank != 4 || !x->lead)
        return imp_error(im, "only constant scales (or sizes) of [N, C, H, W] are supported");
    for (int i = 0; i < 4; i++) {
        double q = sc ? (double)v->f[i] : (double)v->i[i] / (double)x->dims[i];
        f[i] = (long long)q;
        if ((double)f[i] != q || f[i] < 1 || (i < 2 && f[i] != 1) || f[i] * x->dims[i] > LIMIT_DIM)
            return imp_error(im, "scale %g on axis %d is not supported: cnnc upsamples H and W by whole factors",
                             q, i);
    }
    return 0;
}

/* Whether mode and its coordinate rules are PyTorch's nearest (floor(o/s),
 * which half_pixel with round_prefer_* equals for whole factors) or
 * bilinear with align_corners=False; the .cnn mode name, or NULL. */
static const char *resize_mode(Imp *im, int legacy)
{
    const char *mode, *ctm, *nearest;
    if (imp_attr_string(im, "mode", "nearest", &mode) ||
        imp_attr_string(im, "coordinate_transformation_mode", legacy ? "asymmetric" : "half_pixel", &ctm) ||
        imp_attr_string(im, "nearest_mode", "round_prefer_floor", &nearest))
        return NULL;
    int half = strcmp(ctm, "half_pixel") == 0 || strcmp(ctm, "pytorch_half_pixel") == 0;
    if (strcmp(mode, "nearest") == 0 &&
        ((strcmp(ctm, "asymmetric") == 0 && (legacy || strcmp(nearest, "floor") == 0)) ||
         (half && strncmp(nearest, "round_prefer_", 13) == 0)))
        return "nearest";
    if (strcmp(mode, "linear") == 0 && half)
        return "bilinear";
    imp_error(im, "mode '%s' with coordinate_transformation_mode '%s' and nearest_mode '%s' is not supported: "
              "cnnc upsamples as PyTorch's nearest or bilinear (align_corners=False)",
              onnx_printable(im->a, mode), onnx_printable(im->a, ctm), onnx_printable(im->a, nearest));
    return NULL;
}

static int upsample_stmt(Imp *im, int scales_at, int legacy)
{
    long long f[4];
    OnnxVal *x = imp_act(im, 0);
    const char *mode = x ? resize_mode(im, legacy) : NULL;
    if (!mode || resize_factors(im, x, scales_at, f) != 0)
        return -1;
    long long dims[ONNX_MAX_RANK] = { x->dims[0], x->dims[1], x->dims[2] * f[2], x->dims[3] * f[3] };
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, "upsample", arena_printf(im->a, "scale=[%lld, %lld], mode=%s", f[2], f[3], mode),
                           src, 1);
    imp_set_act(im, imp_output(im, 0), x, stmt_index(im, s), 4, dims);
    return 0;
}

static int op_resize(Imp *im)
{
    static const char *const known[] = { "mode", "coordinate_transformation_mode", "nearest_mode",
                                         "cubic_coeff_a", "exclude_outside", "extrapolation_value", NULL };
    return imp_attrs_known(im, known) ? -1 : upsample_stmt(im, im->opset >= 11 ? 2 : 1, 0);
}

/* Upsample (opset 9): scales as input 1; asymmetric coordinates. */
static int op_upsample(Imp *im)
{
    static const char *const known[] = { "mode", NULL };
    if (imp_attrs_known(im, known))
        return -1;
    if (im->opset < 9)
        return imp_error(im, "Upsample before opset 9 (scales as an attribute) is not supported");
    return upsample_stmt(im, 1, 1);
}

/* [N, C, H, W] to channels-last [N, H, W, C] (perm 0 2 3 1) and back
 * (perm 0 3 1 2) move no data in cnnc: the value is marked (OnnxVal.nhwc)
 * and its readers map the channel axis (ConvNeXt's Permute around its
 * LayerNorm and Linear layers). 1 when perm is neither. */
static int channels_last(Imp *im, OnnxVal *x, const long long *perm)
{
    static const long long to_last[4] = { 0, 2, 3, 1 }, to_first[4] = { 0, 3, 1, 2 }, same[4] = { 0, 1, 2, 3 };
    OnnxVal *out = imp_output(im, 0);
    int flip = memcmp(perm, x->nhwc ? to_first : to_last, sizeof same) == 0;
    if (!flip && memcmp(perm, same, sizeof same) != 0)
        return imp_error(im, "perm [%lld, %lld, %lld, %lld] of '%s' %s%s is not supported: cnnc transposes a "
                         "feature map only to channels-last and back (perm [0, 2, 3, 1], then [0, 3, 1, 2])",
                         perm[0], perm[1], perm[2], perm[3], vname(im, x), shape_text(im, x),
                         x->nhwc ? " (channels-last)" : "");
    imp_alias(out, x);
    if (out && flip) {
        out->nhwc = !x->nhwc;
        for (int i = 0; i < 4; i++)
            out->dims[i] = x->dims[perm[i]];
    }
    return 0;
}

/* A constant Transpose was folded (fold.c): this one reads an activation,
 * which is supported to channels-last and back, and as the middle of a
 * channel shuffle. */
static int op_transpose(Imp *im)
{
    static const char *const known[] = { "perm", NULL };
    static const long long swap[5] = { 0, 2, 1, 3, 4 };
    long long perm[ONNX_MAX_RANK];
    int n;
    OnnxVal *x = imp_input(im, 0);
    if (!x || imp_attrs_known(im, known) || imp_attr_ints(im, "perm", ONNX_MAX_RANK, perm, &n))
        return -1;
    if (x->kind == VAL_ACT && !x->padded && x->rank == 4 && x->lead && x->layout == LAY_MAP && n == 4)
        return channels_last(im, x, perm);
    if (x->kind != VAL_EXPR || x->expr != SHUF_SPLIT || n != 5 || memcmp(perm, swap, sizeof swap) != 0)
        return imp_error(im, "a Transpose of an activation is supported only to channels-last and back "
                         "(perm [0, 2, 3, 1], then [0, 3, 1, 2]) and as the middle of a channel "
                         "shuffle (Reshape to [N, G, C/G, H, W], perm [0, 2, 1, 3, 4], Reshape back)");
    OnnxVal e = *x;
    e.dims[1] = x->dims[2];
    e.dims[2] = x->dims[1];
    return set_stage(im, &e, SHUF_SWAP);
}

/* ---- layer norm over the channels, as PyTorch exports it before opset 17:
 * Div(Sub(x, ReduceMean(x)), Sqrt(Add(ReduceMean(Pow(Sub(...), 2)), eps))),
 * each mean over the channel axis (the last of a channels-last map, 1 of
 * [N, C, H, W], or a vector's); the Mul and Add of its weight and bias
 * that follow fold into the layernorm statement ---- */

enum { LN_MEAN = 31, LN_DIFF, LN_SQ, LN_VAR, LN_VAREPS, LN_STD };   /* VAL_EXPR stages after the shuffle's */

static const char *const ln_msg = "is supported only inside (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) "
                                  "over the channels, cnnc's layernorm";

const char *imp_expr_what(int expr)
{
    if (expr >= LN_MEAN)
        return "(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) over the channels, cnnc's layernorm";
    if (expr >= SHUF_SPLIT)
        return "a channel shuffle (Reshape to [N, G, C/G, H, W], Transpose perm [0, 2, 1, 3, 4], Reshape back)";
    if (expr >= GELU_DIV)
        return "x * 0.5 * (1 + erf(x / sqrt(2))), cnnc's gelu";
    return "exp(-(e*(x - c))^2), its rbf activation";
}

/* Whether a and b are stages computed from the same activation. */
static int same_source(const OnnxVal *a, const OnnxVal *b)
{
    return a->stmt == b->stmt && a->nhwc == b->nhwc && a->rank == b->rank && a->layout == b->layout &&
           memcmp(a->dims, b->dims, sizeof *a->dims * (size_t)a->rank) == 0;
}

/* Sub(x, mean(x)); 1 when b is not a layer norm's mean. */
static int ln_sub(Imp *im, OnnxVal *a, const OnnxVal *b)
{
    if (is_stage(a, LN_MEAN))
        return imp_error(im, "Sub %s (as x - mean(x))", ln_msg);
    if (!is_stage(b, LN_MEAN))
        return 1;
    if (a->kind != VAL_ACT || a->padded || !same_source(a, b))
        return imp_error(im, "Sub %s (as x - mean(x) of the same x)", ln_msg);
    OnnxVal e = *a;
    e.kind = VAL_EXPR;
    return set_expr(im, &e, LN_DIFF);
}

/* Pow(d, 2) or Mul(d, d) of d = x - mean(x); 1 when a is not d. */
static int ln_square(Imp *im, const OnnxVal *a, const OnnxVal *b, int mul)
{
    if (!is_stage(a, LN_DIFF) && !is_stage(b, LN_DIFF))
        return 1;
    if (!is_stage(a, LN_DIFF) || (mul ? a != b : !scalar_is(b, 2.0f)))
        return imp_error(im, "%s %s (as (x - mean(x))^2)", mul ? "Mul" : "Pow", ln_msg);
    return set_expr(im, a, LN_SQ);
}

/* Add(variance, eps); 1 when neither is a layer norm's variance. */
static int ln_add(Imp *im, const OnnxVal *a, const OnnxVal *b)
{
    const OnnxVal *v = is_stage(a, LN_VAR) ? a : is_stage(b, LN_VAR) ? b : NULL, *c = v == a ? b : a;
    if (!v)
        return 1;
    if (!is_scalar(c) || !(c->f[0] > 0.0f) || !isfinite(c->f[0]))
        return imp_error(im, "Add %s (as variance + eps, eps a constant greater than 0)", ln_msg);
    OnnxVal e = *v;
    e.epsilon = c->f[0];
    return set_expr(im, &e, LN_VAREPS);
}

static int op_sqrt(Imp *im)
{
    OnnxVal *a = imp_input(im, 0);
    if (!a || imp_attrs_known(im, no_attrs))
        return -1;
    if (!is_stage(a, LN_VAREPS))
        return imp_error(im, "Sqrt %s", ln_msg);
    return set_expr(im, a, LN_STD);
}

/* A layernorm statement on x: weight and bias from w and b (NULL: 1, 0). */
static int ln_stmt(Imp *im, const OnnxVal *x, float eps, const OnnxVal *w, const OnnxVal *b)
{
    long long c = sample_dim0(x);
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, "layernorm", eps == 1e-5f ? "" : arena_printf(im->a, "epsilon=%s",
                                                                          imp_fmt_float(im, eps)), src, 1);
    float *sw = imp_weight(im, s, "weight", 1, &c)->data, *sb = imp_weight(im, s, "bias", 1, &c)->data;
    for (long long i = 0; i < c; i++) {
        sw[i] = w ? w->f[w->numel == 1 ? 0 : i] : 1.0f;
        sb[i] = b ? b->f[b->numel == 1 ? 0 : i] : 0.0f;
    }
    imp_set_act(im, imp_output(im, 0), x, stmt_index(im, s), x->rank, x->dims);
    return 0;
}

/* Div(x - mean(x), sqrt(var + eps)): the layernorm; 1 when b is not that. */
static int ln_div(Imp *im, const OnnxVal *a, const OnnxVal *b)
{
    if (!is_stage(b, LN_STD) && !is_stage(a, LN_DIFF))
        return 1;
    if (!is_stage(a, LN_DIFF) || !is_stage(b, LN_STD) || !same_source(a, b))
        return imp_error(im, "Div %s (as (x - mean(x)) / sqrt(var + eps) of the same x)", ln_msg);
    OnnxVal x = *a;
    x.kind = VAL_ACT;
    return ln_stmt(im, &x, b->epsilon, NULL, NULL);
}

/* Whether a live node after this one reads its output as input k of an
 * op_type. */
static int read_later_as(Imp *im, const char *op_type, int k)
{
    const OnnxNode *me = imp_node(im);
    if (me->noutputs < 1 || !me->outputs[0][0])
        return 0;
    for (int i = im->node + 1; i < im->g->nnodes; i++) {
        const OnnxNode *n = &im->g->nodes[i];
        if (im->live[i] && strcmp(n->op_type, op_type) == 0 && k < n->ninputs &&
            strcmp(n->inputs[k], me->outputs[0]) == 0)
            return 1;
    }
    return 0;
}

/* Whether this node's output leads (through Sub and Mul by constants) to
 * a square, as in exp(-(e*(x - c))^2): then x - c and x * e are parts of
 * an rbf, otherwise a scale. */
static int feeds_rbf(Imp *im)
{
    const OnnxNode *me = imp_node(im);
    const char *v = me->noutputs ? me->outputs[0] : "";
    for (int i = im->node + 1, steps = 0; v[0] && i < im->g->nnodes && steps < 4; i++) {
        const OnnxNode *n = &im->g->nodes[i];
        int reads = 0;
        for (int k = 0; im->live[i] && k < n->ninputs; k++)
            reads += strcmp(n->inputs[k], v) == 0;
        if (!reads)
            continue;
        if (strcmp(n->op_type, "Pow") == 0 || (strcmp(n->op_type, "Mul") == 0 && reads == 2))
            return 1;
        if ((strcmp(n->op_type, "Mul") != 0 && strcmp(n->op_type, "Sub") != 0) || n->noutputs < 1)
            return 0;
        v = n->outputs[0];
        steps++;
    }
    return 0;
}

/* The axes of a ReduceMean (an attribute, or from opset 18 a constant
 * input), in range, made non-negative; n = 0: all (unless noop). */
static int reduce_axes(Imp *im, const OnnxVal *x, long long *axes, int *n)
{
    if (im->opset < 18) {
        if (imp_attr_ints(im, "axes", ONNX_MAX_RANK, axes, n))
            return -1;
    } else {
        OnnxVal *a = imp_input_opt(im, 1);
        if (im->ctx->nerrors)
            return -1;
        if (a && (a->kind != VAL_CONST || a->dtype != ONNX_INT64 || a->numel > ONNX_MAX_RANK))
            return imp_error(im, "input 1 (axes) must be a constant list of at most %d axes", ONNX_MAX_RANK);
        *n = a ? (int)a->numel : 0;
        for (int k = 0; k < *n; k++)
            axes[k] = a->i[k];
    }
    if (*n < 0)
        *n = 0;
    for (int k = 0; k < *n; k++) {
        long long v = axes[k] < 0 ? axes[k] + x->rank : axes[k];
        if (v < 0 || v >= x->rank)
            return imp_error(im, "axis %lld is out of range for rank %d", axes[k], x->rank);
        axes[k] = v;
        for (int j = 0; j < k; j++)
            if (axes[j] == v)
                return imp_error(im, "axis %lld is listed twice", v);
    }
    return 0;
}

/* ReduceMean: over H and W of a feature map is cnnc's mean (keepdims=0:
 * mean(keepdims=false), a vector per sample); over axes of size 1 a
 * relabelling (a flatten); over the channels the start of a layer norm;
 * of a layer norm's squared differences, its variance. */
static int op_reduce_mean(Imp *im)
{
    static const char *const known[] = { "axes", "keepdims", "noop_with_empty_axes", NULL };
    long long axes[ONNX_MAX_RANK], keep, noop;
    int n;
    OnnxVal *x = imp_input(im, 0);
    if (!x || imp_attrs_known(im, known) || imp_attr_int(im, "keepdims", 1, &keep) ||
        imp_attr_int(im, "noop_with_empty_axes", 0, &noop) || reduce_axes(im, x, axes, &n))
        return -1;
    if (n == 0 && noop) {
        imp_alias(imp_output(im, 0), x);
        return 0;
    }
    int on_channels = n == 1 && axes[0] == chan_axis(x) && keep;
    if (is_stage(x, LN_SQ)) {
        if (!on_channels)
            return imp_error(im, "ReduceMean %s (as the mean of (x - mean(x))^2 over the channel axis %d, "
                             "keepdims=1)", ln_msg, chan_axis(x));
        return set_expr(im, x, LN_VAR);
    }
    if (!(x = imp_act_nhwc(im, 0)))
        return -1;
    if (on_channels && x->lead && x->rank >= 2 && read_later_as(im, "Sub", 1)) {
        OnnxVal e = *x;
        e.kind = VAL_EXPR;
        return set_expr(im, &e, LN_MEAN);
    }
    long long dims[ONNX_MAX_RANK];
    int r = 0, ones = 1, hw = 0;
    for (int i = 0; i < x->rank; i++) {
        int red = n == 0;
        for (int k = 0; k < n; k++)
            red |= axes[k] == i;
        ones &= !red || x->dims[i] == 1;
        hw += red && i >= 2 && x->lead && x->layout != LAY_VEC;
        if (!red || keep)
            dims[r++] = red ? 1 : x->dims[i];
    }
    int spatial = !x->nhwc && hw == n && hw == x->rank - 2 && n > 0;
    if (ones && !x->nhwc)      /* a mean over sizes 1 moves no data */
        return keep ? (imp_alias(imp_output(im, 0), x), 0) : reshape_to(im, x, r, dims, "ReduceMean of");
    if (!spatial)
        return imp_error(im, "only the mean over H and W of [N, C, H, W] (or L of [N, C, L]) is supported "
                         "(cnnc's mean), over axes of size 1, or over the channels inside a layer norm; "
                         "here over %d of the axes of %s%s", n ? n : x->rank, shape_text(im, x),
                         x->nhwc ? " (channels-last)" : "");
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, "mean", keep ? "" : "keepdims=false", src, 1);
    OnnxVal *out = imp_output(im, 0);
    imp_set_act(im, out, x, stmt_index(im, s), r, dims);
    if (out && !keep)
        out->layout = LAY_VEC;
    return 0;
}

/* LayerNormalization (opset 17) over the channels: axis the last axis of a
 * channels-last map or of a batch of vectors (or any axis when the other
 * normalized dims are 1). */
static int op_layer_norm(Imp *im)
{
    static const char *const known[] = { "axis", "epsilon", "stash_type", NULL };
    long long axis;
    float eps;
    OnnxVal *x = imp_act_nhwc(im, 0);
    if (!x || imp_attrs_known(im, known) || imp_attr_int(im, "axis", -1, &axis) ||
        imp_attr_float(im, "epsilon", 1e-5f, &eps))
        return -1;
    long long a = axis < 0 ? axis + x->rank : axis;
    if (a < 0 || a >= x->rank)
        return imp_error(im, "attribute 'axis' = %lld is out of range for rank %d", axis, x->rank);
    int ok = x->lead && x->rank >= 2 && a >= 1 && chan_axis(x) >= a;
    for (int i = (int)a; ok && i < x->rank; i++)
        ok = i == chan_axis(x) || x->dims[i] == 1;
    if (!ok)
        return imp_error(im, "a LayerNormalization over axes %lld.. of %s%s is not supported: cnnc's layernorm "
                         "normalizes over the channels (the last axis after a Transpose perm [0, 2, 3, 1], "
                         "or of a batch of vectors)", a, shape_text(im, x), x->nhwc ? " (channels-last)" : "");
    if (!(eps > 0.0f))
        return imp_error(im, "attribute 'epsilon' must be greater than 0");
    for (int k = 1; k < imp_node(im)->noutputs; k++)
        if (!imp_output_unused(im, k))
            return imp_error(im, "output %d (%s) is not supported", k, k == 1 ? "Mean" : "InvStdDev");
    long long c = sample_dim0(x);
    OnnxVal *w = imp_const(im, 1, ONNX_FLOAT), *b = w ? imp_input_opt(im, 2) : NULL;
    if (!w || im->ctx->nerrors || (b && !(b = imp_const(im, 2, ONNX_FLOAT))))
        return -1;
    for (int k = 1; k < 3; k++) {
        const OnnxVal *v = k == 1 ? w : b;
        if (v && v->numel != c && v->numel != 1)
            return imp_error(im, "input %d '%s' has shape %s, expected [%lld] (one per channel)", k, vname(im, v),
                             shape_text(im, v), c);
    }
    return ln_stmt(im, x, eps, w, b);
}

/* MatMul of a channels-last [N, H, W, K] by a constant [K, U] (a Linear
 * layer on the channels, ConvNeXt): a 1x1 conv2d; the Add of its bias
 * folds in. */
static int matmul_channels_last(Imp *im, OnnxVal *x)
{
    OnnxVal *b = imp_const(im, 1, ONNX_FLOAT);
    if (!b || imp_attrs_known(im, no_attrs) || !imp_act_nhwc(im, 0))
        return -1;
    long long k = x->dims[3];
    if (b->rank != 2 || b->dims[0] != k)
        return imp_error(im, "input 1 '%s' has shape %s, which does not fit input 0 %s (channels-last)",
                         vname(im, b), shape_text(im, b), shape_text(im, x));
    long long u = b->dims[1], shape[4] = { u, k, 1, 1 };
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, "conv2d", arena_printf(im->a, "filters=%lld, kernel=1", u), src, 1);
    s->has_bias_arg = 1;
    s->note = "MatMul over the channels of a channels-last map";
    OnnxWeight *w = imp_weight(im, s, "weight", 4, shape);
    for (long long i = 0; i < u; i++)
        for (long long j = 0; j < k; j++)
            w->data[i * k + j] = b->f[j * u + i];
    long long dims[4] = { x->dims[0], x->dims[1], x->dims[2], u };
    imp_set_act(im, imp_output(im, 0), x, stmt_index(im, s), 4, dims);
    return 0;
}

/* ---- Slice and Split of the channels: a 1x1 conv2d with 0/1 weights
 * (of a vector's features: a dense layer) ---- */

/* Output k: channels [first, first + count) of x, as a 1x1 conv2d whose
 * weights are 0 and 1 (exact for finite values: each output is one input
 * times 1 plus zeros). */
static int select_channels(Imp *im, const OnnxVal *x, int k, long long first, long long count)
{
    long long c = x->dims[1], shape[4] = { count, c, 1, 1 }, dims[ONNX_MAX_RANK];
    int vec = x->layout == LAY_VEC;
    const OnnxVal *src[1] = { x };
    OnnxStmt *s = imp_stmt(im, vec ? "dense" : "conv2d", arena_printf(im->a, vec ? "units=%lld" : "filters=%lld, kernel=1",
                                                                       count), src, 1);
    s->has_bias_arg = 1;
    s->note = arena_printf(im->a, "%s %lld..%lld of %lld (weights 0 and 1)", vec ? "features" : "channels", first,
                           first + count - 1, c);
    OnnxWeight *w = imp_weight(im, s, "weight", vec ? 2 : 4, shape);
    memset(w->data, 0, sizeof *w->data * (size_t)(count * c));
    for (long long i = 0; i < count; i++)
        w->data[i * c + first + i] = 1.0f;
    memcpy(dims, x->dims, sizeof dims);
    dims[1] = count;
    imp_set_act(im, imp_output(im, k), x, stmt_index(im, s), x->rank, dims);
    return 0;
}

/* The data input of a Slice or Split along the channels (or the features
 * of a batch of vectors: a dense layer with 0/1 weights). */
static OnnxVal *channel_source(Imp *im, const char *what)
{
    OnnxVal *x = imp_act(im, 0);
    if (x && x->lead && x->layout == LAY_VEC && x->rank == 2)
        return x;
    return x && !need_nchw(im, x, what) ? x : NULL;
}

static int slice_list(Imp *im, int k, const char *attr, long long *out, int *n)
{
    if (im->opset < 10)
        return imp_attr_ints(im, attr, ONNX_MAX_RANK, out, n);
    OnnxVal *v = imp_input_opt(im, k);
    *n = -1;
    if (!v)
        return im->ctx->nerrors ? -1 : 0;
    if (v->kind != VAL_CONST || v->dtype != ONNX_INT64 || v->numel > ONNX_MAX_RANK)
        return imp_error(im, "input %d (%s) must be a constant list of at most %d values", k, attr, ONNX_MAX_RANK);
    *n = (int)v->numel;
    memcpy(out, v->i, sizeof *out * (size_t)*n);
    return 0;
}

static int op_slice(Imp *im)
{
    static const char *const known[] = { "starts", "ends", "axes", NULL };
    long long st[ONNX_MAX_RANK], en[ONNX_MAX_RANK], ax[ONNX_MAX_RANK], sp[ONNX_MAX_RANK];
    int ns, ne, na, np;
    OnnxVal *x = channel_source(im, "a Slice of an activation");
    if (!x || imp_attrs_known(im, im->opset < 10 ? known : no_attrs) || slice_list(im, 1, "starts", st, &ns) ||
        slice_list(im, 2, "ends", en, &ne) || slice_list(im, 3, "axes", ax, &na) || slice_list(im, 4, "steps", sp, &np))
        return -1;
    if (ns < 0 || ns != ne || (na >= 0 && na != ns) || (np >= 0 && np != ns))
        return imp_error(im, "starts, ends, axes and steps must have one value per sliced axis");
    long long first = 0, count = x->dims[1];
    for (int i = 0; i < ns; i++) {
        long long a = na >= 0 ? ax[i] : i;
        a += a < 0 ? x->rank : 0;
        if (a < 0 || a >= x->rank)
            return imp_error(im, "axis %lld is out of range for rank %d", na >= 0 ? ax[i] : i, x->rank);
        long long d = x->dims[a], b = st[i] < 0 ? st[i] + d : st[i], e = en[i] < 0 ? en[i] + d : en[i];
        b = b < 0 ? 0 : b > d ? d : b;
        e = e < 0 ? 0 : e > d ? d : e;
        if (np >= 0 && sp[i] != 1)
            return imp_error(im, "step %lld on axis %lld is not supported: cnnc slices channels with step 1",
                             sp[i], a);
        if (b == 0 && e == d)
            continue;   /* the whole axis */
        if (a != 1 || e <= b)
            return imp_error(im, "a Slice of %s to [%lld, %lld) on axis %lld is not supported: cnnc takes a "
                             "non-empty range of the channels (axis 1)", shape_text(im, x), b, e, a);
        first = b, count = e - b;
    }
    if (count == x->dims[1]) {
        imp_alias(imp_output(im, 0), x);
        return 0;
    }
    return select_channels(im, x, 0, first, count);
}

static int op_split(Imp *im)
{
    static const char *const known[] = { "axis", "split", "num_outputs", NULL };
    const OnnxNode *n = imp_node(im);
    long long axis, parts[ONNX_MAX_RANK * 8], num;
    int np = -1;
    OnnxVal *x = channel_source(im, "a Split of an activation");
    if (!x || imp_attrs_known(im, known) || imp_attr_int(im, "axis", 0, &axis) ||
        imp_attr_int(im, "num_outputs", n->noutputs, &num))
        return -1;
    if (n->noutputs > ONNX_MAX_RANK * 8)
        return imp_error(im, "%d outputs; cnnc splits into at most %d", n->noutputs, ONNX_MAX_RANK * 8);
    if (im->opset < 13) {
        if (imp_attr_ints(im, "split", ONNX_MAX_RANK * 8, parts, &np))
            return -1;
    } else {
        OnnxVal *v = imp_input_opt(im, 1);
        if (im->ctx->nerrors)
            return -1;
        if (v && (v->kind != VAL_CONST || v->dtype != ONNX_INT64 || v->numel > ONNX_MAX_RANK * 8))
            return imp_error(im, "input 1 (split) must be a constant list");
        if (v) {
            np = (int)v->numel;
            memcpy(parts, v->i, sizeof *parts * (size_t)np);
        }
    }
    if (imp_cnn_axis(x, axis) != 0 || (axis < 0 ? axis + x->rank : axis) != 1)
        return imp_error(im, "attribute 'axis' = %lld is not supported: cnnc splits the channels (axis 1)", axis);
    long long c = x->dims[1], k = n->noutputs, first = 0;
    if (np < 0) {
        if (num != k || k < 1)
            return imp_error(im, "attribute 'num_outputs' = %lld does not match the %lld outputs", num, k);
        for (int i = 0; i < k; i++)
            parts[i] = (c + k - 1) / k;
        parts[k - 1] = c - (k - 1) * parts[0];
        np = (int)k;
    }
    long long total = 0;
    for (int i = 0; i < np; i++)
        total += parts[i] > 0 ? parts[i] : c + 1;
    if (np != k || total != c)
        return imp_error(im, "the split into %d parts does not divide the %lld channels into %lld outputs of "
                         "at least 1", np, c, k);
    for (int i = 0; i < np; first += parts[i++])
        if (imp_output(im, i) && imp_output(im, i)->nuses && select_channels(im, x, i, first, parts[i]) != 0)
            return -1;
    return 0;
}

/* ---- the table ---- */

static const struct {
    const char *op_type;
    ImpOpFn fn;
    int channels;      /* reads [N, C, ...]: a rank-3 input is [N, C, L] */
} op_table[] = {
    { "Add", op_add, 0 },
    { "AveragePool", op_avgpool, 1 },
    { "BatchNormalization", op_batchnorm, 1 },
    { "Cast", imp_cast, 0 },
    { "Clip", op_clip, 0 },
    { "Concat", op_concat, 1 },
    { "Constant", op_constant, 0 },
    { "Conv", op_conv, 1 },
    { "DequantizeLinear", imp_dequantize_linear, 0 },
    { "Div", op_div, 0 },
    { "Dropout", op_dropout, 0 },
    { "Elu", op_elu, 0 },
    { "Erf", op_erf, 0 },
    { "Exp", op_exp, 0 },
    { "Flatten", op_flatten, 1 },
    { "Gemm", op_gemm, 1 },
    { "GlobalAveragePool", op_global_avgpool, 1 },
    { "HardSigmoid", op_hard_sigmoid, 0 },
    { "HardSwish", op_hard_swish, 0 },
    { "LayerNormalization", op_layer_norm, 0 },
    { "Identity", op_identity, 0 },
    { "LeakyRelu", op_leaky_relu, 0 },
    { "MatMul", op_matmul, 1 },
    { "MaxPool", op_maxpool, 1 },
    { "Mul", op_mul, 0 },
    { "Neg", op_neg, 0 },
    { "Pad", op_pad, 1 },
    { "Pow", op_pow, 0 },
    { "QLinearConv", imp_qlinear_conv, 1 },
    { "QLinearMatMul", imp_qlinear_matmul, 1 },
    { "QuantizeLinear", imp_quantize_linear, 0 },
    { "ReduceMean", op_reduce_mean, 1 },
    { "Relu", op_relu, 0 },
    { "Resize", op_resize, 1 },
    { "Reshape", op_reshape, 1 },
    { "Selu", op_selu, 0 },
    { "Sigmoid", op_sigmoid, 0 },
    { "Softmax", op_softmax, 0 },
    { "Slice", op_slice, 0 },
    { "Softplus", op_softplus, 0 },
    { "Split", op_split, 1 },
    { "Sqrt", op_sqrt, 0 },
    { "Sub", op_sub, 0 },
    { "Tanh", op_tanh, 0 },
    { "Transpose", op_transpose, 0 },
    { "Upsample", op_upsample, 1 },
};

ImpOpFn imp_find_op(const char *op_type)
{
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
        if (strcmp(op_table[i].op_type, op_type) == 0)
            return op_table[i].fn;
    return NULL;
}

int imp_op_uses_channels(const char *op_type)
{
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
        if (strcmp(op_table[i].op_type, op_type) == 0)
            return op_table[i].channels;
    return 0;
}
