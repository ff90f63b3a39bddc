/* onnx/fold.c: shape computations, evaluated at import time.
 *
 * torch.onnx.export surrounds layers with small computations on constants:
 * `x.view(x.size(0), -1)` becomes Shape, Gather, Unsqueeze, Concat and
 * Reshape; F.pad computes its pads with ConstantOfShape, Slice, Transpose
 * and Cast. Since every shape is fixed, a node whose inputs are all
 * constants (or a Shape, whose input's shape is known) is evaluated here
 * into a constant, and only the layers remain. Constants are FLOAT (f) or
 * INT64 (i, which also holds INT32 and BOOL); results are limited in size.
 */
#include <string.h>

#include "onnx.h"

#define FOLD_MIN_LIMIT (1LL << 20)

/* A result may be as large as the node's inputs together, or 2^20 values:
 * a few bytes of ONNX (ConstantOfShape, a broadcast) cannot ask for more. */
static long long fold_limit(Imp *im)
{
    const OnnxNode *n = imp_node(im);
    long long total = 0;
    for (int k = 0; k < n->ninputs; k++) {
        const OnnxVal *v = n->inputs[k][0] ? imp_val(im, n->inputs[k]) : NULL;
        if (v && v->kind == VAL_CONST)
            total += v->numel;
    }
    return total > FOLD_MIN_LIMIT ? total : FOLD_MIN_LIMIT;
}

static int fold_new(Imp *im, OnnxVal *out, int dtype, int rank, const long long *dims)
{
    long long n = 1, limit = fold_limit(im);
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || (dims[i] && n > limit / dims[i]))
            return imp_error(im, "the result would have more than %lld elements", limit);
        n *= dims[i];
    }
    out->kind = VAL_CONST;
    out->dtype = dtype;
    out->rank = rank;
    memcpy(out->dims, dims, sizeof *dims * (size_t)rank);
    out->numel = n;
    out->tensor = NULL;
    out->f = dtype == ONNX_FLOAT ? arena_alloc(im->a, sizeof *out->f * (size_t)(n + 1)) : NULL;
    out->i = dtype == ONNX_FLOAT ? NULL : arena_alloc(im->a, sizeof *out->i * (size_t)(n + 1));
    return 0;
}

static void cell_copy(OnnxVal *dst, long long j, const OnnxVal *src, long long k)
{
    if (dst->f)
        dst->f[j] = src->f[k];
    else
        dst->i[j] = src->i[k];
}

static void unravel(long long j, int rank, const long long *dims, long long *idx)
{
    for (int a = rank - 1; a >= 0; a--) {
        idx[a] = dims[a] ? j % dims[a] : 0;
        j = dims[a] ? j / dims[a] : 0;
    }
}

static long long ravel(int rank, const long long *dims, const long long *idx)
{
    long long j = 0;
    for (int a = 0; a < rank; a++)
        j = j * dims[a] + idx[a];
    return j;
}

/* The node's input k as a constant, or NULL (absent, or not a constant). */
static OnnxVal *const_in(Imp *im, int k)
{
    OnnxVal *v = imp_input_opt(im, k);
    return v && v->kind == VAL_CONST ? v : NULL;
}

static int norm_axis(Imp *im, long long axis, int rank, long long *out)
{
    *out = axis < 0 ? axis + rank : axis;
    if (*out < 0 || *out >= rank)
        return imp_error(im, "axis %lld is out of range for rank %d", axis, rank);
    return 0;
}

/* A list of int64 from attribute name (older opsets) or input k. *n = -1:
 * neither is given. */
static int int_list(Imp *im, const char *name, int k, long long *out, int *n)
{
    if (imp_attr_ints(im, name, ONNX_MAX_RANK, out, n) != 0)
        return -1;
    OnnxVal *v = *n < 0 ? const_in(im, k) : NULL;
    if (!v)
        return 0;
    if (v->dtype != ONNX_INT64 || v->numel > ONNX_MAX_RANK)
        return imp_error(im, "input %d '%s' must hold at most %d integers", k,
                         onnx_printable(im->a, v->name), ONNX_MAX_RANK);
    *n = (int)v->numel;
    memcpy(out, v->i, sizeof *out * (size_t)*n);
    return 0;
}

