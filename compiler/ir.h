/* ir.h: the graph every pass and backend sees (ir.c), its text form
 * (ir_print.c) and the reference interpreter over it (interp.c).
 *
 * A Graph is tensors plus ops in topological order; weights are bound,
 * every shape is known. docs/ir.md gives the invariants pass.c verifies.
 */
#ifndef CNNC_IR_H
#define CNNC_IR_H

#include "base.h"

/* ---- ir.c: the graph every pass and backend sees ---- */
enum { MAX_RANK = 4 };
typedef struct Shape {
    int rank;              /* 3: [C, H, W]; 1: [N] */
    int dim[MAX_RANK];
} Shape;   /* shared with the front end (sema.c) */

typedef enum { TR_INPUT, TR_OUTPUT, TR_WEIGHT, TR_ACT } TensorRole;

/* Element types. Everything is DT_F32 but in a graph the quantize pass
 * (quantize.c, docs/quantization.md) rewrote: int8 activations and
 * weights, int32 biases, multipliers and shifts. */
typedef enum { DT_F32, DT_I8, DT_I32 } DType;

typedef struct Tensor {
    const char *name;      /* statement name, or "conv1.weight" for weights */
    TensorRole role;
    Shape shape;
    long long numel;
    const float *data;     /* TR_WEIGHT of DT_F32: numel values (arena) */
    DType dtype;
    const void *qdata;     /* TR_WEIGHT of DT_I8 / DT_I32: numel int8_t / int32_t */
    float qscale;          /* DT_I8 activation: real = qscale * (q - qzero) */
    int qzero;
    const float *wscale;   /* DT_I8 weight: the scale of each output channel */
    int pinned;            /* the int8 image of the input or the output: the
                              int8 entry point binds it to the caller's buffer,
                              so it shares no storage (inplace.c) */
    int slice_of;          /* 1 + the id of the concat output whose storage
                              holds this tensor (concat_view.c): its producer
                              writes straight into its slice there; 0: none */
    long long slice_at;    /* with slice_of: its first element's index there */
    int producer;          /* op index, -1 for input and weights */
    int first_op, last_op; /* liveness, set by plan.c */
    long long offset;      /* TR_ACT: offset in the arena, in floats; -1 unplanned */
} Tensor;

/* Activation kinds: the rows of acts.def. */
enum { ACTF_MATH = 1, ACTF_ORDERED = 2 };   /* acts.def flags */
typedef enum {
#define ACT(kind, ...) kind,
#include "acts.def"
#undef ACT
    ACT__COUNT
} ActKind;

/* An elementwise function. leaky_relu, elu: alpha; rbf: alpha = center,
 * beta = epsilon. Exact formulas: docs/language.md and act_apply(). */
typedef struct Act {
    ActKind kind;
    float alpha, beta;
} Act;

/* Op kinds: the rows of ops.def, where each one's inputs, weights and
 * properties are described. */
enum { NIN_MANY = -1 };          /* ops.def nin: two or more inputs */
enum {                           /* ops.def flags */
    OPF_TAKES_ACT = 1,           /* an activation after it can be fused into it */
    OPF_IS_ACT = 2,              /* an elementwise activation: fusable into the op before */
    OPF_INPLACE = 4,             /* elementwise: may write over an input of its size */
    OPF_VIEW = 8,                /* a copy that can be a view of its input */
    OPF_MATH = 16,               /* its C code calls math.h */
};
typedef enum {
#define OP(kind, ...) kind,
#include "ops.def"
#undef OP
    OP__COUNT
} OpKind;

/* What ops.def and acts.def say of a kind, for the stages that do not
 * expand the tables themselves. */
typedef struct OpDesc {
    const char *name;
    int nin;                     /* 1, 2 or NIN_MANY */
    unsigned flags;              /* OPF_* */
} OpDesc;
typedef struct ActDesc {
    const char *name;
    unsigned flags;              /* ACTF_* */
    const char *param[2];        /* parameter names (alpha, beta); NULL: none */
    float dflt[2];               /* their defaults */
    const char *expr;            /* the formula in x, A (alpha), B (beta) */
} ActDesc;

/* Convolution / pooling window. Pads may be asymmetric. */
typedef struct Window {
    int kh, kw;          /* kernel */
    int sh, sw;          /* stride */
    int dh, dw;          /* dilation */
    int pt, pl, pb, pr;  /* padding: top, left, bottom, right */
} Window;

