/* backend.h: what is written from a planned Graph: the C backend
 * (emit_c.c, emit_ops.c, emit_kernels.c), the other views of a
 * graph (summary.c, emit_dot.c), the device budget (budget.c) and the
 * self-test program (emit_test.c). Sees the IR only. */
#ifndef CNNC_BACKEND_H
#define CNNC_BACKEND_H

#include "passes.h"

/* ---- emit_c.c: the C backend ---- */
/* Where the emitted code finds the weights (cnnc.h's cnnc_weights_form). */
typedef enum {
    WEIGHTS_BYTES,   /* in the .c: little-endian bytes in string literals */
    WEIGHTS_HEX,     /* in the .c: 32-bit integers, any byte order */
    WEIGHTS_FILE,    /* not in the .c: one blob (emit_weights_file) whose
                        address the run functions take */
} WeightsForm;

typedef struct EmitOptions {
    const char *prefix;        /* function prefix, e.g. "fashion" */
    const char *header_name;   /* #include "<header_name>" */
    int weights_extern;        /* declare weights extern instead of defining them */
    int trace;                 /* call <prefix>_trace() after each op under
                                  -DCNNC_TRACE (emit_test.c's programs) */
    WeightsForm weights;       /* unless weights_extern */
    const Target *target;      /* NULL: target_default(); as the passes had it */
    int portable_only;         /* write no SIMD variant (the JIT: tcc) */
} EmitOptions;
void emit_c(Ctx *ctx, const Graph *g, const EmitOptions *opt, Buf *c_out, Buf *h_out);
/* WEIGHTS_FILE's blob: every weight the code reads, little-endian float32,
 * each at a 64-byte aligned offset, in the order the code first reads them
 * (the offsets emit_c writes). */
void emit_weights_file(Ctx *ctx, const Graph *g, Buf *out);

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
    long long blob_floats;     /* WEIGHTS_FILE: the blob's size in floats */
    const Target *target;
    const Isa *isa;            /* the variant being written; NULL: portable C */
    const char *sfx;           /* its functions' suffix: "" or "_avx2" */
    int int8_entry;            /* writing <prefix>_run_int8: the ops between the
                                  input's quantize and the final dequantize */
    int io_in, io_out;         /* the tensors bound to `input`, `output` */
    int residual;              /* writing a conv with a residual (fuse.c): its
                                  output holds the residual, and emit_store and
                                  emit_vec_store write act(v + what dst holds) */
} Emitter;
void emit_line(Emitter *E, const char *fmt, ...) PRINTF_LIKE(2, 3);
void emit_comment_text(Buf *b, const char *s);      /* escapes end-of-comment */
void emit_float_lit(char *dst, size_t n, float f);  /* exact, e.g. "0.100000001f" */
void emit_loc(Buf *b, const Graph *g, Loc loc);     /* "path:line:col" */
/* "" in portable C; a SIMD variant's function attribute macro and a space. */
const char *emit_fn_attr(Emitter *E);

/* ---- emit_c.c: index expressions and loops, for emit_ops.c and emit_kernels.c ---- */
/* A linear index expression c0*v0 + c1*v1 + ... + k over loop variables. */
enum { LIN_MAX = 6 };
typedef struct Lin {
    int n;
    const char *var[LIN_MAX];
    long long coef[LIN_MAX];
    long long k;
} Lin;
Lin lin(long long k);
/* Adds coef*var; a NULL var is a loop that was left out (index 0). */
Lin lin_add(Lin l, const char *var, long long coef);
const char *lin_expr(Emitter *E, Lin l);   /* "oy * 2 + ky - 1"; "0" when empty */
const char *emit_plus(Emitter *E, const char *base, Lin l);   /* "base + l", or base */
/* Opens `for (int v = 0; v < n; ++v) {` and returns v; with n == 1 and no
 * reason to force it, opens nothing and returns NULL (the index is 0). */
const char *emit_loop_open(Emitter *E, const char *v, long long n, int force);
void emit_loop_close(Emitter *E, const char *v);   /* closes what v opened, if anything */

/* ---- emit_ops.c: the body of each op's function ---- */
void emit_op_body(Emitter *E, const Op *op);
void emit_op_params_comment(Emitter *E, const Op *op);   /* " *   k=v ...\n" */
/* "dst = act(v);" at the current depth, act written as act_apply() computes it. */
void emit_store(Emitter *E, const char *dst, const Act *a, const char *v);
/* One spatial axis of a window over an input of n cells. */
typedef struct Axis {
    int n, k, s, d, pad, out;
    int test_lo, test_hi;   /* some tap falls before / after the input */
    int empty;              /* some output has no real tap on this axis */
} Axis;
void window_axes(const Graph *g, const Op *op, Axis *ay, Axis *ax);
/* The tap loops of a window (ky, kx: their variables or NULL) computing
 * iy and ix and skipping padding taps; window_close closes them. */
void window_open(Emitter *E, const Axis *ay, const Axis *ax, const char *oy, const char *ox,
                 const char **ky, const char **kx);
void window_close(Emitter *E, const char *ky, const char *kx);
/* The reference conv2d's loop nest, float (emit_ops.c) or int8
 * (emit_int8.c): oc (and its group), oy, ox, "ACC acc = bias[oc];", ic
 * with "const ELEM *x" and "*k" at the group's plane and the filter's
 * taps, then the window's taps, where the caller writes its multiply-add
 * of k[kat] and x[xat]. conv_nest_taps_close closes the taps and ic and
 * returns the output's index, conv_nest_close the rest. */