/* ---- the ops ---- */

static int fold_shape(Imp *im, OnnxVal *x, OnnxVal *out)
{
    long long start, end;
    if (imp_attr_int(im, "start", 0, &start) || imp_attr_int(im, "end", x->rank, &end))
        return -1;
    start = start < 0 ? start + x->rank : start;
    end = end < 0 ? end + x->rank : end;
    start = start < 0 ? 0 : start > x->rank ? x->rank : start;
    end = end < start ? start : end > x->rank ? x->rank : end;
    long long n = end - start;
    if (fold_new(im, out, ONNX_INT64, 1, &n) != 0)
        return -1;
    for (long long k = 0; k < n; k++)
        out->i[k] = x->dims[start + k];
    return 0;
}

static int fold_gather(Imp *im, OnnxVal *x, OnnxVal *idx, OnnxVal *out)
{
    long long axis, a, dims[ONNX_MAX_RANK], si[ONNX_MAX_RANK], oi[ONNX_MAX_RANK];
    if (imp_attr_int(im, "axis", 0, &axis) || norm_axis(im, axis, x->rank, &a))
        return -1;
    int rank = x->rank - 1 + idx->rank;
    if (idx->dtype != ONNX_INT64 || rank > ONNX_MAX_RANK)
        return imp_error(im, "indices must be integers giving a result of rank <= %d", ONNX_MAX_RANK);
    memcpy(dims, x->dims, sizeof *dims * (size_t)a);
    memcpy(dims + a, idx->dims, sizeof *dims * (size_t)idx->rank);
    memcpy(dims + a + idx->rank, x->dims + a + 1, sizeof *dims * (size_t)(x->rank - a - 1));
    if (fold_new(im, out, x->dtype, rank, dims) != 0)
        return -1;
    for (long long j = 0; j < out->numel; j++) {
        unravel(j, rank, dims, oi);
        long long v = idx->i[ravel(idx->rank, idx->dims, oi + a)];
        v = v < 0 ? v + x->dims[a] : v;
        if (v < 0 || v >= x->dims[a])
            return imp_error(im, "index %lld is out of range for a dimension of %lld", v, x->dims[a]);
        memcpy(si, oi, sizeof *si * (size_t)a);
        si[a] = v;
        memcpy(si + a + 1, oi + a + idx->rank, sizeof *si * (size_t)(x->rank - a - 1));
        cell_copy(out, j, x, ravel(x->rank, x->dims, si));
    }
    return 0;
}

/* Same elements, new dims: Reshape, Squeeze, Unsqueeze, Flatten, Identity. */
static int fold_relabel(Imp *im, OnnxVal *x, OnnxVal *out, int rank, const long long *dims)
{
    if (fold_new(im, out, x->dtype, rank, dims) != 0)
        return -1;
    if (out->numel != x->numel)
        return imp_error(im, "cannot give %lld values the shape of %lld", x->numel, out->numel);
    for (long long j = 0; j < out->numel; j++)
        cell_copy(out, j, x, j);
    return 0;
}

static int fold_unsqueeze(Imp *im, OnnxVal *x, OnnxVal *out)
{
    long long axes[ONNX_MAX_RANK], dims[ONNX_MAX_RANK];
    int n, rank;
    if (int_list(im, "axes", 1, axes, &n) != 0)
        return -1;
    rank = x->rank + (n < 0 ? 0 : n);
    if (n < 0 || rank > ONNX_MAX_RANK)
        return imp_error(im, "needs axes, and a result of rank <= %d", ONNX_MAX_RANK);
    char one[ONNX_MAX_RANK] = { 0 };
    for (int k = 0; k < n; k++) {
        long long a;
        if (norm_axis(im, axes[k], rank, &a) != 0)
            return -1;
        one[a] = 1;
    }
    for (int d = 0, s = 0; d < rank; d++)
        dims[d] = one[d] ? 1 : x->dims[s++];
    return fold_relabel(im, x, out, rank, dims);
}

