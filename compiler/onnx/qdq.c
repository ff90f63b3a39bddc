/* onnx/qdq.c: models a quantization tool already quantized (docs/onnx.md,
 * "Quantized models"): QuantizeLinear, DequantizeLinear, QLinearConv and
 * QLinearMatMul, as onnxruntime's quantize_static and PyTorch's export of
 * quantized models write them.
 *
 * int8 data never becomes a .cnn value of its own: an int8 activation is
 * held as the float activation it quantizes, whose statement records the
 * scale and zero point (OnnxStmt.q); an int8 constant is held as its real
 * values s * (q - z) with the file's scales beside them (OnnxVal.dqs), and
 * a Conv or Gemm that reads it hands those scales to its weights
 * (imp_quant_weights). import.c passes both to quantize.c as QuantParams,
 * which then uses the file's scales instead of calibrated ranges. uint8 is
 * int8 with the zero point minus 128: the same real values.
 */
#include <math.h>
#include <string.h>

#include "onnx.h"

static const char *vname(Imp *im, const OnnxVal *v)
{
    return onnx_printable(im->a, v->name);
}

/* The dtype an initializer or Constant had before imp_load_const widened it. */
static int raw_dtype(const OnnxVal *v)
{
    return v->tensor ? v->tensor->dtype : v->rawtype ? v->rawtype : v->dtype;
}

int imp_cast(Imp *im)
{
    static const char *const known[] = { "saturate", "to", NULL };
    OnnxVal *x = imp_input(im, 0);
    long long to;
    if (!x || imp_attrs_known(im, known) || imp_attr_int(im, "to", 0, &to) != 0)
        return -1;
    if (!x->q || to != x->qdtype)
        return imp_error(im, "op 'Cast' is supported only on constants (shape computations) and on int8 data "
                         "to its own type");
    imp_alias(imp_output(im, 0), x);
    return 0;
}

int imp_check_not_int8(Imp *im)
{
    const OnnxNode *n = imp_node(im);
    if (strcmp(n->op_type, "DequantizeLinear") == 0 || strcmp(n->op_type, "QLinearConv") == 0 ||
        strcmp(n->op_type, "QLinearMatMul") == 0 || strcmp(n->op_type, "Cast") == 0)
        return 0;
    for (int k = 0; k < n->ninputs; k++) {
        const OnnxVal *v = n->inputs[k][0] ? imp_val(im, n->inputs[k]) : NULL;
        if (v && v->q)
            return imp_error(im, "input %d '%s' is int8 data (from node %d, %s); cnnc reads int8 tensors only "
                             "in DequantizeLinear, QLinearConv and QLinearMatMul (and a Cast to their own type)",
                             k, vname(im, v), v->producer,
                             onnx_printable(im->a, im->g->nodes[v->producer].op_type));
    }
    return 0;
}

/* ---- scales and zero points ---- */

typedef struct QArgs {
    const float *scale;   /* n scales (all > 0, finite) */
    long long n;
    long long *zero;      /* n int8 zero points (uint8: minus 128) */
    int dtype;            /* ONNX_INT8, ONNX_UINT8 or ONNX_INT32 */
} QArgs;

/* A scale input k and its zero point input k + 1 (absent: uint8 0, or
 * dtype_if_absent). */
