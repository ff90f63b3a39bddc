/* onnx.h: reading ONNX models (docs/onnx.md).
 *
 *   model.onnx -> read.c (protobuf wire format -> OnnxModel, every length
 *   checked) -> import.c (OnnxModel -> .cnn text + weights StFile)
 *   -> the normal pipeline (driver.c), with Ctx.weights_mem set.
 *
 * OnnxModel holds only the part of onnx.proto that cnnc needs. All of it
 * lives in the compilation's arena; strings are NUL-terminated copies.
 */
#ifndef CNNC_ONNX_H
#define CNNC_ONNX_H

#include "driver.h"
#include "readers.h"

/* ---- limits of the decoder (docs/limits.md, docs/onnx.md) ---- */
#define ONNX_MAX_FILE_BYTES (1LL << 31)   /* a .onnx file */
enum {
    ONNX_MAX_DEPTH = 16,          /* nested messages, subgraphs included */
    ONNX_MAX_RANK = 8,            /* dims of a tensor or a value_info */
    ONNX_MAX_ITEMS = 1 << 18,     /* entries of one repeated message or string field */
    ONNX_MAX_STRING = 1 << 16,    /* bytes of one name or string */
};

/* TensorProto.DataType values cnnc reads; others are only named. */
enum { ONNX_FLOAT = 1, ONNX_UINT8 = 2, ONNX_INT8 = 3, ONNX_INT32 = 6, ONNX_INT64 = 7, ONNX_BOOL = 9, ONNX_DOUBLE = 11 };

/* AttributeProto.AttributeType */
enum {
    ONNX_ATTR_FLOAT = 1, ONNX_ATTR_INT = 2, ONNX_ATTR_STRING = 3, ONNX_ATTR_TENSOR = 4,
    ONNX_ATTR_GRAPH = 5, ONNX_ATTR_FLOATS = 6, ONNX_ATTR_INTS = 7, ONNX_ATTR_STRINGS = 8,
};

typedef struct OnnxTensor {
    const char *name;
    int dtype;                    /* TensorProto.DataType */
    int rank;
    long long dims[ONNX_MAX_RANK];
    long long numel;              /* product of dims (1 for a scalar) */
    int external;                 /* data_location = EXTERNAL */
    const unsigned char *raw;     /* raw_data (little-endian), into the file */
    size_t raw_len;
    int has_raw;
    float *floats;                /* float_data */
    long long nfloats;
    long long *ints;              /* int64_data, or int32_data widened */
    long long nints;
    double *doubles;              /* double_data */
    long long ndoubles;
} OnnxTensor;

struct OnnxGraph;
typedef struct OnnxAttr {
    const char *name;
    int type;                     /* AttributeType; 0 when the file omits it */
    float f;
    long long i;
    const char *s;                /* STRING: NUL-terminated copy */
    OnnxTensor *t;
    struct OnnxGraph *g;
    float *floats;
    int nfloats;
    long long *ints;
    int nints;
    int nstrings, ntensors, ngraphs;   /* counted, not kept */
    int has_f, has_i, has_s;
} OnnxAttr;

typedef struct OnnxNode {
    const char *name;             /* "" when absent */
    const char *op_type;
    const char *domain;           /* "" = ai.onnx */
    const char **inputs;          /* "" = an omitted optional input */
    int ninputs;
    const char **outputs;
    int noutputs;
    OnnxAttr *attrs;
    int nattrs;
} OnnxNode;

typedef struct OnnxValueInfo {
    const char *name;
    int has_type;                 /* a tensor type was given */
    int elem_type;
    int has_shape;
    int rank;
    long long dims[ONNX_MAX_RANK];    /* -1: symbolic or unknown */
    const char *dim_param[ONNX_MAX_RANK];   /* symbolic name, or NULL */
    int kind;                     /* 1 tensor, 0 none, 2 another TypeProto kind */
} OnnxValueInfo;

typedef struct OnnxGraph {
    const char *name;
    OnnxNode *nodes;
    int nnodes;
    OnnxTensor *inits;
    int ninits;
    OnnxValueInfo *inputs, *outputs;
    int ninputs, noutputs;
    int nsparse;                  /* sparse_initializer count (unsupported) */
} OnnxGraph;