static int fold_squeeze(Imp *im, OnnxVal *x, OnnxVal *out)
{
    long long axes[ONNX_MAX_RANK], dims[ONNX_MAX_RANK];
    int n, rank = 0;
    char drop[ONNX_MAX_RANK] = { 0 };
    if (int_list(im, "axes", 1, axes, &n) != 0)
        return -1;
    for (int k = 0; k < n; k++) {
        long long a;
        if (norm_axis(im, axes[k], x->rank, &a) != 0)
            return -1;
        drop[a] = 1;
    }
    for (int d = 0; d < x->rank; d++)
        if (!(n < 0 ? x->dims[d] == 1 : drop[d]))
            dims[rank++] = x->dims[d];
    return fold_relabel(im, x, out, rank, dims);
}

static int fold_reshape(Imp *im, OnnxVal *x, OnnxVal *out)
{
    long long shape[ONNX_MAX_RANK], target[ONNX_MAX_RANK], allowzero;
    int n;
    if (int_list(im, "shape", 1, shape, &n) || imp_attr_int(im, "allowzero", 0, &allowzero))
        return -1;
    if (n < 0)
        return imp_error(im, "the shape is missing");
    if (imp_reshape_target(im, x, shape, n, (int)allowzero, target) != 0)
        return -1;
    return fold_relabel(im, x, out, n, target);
}

static int fold_concat(Imp *im, OnnxVal *out)
{
    const OnnxNode *n = imp_node(im);
    OnnxVal *x0 = const_in(im, 0);
    long long axis, a, dims[ONNX_MAX_RANK], idx[ONNX_MAX_RANK];
    if (!x0 || imp_attr_int(im, "axis", 0, &axis) || norm_axis(im, axis, x0->rank, &a))
        return -1;
    memcpy(dims, x0->dims, sizeof dims);
    dims[a] = 0;
    for (int k = 0; k < n->ninputs; k++) {
        OnnxVal *x = const_in(im, k);
        if (x->rank != x0->rank || x->dtype != x0->dtype)
            return imp_error(im, "input %d does not match input 0 in rank or type", k);
        dims[a] += x->dims[a];
    }
    if (fold_new(im, out, x0->dtype, x0->rank, dims) != 0)
        return -1;
    long long base = 0;
    for (int k = 0; k < n->ninputs; k++) {
        OnnxVal *x = const_in(im, k);
        for (long long j = 0; j < x->numel; j++) {
            unravel(j, x->rank, x->dims, idx);
            idx[a] += base;
            cell_copy(out, ravel(out->rank, dims, idx), x, j);
        }
        base += x->dims[a];
    }
    return 0;
}

static int fold_transpose(Imp *im, OnnxVal *x, OnnxVal *out)
{
    long long perm[ONNX_MAX_RANK], dims[ONNX_MAX_RANK], oi[ONNX_MAX_RANK], si[ONNX_MAX_RANK];
    int n;
    if (imp_attr_ints(im, "perm", ONNX_MAX_RANK, perm, &n) != 0)
        return -1;
    if (n >= 0 && n != x->rank)
        return imp_error(im, "attribute 'perm' has %d values for rank %d", n, x->rank);
    char seen[ONNX_MAX_RANK] = { 0 };
    for (int k = 0; k < x->rank; k++) {
        perm[k] = n < 0 ? x->rank - 1 - k : perm[k];
        if (perm[k] < 0 || perm[k] >= x->rank || seen[perm[k]]++)
            return imp_error(im, "attribute 'perm' is not a permutation of 0..%d", x->rank - 1);
        dims[k] = x->dims[perm[k]];
    }
    if (fold_new(im, out, x->dtype, x->rank, dims) != 0)
        return -1;
    for (long long j = 0; j < out->numel; j++) {
        unravel(j, x->rank, dims, oi);
        for (int k = 0; k < x->rank; k++)
            si[perm[k]] = oi[k];
        cell_copy(out, j, x, ravel(x->rank, x->dims, si));
    }
    return 0;
}