static int qargs(Imp *im, int k, int dtype_if_absent, QArgs *q)
{
    OnnxVal *s = imp_const(im, k, ONNX_FLOAT);
    if (!s)
        return -1;
    if (s->rank > 1 || s->numel < 1)
        return imp_error(im, "input %d '%s' (scale) has shape of rank %d with %lld values; cnnc reads a scalar "
                         "or one scale per channel", k, vname(im, s), s->rank, s->numel);
    for (long long i = 0; i < s->numel; i++)
        if (!(s->f[i] > 0.0f) || !isfinite(s->f[i]))
            return imp_error(im, "input %d '%s' (scale) holds %s; a scale must be positive and finite", k,
                             vname(im, s), imp_fmt_float(im, s->f[i]));
    q->scale = s->f;
    q->n = s->numel;
    q->zero = arena_alloc(im->a, sizeof *q->zero * (size_t)s->numel);
    const OnnxNode *n = imp_node(im);
    const OnnxVal *zp = k + 1 < n->ninputs && n->inputs[k + 1][0] ? imp_val(im, n->inputs[k + 1]) : NULL;
    q->dtype = zp ? raw_dtype(zp) : dtype_if_absent;   /* before loading it: INT16 does not load */
    if (q->dtype != ONNX_INT8 && q->dtype != ONNX_UINT8 && q->dtype != ONNX_INT32)
        return imp_error(im, "%s has dtype %s; cnnc's int8 path reads INT8 and UINT8 data (and INT32 biases)",
                         zp ? arena_printf(im->a, "input %d '%s' (zero point)", k + 1, vname(im, zp))
                            : "input 0", onnx_dtype_name(q->dtype));
    OnnxVal *z = imp_input_opt(im, k + 1);
    if (!z && im->ctx->nerrors)
        return -1;
    if (z && (z->kind != VAL_CONST || !z->i || z->numel != s->numel))
        return imp_error(im, "input %d '%s' (zero point) must be a constant with one value per scale", k + 1,
                         vname(im, z));
    for (long long i = 0; i < s->numel; i++)
        q->zero[i] = (z ? z->i[i] : 0) - (q->dtype == ONNX_UINT8 ? 128 : 0);
    return 0;
}

/* The node's attribute axis (default 1) for data of rank r. */
static int qaxis(Imp *im, int rank, long long *axis)
{
    long long block = 0;
    if (imp_attr_int(im, "axis", 1, axis) != 0 || imp_attr_int(im, "block_size", 0, &block) != 0)
        return -1;
    if (block != 0)
        return imp_error(im, "attribute 'block_size' = %lld: blocked quantization is not supported", block);
    if (*axis < 0)
        *axis += rank;
    return 0;
}

/* ---- activations ---- */

static OnnxStmt *act_owner(Imp *im, const OnnxVal *x)
{
    return x->stmt >= 0 ? &im->stmts[x->stmt] : &im->input_q;
}

/* Statement x's output is quantized with (s, z) by this node. */
static int quantize_act(Imp *im, OnnxVal *x, float s, int z)
{
    OnnxStmt *o = act_owner(im, x);
    if (o->q && (o->qs != s || o->qz != z))
        return imp_error(im, "input 0 '%s' is quantized with scale %s, zero point %d (int8) here and with scale %s, "
                         "zero point %d by node %d: cnnc gives a tensor one scale", vname(im, x),
                         imp_fmt_float(im, s), z, imp_fmt_float(im, o->qs), o->qz, o->qnode);
    o->q = 1, o->qs = s, o->qz = z, o->qnode = im->node;
    return 0;
}

static int per_tensor(Imp *im, const OnnxVal *x, const QArgs *q)
{
    if (q->n != 1)
        return imp_error(im, "activation '%s' has %lld scales (per channel); cnnc's int8 activations have one "
                         "scale per tensor", vname(im, x), q->n);
    return 0;
}

/* ---- constants: int8 data as its real values ---- */

/* out = the real values of int8 (or int32) data q along axis, with the
 * scales recorded. */
static void dq_const(Imp *im, OnnxVal *out, const OnnxVal *data, const long long *q, const QArgs *a, int axis)
{
    long long inner = 1;
    for (int i = axis + 1; i < data->rank; i++)
        inner *= data->dims[i];
    OnnxVal v = *data;
    v.kind = VAL_CONST;
    v.tensor = NULL;
    v.dtype = ONNX_FLOAT;
    v.i = NULL;
    v.f = arena_alloc(im->a, sizeof *v.f * (size_t)(data->numel + 1));
    for (long long k = 0; k < data->numel; k++) {
        long long c = a->n == 1 ? 0 : (k / inner) % a->n;
        v.f[k] = (float)(q[k] - (a->dtype == ONNX_UINT8 ? 128 : 0) - a->zero[c]) * a->scale[c];
    }
    v.q = 0;
    v.dqs = a->scale;
    v.ndqs = (int)a->n;
    v.dqaxis = axis;
    v.dqz = 0;
    for (long long c = 0; c < a->n; c++)
        v.dqz = a->zero[c] ? (int)a->zero[c] : v.dqz;
    v.dqint = a->dtype == ONNX_INT32 ? 2 : 1;
    imp_alias(out, &v);
}

