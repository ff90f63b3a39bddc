/* onnx/read.c: the ONNX reader. Consumes the bytes of a .onnx file (protobuf
 * wire format, onnx.proto); produces an OnnxModel holding the subset cnnc
 * needs (docs/onnx.md lists it), in the arena. Everything else is skipped.
 *
 * Hostile input is expected. Every varint is bounded to 10 bytes and 64
 * bits, every length is checked against the bytes left in its enclosing
 * message before anything is read or allocated, nesting (subgraphs in
 * attributes) is limited to ONNX_MAX_DEPTH, and repeated fields to
 * ONNX_MAX_ITEMS entries. A problem is one "path: error: invalid ONNX file:
 * ... at byte N (in ModelProto.graph.node[2])" and decoding stops.
 */
#define _POSIX_C_SOURCE 200809L   /* stat */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnx.h"

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_BYTES = 2, WT_FIXED32 = 5 };

typedef struct Dec {
    Ctx *ctx;
    const char *path;
    const unsigned char *base;           /* the file's first byte */
    int depth;                           /* frames in use */
    const char *frame[ONNX_MAX_DEPTH + 1];
    long long index[ONNX_MAX_DEPTH + 1]; /* -1: not a repeated field */
} Dec;

/* The bytes of one message still to read. */
typedef struct Msg {
    const unsigned char *p, *end;
} Msg;

/* ---- errors ---- */

/* "ModelProto.graph.node[2].attribute[0]" */
static const char *dec_where(const Dec *d)
{
    Buf b;
    buf_init(&b);
    buf_puts(&b, "ModelProto");
    for (int i = 0; i < d->depth; i++) {
        buf_printf(&b, ".%s", d->frame[i]);
        if (d->index[i] >= 0)
            buf_printf(&b, "[%lld]", d->index[i]);
    }
    const char *s = arena_strdup(d->ctx->arena, b.data);
    buf_free(&b);
    return s;
}