static int slice_axis(long long dim, long long start, long long end, long long step, long long *first,
                      long long *len)
{
    start = start < 0 ? start + dim : start;
    end = end < 0 ? end + dim : end;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        *len = end > start ? (end - start + step - 1) / step : 0;
    } else {
        start = start < 0 ? -1 : start > dim - 1 ? dim - 1 : start;
        end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
        *len = start > end ? (start - end - step - 1) / -step : 0;
    }
    *first = start;
    return 0;
}

static int fold_slice(Imp *im, OnnxVal *x, OnnxVal *out)
{
    long long starts[ONNX_MAX_RANK], ends[ONNX_MAX_RANK], axes[ONNX_MAX_RANK], steps[ONNX_MAX_RANK];
    long long first[ONNX_MAX_RANK], step[ONNX_MAX_RANK], dims[ONNX_MAX_RANK], idx[ONNX_MAX_RANK];
    int ns, ne, na, nt;
    if (int_list(im, "starts", 1, starts, &ns) || int_list(im, "ends", 2, ends, &ne) ||
        int_list(im, "axes", 3, axes, &na) || int_list(im, "steps", 4, steps, &nt))
        return -1;
    if (ns < 0 || ns != ne || (na >= 0 && na != ns) || (nt >= 0 && nt != ns))
        return imp_error(im, "starts, ends, axes and steps must have one length");
    for (int d = 0; d < x->rank; d++)
        first[d] = 0, step[d] = 1, dims[d] = x->dims[d];
    for (int k = 0; k < ns; k++) {
        long long a, s = nt < 0 ? 1 : steps[k];
        if (norm_axis(im, na < 0 ? k : axes[k], x->rank, &a) != 0)
            return -1;
        if (s == 0 || s > (1LL << 40) || s < -(1LL << 40))
            return imp_error(im, "a step of %lld is not supported", s);
        step[a] = s;
        slice_axis(x->dims[a], starts[k], ends[k], s, &first[a], &dims[a]);
    }
    if (fold_new(im, out, x->dtype, x->rank, dims) != 0)
        return -1;
    for (long long j = 0; j < out->numel; j++) {
        unravel(j, x->rank, dims, idx);
        for (int d = 0; d < x->rank; d++)
            idx[d] = first[d] + idx[d] * step[d];
        cell_copy(out, j, x, ravel(x->rank, x->dims, idx));
    }
    return 0;
}

static int fold_cast(Imp *im, OnnxVal *x, OnnxVal *out)
{
    long long to;
    if (imp_attr_int(im, "to", 0, &to) != 0)
        return -1;
    const int small = to == ONNX_INT8 || to == ONNX_UINT8;   /* a quantized model's zero points */
    int dtype = to == ONNX_FLOAT || to == ONNX_DOUBLE ? ONNX_FLOAT
              : to == ONNX_INT64 || to == ONNX_INT32 || to == ONNX_BOOL || small ? ONNX_INT64 : 0;
    if (!dtype)
        return imp_error(im, "attribute 'to' = %s is not supported", onnx_dtype_name((int)to));
    if (fold_new(im, out, dtype, x->rank, x->dims) != 0)
        return -1;
    out->rawtype = dtype == ONNX_INT64 ? (int)to : 0;
    const double lo = to == ONNX_INT8 ? -128.0 : to == ONNX_UINT8 ? 0.0 : -9e18;
    const double hi = to == ONNX_INT8 ? 127.0 : to == ONNX_UINT8 ? 255.0 : 9e18;
    for (long long j = 0; j < x->numel; j++) {
        double v = x->f ? (double)x->f[j] : (double)x->i[j];
        if (dtype == ONNX_FLOAT)
            out->f[j] = (float)v;
        else if ((x->f || small) && to != ONNX_BOOL && !(v >= lo && v <= hi))
            return imp_error(im, "value %g does not fit in %s", v, small ? onnx_dtype_name((int)to) : "an integer");
        else
            out->i[j] = to == ONNX_BOOL ? v != 0 : x->f ? (long long)x->f[j] : x->i[j];
    }
    return 0;
}