/* Per-axis scales must match the data's dim along axis. */
static int axis_fits(Imp *im, const OnnxVal *x, const QArgs *a, long long axis)
{
    if (a->n == 1)
        return 0;
    if (axis < 0 || axis >= x->rank || x->dims[axis] != a->n)
        return imp_error(im, "%lld scales do not fit axis %lld of '%s' %s", a->n, axis, vname(im, x),
                         x->rank ? arena_printf(im->a, "with %lld there", axis >= 0 && axis < x->rank ?
                                                x->dims[axis] : 0) : "(a scalar)");
    return 0;
}

/* int8 data as integers: a raw initializer's or a QuantizeLinear's. */
static long long *const_ints(Imp *im, const OnnxVal *x, int dtype)
{
    if (x->i && raw_dtype(x) == dtype)
        return x->i;
    imp_error(im, "input 0 '%s' has dtype %s, the zero point %s", vname(im, x), onnx_dtype_name(raw_dtype(x)),
              onnx_dtype_name(dtype));
    return NULL;
}

static int dequantize_const(Imp *im, OnnxVal *x, OnnxVal *out)
{
    QArgs a;
    long long axis;
    if (qaxis(im, x->rank, &axis) != 0 || qargs(im, 1, raw_dtype(x), &a) != 0 || axis_fits(im, x, &a, axis))
        return -1;
    if (a.dtype == ONNX_INT32)
        for (long long c = 0; c < a.n; c++)
            if (a.zero[c] != 0)
                return imp_error(im, "INT32 data with zero point %lld; an int32 bias has zero point 0", a.zero[c]);
    long long *q = const_ints(im, x, a.dtype);
    if (!q)
        return -1;
    dq_const(im, out, x, q, &a, a.n == 1 ? 0 : (int)axis);
    return 0;
}

/* ---- the ops ---- */

int imp_quantize_linear(Imp *im)
{
    static const char *const known[] = { "axis", "block_size", "output_dtype", "saturate", NULL };
    OnnxVal *x = imp_input(im, 0), *out = imp_output(im, 0);
    QArgs a;
    long long axis, odt;
    if (!x || imp_attrs_known(im, known) || qaxis(im, x->rank, &axis) != 0 ||
        imp_attr_int(im, "output_dtype", 0, &odt) != 0)
        return -1;
    if (odt != 0 && odt != ONNX_INT8 && odt != ONNX_UINT8)
        return imp_error(im, "attribute 'output_dtype' = %s; cnnc's int8 path writes INT8 and UINT8",
                         onnx_dtype_name((int)odt));
    if (qargs(im, 1, odt ? (int)odt : ONNX_UINT8, &a) != 0)
        return -1;
    if (a.dtype == ONNX_INT32)
        return imp_error(im, "QuantizeLinear to INT32; cnnc's int8 path writes INT8 and UINT8");
    if (x->kind == VAL_CONST && x->dtype == ONNX_FLOAT) {   /* float weights, quantized by the file */
        if (axis_fits(im, x, &a, axis) != 0)
            return -1;
        long long inner = 1, *q = arena_alloc(im->a, sizeof *q * (size_t)(x->numel + 1));
        for (int i = (int)axis + 1; a.n > 1 && i < x->rank; i++)
            inner *= x->dims[i];
        for (long long k = 0; k < x->numel; k++) {   /* round half to even, saturate */
            long long c = a.n == 1 ? 0 : (k / inner) % a.n;
            double v = nearbyint((double)x->f[k] / a.scale[c]) + (double)a.zero[c];
            v = !(v >= -128.0) ? -128.0 : v > 127.0 ? 127.0 : v;   /* NaN: the low end */
            q[k] = (long long)v + (a.dtype == ONNX_UINT8 ? 128 : 0);
        }
        dq_const(im, out, x, q, &a, a.n == 1 ? 0 : (int)axis);
        if (out)
            out->q = 1, out->qs = a.scale[0], out->qz = (int)a.zero[0], out->qdtype = a.dtype;
        return 0;
    }
    OnnxVal *v = imp_act_nhwc(im, 0);
    if (!v || per_tensor(im, v, &a) != 0 || quantize_act(im, v, a.scale[0], (int)a.zero[0]) != 0)
        return -1;
    imp_alias(out, v);
    if (out)
        out->q = 1, out->qs = a.scale[0], out->qz = (int)a.zero[0], out->qdtype = a.dtype;
    return 0;
}