typedef struct OnnxModel {
    long long ir_version;
    long long opset;              /* default domain; 0 when not imported */
    const char *producer;         /* producer_name + ' ' + version, or "" */
    OnnxGraph *graph;
    int nfunctions;               /* model-local functions (unsupported) */
} OnnxModel;

/* ---- read.c: protobuf wire format -> OnnxModel ---- */
/* Decodes bytes (the whole file, kept alive by the caller: raw tensor data
 * points into it). Errors are reported as "path: error: ..." through ctx.
 * 0 ok, -1 error. */
int onnx_decode(Ctx *ctx, const char *path, const unsigned char *bytes, size_t size,
                OnnxModel *out);
/* Reads a whole file into the arena. 0 ok, -1 after an error. */
int onnx_read_file(Ctx *ctx, const char *path, const unsigned char **bytes, size_t *size);
/* A string safe to quote in a message: non-printable bytes become '?',
 * long strings are cut with "...". */
const char *onnx_printable(Arena *a, const char *s);
const char *onnx_dtype_name(int dtype);

/* ---- import.c: OnnxModel -> .cnn text and weights ---- */
typedef struct OnnxImport {
    const char *text;             /* the .cnn source, NUL-terminated */
    StFile weights;               /* tensors in the arena; buf = NULL */
    int nparams;                  /* weights.ntensors, 0: no weights statement */
    const QuantParam *qparams;    /* the file's quantization (QDQ, qdq.c), by
                                     .cnn tensor name; NULL: a float model */
    int nqparams;
} OnnxImport;

/* Translates m (decoded from path) into .cnn text that names its weights
 * file weights_name, and the weights themselves. 0 ok, -1 after errors
 * ("path: error: node 3 'conv1' (Conv): ..."). */
int onnx_translate(Ctx *ctx, const char *path, const OnnxModel *m, const char *model_name,
                   const char *weights_name, OnnxImport *out);
/* The model name cnnc gives path: its base name without ".onnx", made a
 * C identifier that is not a .cnn keyword ("my-net.onnx" -> "my_net"). */
const char *onnx_model_name(Arena *a, const char *path);

/* `cnnc MODEL.onnx -o OUT.c`: decode, translate, then run the normal
 * pipeline on the text (weights from memory). 0 ok (c->graph planned, and
 * named after the file as a C identifier: the default prefix). */
int compilation_run_onnx(Compilation *c, const char *path, const PassOptions *opt);
/* `cnnc import MODEL.onnx -o OUT.cnn`: the same checks, then writes
 * OUT.cnn and OUT.safetensors beside it (nothing when anything failed).
 * The compilation's diagnostics sink receives the errors. 0 ok, -1 error. */
int onnx_import_files(Compilation *c, const char *onnx_path, const char *out_cnn_path,
                      const PassOptions *opt);

/* ---- shared by import.c (values, statements, text) and ops.c
 * (one translator per ONNX op) ---- */

/* How an activation's ONNX dims map to a .cnn sample: a vector [F], a
 * feature map [C, H, W], or 1-D data [C, L] seen as [C, 1, L]. */
typedef enum { LAY_VEC, LAY_MAP, LAY_MAP1D } Layout;

/* VAL_EXPR: part of exp(-(epsilon * (x - center))^2), cnnc's rbf, as
 * PyTorch exports it (Sub, Mul, Pow, Neg, Exp); x's fields as for VAL_ACT. */
typedef enum { VAL_PENDING, VAL_ACT, VAL_CONST, VAL_EXPR } OnnxValKind;