typedef struct ConvNestKind {
    const char *elem, *acc, *zero;   /* "int8_t", "int32_t", "0" */
    int force;                       /* write loops of one iteration too */
} ConvNestKind;
typedef struct ConvNest {
    const char *oc, *oy, *ox, *ic, *ky, *kx;   /* loop variables, NULL: left out */
    const char *kat, *xat;                     /* the tap's k and x indices */
    int OH, OW;
} ConvNest;
void conv_nest_open(Emitter *E, const Op *op, const ConvNestKind *kind, ConvNest *n);
const char *conv_nest_taps_close(Emitter *E, ConvNest *n);
void conv_nest_close(Emitter *E, ConvNest *n);
/* A concat whose inputs all are slices of its output, already written
 * there (concat_view.c, placed so by plan.c): no code. */
int emit_concat_is_view(const Graph *g, const Op *op);

/* ---- emit_int8.c: the int8 ops of a quantized graph ---- */
/* The C type of a tensor's elements: "float", "int8_t", "int32_t". */
const char *emit_ctype(const Tensor *t);
/* The weights an int8 op's Cortex-M kernel reads (its packed tensor in
 * place of w; pack_int8.c), or -1 when it has no such kernel. */
int emit_int8_params(const Op *op, int ids[4]);
/* The fixed-point helpers the int8 ops call (static functions), once. */
void emit_int8_helpers(Emitter *E);
/* ops.def's emit column for the int8 ops. */
void emit_quantize(Emitter *E, const Op *op);
void emit_dequantize(Emitter *E, const Op *op);
void emit_qconv(Emitter *E, const Op *op);
void emit_qdense(Emitter *E, const Op *op);
void emit_qpool(Emitter *E, const Op *op);
void emit_qgap(Emitter *E, const Op *op);
void emit_qadd(Emitter *E, const Op *op);
void emit_qconcat(Emitter *E, const Op *op);
void emit_qcopy(Emitter *E, const Op *op);

/* ---- emit_kernels.c: the fast kernels of Op.variant ---- */
/* A SIMD variant's (Emitter.isa) vector expressions, GCC vector extensions:
 * the type "cnnc_f8", a load from any float address, a splat of a scalar,
 * and the floats q[at + s*j] for stride s 1 or 2 (reads one float more). */
const char *vec_type(Emitter *E);
const char *vec_load(Emitter *E, const char *p, long long at);
const char *vec_splat(Emitter *E, const char *v);
const char *vec_load_strided(Emitter *E, const char *q, long long at, int s);
/* The same with n lanes (a narrower vector for a row's tail; emit_c.c
 * declares cnnc_f<n> for every n down to VEC_MIN_LANES). */
enum { VEC_MIN_LANES = 4 };
const char *vec_type_n(Emitter *E, int n);
const char *vec_load_n(Emitter *E, int n, const char *p, long long at);
const char *vec_splat_n(Emitter *E, int n, const char *v);
const char *vec_load_strided_n(Emitter *E, int n, const char *q, long long at, int s);
/* Vector stores of act(v), for the activations with an exact lane-wise
 * form (vec_act_exact: none, relu, relu6, clip, leaky_relu). */
int vec_act_exact(const Act *a);
void emit_vec_store(Emitter *E, int n, const char *dst, const Act *a, const char *v);
/* A kernel's helper functions: "static void NAME(decl0, /" "* comment0 *" "/
 * ...) {" with the variant's attribute, its closing brace, and the name
 * "<op's function>_<what><n>". */
void tile_open_n(Emitter *E, const char *name, int n, const char *const decl[],
                 const char *const comment[]);
void tile_close(Emitter *E);
const char *tile_name(Emitter *E, const Op *op, const char *what, int n);
/* Whether op's variant can be emitted as chosen (else: the generic loops). */
int emit_kernel_usable(const Graph *g, const Op *op);
/* 1 when E's variant runs depthwise op with its channels in the lanes
 * (emit_kernels.c, chl_body). */
int emit_kernel_channels_in_lanes(const Emitter *E, const Op *op);
/* The tile functions op's kernel calls, written before op's function. */
void emit_kernel_helpers(Emitter *E, const Op *op);
/* op's function body with its fast kernel; 0 when it has none. */
int emit_kernel_body(Emitter *E, const Op *op);

/* ---- emit_winograd.c: KV_CONV_WINOGRAD ---- */
void emit_winograd_helpers(Emitter *E, const Op *op);   /* its transform and tile functions */
void emit_winograd_body(Emitter *E, const Op *op);

/* ---- summary.c, emit_dot.c: other views of a planned Graph ---- */
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
 * statement: RAM is the arena, input, output and the stack bound; flash
 * the weights and the code estimate. 0 fits, -1 otherwise. */
int budget_check(Ctx *ctx, const Graph *g, long long ram_budget, long long flash_budget);
/* An upper bound of the stack <prefix>_run needs, from the emitted C
 * text: the two largest functions' local arrays plus a fixed allowance per
 * frame and for libm (budget.c says which; docs/emitted-c.md). */
long long budget_stack_bound(const char *c_text, size_t len);
/* An estimate of the machine code of the emitted C: a base and a size per
 * function, measured on a Cortex-M (budget.c). */
long long budget_code_estimate(const char *c_text, size_t len);

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