/* An int8 value read with (s, z) where it was made with its own. */
static int same_params(Imp *im, int k, const OnnxVal *x, float s, int z)
{
    if (x->qs != s || x->qz != z)
        return imp_error(im, "input %d '%s' is read with scale %s, zero point %d (int8), but was quantized with "
                         "scale %s, zero point %d", k, vname(im, x), imp_fmt_float(im, s), z,
                         imp_fmt_float(im, x->qs), x->qz);
    return 0;
}

int imp_dequantize_linear(Imp *im)
{
    static const char *const known[] = { "axis", "block_size", NULL };
    OnnxVal *x = imp_input(im, 0), *out = imp_output(im, 0);
    if (!x || imp_attrs_known(im, known))
        return -1;
    if (x->kind == VAL_CONST && !x->q)
        return dequantize_const(im, x, out);
    QArgs a;
    if (!x->q)
        return imp_error(im, "input 0 '%s' is not int8 data (a QuantizeLinear's, a QLinearConv's or an INT8 "
                         "initializer)", vname(im, x));
    if (qargs(im, 1, ONNX_UINT8, &a) != 0)
        return -1;
    if (x->kind == VAL_CONST) {
        for (long long c = 0; c < a.n; c++)
            if (c >= x->ndqs || a.scale[c] != x->dqs[c] || a.zero[c] != x->qz)
                return imp_error(im, "input 0 '%s' is read with other scales or zero points than those it was "
                                 "quantized with", vname(im, x));
        imp_alias(out, x);
        if (out)
            out->q = 0;
        return 0;
    }
    if (per_tensor(im, x, &a) != 0 || same_params(im, 0, x, a.scale[0], (int)a.zero[0]) != 0)
        return -1;
    imp_alias(out, x);
    if (out)
        out->q = 0;
    return 0;
}

/* QLinear* input k: int8 activation data with scale k + 1, zero point k + 2. */
static OnnxVal *qlinear_act(Imp *im, int k)
{
    QArgs a;
    OnnxVal *x = imp_input(im, k);
    if (!x || qargs(im, k + 1, ONNX_UINT8, &a) != 0)
        return NULL;
    if (!x->q || x->kind != VAL_ACT) {
        imp_error(im, "input %d '%s' is not int8 activation data (a QuantizeLinear's or a QLinear op's)", k,
                  vname(im, x));
        return NULL;
    }
    if (per_tensor(im, x, &a) != 0 || same_params(im, k, x, a.scale[0], (int)a.zero[0]) != 0)
        return NULL;
    OnnxVal *v = imp_act(im, k);
    return v;
}

/* QLinear* weight input k (scale k + 1, zero point k + 2) along axis as
 * its real values. */
static int qlinear_weight(Imp *im, int k, int axis, OnnxVal *w, QArgs *a)
{
    OnnxVal *x = imp_input(im, k);
    if (!x || qargs(im, k + 1, ONNX_UINT8, a) != 0)
        return -1;
    if (x->kind != VAL_CONST || x->q || a->dtype == ONNX_INT32)
        return imp_error(im, "input %d '%s' must be an INT8 or UINT8 initializer (the weights)", k, vname(im, x));
    if (axis_fits(im, x, a, axis) != 0)
        return -1;
    long long *q = const_ints(im, x, a->dtype);
    if (!q)
        return -1;
    memset(w, 0, sizeof *w);
    dq_const(im, w, x, q, a, a->n == 1 ? 0 : axis);
    w->name = x->name;
    return 0;
}

/* The bias of a QLinearConv: INT32 with scale x_scale * w_scale[c]. */
static int qlinear_bias(Imp *im, int k, float xs, const QArgs *wa, OnnxVal *b)
{
    OnnxVal *x = imp_input_opt(im, k);
    if (!x)
        return im->ctx->nerrors ? -1 : 1;
    if (x->kind != VAL_CONST || raw_dtype(x) != ONNX_INT32 || !x->i)
        return imp_error(im, "input %d '%s' (bias) must be an INT32 initializer", k, vname(im, x));
    float *s = arena_alloc(im->a, sizeof *s * (size_t)wa->n);
    long long *z = arena_alloc(im->a, sizeof *z * (size_t)wa->n);
    for (long long c = 0; c < wa->n; c++)
        s[c] = xs * wa->scale[c], z[c] = 0;
    QArgs a = { s, wa->n, z, ONNX_INT32 };
    if (axis_fits(im, x, &a, 0) != 0)
        return -1;
    memset(b, 0, sizeof *b);
    dq_const(im, b, x, x->i, &a, 0);
    b->name = x->name;
    return 0;
}

