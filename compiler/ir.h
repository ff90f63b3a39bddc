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

typedef struct Tensor {
    const char *name;      /* statement name, or "conv1.weight" for weights */
    TensorRole role;
    Shape shape;
    long long numel;
    const float *data;     /* TR_WEIGHT: numel values (arena) */
    int producer;          /* op index, -1 for input and weights */
    int first_op, last_op; /* liveness, set by plan.c */
    long long offset;      /* TR_ACT: offset in the arena, in floats; -1 unplanned */
} Tensor;

typedef enum {
    ACT_NONE, ACT_RELU, ACT_LEAKY_RELU, ACT_SIGMOID, ACT_TANH, ACT_ELU,
    ACT_SELU, ACT_SOFTPLUS, ACT_SWISH, ACT_RBF
} ActKind;

/* An elementwise function. leaky_relu, elu: alpha; rbf: alpha = center,
 * beta = epsilon. Exact formulas: docs/language.md and act_apply(). */
typedef struct Act {
    ActKind kind;
    float alpha, beta;
} Act;

typedef enum {
    OP_CONV,            /* in[0]; w [F, C/groups, KH, KW], b [F] or -1 */
    OP_MAXPOOL,         /* in[0]; win */
    OP_AVGPOOL,         /* in[0]; win, count_pad */
    OP_GLOBAL_AVGPOOL,  /* in[0] [C,H,W] -> [C,1,1] */
    OP_FLATTEN,         /* in[0] -> [numel]; a copy in C,H,W order */
    OP_DENSE,           /* in[0] [N]; w [U, N], b [U] or -1 */
    OP_BATCHNORM,       /* in[0]; w=gamma, b=beta, mean, var, each [C]; epsilon */
    OP_ADD,             /* in[0..nin-1], nin >= 2, equal shapes */
    OP_CONCAT,          /* in[0..nin-1] along dim 0 (channels, or N of a vector) */
    OP_ACT,             /* in[0]; act: elementwise */
    OP_SOFTMAX,         /* in[0]; along axis */
    OP_PAD,             /* in[0] [C,H,W] -> [C,H+pt+pb,W+pl+pr]: zeros around (pad.c) */
    OP__COUNT
} OpKind;

/* Convolution / pooling window. Pads may be asymmetric. */
typedef struct Window {
    int kh, kw;          /* kernel */
    int sh, sw;          /* stride */
    int dh, dw;          /* dilation */
    int pt, pl, pb, pr;  /* padding: top, left, bottom, right */
} Window;

enum { MAX_FUSED = 4 };

/* How the C backend computes an op, chosen by the optimizer (pack.c,
 * inplace.c). The interpreter ignores it: every variant computes what
 * docs/numerics.md says for the op's kind, from the op's own weights. */
typedef enum {
    KV_GENERIC,        /* the reference loop nest (always with -O0) */
    KV_CONV_BLOCKED,   /* conv2d: KV_BLOCK output channels (vector lanes) x a
                          few pixels of a row in registers; weights packed
                          (pack.c); no padding */
    KV_CONV_ROWS,      /* conv2d vectorized along output x: depthwise, thin
                          groups; no padding */
    KV_DENSE_BLOCKED,  /* dense: weights packed transposed (pack.c) */
    KV_VIEW,           /* flatten: no code; the output is its input's storage */
    KV_CONV_PIXELS,    /* conv2d, stride 1 along x: a row of pixels (vector
                          lanes) x up to KV_BLOCK output channels in registers;
                          packed as KV_CONV_BLOCKED; no padding */
} KernelVariant;
enum {
    KV_BLOCK = 16,       /* output channels per conv block: one 512-bit vector */
    KV_DENSE_UNITS = 64, /* output units per dense block */
};

typedef struct Op {
    OpKind kind;
    const char *name;    /* the statement's name: "conv1", "relu_0" */
    Loc loc;             /* the statement; line/col for emitted comments */
    int *in;             /* activation inputs (tensor ids), arena array */
    int nin;
    int out;             /* tensor id */
    int w, b;            /* weight tensors, -1 when absent */
    int mean, var;       /* OP_BATCHNORM running stats */
    Window win;          /* OP_CONV, OP_MAXPOOL, OP_AVGPOOL */
    int groups;          /* OP_CONV */
    int count_pad;       /* OP_AVGPOOL: divide by the whole window */
    float epsilon;       /* OP_BATCHNORM */
    int axis;            /* OP_SOFTMAX: 0 .. rank-1 */
    Act act;             /* OP_ACT: the function; others: applied to the result */
    struct { const char *name; Loc loc; } fused[MAX_FUSED];  /* statements merged in */
    int nfused;
    /* Set by the optimizer; all zero before it runs (and with -O0). */
    KernelVariant variant;
    int packed;          /* KV_CONV_BLOCKED, KV_CONV_PIXELS, KV_DENSE_BLOCKED: the
                            packed weight tensor (bias included); see
                            op_packed_weight() */
    int inplace;         /* 1 + k: out shares in[k]'s storage (plan.c); 0: no */
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
} Graph;

const char *op_kind_name(OpKind k);        /* "conv2d", "maxpool", ... */
const char *act_kind_name(ActKind k);      /* "relu", ... */
long long shape_numel(const Shape *s);
int shape_equal(const Shape *a, const Shape *b);
char *shape_str(Arena *a, const Shape *s); /* "[64, 12, 12]" */
Graph *graph_new(Ctx *ctx, const char *name, const char *path);
int graph_add_tensor(Ctx *ctx, Graph *g, const char *name, TensorRole role, Shape shape);
Op *graph_add_op(Ctx *ctx, Graph *g, OpKind kind);   /* zeroed, w=b=mean=var=-1 */
/* How many op inputs read tensor (an op reading it twice counts twice). */
int graph_readers(const Graph *g, int tensor);
/* The packed weight tensor an op's kernel reads instead of w and b, or -1. */
int op_packed_weight(const Op *op);

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
/* The reference scalar function of an Act; the emitter writes the same
 * formula in C. */
float act_apply(const Act *act, float x);

#endif
