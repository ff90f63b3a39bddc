/* internal.h: every type and cross-file prototype of cnnc, one section per
 * file, in pipeline order (chibicc's layout).
 *
 *   source text -> lexer.l/parser.y -> Model (AST) -> sema.c (checked Model)
 *   -> lower.c -> Graph (IR) -> pass.c (fuse, plan) -> emit_c.c -> C text
 *
 * Ownership: one Arena per compilation owns every string, AST node, tensor,
 * op and weight buffer. Only Buf (growable output text) uses malloc directly.
 */
#ifndef CNNC_INTERNAL_H
#define CNNC_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "cnnc.h"

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* ---- limits (docs/limits.md) ---- */
enum {
    LIMIT_DIM = 1 << 20,            /* any one dimension */
    LIMIT_TENSOR_ELEMS = 1 << 28,   /* elements of any tensor (1 GiB of float) */
    LIMIT_STATEMENTS = 10000,       /* statements in one model */
    LIMIT_SOURCES = 64,             /* SOURCEs of one add/concat */
    LIMIT_ARGS = 64,                /* KEY=VALUE arguments of one statement */
    LIMIT_ERRORS = 20,              /* diagnostics shown before giving up */
    LIMIT_IDENT_BYTES = 128,        /* a name: model, input, layer */
};
#define LIMIT_WEIGHT_ELEMS (1LL << 28)   /* all parameters of a model together */
#define LIMIT_SOURCE_BYTES (16L << 20)   /* a .cnn file */
/* Weights the emitted C may embed as literals (about 3 bytes of C per
 * byte): past this the .c file would approach a gigabyte. */
#define LIMIT_EMIT_WEIGHT_BYTES (1LL << 28)

