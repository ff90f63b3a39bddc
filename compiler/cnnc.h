/* cnnc.h: the public embedding API of libcnnc (docs/api.md).
 *
 * Load a .cnn model from a file or a string (which checks it), query its
 * input and output, emit C, run the reference interpreter, or compile it in
 * memory with libtcc into a handle that runs it many times. Every name here
 * starts with cnnc_; handles are opaque. The library never prints and never
 * exits: diagnostics reach the embedder through a callback and are also
 * kept on the model, to be read back.
 */
#ifndef CNNC_H
#define CNNC_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CNNC_VERSION "0.1.0"

/* ---- diagnostics ---- */

typedef enum { CNNC_ERROR, CNNC_WARNING, CNNC_NOTE } cnnc_severity;

/* One diagnostic. `text` is the complete rendering, as the CLI prints it:
 * "file:line:col: error: message\n<source line>\n<caret line>\n". */
typedef struct cnnc_diag {
    cnnc_severity severity;
    const char *file;     /* path as given; NULL for errors with no file */
    int line, col;        /* 1-based; 0 when the error has no location */
    const char *message;  /* the message alone */
    const char *text;     /* the full rendering, ends in '\n' */
} cnnc_diag;

/* Called once per diagnostic, in order. The strings live only during the
 * call; copy what you keep (or read them back with cnnc_model_diag). */
typedef void (*cnnc_diag_fn)(void *user, const cnnc_diag *diag);

/* The candidate that a misspelled name most plausibly meant, or NULL: edit
 * distance (Levenshtein, a swap of neighbouring letters counting 1) up to
 * 1, 2 or 3 for names of 3-4, 5-7 or more bytes, 0 for shorter ones. The
 * rule of every "did you mean" cnnc prints. */
const char *cnnc_suggest(const char *name, const char *const *candidates, size_t n);

/* ---- loading a model ---- */

typedef struct cnnc_model cnnc_model;   /* a checked model and its weights */
typedef struct cnnc_jit cnnc_jit;       /* machine code for one model */

/* Zero-initialize, then set what you need. */
typedef struct cnnc_options {
    cnnc_diag_fn diag_fn;   /* NULL: diagnostics are only kept on the model */
    void *diag_user;        /* passed to diag_fn */
    int no_opt;             /* 1: skip optimizing passes (fusion), as -O0 */
    const char *tcc_dir;    /* libtcc1.a and tcc's include/; NULL: as built */
    const char *print_after;/* keep the IR after this pass (cnnc_pass_name), for
                               cnnc_model_view(CNNC_VIEW_AFTER_PASS) */
    size_t memory_limit;    /* bytes of compiler memory one model may use; 0: no
                               limit. Past it, as when malloc fails, the call
                               reports "out of memory" and fails: never an abort */
    const char *target;     /* the machine the C is for (cnnc_target_name);
                               NULL: "auto". An unknown name is an error. */
    const char *quantize;   /* "int8": post-training quantization (docs/
                               quantization.md); NULL: float. Another value
                               is an error. */
    const char *calibration;/* with quantize: a .npy file of N float32 input
                               samples, [N, ...input shape] or [N, input size],
                               whose ranges set the int8 scales */
} cnnc_options;

/* Parse, check and lower a model, and bind its weights (a weights file is
 * read relative to the model file's directory). Returns a handle even when
 * the model has errors (NULL only for NULL arguments or out of memory):
 * test cnnc_model_errors() before using it, and free it in either case.
 * opt may be NULL. */
cnnc_model *cnnc_model_from_file(const char *path, const cnnc_options *opt);
/* The same from text. name stands for the file in diagnostics; base_dir is
 * where a `weights "FILE"` path is resolved (NULL: the current directory). */
cnnc_model *cnnc_model_from_string(const char *name, const char *text, const char *base_dir,
                                   const cnnc_options *opt);
/* cnnc_model_from_file also reads ONNX files (a path ending in ".onnx",
 * docs/onnx.md): the model is then named after the file. This writes what
 * it imports instead: cnn_path and a .safetensors file beside it (named
 * like cnn_path), after every check has passed; nothing on an error. 0 ok,
 * -1 after diagnostics (through opt's callback). */