enum { MAX_FUSED = 4 };
enum { UP_NEAREST, UP_BILINEAR };        /* Op.mode of OP_UPSAMPLE */
enum { PAD_CONSTANT, PAD_REFLECT };      /* Op.mode of OP_PAD */

/* How the C backend computes an op, chosen by the optimizer (pack.c,
 * inplace.c). The interpreter ignores it: every variant computes what
 * docs/numerics.md says for the op's kind, from the op's own weights. */
typedef enum {
    KV_GENERIC,        /* the reference loop nest (always with -O0) */
    KV_CONV_BLOCKED,   /* conv2d: a block of output channels (vector lanes) x a
                          few pixels of a row in registers; weights packed
                          (pack.c); no padding */
    KV_CONV_ROWS,      /* conv2d vectorized along output x: depthwise, thin
                          groups; no padding but a depthwise conv's own; a
                          depthwise conv's weights packed on SIMD targets
                          (pack.c) */
    KV_DENSE_BLOCKED,  /* dense: weights packed transposed (pack.c) */
    KV_VIEW,           /* flatten: no code; the output is its input's storage */
    KV_CONV_PIXELS,    /* conv2d, stride 1 along x: a row of pixels (vector
                          lanes) x up to a block of output channels in registers;
                          packed as KV_CONV_BLOCKED; no padding */
    KV_CONV_WINOGRAD,  /* conv2d 3x3, stride 1, even output: Winograd F(2x2, 3x3)
                          (emit_winograd.c); weights transformed and packed
                          (pack.c); a work tensor (Op.work); no padding */
} KernelVariant;
/* Output channels per conv block: the target's (pack.c); the packed
 * tensor's last dimension. */
enum {
    KV_DENSE_UNITS = 64, /* output units per dense block */
};

typedef struct Op {
    OpKind kind;
    const char *name;    /* the statement's name: "conv1", "relu_0" */
    Loc loc;             /* the statement; line/col for emitted comments */
    int *in;             /* activation inputs (tensor ids), arena array; a
                            conv2d's in[1], when fuse.c gave it one: its
                            residual, added to each result before the
                            activation (op_residual) */
    int nin;
    int out;             /* tensor id */
    int w, b;            /* weight tensors, -1 when absent */
    int mean, var;       /* OP_BATCHNORM running stats; the int8 ops of
                            quantize.c: their multipliers and shifts (DT_I32) */
    int qlo, qhi;        /* int8 ops: the output's clamp (the fused activation) */
    Window win;          /* OP_CONV, OP_MAXPOOL, OP_AVGPOOL, OP_PAD (pads);
                            OP_UPSAMPLE (sh, sw: the scale) */
    int groups;          /* OP_CONV, OP_CHANNEL_SHUFFLE */
    int count_pad;       /* OP_AVGPOOL: divide by the whole window */
    float epsilon;       /* OP_BATCHNORM, OP_LAYERNORM */
    int mode;            /* OP_UPSAMPLE: UP_*; OP_PAD: PAD_* */
    float value;         /* OP_PAD with PAD_CONSTANT: the value around */
    int axis;            /* OP_SOFTMAX: 0 .. rank-1 */
    Act act;             /* OP_ACT: the function; others: applied to the result */
    struct { const char *name; Loc loc; } fused[MAX_FUSED];  /* statements merged in */
    int nfused;
    /* Set by the optimizer; all zero before it runs (and with -O0). */
    KernelVariant variant;
    int packed;          /* KV_CONV_BLOCKED, KV_CONV_PIXELS, KV_CONV_WINOGRAD,
                            KV_DENSE_BLOCKED, a depthwise KV_CONV_ROWS: the
                            packed weight tensor (bias included), or -1;
                            see op_packed_weight() */
    int inplace;         /* 1 + k: out shares in[k]'s storage (plan.c); 0: no */
    int work;            /* KV_CONV_WINOGRAD: 1 + the id of its work tensor, an
                            activation no op produces or reads, live only
                            while this op runs (plan.c); 0: none */
    int removed;         /* set by op_remove(): graph_compact() drops it */
} Op;

typedef struct Graph {
    const char *name;      /* the model's name */
    const char *path;      /* source path as given, for comments */
    Tensor *t;
    int nt, tcap;
    Op *ops;               /* topological order */
    int nops, opcap;
    int input, output;     /* tensor ids */
    int batch;             /* declared samples per run (input [N, ...]); 0: none,
                              one sample. Tensors hold one sample. */
    long long arena_floats;/* set by plan.c */
    const struct QuantRequest *quant; /* quantize.c's request while the passes
                              run (pass.c sets it); NULL: a float graph */
    int quantized;         /* quantize.c rewrote the graph to int8 */
} Graph;