/* ---- arena.c ---- */
typedef struct Arena Arena;
Arena *arena_new(void);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t size);          /* zeroed; aborts on OOM */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* ---- buf.c: growable byte buffer for emitted text ---- */
typedef struct Buf {
    char *data;
    size_t len, cap;
} Buf;
void buf_init(Buf *b);
void buf_free(Buf *b);
void buf_put(Buf *b, const char *s, size_t n);
void buf_puts(Buf *b, const char *s);
void buf_putc(Buf *b, char c);
void buf_printf(Buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* ---- source.c ---- */
typedef struct Loc {
    int off, len;     /* byte span in Source.text */
    int line, col;    /* 1-based; 0 = no location */
} Loc;

typedef struct Source {
    const char *path; /* as given by the user */
    const char *text; /* NUL-terminated */
    size_t len;
} Source;

/* ---- diag.c ---- */
struct Graph;
typedef struct Ctx {
    Arena *arena;
    const Source *src;          /* the model being compiled */
    cnnc_diag_fn diag_fn;       /* NULL: diagnostics are counted, dropped */
    void *diag_user;
    int nerrors, nwarnings;
    int suppressed;             /* errors past LIMIT_ERRORS */
    /* Weights already in memory (a model imported from ONNX): used instead
     * of reading the file a `weights "FILE"` statement names. */
    const struct StFile *weights_mem;
    /* NULL, or called with each pass's name and the graph after it, and
     * with "lower" before the first pass: --print-after (api.c). */
    void (*after_pass)(void *user, const char *pass, const struct Graph *g);
    void *after_pass_user;
} Ctx;

void ctx_init(Ctx *ctx, Arena *arena);
/* Report at a location in ctx->src (loc.line == 0: no location). */
void diag_error(Ctx *ctx, Loc loc, const char *fmt, ...) PRINTF_LIKE(3, 4);
void diag_warning(Ctx *ctx, Loc loc, const char *fmt, ...) PRINTF_LIKE(3, 4);
void diag_note(Ctx *ctx, Loc loc, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* An error about a file as a whole: "path: error: message". */
void diag_file_error(Ctx *ctx, const char *path, const char *fmt, ...) PRINTF_LIKE(3, 4);
void diag_vreport(Ctx *ctx, cnnc_severity sev, const char *path, Loc loc,
                  const char *fmt, va_list ap);
/* Internal compiler error: a bug in cnnc, never a user error. Aborts. */
#define ICE(...) ice_at(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void ice_at(const char *file, int line, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* ---- ir.c (shapes are shared by sema and the IR) ---- */
enum { MAX_RANK = 4 };
typedef struct Shape {
    int rank;              /* 3: [C, H, W]; 1: [N] */
    int dim[MAX_RANK];
} Shape;

/* ---- ast.c: the parsed model ---- */
typedef enum { VAL_INT, VAL_REAL, VAL_BOOL, VAL_IDENT, VAL_STRING, VAL_LIST } ValKind;

typedef struct Value Value;
struct Value {
    ValKind kind;
    Loc loc;
    long long i;       /* VAL_INT, VAL_BOOL (0/1) */
    double r;          /* VAL_REAL; also set for VAL_INT */
    const char *s;     /* VAL_IDENT, VAL_STRING */
    Value *items;      /* VAL_LIST: first item, linked by next */
    int nitems;
    Value *next;       /* next item of the enclosing list */
    Value *last;       /* the first item of a list being built: its last item */
};

typedef struct Attr Attr;
struct Attr {
    Attr *next;
    const char *key;
    Loc loc;           /* the key */
    Value *val;
};

typedef struct SrcRef SrcRef;
struct SrcRef {
    SrcRef *next;
    const char *name;
    Loc loc;
};

typedef enum { STMT_INPUT, STMT_WEIGHTS, STMT_OUTPUT, STMT_LAYER } StmtKind;

struct Op;
typedef struct Stmt Stmt;
struct Stmt {
    Stmt *next;
    StmtKind kind;
    Loc loc;           /* first token of the statement */
    const char *name;  /* layer (NULL until sema if unnamed), input, output */
    Loc name_loc;
    const char *op;    /* STMT_LAYER: op as written; STMT_WEIGHTS: "random" or NULL */
    Loc op_loc;
    SrcRef *srcs;      /* STMT_LAYER: explicit SOURCEs */
    int nsrcs;
    Attr *attrs;       /* STMT_LAYER: KEY=VALUE; STMT_WEIGHTS random(...) */
    Value *dims;       /* STMT_INPUT: list of dimensions */
    const char *path;  /* STMT_WEIGHTS "FILE" */
    /* set by sema.c */
    int op_kind;       /* OpKind of a layer */
    struct Op *info;   /* the checked op: kind, window, parameters, act */
    int then_softmax;  /* activation=softmax: a softmax op follows */
    int bias;          /* conv2d/dense: has a bias tensor */
    Stmt **in;         /* resolved sources (the input's Stmt for the input) */
    int nin;
    Shape shape;       /* output shape */
    int live;          /* reaches the output */
    /* set by lower.c */
    int tensor;        /* id of the Tensor it produces */
};

typedef struct Model {
    const char *name;
    Loc name_loc;
    Loc loc;           /* the 'model' keyword */
    Stmt *stmts;       /* in file order */
    Stmt **tail;
} Model;

Model *ast_new_model(Ctx *ctx, const char *name, Loc loc, Loc name_loc);
Stmt *ast_new_stmt(Ctx *ctx, StmtKind kind, Loc loc);
void ast_add_stmt(Model *m, Stmt *s);
Value *ast_new_value(Ctx *ctx, ValKind kind, Loc loc);
Value *ast_list_append(Value *list, Value *item);   /* returns list */
Attr *ast_new_attr(Ctx *ctx, const char *key, Loc loc, Value *val);
SrcRef *ast_new_srcref(Ctx *ctx, const char *name, Loc loc);
void ast_dump(const Model *m, FILE *out);

/* ---- parse.c (lexer.l + parser.y): text -> Model ---- */
/* Returns the model, or NULL when nothing could be built; errors are reported. */
Model *parse_model(Ctx *ctx);

/* ---- ir.c: the graph every pass and backend sees ---- */

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

/* ---- sema.c: names, arguments, shapes ---- */
/* Checks the model: resolves names and sources, checks every argument and
 * infers every shape, filling the sema fields of each Stmt. 0 ok, -1 error. */
int sema_check(Ctx *ctx, Model *m);
/* The statements sema found, for lower.c and weights.c. */
const Stmt *sema_find(const Model *m, StmtKind kind);

/* ---- lower.c: checked Model -> Graph ---- */
Graph *lower_model(Ctx *ctx, const Model *m, const char *path);

/* ---- weights.c: bind parameters from a file or random(seed) ---- */
/* Fills data of every TR_WEIGHT tensor from the model's weights statement
 * (a safetensors file relative to base_dir, or random). 0 ok, -1 error. */
int weights_bind(Ctx *ctx, Graph *g, const Model *m, const char *base_dir);
/* The deterministic parameter generator of `weights random(seed=S)`. */
void weights_random_fill(float *dst, long long n, unsigned long long seed,
                         const char *tensor_name, float bound);

/* ---- pass.c: the pass pipeline ---- */
typedef struct PassOptions {
    int no_opt;        /* only the passes the backend needs (plan) */
} PassOptions;
int pass_run_all(Ctx *ctx, Graph *g, const PassOptions *opt);
/* Drops ops whose kind is OP__COUNT and unreferenced tensors; renumbers. */
void graph_compact(Ctx *ctx, Graph *g);
void fuse_run(Ctx *ctx, Graph *g);    /* fuse.c */
void fold_bn_run(Ctx *ctx, Graph *g); /* fold_bn.c */
void pack_run(Ctx *ctx, Graph *g);    /* pack.c */
void pad_run(Ctx *ctx, Graph *g);     /* pad.c */
void inplace_run(Ctx *ctx, Graph *g); /* inplace.c */
void plan_run(Ctx *ctx, Graph *g);    /* plan.c */
/* The packed weight tensor an op's kernel reads instead of w and b, or -1. */
int op_packed_weight(const Op *op);   /* pack.c */
/* Inserts a zeroed op (w=b=mean=var=-1) at index at, shifting the later ops
 * and their tensors' producer indices; returns it. */
Op *graph_insert_op(Ctx *ctx, Graph *g, int at, OpKind kind);   /* pad.c */
/* A new TR_WEIGHT tensor holding data (numel floats, arena). */
int graph_add_weight(Ctx *ctx, Graph *g, const char *name, Shape shape, float *data); /* fold_bn.c */
/* Returns 0 when no two tensors live at once share arena bytes; else -1
 * and a description of the first clash in msg. */
int plan_check(Ctx *ctx, const Graph *g, char *msg, size_t msglen);
/* The liveness optimum of a planned graph, in floats: the most activation
 * storage live at any one op, a lower bound for g->arena_floats. */
long long plan_lower_bound(Ctx *ctx, const Graph *g);
/* Width (floats per row) of block k of a KV_DENSE_BLOCKED layer of U units. */
int pack_dense_width(int U, int k);   /* pack.c */

/* ---- driver.c: one compilation, file or string -> planned Graph ---- */
typedef struct Compilation {
    Arena *arena;
    Ctx ctx;
    Source src;
    Model *model;
    Graph *graph;
} Compilation;
void compilation_init(Compilation *c, cnnc_diag_fn fn, void *user);
void compilation_free(Compilation *c);
/* 0 ok (c->graph planned), -1 after reporting errors. */
int compilation_run_file(Compilation *c, const char *path, const PassOptions *opt);
int compilation_run_string(Compilation *c, const char *name, const char *text,
                           const char *base_dir, const PassOptions *opt);

/* ---- emit_c.c: the C backend ---- */
typedef struct EmitOptions {
    const char *prefix;        /* function prefix, e.g. "fashion" */
    const char *header_name;   /* #include "<header_name>" */
    int weights_extern;        /* declare weights extern instead of defining them */
    int trace;                 /* call <prefix>_trace() after each op under
                                  -DCNNC_TRACE (emit_test.c's programs) */
} EmitOptions;
void emit_c(Ctx *ctx, const Graph *g, const EmitOptions *opt, Buf *c_out, Buf *h_out);

/* State of one emit_c() call, shared by emit_c.c (driver) and emit_ops.c
 * (one body emitter per op kind). */
typedef struct Emitter {
    Ctx *ctx;
    const Graph *g;
    const EmitOptions *opt;
    Buf *c;                    /* the .c text */
    int depth;                 /* indentation, 4 spaces a level */
    const char **wname;        /* per tensor: a weight's C name */
    const char **wexpr;        /* per tensor: expression for its floats */
    char *wdone;               /* per tensor: weight already written */
    const char **fname;        /* per op: its function's name */
} Emitter;
void emit_line(Emitter *E, const char *fmt, ...) PRINTF_LIKE(2, 3);
void emit_comment_text(Buf *b, const char *s);      /* escapes end-of-comment */
void emit_float_lit(char *dst, size_t n, float f);  /* exact, e.g. "0.100000001f" */
void emit_loc(Buf *b, const Graph *g, Loc loc);     /* "path:line:col" */

/* ---- emit_ops.c: the body of each op's function ---- */
void emit_op_body(Emitter *E, const Op *op);
void emit_op_params_comment(Emitter *E, const Op *op);   /* " *   k=v ...\n" */
/* "dst = act(v);" at the current depth, act written as act_apply() computes it. */
void emit_store(Emitter *E, const char *dst, const Act *a, const char *v);

/* ---- emit_kernels.c: the fast kernels of Op.variant ---- */
/* Whether op's variant can be emitted as chosen (else: the generic loops). */
int emit_kernel_usable(const Graph *g, const Op *op);
/* The tile functions op's kernel calls, written before op's function. */
void emit_kernel_helpers(Emitter *E, const Op *op);
/* op's function body with its fast kernel; 0 when it has none. */
int emit_kernel_body(Emitter *E, const Op *op);

/* ---- interp (runtime/interp.c): the reference interpreter ---- */
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

/* ---- jit.c: emitted C -> machine code in memory, with libtcc ---- */
typedef struct Jit Jit;
int jit_available(void);          /* 0 in a build without libtcc */
/* Emits g's C with extern weights, compiles it with libtcc and binds each
 * weight's data by address. NULL after an internal-error diagnostic
 * through ctx (tcc's message). tcc_dir: libtcc1.a and tcc's include/, NULL
 * for the directory found at build time. g's weights must outlive the Jit. */
Jit *jit_compile(Ctx *ctx, const Graph *g, const char *tcc_dir);
void jit_run(const Jit *j, const float *input, float *output);
void jit_free(Jit *j);

/* ---- pass.c: the pass names for --print-after ---- */
/* 0: "lower" (before any pass), then each pass in order; NULL past the end. */
const char *pass_name(int i);

/* ---- api.c: a handle's internals, for api_views.c ---- */
Compilation *api_compilation(cnnc_model *m);         /* NULL for NULL */
const Buf *api_pass_dump(const cnnc_model *m);       /* print_after's IR */

/* ---- ir_print.c, summary.c, emit_dot.c: views of a planned Graph ---- */
void ir_print(const Graph *g, Buf *out);           /* --emit ir, --print-after */
void summary_print(Ctx *ctx, const Graph *g, Buf *out);   /* --summary */
void emit_dot(const Graph *g, Buf *out);           /* --emit dot: Graphviz */

/* ---- budget.c: what a planned Graph costs on a device ---- */
typedef struct Footprint {
    long long params;          /* parameters as the model defines them */
    long long weight_bytes;    /* weights the generated C embeds (packed copies) */
    long long arena_bytes, input_bytes, output_bytes;
    long long ram_bytes;       /* arena + input + output */
    long long act_total_bytes; /* every op's output, before planning */
    long long macs;            /* conv2d and dense multiply-adds; batchnorm 1/element */
    int largest_act_op, largest_weight_op;   /* op indices, -1: none */
    long long largest_act_bytes, largest_weight_bytes;
} Footprint;
void budget_measure(Ctx *ctx, const Graph *g, Footprint *f);
long long op_param_count(const Graph *g, const Op *op);
long long op_macs(const Graph *g, const Op *op);
/* One error per budget exceeded (0: no limit), at the largest layer's
 * statement. 0 fits, -1 otherwise. */
int budget_check(Ctx *ctx, const Graph *g, long long ram_budget, long long flash_budget);

/* ---- emit_test.c: the self-test program of --emit-test ---- */
typedef struct TestOptions {
    const char *prefix;        /* the model's C prefix, as given to emit_c */
    const char *header_name;   /* #include "<header_name>" of the model */
    const char *model_c;       /* the model's .c, for the build line; NULL: "MODEL.c" */
    const char *test_c;        /* this program's file, likewise; NULL: "TEST.c" */
    int vectors;               /* input vectors (< 1: one) */
    unsigned long long seed;   /* vector k: `cnnc run --input random --seed seed+k` */
} TestOptions;
/* Appends the program to out. 0 ok; -1 after a diagnostic (out of memory). */
int emit_test(Ctx *ctx, const Graph *g, const TestOptions *opt, Buf *out);

#endif