int cnnc_import_onnx(const char *onnx_path, const char *cnn_path, const cnnc_options *opt);
/* Frees the model. Free its JIT handles first: they use its weights. */
void cnnc_model_free(cnnc_model *m);

/* The weights file a model's `weights "FILE"` statement named, as opened
 * (relative to the model's directory or base_dir), or NULL: random
 * weights, an ONNX model's, or none read. Valid until the model is freed. */
const char *cnnc_model_weights_file(const cnnc_model *m);

/* Number of errors found (0: the model is usable). Includes errors past the
 * display limit, which are counted but not delivered. */
int cnnc_model_errors(const cnnc_model *m);
/* The diagnostics delivered so far, in order; each is valid until the model
 * is freed. After more errors than the limit, the last one is a CNNC_NOTE
 * whose text is "cnnc: N more errors not shown\n". */
size_t cnnc_model_diag_count(const cnnc_model *m);
const cnnc_diag *cnnc_model_diag(const cnnc_model *m, size_t i);

/* ---- what a usable model computes ---- */

enum { CNNC_MAX_RANK = 4 };

typedef struct cnnc_tensor_info {
    const char *name;         /* the statement's name, valid while m lives */
    int rank;                 /* 3: [C, H, W]; 1: [N]; with a batch B, [B, ...] */
    int dims[CNNC_MAX_RANK];
    size_t size;              /* elements (floats) */
} cnnc_tensor_info;

/* The model's name (as in `model NAME`), or NULL when it has errors. */
const char *cnnc_model_name(const cnnc_model *m);
/* Fill *info; -1 when the model has errors. */
int cnnc_model_input(const cnnc_model *m, cnnc_tensor_info *info);
int cnnc_model_output(const cnnc_model *m, cnnc_tensor_info *info);
/* Element counts; 0 when the model has errors. */
size_t cnnc_model_input_size(const cnnc_model *m);
size_t cnnc_model_output_size(const cnnc_model *m);

/* ---- C backend ---- */

/* How the .c file stores the weights (docs/emitted-c.md). */
typedef enum {
    CNNC_WEIGHTS_BYTES,        /* little-endian bytes in string literals: the
                                  fastest for gcc and clang to compile; an
                                  #error on a compiler that says big-endian */
    CNNC_WEIGHTS_HEX,          /* 32-bit integers: any byte order, any compiler,
                                  about 10x slower to compile */
    CNNC_WEIGHTS_FILE          /* not in the .c: the run functions take the
                                  weights file's bytes (cnnc_emit_weights) as
                                  their first parameter; no size limit */
} cnnc_weights_form;

typedef struct cnnc_emit_options {
    const char *prefix;        /* C prefix of the public names; NULL: model's name */
    const char *header_name;   /* the .c file's #include; NULL: "<prefix>.h" */
    int trace;                 /* 1: call <prefix>_trace() after each op when the
                                  C is built with -DCNNC_TRACE (cnnc_emit_test) */
    cnnc_weights_form weights; /* CNNC_WEIGHTS_BYTES (0), _HEX or _FILE */
} cnnc_emit_options;

/* Emits the .c and .h text (docs/emitted-c.md) into buffers the library
 * allocates: NUL-terminated, *_len without the NUL, freed with cnnc_free.
 * Returns 0, or -1 (and a diagnostic) for a model with errors or a prefix
 * that is not a C identifier; the outputs are then NULL. opt may be NULL. */
int cnnc_emit_c(cnnc_model *m, const cnnc_emit_options *opt, char **c_text, size_t *c_len,
                char **h_text, size_t *h_len);
/* The weights file of CNNC_WEIGHTS_FILE: the weights the C reads, as
 * little-endian float32, each at a 64-byte aligned offset (the C's own
 * offsets; its header's <PREFIX>_WEIGHTS_BYTES is *len). Freed with
 * cnnc_free. 0, or -1 (and a diagnostic) for a model with errors. */
int cnnc_emit_weights(cnnc_model *m, char **data, size_t *len);
void cnnc_free(void *p);

/* ---- running ---- */

/* The reference interpreter: input holds cnnc_model_input_size(m) floats in
 * C,H,W order, output gets cnnc_model_output_size(m). 0 ok, -1 when the
 * model has errors or memory ran out. Reentrant. */