/* A quantization the model file gives (an ONNX QDQ model, onnx/qdq.c):
 * real = scale * (q - zero) in int8. Activations: one scale; weights and
 * biases: one per output channel, zero 0. */
typedef struct QuantParam {
    const char *tensor;    /* the tensor's name: a statement, the input, "conv1.weight" */
    const float *scale;
    int nscale;
    int zero;
    const char *node;      /* the ONNX node that gave it, for errors */
} QuantParam;

/* Quantization to int8: the calibration samples, n inputs one after
 * another (n = 0: none), and the file's parameters, which take precedence
 * over calibrated ranges. */
typedef struct QuantRequest {
    const float *samples;
    long long n;
    const QuantParam *params;
    int nparams;
} QuantRequest;

const char *op_kind_name(OpKind k);        /* "conv2d", "maxpool", ... */
const char *act_kind_name(ActKind k);      /* "relu", ... */
const OpDesc *op_desc(OpKind k);           /* its ops.def row */
unsigned op_flags(OpKind k);               /* op_desc(k)->flags */
const ActDesc *act_desc(ActKind k);        /* its acts.def row */
/* The Act of kind with its parameters' defaults. */
Act act_default(ActKind k);
long long shape_numel(const Shape *s);
/* Bytes of one element of t; arena floats its storage takes. */
int tensor_elem_bytes(const Tensor *t);
long long tensor_floats(const Tensor *t);
const char *dtype_name(DType d);           /* "f32", "i8", "i32" */
int shape_equal(const Shape *a, const Shape *b);
char *shape_str(Arena *a, const Shape *s); /* "[64, 12, 12]" */
Graph *graph_new(Ctx *ctx, const char *name, const char *path);
int graph_add_tensor(Ctx *ctx, Graph *g, const char *name, TensorRole role, Shape shape);
Op *graph_add_op(Ctx *ctx, Graph *g, OpKind kind);   /* zeroed, w=b=mean=var=-1 */
/* How many op inputs read tensor (an op reading it twice counts twice). */
int graph_readers(const Graph *g, int tensor);
/* The packed weight tensor an op's kernel reads instead of w and b, or -1. */
int op_packed_weight(const Op *op);
/* A 1x1 conv2d of stride 1 without padding: a matrix product over the
 * pixels, whose rows of pixels the kernels may run as one long row. */
int op_conv_pointwise(const Op *op);
/* The residual tensor a conv2d adds to its result (fuse.c), -1: none. */
int op_residual(const Op *op);

/* ---- ir.c: graph editing, for the passes ---- */
/* Inserts a zeroed op (w=b=mean=var=-1) at index at, shifting the later ops
 * and their tensors' producer indices; returns it. */
Op *graph_insert_op(Ctx *ctx, Graph *g, int at, OpKind kind);
/* A new TR_WEIGHT tensor holding data (numel floats, arena). */
int graph_add_weight(Ctx *ctx, Graph *g, const char *name, Shape shape, float *data);
/* Marks op for removal; the next graph_compact() drops it. */
void op_remove(Op *op);
/* Drops removed ops and the tensors nothing refers to; renumbers tensors. */
void graph_compact(Ctx *ctx, Graph *g);

/* ---- ir_print.c: the IR as text ---- */
void ir_print(const Graph *g, Buf *out);           /* --emit ir, --print-after */

/* ---- interp.c: the reference interpreter ---- */
/* Runs g on input (numel of g->t[g->input], times g->batch samples one
 * after another) into output (likewise). 0 ok, -1 no memory. */
int interp_run(const Graph *g, const float *input, float *output);
/* Floats in a whole run's buffer for tensor id (the input or the output):
 * its numel times the batch. Size interp_run's and <prefix>_run's buffers
 * with it. */
long long graph_run_floats(const Graph *g, int id);
/* interp_run, calling fn after the input is bound (op -1) and after each
 * op with that tensor's float values (float tensors only); for
 * calibrate.c. 0 ok, -1 no memory. */
typedef void InterpObserve(void *user, int tensor, const float *values);
int interp_run_observed(const Graph *g, const float *input, float *output, InterpObserve *fn,
                        void *user);
/* The reference scalar function of an Act; the emitter writes the same
 * formula in C. */
float act_apply(const Act *act, float x);

#endif