typedef struct OnnxVal {
    const char *name;             /* the ONNX value name */
    OnnxValKind kind;
    int producer;                 /* node index; -1 input or initializer */
    int nuses;                    /* readers among live nodes, + graph outputs */
    int rank;
    long long dims[ONNX_MAX_RANK];   /* ONNX shape */
    /* VAL_ACT */
    int stmt;                     /* producing statement; -1 the graph input */
    int lead;                     /* 1: dims[0] is the batch */
    Layout layout;
    int pad[4];                   /* zero padding t, l, b, r from a Pad, owed to a Conv */
    int padded;
    int nhwc;                     /* channels-last: dims are [N, H, W, C], a Transpose
                                   * (perm 0 2 3 1) of the statement's [C, H, W] map */
    /* VAL_EXPR: 1 epsilon * (x - center), 2 its square, 3 minus that;
     * gelu's, channel shuffle's and layer norm's stages (ops.c) */
    int expr;
    float center, epsilon;
    int groups;                   /* channel shuffle: the groups */
    /* VAL_CONST */
    const OnnxTensor *tensor;     /* an initializer, converted when first read */
    int dtype;                    /* ONNX_FLOAT or ONNX_INT64 */
    float *f;                     /* numel floats */
    long long *i;                 /* numel int64 */
    long long numel;
    /* quantization (qdq.c): the value is int8 data, held as its real
     * values s * (q - z) in f (a constant) or as the activation it
     * quantizes (the statement's tensor carries qs, qz) */
    int q;                        /* 1: an int8 value (QuantizeLinear's output) */
    int qdtype;                   /* its ONNX type: ONNX_INT8 or ONNX_UINT8 */
    int rawtype;                  /* VAL_CONST folded by a Cast: the integer type
                                     it has (INT8, UINT8, INT32, ...); 0: none */
    float qs;                     /* its scale, zero point (uint8: z - 128) */
    int qz;
    /* VAL_CONST from a DequantizeLinear of int8 data: the file's scales */
    const float *dqs;             /* ndqs scales along axis dqaxis */
    int ndqs, dqaxis, dqz;        /* dqz: the int8 zero point (uint8: z - 128) */
    int dqint;                    /* 1: int8 / uint8 data, 2: int32 (a bias) */
} OnnxVal;

typedef struct OnnxWeight {
    const char *suffix;           /* "weight", "bias", "running_mean", ... */
    int rank;
    long long shape[4];
    float *data;
    const float *qscale;          /* the file's int8 scales (QDQ), one per output
                                     channel; NULL: none */
} OnnxWeight;

enum { ONNX_STMT_WEIGHTS = 4 };

/* One .cnn statement being built. */
typedef struct OnnxStmt {
    const char *name;
    const char *op;               /* "conv2d" */
    const char *args;             /* "filters=4, kernel=3" without bias=false */
    int has_bias_arg;             /* conv2d/dense: prints bias=false when no bias */
    int *src;                     /* statement indices, -1 = the input */
    int nsrc;
    int node;                     /* ONNX node index, for the comment */
    const char *note;             /* more comment, or NULL */
    OnnxWeight w[ONNX_STMT_WEIGHTS];
    int nw;
    int live;
    int q;                        /* 1: the file quantizes its output (QDQ) */
    float qs;                     /* with scale qs, int8 zero point qz, */
    int qz;
    int qnode;                    /* by this node */
} OnnxStmt;

typedef struct OnnxMap {          /* string -> int, open addressing */
    const char **keys;
    int *vals;
    int cap, n;
} OnnxMap;

typedef struct Imp {
    Ctx *ctx;
    Arena *a;
    const char *path;
    const OnnxModel *m;
    const OnnxGraph *g;
    long long opset;
    OnnxVal *vals;
    int nvals;
    OnnxMap val_index;            /* ONNX name -> vals index */
    OnnxMap names;                /* .cnn names taken */
    OnnxStmt *stmts;
    int nstmts, capstmts;
    const char *input_name;       /* .cnn name of the input */
    const OnnxVal *input;
    int batch;                    /* N */
    int node;                     /* index of the node being translated */
    const char *live;             /* per node: the output depends on it */
    OnnxStmt input_q;             /* the input's quantization (q, qs, qz, qnode) */
} Imp;