static int fold_constant_of_shape(Imp *im, OnnxVal *shape, OnnxVal *out)
{
    const OnnxAttr *a = imp_attr(im, "value");
    OnnxVal value = { .dtype = ONNX_FLOAT, .numel = 1 };
    float zero = 0.0f;
    value.f = &zero;
    if (a) {
        value.f = NULL;
        value.tensor = a->t;
        if (!a->t || a->t->numel != 1)
            return imp_error(im, "attribute 'value' must be a tensor of one value");
        if (imp_load_const(im, &value, "attribute 'value'") != 0)
            return -1;
    }
    if (shape->dtype != ONNX_INT64 || shape->rank != 1 || shape->numel > ONNX_MAX_RANK)
        return imp_error(im, "input 0 must be a list of at most %d sizes", ONNX_MAX_RANK);
    if (fold_new(im, out, value.dtype, (int)shape->numel, shape->i) != 0)
        return -1;
    for (long long j = 0; j < out->numel; j++)
        cell_copy(out, j, &value, 0);
    return 0;
}

/* 64-bit integer arithmetic that wraps instead of overflowing (shape
 * computations never come near; hostile files may). */
static int int_op(Imp *im, char op, long long a, long long b, long long *out)
{
    unsigned long long ua = (unsigned long long)a, ub = (unsigned long long)b;
    if (op == 'D' && b == 0)
        return imp_error(im, "integer division by zero");
    if (op == 'D' && b == -1)
        *out = (long long)(0 - ua);
    else if (op == 'D')
        *out = a / b;
    else
        *out = (long long)(op == 'A' ? ua + ub : op == 'S' ? ua - ub : ua * ub);
    return 0;
}