/* The output of a QLinear op: int8 with scale input k, zero point k + 1. */
static int qlinear_output(Imp *im, int k)
{
    QArgs a;
    OnnxVal *out = imp_output(im, 0);
    if (qargs(im, k, ONNX_UINT8, &a) != 0)
        return -1;
    if (!out)
        return 0;
    if (per_tensor(im, out, &a) != 0 || quantize_act(im, out, a.scale[0], (int)a.zero[0]) != 0)
        return -1;
    out->q = 1, out->qs = a.scale[0], out->qz = (int)a.zero[0], out->qdtype = a.dtype;
    return 0;
}

int imp_qlinear_conv(Imp *im)
{
    OnnxVal *x = qlinear_act(im, 0), w, b;
    QArgs wa;
    if (!x || qlinear_weight(im, 3, 0, &w, &wa) != 0)
        return -1;
    int nob = qlinear_bias(im, 8, x->qs, &wa, &b);
    if (nob < 0 || imp_conv_stmt(im, x, &w, nob ? NULL : &b) != 0)
        return -1;
    return qlinear_output(im, 6);
}

int imp_qlinear_matmul(Imp *im)
{
    OnnxVal *a = qlinear_act(im, 0), w;
    QArgs wa;
    if (!a || imp_attrs_known(im, (const char *const[]){ NULL }) || qlinear_weight(im, 3, 1, &w, &wa) != 0)
        return -1;
    if (!(a->lead && a->layout == LAY_VEC && a->rank == 2))
        return imp_error(im, "input 0 '%s' has rank %d; QLinearMatMul needs a batch of vectors [N, K] (add a "
                         "Flatten)", vname(im, a), a->rank);
    OnnxStmt *s = imp_dense_stmt(im, a, &w, 0, 1.0f);
    if (!s || imp_quant_weights(im, s, &w, 1, NULL) != 0)
        return -1;
    return qlinear_output(im, 6);
}

/* ---- weights of Conv, Gemm, MatMul: the file's scales ---- */

static float *channel_scales(Imp *im, const OnnxVal *v, long long n)
{
    float *s = arena_alloc(im->a, sizeof *s * (size_t)n);
    for (long long c = 0; c < n; c++)
        s[c] = v->dqs[v->ndqs == 1 ? 0 : c];
    return s;
}

static OnnxWeight *weight_named(OnnxStmt *s, const char *suffix)
{
    for (int k = 0; k < s->nw; k++)
        if (strcmp(s->w[k].suffix, suffix) == 0)
            return &s->w[k];
    return NULL;
}

int imp_quant_weights(Imp *im, OnnxStmt *s, const OnnxVal *w, int out_axis, const OnnxVal *b)
{
    if (!w->dqs)
        return 0;
    OnnxWeight *ow = weight_named(s, "weight"), *ob = weight_named(s, "bias");
    long long f = ow->shape[0];
    if (w->dqint != 1)
        return imp_error(im, "weight '%s' is INT32 data; cnnc's int8 weights are INT8 (or UINT8)", vname(im, w));
    if (w->dqz != 0)
        return imp_error(im, "weight '%s' has zero point %d (int8); cnnc's int8 weights are symmetric (zero "
                         "point 0, or 128 in UINT8)", vname(im, w), w->dqz);
    if (w->ndqs > 1 && (w->dqaxis != out_axis || w->ndqs != f))
        return imp_error(im, "weight '%s' has %d scales along axis %d; cnnc's int8 weights have one per output "
                         "channel (axis %d)", vname(im, w), w->ndqs, w->dqaxis, out_axis);
    ow->qscale = channel_scales(im, w, f);
    if (!b || !b->dqs || !ob)
        return 0;
    if (b->dqint != 2 || b->dqz != 0)
        return imp_error(im, "bias '%s' is %s data; cnnc's int8 path reads an INT32 bias with zero point 0 and "
                         "scale input scale * weight scale", vname(im, b), b->dqint == 2 ? "INT32 (zero point "
                         "not 0)" : "INT8");
    if (b->ndqs != 1 && b->ndqs != f)
        return imp_error(im, "bias '%s' has %d scales for %lld channels", vname(im, b), b->ndqs, f);
    ob->qscale = channel_scales(im, b, f);
    return 0;
}