/* import.c */
const OnnxNode *imp_node(const Imp *im);
int imp_error(Imp *im, const char *fmt, ...) PRINTF_LIKE(2, 3);   /* names the node; -1 */
OnnxVal *imp_val(Imp *im, const char *name);                      /* NULL if unknown */
OnnxVal *imp_input(Imp *im, int k);          /* the node's input k, defined; NULL + error */
OnnxVal *imp_input_opt(Imp *im, int k);      /* NULL when absent or "" */
OnnxVal *imp_act(Imp *im, int k);            /* input k, an unpadded activation, not channels-last */
OnnxVal *imp_act_nhwc(Imp *im, int k);       /* the same, channels-last allowed (elementwise ops) */
OnnxVal *imp_const(Imp *im, int k, int dtype);  /* input k, a constant of dtype */
OnnxVal *imp_output(Imp *im, int k);
int imp_output_unused(Imp *im, int k);       /* output k absent or unread */
int imp_attrs_known(Imp *im, const char *const *known);
const OnnxAttr *imp_attr(Imp *im, const char *name);
int imp_attr_int(Imp *im, const char *name, long long def, long long *out);
int imp_attr_float(Imp *im, const char *name, float def, float *out);
int imp_attr_ints(Imp *im, const char *name, int maxn, long long *out, int *n);
int imp_attr_string(Imp *im, const char *name, const char *def, const char **out);
OnnxStmt *imp_stmt(Imp *im, const char *op, const char *args, const OnnxVal *const *src, int nsrc);
OnnxWeight *imp_weight(Imp *im, OnnxStmt *s, const char *suffix, int rank, const long long *shape);
/* out becomes an activation like x (lead, layout) with the given dims,
 * produced by statement s (index) */
void imp_set_act(Imp *im, OnnxVal *out, const OnnxVal *x, int stmt, int rank, const long long *dims);
void imp_alias(OnnxVal *out, const OnnxVal *x);
/* The ONNX axis (may be negative) as a .cnn axis of x's sample; -1 for
 * the batch axis, -2 out of range. */
int imp_cnn_axis(const OnnxVal *x, long long axis);
const char *imp_fmt_float(Imp *im, float f);   /* shortest text that reads back as f */
long long imp_numel(int rank, const long long *dims);

int imp_load_const(Imp *im, OnnxVal *v, const char *what);   /* v->tensor -> f or i */

/* ops.c */
/* Resolves a Reshape's shape (0: copy, -1: infer) for x into target. */
int imp_reshape_target(Imp *im, const OnnxVal *x, const long long *shape, int r, int allowzero,
                       long long *target);
/* What a partly recognised pattern (VAL_EXPR stage) must become, for
 * errors: "x * 0.5 * (1 + erf(x / sqrt(2))), cnnc's gelu". */
const char *imp_expr_what(int expr);
typedef int (*ImpOpFn)(Imp *im);
ImpOpFn imp_find_op(const char *op_type);
/* 1 if op_type needs the NCHW convention, so a rank-3 input is [N, C, L]. */
int imp_op_uses_channels(const char *op_type);

/* qdq.c: QuantizeLinear, DequantizeLinear, QLinearConv, QLinearMatMul */
int imp_quantize_linear(Imp *im);
int imp_dequantize_linear(Imp *im);
int imp_qlinear_conv(Imp *im);
int imp_qlinear_matmul(Imp *im);
int imp_cast(Imp *im);            /* of int8 data to its own type (PyTorch's export) */
/* 0, or an error when input k of the node is int8 data (only the ops
 * above read it). */
int imp_check_not_int8(Imp *im);
/* The file's scales of statement s's weight w (from DequantizeLinear, its
 * output channels along w's axis out_axis) and bias b: onto s's weights.
 * -1 after an error. */
int imp_quant_weights(Imp *im, OnnxStmt *s, const OnnxVal *w, int out_axis, const OnnxVal *b);
/* ops.c: Conv and a dense layer for QLinearConv, QLinearMatMul */
int imp_conv_stmt(Imp *im, OnnxVal *x, const OnnxVal *wt, const OnnxVal *b);
OnnxStmt *imp_dense_stmt(Imp *im, OnnxVal *a, const OnnxVal *b, int trans, float alpha);

/* fold.c: a node computing on constants only (and Shape) becomes a
 * constant. 0 folded, 1 not a constant computation, -1 error. */
int imp_fold(Imp *im);

#endif