int cnnc_model_interp(const cnnc_model *m, const float *input, float *output);

/* 1 if this build has the libtcc JIT, 0 if not (cnnc_jit_new then fails). */
int cnnc_has_jit(void);
/* Compiles the model's C in memory with libtcc. The weights are bound by
 * address, not passed as C text, so m must outlive the handle. Returns NULL
 * after a diagnostic (through the model's callback and list) when the model
 * has errors or libtcc fails: the latter is an internal error carrying
 * tcc's message. libtcc calls are not thread-safe: serialize cnnc_jit_new. */
cnnc_jit *cnnc_jit_new(cnnc_model *m);
/* Runs the compiled model; sizes as for cnnc_model_interp. A handle runs
 * any number of times, but not from two threads at once (one static arena
 * per handle). 0 ok, -1 for NULL arguments. */
int cnnc_jit_run(cnnc_jit *j, const float *input, float *output);
/* Frees the machine code, its TCCState and the handle. NULL is a no-op. */
void cnnc_jit_free(cnnc_jit *j);

/* ---- debugging dumps (the CLI's --dump-ast and --dump-ir) ---- */

typedef enum { CNNC_DUMP_AST, CNNC_DUMP_IR } cnnc_dump_kind;
/* Writes the parsed model (available even when later checks failed) or the
 * optimized IR (usable models only) to out. 0 ok, -1 nothing to dump. */
int cnnc_model_dump(const cnnc_model *m, cnnc_dump_kind kind, FILE *out);

/* ---- views, budgets and the self-test (api_views.c) ---- */

typedef enum {
    CNNC_VIEW_SUMMARY,      /* the Keras-style table of cnnc --summary */
    CNNC_VIEW_IR,           /* the optimized IR as text (--emit ir, docs/ir.md) */
    CNNC_VIEW_DOT,          /* a Graphviz digraph (--emit dot) */
    CNNC_VIEW_AFTER_PASS    /* the IR after cnnc_options.print_after's pass */
} cnnc_view_kind;

/* Renders a usable model as text into a buffer the library allocates
 * (NUL-terminated, freed with cnnc_free). 0 ok; -1 and a diagnostic when
 * the model has errors, or print_after's pass did not run. */
int cnnc_model_view(cnnc_model *m, cnnc_view_kind kind, char **text, size_t *len);

/* Checks what the model needs on a device against budgets in bytes (0: no
 * limit): RAM = the planned arena + input + output buffers + the stack
 * bound (<PREFIX>_STACK_BYTES); flash = the weights the generated C embeds
 * + an estimate of its code (docs/cli.md). Each budget exceeded is
 * an error diagnostic at the largest layer (by output for RAM, by weights
 * for flash), naming it. 0 fits, -1 otherwise. */
int cnnc_model_check_budget(cnnc_model *m, unsigned long long ram_bytes,
                            unsigned long long flash_bytes);

/* The names of the passes, in order, for print_after: i = 0, 1, ... until
 * NULL. The first is "lower" (the IR before any pass). */
const char *cnnc_pass_name(int i);

/* The targets for cnnc_options.target, in order, i = 0, 1, ... until NULL
 * (the first, "auto", is the default); *summary (if summary is not NULL)
 * gets a line that says what the target's C holds. docs/targets.md. */
const char *cnnc_target_name(int i, const char **summary);

/* Zero-initialize, then set what you need. */
typedef struct cnnc_test_options {
    int vectors;                /* input vectors; 0: 3 */
    unsigned long long seed;    /* vector k is `cnnc run --input random --seed seed+k` */
    const char *model_c;        /* the model's .c file name, for the build comment */
    const char *test_c;         /* the test's own file name, likewise */
} cnnc_test_options;

/* The self-test program (docs/cli.md, --emit-test): input vectors, the
 * interpreter's outputs for them and per-layer checksums, checking the C
 * that cnnc_emit_c writes with the same emit options (trace = 1 for the
 * per-layer check). Text as for cnnc_model_view. 0 ok, -1 and a diagnostic
 * otherwise. */
int cnnc_emit_test(cnnc_model *m, const cnnc_emit_options *eopt, const cnnc_test_options *topt,
                   char **text, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