/* Add, Sub, Mul, Div of two constants, with numpy broadcasting. */
static int fold_binary(Imp *im, OnnxVal *x, OnnxVal *y, OnnxVal *out)
{
    const char *op = imp_node(im)->op_type;
    int rank = x->rank > y->rank ? x->rank : y->rank;
    long long dims[ONNX_MAX_RANK], oi[ONNX_MAX_RANK], xi[ONNX_MAX_RANK], yi[ONNX_MAX_RANK];
    if (x->dtype != y->dtype)
        return imp_error(im, "inputs of types %s and %s", onnx_dtype_name(x->dtype), onnx_dtype_name(y->dtype));
    for (int d = 0; d < rank; d++) {
        long long a = d - (rank - x->rank) >= 0 ? x->dims[d - (rank - x->rank)] : 1;
        long long b = d - (rank - y->rank) >= 0 ? y->dims[d - (rank - y->rank)] : 1;
        if (a != b && a != 1 && b != 1)
            return imp_error(im, "shapes do not broadcast");
        dims[d] = a == 1 ? b : a;
    }
    if (fold_new(im, out, x->dtype, rank, dims) != 0)
        return -1;
    for (long long j = 0; j < out->numel; j++) {
        unravel(j, rank, dims, oi);
        for (int d = 0; d < rank; d++) {
            int dx = d - (rank - x->rank), dy = d - (rank - y->rank);
            if (dx >= 0)
                xi[dx] = x->dims[dx] == 1 ? 0 : oi[d];
            if (dy >= 0)
                yi[dy] = y->dims[dy] == 1 ? 0 : oi[d];
        }
        long long kx = ravel(x->rank, x->dims, xi), ky = ravel(y->rank, y->dims, yi);
        if (x->f) {
            float a = x->f[kx], b = y->f[ky];
            out->f[j] = op[0] == 'A' ? a + b : op[0] == 'S' ? a - b : op[0] == 'M' ? a * b : a / b;
        } else if (int_op(im, op[0], x->i[kx], y->i[ky], &out->i[j]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- dispatch ---- */

static const char *const foldable[] = {
    "Shape", "Gather", "Unsqueeze", "Squeeze", "Reshape", "Concat", "Slice", "Transpose", "Cast",
    "ConstantOfShape", "Add", "Sub", "Mul", "Div", "Identity", "Flatten", NULL,
};

static int all_inputs_const(Imp *im)
{
    const OnnxNode *n = imp_node(im);
    int any = 0;
    for (int k = 0; k < n->ninputs; k++) {
        if (!n->inputs[k][0])
            continue;
        OnnxVal *v = imp_val(im, n->inputs[k]);
        if (!v || v->kind != VAL_CONST)
            return 0;
        any = 1;
    }
    return any;
}

static int fold_flatten(Imp *im, OnnxVal *x, OnnxVal *out)
{
    long long axis, dims[2] = { 1, 1 };
    if (imp_attr_int(im, "axis", 1, &axis) != 0)
        return -1;
    long long a = axis < 0 ? axis + x->rank : axis;
    for (int d = 0; d < x->rank; d++)
        dims[d >= a] *= x->dims[d];
    return fold_relabel(im, x, out, 2, dims);
}

static int fold_node(Imp *im, const char *op, OnnxVal *out)
{
    OnnxVal *x = const_in(im, 0), *y = const_in(im, 1);
    if (strcmp(op, "Shape") == 0) {
        OnnxVal *v = imp_input(im, 0);
        return v ? fold_shape(im, v, out) : -1;
    }
    if (!x)
        return imp_error(im, "input 0 is missing");
    if (strcmp(op, "Gather") == 0)
        return y ? fold_gather(im, x, y, out) : imp_error(im, "input 1 is missing");
    if (strcmp(op, "Unsqueeze") == 0)
        return fold_unsqueeze(im, x, out);
    if (strcmp(op, "Squeeze") == 0)
        return fold_squeeze(im, x, out);
    if (strcmp(op, "Reshape") == 0)
        return fold_reshape(im, x, out);
    if (strcmp(op, "Flatten") == 0)
        return fold_flatten(im, x, out);
    if (strcmp(op, "Identity") == 0)
        return fold_relabel(im, x, out, x->rank, x->dims);
    if (strcmp(op, "Concat") == 0)
        return fold_concat(im, out);
    if (strcmp(op, "Slice") == 0)
        return fold_slice(im, x, out);
    if (strcmp(op, "Transpose") == 0)
        return fold_transpose(im, x, out);
    if (strcmp(op, "Cast") == 0)
        return fold_cast(im, x, out);
    if (strcmp(op, "ConstantOfShape") == 0)
        return fold_constant_of_shape(im, x, out);
    return y ? fold_binary(im, x, y, out) : imp_error(im, "input 1 is missing");
}

int imp_fold(Imp *im)
{
    const OnnxNode *n = imp_node(im);
    const char *const *f = foldable;
    while (*f && strcmp(*f, n->op_type) != 0)
        f++;
    if (!*f)
        return 1;
    int shape = strcmp(n->op_type, "Shape") == 0 && n->ninputs == 1;
    if (!shape && !all_inputs_const(im))
        return imp_find_op(n->op_type) ? 1 : imp_error(im, "op '%s' is supported only on constants "
                                                      "(shape computations)", n->op_type);
    for (int k = 0; k < n->ninputs; k++)   /* convert initializers now */
        if (n->inputs[k][0] && !imp_input_opt(im, k) && im->ctx->nerrors)
            return -1;
    for (int k = 1; k < n->noutputs; k++)
        if (!imp_output_unused(im, k))
            return imp_error(im, "output %d is not supported", k);
    OnnxVal *out = imp_output(im, 0);
    return out ? fold_node(im, n->op_type, out) : 0;
}