static int dec_error(Dec *d, const unsigned char *at, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int dec_error(Dec *d, const unsigned char *at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_file_error(d->ctx, d->path, "invalid ONNX file: %s at byte %lld (in %s)", msg,
                    (long long)(at - d->base), dec_where(d));
    return -1;
}

/* ---- wire format primitives ----
 * Each sets its outputs on every path (zero or empty on an error), so no
 * caller can read an unset value: gcc -O3 proves that only then. */

static int rd_varint(Dec *d, Msg *m, unsigned long long *v)
{
    const unsigned char *start = m->p;
    unsigned long long x = 0;
    *v = 0;
    for (int i = 0; i < 10; i++) {
        if (m->p >= m->end)
            return dec_error(d, start, "truncated varint");
        unsigned char b = *m->p++;
        if (i == 9 && (b & 0x80))
            return dec_error(d, start, "varint longer than 10 bytes");
        if (i == 9 && b > 1)
            return dec_error(d, start, "varint overflows 64 bits");
        x |= (unsigned long long)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return dec_error(d, start, "varint longer than 10 bytes");   /* not reached */
}

/* A tag: field number and wire type. Groups and unknown wire types are errors. */
static int rd_tag(Dec *d, Msg *m, unsigned *field, int *wt)
{
    const unsigned char *at = m->p;
    unsigned long long v = 0;
    *field = 0;
    *wt = 0;
    if (rd_varint(d, m, &v) != 0)
        return -1;
    *wt = (int)(v & 7);
    if ((v >> 3) == 0)
        return dec_error(d, at, "field number 0");
    if ((v >> 3) > 0x1fffffff)
        return dec_error(d, at, "field number %llu is out of range", v >> 3);
    *field = (unsigned)(v >> 3);
    if (*wt == 3 || *wt == 4)
        return dec_error(d, at, "field %u uses a group (wire type %d), which ONNX never does", *field, *wt);
    if (*wt == 6 || *wt == 7)
        return dec_error(d, at, "field %u has invalid wire type %d", *field, *wt);
    return 0;
}

/* A length-delimited payload: *sub gets its bytes, m moves past them. */
static int rd_len(Dec *d, Msg *m, Msg *sub)
{
    const unsigned char *at = m->p;
    unsigned long long n;
    sub->p = sub->end = m->p;
    if (rd_varint(d, m, &n) != 0)
        return -1;
    unsigned long long left = (unsigned long long)(m->end - m->p);
    if (n > left)
        return dec_error(d, at, "length %llu runs past the end of its message (%llu bytes left)", n, left);
    sub->p = m->p;
    sub->end = m->p + n;
    m->p += n;
    return 0;
}

static int rd_fixed(Dec *d, Msg *m, int nbytes, unsigned long long *v)
{
    *v = 0;
    if (m->end - m->p < nbytes)
        return dec_error(d, m->p, "truncated %d-byte value", nbytes);
    unsigned long long x = 0;
    for (int i = nbytes - 1; i >= 0; i--)
        x = (x << 8) | m->p[i];
    m->p += nbytes;
    *v = x;
    return 0;
}

static int rd_skip(Dec *d, Msg *m, int wt)
{
    unsigned long long v = 0;
    Msg sub;
    switch (wt) {
    case WT_VARINT: return rd_varint(d, m, &v);
    case WT_FIXED64: return rd_fixed(d, m, 8, &v);
    case WT_FIXED32: return rd_fixed(d, m, 4, &v);
    default: return rd_len(d, m, &sub);
    }
}

static int want_wt(Dec *d, const unsigned char *at, const char *field, int wt, int want)
{
    if (wt == want)
        return 0;
    return dec_error(d, at, "field '%s' has wire type %d, expected %d", field, wt, want);
}

static float float_of_bits(unsigned long long bits)
{
    uint32_t u = (uint32_t)bits;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double double_of_bits(unsigned long long bits)
{
    uint64_t u = bits;
    double f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- typed fields ---- */

static int rd_int(Dec *d, Msg *m, int wt, const char *field, long long lo, long long hi, long long *out)
{
    const unsigned char *at = m->p;
    unsigned long long v = 0;
    *out = 0;
    if (want_wt(d, at, field, wt, WT_VARINT) != 0 || rd_varint(d, m, &v) != 0)
        return -1;
    long long x = (long long)v;
    if (x < lo || x > hi)
        return dec_error(d, at, "field '%s' is %lld, outside [%lld, %lld]", field, x, lo, hi);
    *out = x;
    return 0;
}

static int rd_string(Dec *d, Msg *m, int wt, const char *field, const char **out)
{
    const unsigned char *at = m->p;
    Msg s;
    if (want_wt(d, at, field, wt, WT_BYTES) != 0 || rd_len(d, m, &s) != 0)
        return -1;
    size_t n = (size_t)(s.end - s.p);
    if (n > ONNX_MAX_STRING)
        return dec_error(d, at, "string '%s' of %zu bytes is over the limit of %d", field, n, ONNX_MAX_STRING);
    if (memchr(s.p, 0, n))
        return dec_error(d, at, "string '%s' contains a NUL byte", field);
    *out = arena_strndup(d->ctx->arena, (const char *)s.p, n);
    return 0;
}

/* A growable array in the arena; *cap doubles, entries are zeroed. */
static int vec_grow(Dec *d, const unsigned char *at, const char *field, void **items,
                    long long *n, long long *cap, long long extra, size_t size, long long limit)
{
    if (*n + extra > limit)
        return dec_error(d, at, "more than %lld entries in '%s'", limit, field);
    if (*n + extra <= *cap)
        return 0;
    long long want = *cap ? *cap : 4;
    while (want < *n + extra)
        want *= 2;
    if (want > limit)
        want = limit;
    void *p = arena_alloc(d->ctx->arena, (size_t)want * size);
    if (*n)
        memcpy(p, *items, (size_t)*n * size);
    *items = p;
    *cap = want;
    return 0;
}

typedef struct IntVec {
    long long *v;
    long long n, cap;
} IntVec;

typedef struct FloatVec {
    float *v;
    long long n, cap;
} FloatVec;

typedef struct DoubleVec {
    double *v;
    long long n, cap;
} DoubleVec;

/* Scalar limits: tensor data may be large; its bytes bound it anyway. */
#define ONNX_MAX_SCALARS (1LL << 31)

static long long count_varints(Msg s)
{
    long long n = 0;
    for (const unsigned char *p = s.p; p < s.end; p++)
        n += !(*p & 0x80);
    return n;
}

/* The three scalar encodings of ONNX's repeated fields. */
typedef enum Scalar { SC_VARINT, SC_FLOAT, SC_DOUBLE } Scalar;

static const int scalar_wire[] = { WT_VARINT, WT_FIXED32, WT_FIXED64 };
static const int scalar_bytes[] = { 0, 4, 8 };   /* 0: varint */

static int rd_scalar(Dec *d, Msg *m, Scalar kind, unsigned long long *v)
{
    return kind == SC_VARINT ? rd_varint(d, m, v) : rd_fixed(d, m, scalar_bytes[kind], v);
}

static void put_scalar(void *items, long long i, Scalar kind, unsigned long long v)
{
    switch (kind) {
    case SC_VARINT: ((long long *)items)[i] = (long long)v; break;
    case SC_FLOAT: ((float *)items)[i] = float_of_bits(v); break;
    case SC_DOUBLE: ((double *)items)[i] = double_of_bits(v); break;
    }
}

/* A repeated scalar field, one element or packed: appends to *items (of
 * element size elem; *n used, *cap allocated). */
static int rd_repeated(Dec *d, Msg *m, int wt, const char *field, Scalar kind, void **items,
                       long long *n, long long *cap, size_t elem)
{
    const unsigned char *at = m->p;
    unsigned long long v = 0;
    Msg s;
    if (wt == scalar_wire[kind]) {
        if (vec_grow(d, at, field, items, n, cap, 1, elem, ONNX_MAX_SCALARS) != 0 ||
            rd_scalar(d, m, kind, &v) != 0)
            return -1;
        put_scalar(*items, (*n)++, kind, v);
        return 0;
    }
    if (want_wt(d, at, field, wt, WT_BYTES) != 0 || rd_len(d, m, &s) != 0)
        return -1;
    const int width = scalar_bytes[kind];
    long long count = s.end - s.p;
    if (width == 0)
        count = count_varints(s);
    else if (count % width)
        return dec_error(d, at, "'%s' holds %lld bytes, not a multiple of %d", field, count, width);
    else
        count /= width;
    if (vec_grow(d, at, field, items, n, cap, count, elem, ONNX_MAX_SCALARS) != 0)
        return -1;
    while (s.p < s.end) {
        if (rd_scalar(d, &s, kind, &v) != 0)
            return -1;
        put_scalar(*items, (*n)++, kind, v);
    }
    return 0;
}

static int rd_ints(Dec *d, Msg *m, int wt, const char *field, IntVec *out)
{
    return rd_repeated(d, m, wt, field, SC_VARINT, (void **)&out->v, &out->n, &out->cap, sizeof *out->v);
}

static int rd_floats(Dec *d, Msg *m, int wt, const char *field, FloatVec *out)
{
    return rd_repeated(d, m, wt, field, SC_FLOAT, (void **)&out->v, &out->n, &out->cap, sizeof *out->v);
}

static int rd_doubles(Dec *d, Msg *m, int wt, const char *field, DoubleVec *out)
{
    return rd_repeated(d, m, wt, field, SC_DOUBLE, (void **)&out->v, &out->n, &out->cap, sizeof *out->v);
}

/* Enters a sub-message: checks the depth limit and records the frame. */
static int dec_enter(Dec *d, Msg *m, int wt, const char *field, long long index, Msg *sub)
{
    const unsigned char *at = m->p;
    if (want_wt(d, at, field, wt, WT_BYTES) != 0 || rd_len(d, m, sub) != 0)
        return -1;
    if (d->depth >= ONNX_MAX_DEPTH)
        return dec_error(d, at, "messages nested deeper than %d levels", ONNX_MAX_DEPTH);
    d->frame[d->depth] = field;
    d->index[d->depth] = index;
    d->depth++;
    return 0;
}

static void dec_leave(Dec *d)
{
    d->depth--;
}

/* One field of a message: decodes it into state (the message's own
 * struct, and the sizes of its growing arrays). */
typedef int FieldFn(Dec *d, Msg *m, unsigned field, int wt, void *state);

/* Decodes every field of m, in order, with fn. */
static int dec_fields(Dec *d, Msg m, FieldFn *fn, void *state)
{
    while (m.p < m.end) {
        unsigned field;
        int wt;
        if (rd_tag(d, &m, &field, &wt) != 0 || fn(d, &m, field, wt, state) != 0)
            return -1;
    }
    return 0;
}

/* ---- TensorProto ---- */

typedef struct TensorVecs {
    OnnxTensor *t;
    IntVec dims, ints;
    FloatVec floats;
    DoubleVec doubles;
} TensorVecs;

static int tensor_field(Dec *d, Msg *m, unsigned field, int wt, void *state)
{
    TensorVecs *v = state;
    OnnxTensor *t = v->t;
    long long x;
    Msg s;
    switch (field) {
    case 1: return rd_ints(d, m, wt, "dims", &v->dims);
    case 2:
        if (rd_int(d, m, wt, "data_type", 0, 1000, &x) != 0)
            return -1;
        t->dtype = (int)x;
        return 0;
    case 3: return dec_error(d, m->p, "segmented tensors are not supported");
    case 4: return rd_floats(d, m, wt, "float_data", &v->floats);
    case 5: return rd_ints(d, m, wt, "int32_data", &v->ints);
    case 7: return rd_ints(d, m, wt, "int64_data", &v->ints);
    case 8: return rd_string(d, m, wt, "name", &t->name);
    case 9:
        if (want_wt(d, m->p, "raw_data", wt, WT_BYTES) != 0 || rd_len(d, m, &s) != 0)
            return -1;
        t->raw = s.p;
        t->raw_len = (size_t)(s.end - s.p);
        t->has_raw = 1;
        return 0;
    case 10: return rd_doubles(d, m, wt, "double_data", &v->doubles);
    case 13: t->external = 1; return rd_skip(d, m, wt);
    case 14:
        if (rd_int(d, m, wt, "data_location", 0, 1, &x) != 0)
            return -1;
        t->external |= x == 1;
        return 0;
    default: return rd_skip(d, m, wt);
    }
}

static size_t dtype_size(int dtype)
{
    switch (dtype) {
    case ONNX_FLOAT: case ONNX_INT32: return 4;
    case ONNX_INT64: case ONNX_DOUBLE: return 8;
    case ONNX_BOOL: case ONNX_INT8: case ONNX_UINT8: return 1;
    default: return 0;
    }
}

/* The data given must match the dims, for the types cnnc reads. */
static int tensor_check(Dec *d, const unsigned char *at, OnnxTensor *t)
{
    size_t esize = dtype_size(t->dtype);
    if (!esize || t->external)
        return 0;
    long long given = t->has_raw ? (long long)(t->raw_len / esize)
                    : t->dtype == ONNX_FLOAT ? t->nfloats
                    : t->dtype == ONNX_DOUBLE ? t->ndoubles : t->nints;
    if (t->has_raw && t->raw_len % esize)
        return dec_error(d, at, "tensor '%s': raw_data of %zu bytes is not a whole number of %s values",
                         onnx_printable(d->ctx->arena, t->name), t->raw_len, onnx_dtype_name(t->dtype));
    if (given != t->numel)
        return dec_error(d, at, "tensor '%s' has %lld values, its dims give %lld",
                         onnx_printable(d->ctx->arena, t->name), given, t->numel);
    return 0;
}

static int tensor_dims(Dec *d, const unsigned char *at, OnnxTensor *t, const IntVec *dims)
{
    if (dims->n > ONNX_MAX_RANK)
        return dec_error(d, at, "tensor has %lld dimensions, more than %d", dims->n, ONNX_MAX_RANK);
    t->rank = (int)dims->n;
    t->numel = 1;
    for (int i = 0; i < t->rank; i++) {
        long long n = dims->v[i];
        if (n < 0 || n > (1LL << 40))
            return dec_error(d, at, "tensor dimension %lld is out of range", n);
        t->dims[i] = n;
        t->numel = n == 0 || t->numel <= (1LL << 40) / n ? t->numel * n : (1LL << 40) + 1;
    }
    if (t->numel > (1LL << 40))
        return dec_error(d, at, "tensor has more than 2^40 elements");
    return 0;
}

static int dec_tensor(Dec *d, Msg m, OnnxTensor *t)
{
    const unsigned char *at = m.p;
    TensorVecs v = { .t = t };
    t->name = "";
    if (dec_fields(d, m, tensor_field, &v) != 0)
        return -1;
    t->floats = v.floats.v;
    t->nfloats = v.floats.n;
    t->ints = v.ints.v;
    t->nints = v.ints.n;
    t->doubles = v.doubles.v;
    t->ndoubles = v.doubles.n;
    if (tensor_dims(d, at, t, &v.dims) != 0)
        return -1;
    return tensor_check(d, at, t);
}

/* ---- ValueInfoProto and its TypeProto ---- */

/* All of TypeProto that cnnc reads lands in the one OnnxValueInfo. */

static int dim_field(Dec *d, Msg *m, unsigned field, int wt, void *state)
{
    OnnxValueInfo *vi = state;
    int k = vi->rank;
    long long x;
    switch (field) {
    case 1:
        if (rd_int(d, m, wt, "dim_value", 0, 1LL << 40, &x) != 0)
            return -1;
        vi->dims[k] = x;
        return 0;
    case 2: return rd_string(d, m, wt, "dim_param", &vi->dim_param[k]);
    default: return rd_skip(d, m, wt);
    }
}

/* Enters field `name` of m and decodes it into vi with fn. */
static int dec_sub(Dec *d, Msg *m, int wt, const char *name, long long index, FieldFn *fn,
                   OnnxValueInfo *vi)
{
    Msg sub;
    if (dec_enter(d, m, wt, name, index, &sub) != 0 || dec_fields(d, sub, fn, vi) != 0)
        return -1;
    dec_leave(d);
    return 0;
}

static int shape_field(Dec *d, Msg *m, unsigned field, int wt, void *state)
{
    OnnxValueInfo *vi = state;
    if (field != 1)
        return rd_skip(d, m, wt);
    if (vi->rank >= ONNX_MAX_RANK)
        return dec_error(d, m->p, "shape has more than %d dimensions", ONNX_MAX_RANK);
    vi->dims[vi->rank] = -1;
    if (dec_sub(d, m, wt, "dim", vi->rank, dim_field, vi) != 0)
        return -1;
    vi->rank++;
    return 0;
}

static int tensor_type_field(Dec *d, Msg *m, unsigned field, int wt, void *state)
{
    OnnxValueInfo *vi = state;
    long long x;
    switch (field) {
    case 1:
        if (rd_int(d, m, wt, "elem_type", 0, 1000, &x) != 0)
            return -1;
        vi->elem_type = (int)x;
        return 0;
    case 2:
        vi->has_shape = 1;
        return dec_sub(d, m, wt, "shape", -1, shape_field, vi);
    default: return rd_skip(d, m, wt);
    }
}

static int type_field(Dec *d, Msg *m, unsigned field, int wt, void *state)
{
    OnnxValueInfo *vi = state;
    if (field == 1) {
        vi->has_type = 1;
        vi->kind = 1;
        return dec_sub(d, m, wt, "tensor_type", -1, tensor_type_field, vi);
    }
    if (field == 4 || field == 5 || field == 8 || field == 9)
        vi->kind = 2;   /* sequence, map, sparse tensor, optional */
    return rd_skip(d, m, wt);
}

static int value_info_field(Dec *d, Msg *m, unsigned field, int wt, void *state)
{
    OnnxValueInfo *vi = state;
    switch (field) {
    case 1: return rd_string(d, m, wt, "name", &vi->name);
    case 2: return dec_sub(d, m, wt, "type", -1, type_field, vi);
    default: return rd_skip(d, m, wt);
    }
}

static int dec_value_info(Dec *d, Msg m, OnnxValueInfo *vi)
{
    vi->name = "";
    return dec_fields(d, m, value_info_field, vi);
}

/* ---- NodeProto and AttributeProto ---- */

static int dec_graph(Dec *d, Msg m, OnnxGraph *g);

static int count_attr(Dec *d, Msg *m, int wt, const char *field, int *n)
{
    if (*n >= ONNX_MAX_ITEMS)
        return dec_error(d, m->p, "more than %d entries in '%s'", ONNX_MAX_ITEMS, field);
    ++*n;
    return rd_skip(d, m, wt);
}

static int attr_sub(Dec *d, Msg *m, unsigned field, int wt, OnnxAttr *a)
{
    Msg sub;
    int rc;
    if (field == 5) {
        a->t = arena_alloc(d->ctx->arena, sizeof *a->t);
        if (dec_enter(d, m, wt, "t", -1, &sub) != 0)
            return -1;
        rc = dec_tensor(d, sub, a->t);
    } else {
        a->g = arena_alloc(d->ctx->arena, sizeof *a->g);
        if (dec_enter(d, m, wt, "g", -1, &sub) != 0)
            return -1;
        rc = dec_graph(d, sub, a->g);
    }
    if (rc == 0)
        dec_leave(d);
    return rc;
}

/* An attribute being decoded, with its repeated numbers as they grow. */
typedef struct AttrVecs {
    IntVec ints;
    FloatVec floats;
    OnnxAttr *a;
} AttrVecs;

static int attr_field(Dec *d, Msg *m, unsigned field, int wt, void *state)
{
    unsigned long long v = 0;
    long long x;
    AttrVecs *vecs = state;
    OnnxAttr *a = vecs->a;
    switch (field) {
    case 1: return rd_string(d, m, wt, "name", &a->name);
    case 2:
        if (want_wt(d, m->p, "f", wt, WT_FIXED32) != 0 || rd_fixed(d, m, 4, &v) != 0)
            return -1;
        a->f = float_of_bits(v);
        a->has_f = 1;
        return 0;
    case 3:
        if (want_wt(d, m->p, "i", wt, WT_VARINT) != 0 || rd_varint(d, m, &v) != 0)
            return -1;
        a->i = (long long)v;
        a->has_i = 1;
        return 0;
    case 4: a->has_s = 1; return rd_string(d, m, wt, "s", &a->s);
    case 5: case 6: return attr_sub(d, m, field, wt, a);
    case 7: return rd_floats(d, m, wt, "floats", &vecs->floats);
    case 8: return rd_ints(d, m, wt, "ints", &vecs->ints);
    case 9: return count_attr(d, m, wt, "strings", &a->nstrings);
    case 10: return count_attr(d, m, wt, "tensors", &a->ntensors);
    case 11: return count_attr(d, m, wt, "graphs", &a->ngraphs);
    case 20:
        if (rd_int(d, m, wt, "type", 0, 100, &x) != 0)
            return -1;
        a->type = (int)x;
        return 0;
    default: return rd_skip(d, m, wt);
    }
}

static int dec_attr(Dec *d, Msg m, OnnxAttr *a)
{
    AttrVecs v = { .a = a };
    a->name = "";
    if (dec_fields(d, m, attr_field, &v) != 0)
        return -1;
    if (v.ints.n > ONNX_MAX_ITEMS || v.floats.n > ONNX_MAX_ITEMS)
        return dec_error(d, m.end, "attribute '%s' has more than %d values",
                         onnx_printable(d->ctx->arena, a->name), ONNX_MAX_ITEMS);
    a->ints = v.ints.v;
    a->nints = (int)v.ints.n;
    a->floats = v.floats.v;
    a->nfloats = (int)v.floats.n;
    return 0;
}

/* Room for one more entry of an array of the decoded model, which counts
 * its entries in an int (at most ONNX_MAX_ITEMS). */
static int grow_one(Dec *d, const unsigned char *at, const char *field, void **items, int *n,
                    long long *cap, size_t size)
{
    long long count = *n;
    return vec_grow(d, at, field, items, &count, cap, 1, size, ONNX_MAX_ITEMS);
}

/* A node being decoded: its arrays grow in place, these are their sizes. */
typedef struct NodeCaps {
    OnnxNode *nd;
    long long in, out, attrs;
} NodeCaps;

static int push_string(Dec *d, Msg *m, int wt, const char *field, const char ***v, int *n,
                       long long *cap)
{
    if (grow_one(d, m->p, field, (void **)v, n, cap, sizeof **v) != 0)
        return -1;
    return rd_string(d, m, wt, field, &(*v)[(*n)++]);
}

static int node_field(Dec *d, Msg *m, unsigned field, int wt, void *state)
{
    NodeCaps *cap = state;
    OnnxNode *nd = cap->nd;
    Msg sub;
    switch (field) {
    case 1: return push_string(d, m, wt, "input", &nd->inputs, &nd->ninputs, &cap->in);
    case 2: return push_string(d, m, wt, "output", &nd->outputs, &nd->noutputs, &cap->out);
    case 3: return rd_string(d, m, wt, "name", &nd->name);
    case 4: return rd_string(d, m, wt, "op_type", &nd->op_type);
    case 5:
        if (grow_one(d, m->p, "attribute", (void **)&nd->attrs, &nd->nattrs, &cap->attrs,
                     sizeof *nd->attrs) != 0 ||
            dec_enter(d, m, wt, "attribute", nd->nattrs, &sub) != 0 ||
            dec_attr(d, sub, &nd->attrs[nd->nattrs]) != 0)
            return -1;
        nd->nattrs++;
        dec_leave(d);
        return 0;
    case 7: return rd_string(d, m, wt, "domain", &nd->domain);
    default: return rd_skip(d, m, wt);
    }
}

static int dec_node(Dec *d, Msg m, OnnxNode *nd)
{
    NodeCaps cap = { .nd = nd };
    nd->name = nd->op_type = nd->domain = "";
    return dec_fields(d, m, node_field, &cap);
}

/* ---- GraphProto ---- */

/* A graph being decoded: its arrays grow in place, these are their sizes. */
typedef struct GraphCaps {
    OnnxGraph *g;
    long long nodes, inits, ins, outs;
} GraphCaps;

/* Grows *items by one zeroed entry, enters it, decodes it, leaves. */
static int graph_item(Dec *d, Msg *m, int wt, const char *field, void **items, int *n,
                      long long *cap, size_t size)
{
    Msg sub;
    if (grow_one(d, m->p, field, items, n, cap, size) != 0 ||
        dec_enter(d, m, wt, field, *n, &sub) != 0)
        return -1;
    void *item = (char *)*items + (size_t)*n * size;
    int rc = strcmp(field, "node") == 0 ? dec_node(d, sub, item)
           : strcmp(field, "initializer") == 0 ? dec_tensor(d, sub, item)
           : dec_value_info(d, sub, item);
    if (rc != 0)
        return -1;
    ++*n;
    dec_leave(d);
    return 0;
}

static int graph_field(Dec *d, Msg *m, unsigned field, int wt, void *state)
{
    GraphCaps *cap = state;
    OnnxGraph *g = cap->g;
    switch (field) {
    case 1:
        return graph_item(d, m, wt, "node", (void **)&g->nodes, &g->nnodes, &cap->nodes,
                          sizeof *g->nodes);
    case 2: return rd_string(d, m, wt, "name", &g->name);
    case 5:
        return graph_item(d, m, wt, "initializer", (void **)&g->inits, &g->ninits, &cap->inits,
                          sizeof *g->inits);
    case 11:
        return graph_item(d, m, wt, "input", (void **)&g->inputs, &g->ninputs, &cap->ins,
                          sizeof *g->inputs);
    case 12:
        return graph_item(d, m, wt, "output", (void **)&g->outputs, &g->noutputs, &cap->outs,
                          sizeof *g->outputs);
    case 15: g->nsparse++; return rd_skip(d, m, wt);
    default: return rd_skip(d, m, wt);
    }
}

static int dec_graph(Dec *d, Msg m, OnnxGraph *g)
{
    GraphCaps cap = { .g = g };
    g->name = "";
    return dec_fields(d, m, graph_field, &cap);
}

/* ---- ModelProto ---- */

static int dec_opset(Dec *d, Msg m, OnnxModel *model)
{
    const char *domain = "";
    long long version = 0;
    while (m.p < m.end) {
        unsigned field;
        int wt;
        if (rd_tag(d, &m, &field, &wt) != 0)
            return -1;
        int rc = field == 1 ? rd_string(d, &m, wt, "domain", &domain)
               : field == 2 ? rd_int(d, &m, wt, "version", 0, 1 << 20, &version)
               : rd_skip(d, &m, wt);
        if (rc != 0)
            return -1;
    }
    if (strcmp(domain, "") == 0 || strcmp(domain, "ai.onnx") == 0)
        model->opset = version;
    return 0;
}

typedef struct ModelStrings {
    OnnxModel *model;
    const char *producer, *version;
    long long nopsets;
} ModelStrings;

static int model_field(Dec *d, Msg *m, unsigned field, int wt, void *state)
{
    ModelStrings *ms = state;
    OnnxModel *model = ms->model;
    Msg sub;
    int rc;
    switch (field) {
    case 1: return rd_int(d, m, wt, "ir_version", 0, 1LL << 40, &model->ir_version);
    case 2: return rd_string(d, m, wt, "producer_name", &ms->producer);
    case 3: return rd_string(d, m, wt, "producer_version", &ms->version);
    case 7:
        if (model->graph)
            return dec_error(d, m->p, "a second 'graph'");
        model->graph = arena_alloc(d->ctx->arena, sizeof *model->graph);
        if (dec_enter(d, m, wt, "graph", -1, &sub) != 0 || dec_graph(d, sub, model->graph) != 0)
            return -1;
        dec_leave(d);
        return 0;
    case 8:
        if (ms->nopsets >= ONNX_MAX_ITEMS)
            return dec_error(d, m->p, "more than %d entries in 'opset_import'", ONNX_MAX_ITEMS);
        if (dec_enter(d, m, wt, "opset_import", ms->nopsets++, &sub) != 0)
            return -1;
        rc = dec_opset(d, sub, model);
        if (rc == 0)
            dec_leave(d);
        return rc;
    case 25: model->nfunctions++; return rd_skip(d, m, wt);
    default: return rd_skip(d, m, wt);
    }
}

int onnx_decode(Ctx *ctx, const char *path, const unsigned char *bytes, size_t size, OnnxModel *out)
{
    Dec d = { .ctx = ctx, .path = path, .base = bytes };
    Msg m = { bytes, bytes + size };
    ModelStrings ms = { out, "", "", 0 };
    memset(out, 0, sizeof *out);
    if (dec_fields(&d, m, model_field, &ms) != 0)
        return -1;
    if (!out->graph) {
        diag_file_error(ctx, path, "invalid ONNX file: no graph (is this an ONNX model?)");
        return -1;
    }
    out->producer = ms.version[0] ? arena_printf(ctx->arena, "%s %s", ms.producer, ms.version) : ms.producer;
    return 0;
}

/* ---- helpers ---- */

int onnx_read_file(Ctx *ctx, const char *path, const unsigned char **bytes, size_t *size)
{
    struct stat st;                    /* before opening: a FIFO blocks in open */
    if (stat(path, &st) != 0) {
        diag_file_error(ctx, path, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        diag_file_error(ctx, path, "not a regular file");
        return -1;
    }
    long long n = (long long)st.st_size;
    if (n > ONNX_MAX_FILE_BYTES) {
        diag_file_error(ctx, path, "file is larger than the limit of %lld bytes", ONNX_MAX_FILE_BYTES);
        return -1;
    }
    /* Before opening: running out of memory here leaves no file open. */
    unsigned char *buf = arena_alloc(ctx->arena, (size_t)n + 1);
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_file_error(ctx, path, "cannot open: %s", strerror(errno));
        return -1;
    }
    size_t got = fread(buf, 1, (size_t)n, f);
    int failed = ferror(f) || got != (size_t)n;
    fclose(f);
    if (failed) {
        diag_file_error(ctx, path, "read error");
        return -1;
    }
    *bytes = buf;
    *size = (size_t)n;
    return 0;
}

const char *onnx_printable(Arena *a, const char *s)
{
    enum { SHOWN = 64 };
    size_t n = strlen(s);
    char *out = arena_alloc(a, SHOWN + 4);
    size_t k = 0;
    for (; k < n && k < SHOWN; k++) {
        unsigned char c = (unsigned char)s[k];
        out[k] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (k < n)
        memcpy(out + k, "...", 4);
    return out;
}

const char *onnx_dtype_name(int dtype)
{
    static const char *const names[] = {
        "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING",
        "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
    };
    if (dtype >= 0 && dtype < (int)(sizeof names / sizeof names[0]))
        return names[dtype];
    return "an unknown type";
}
