/* driver.h: one compilation from a file or a string to a planned Graph
 * (driver.c), and the API handle's internals (api.c, for api_views.c).
 * The layer that sees every other: the front end, the passes, the backend. */
#ifndef CNNC_DRIVER_H
#define CNNC_DRIVER_H

#include "ast.h"
#include "passes.h"

/* ---- driver.c: one compilation, file or string -> planned Graph ---- */
typedef struct Compilation {
    Arena *arena;
    Ctx ctx;
    Source src;
    Model *model;
    Graph *graph;
    const char *calibration; /* --quantize int8: the samples' .npy file; NULL: none */
    const QuantParam *qparams; /* a quantized ONNX file's own (onnx/qdq.c): the
                                  passes quantize even without calibration */
    int nqparams;
} Compilation;
/* 0 ok; -1 out of memory (c->arena NULL). */
int compilation_init(Compilation *c, cnnc_diag_fn fn, void *user);
void compilation_free(Compilation *c);
/* 0 ok (c->graph planned), -1 after reporting errors. */
int compilation_run_file(Compilation *c, const char *path, const PassOptions *opt);
int compilation_run_string(Compilation *c, const char *name, const char *text,
                           const char *base_dir, const PassOptions *opt);

/* ---- api.c: what api_views.c shares with it ---- */
/* m's compilation when the model loaded without errors; else NULL, after
 * a diagnostic "cannot <what>: the model has errors" (none for NULL). */
Compilation *api_usable(cnnc_model *m, const char *what);
const Buf *api_pass_dump(const cnnc_model *m);       /* print_after's IR */
/* Out of memory in an entry point: `if (setjmp(*api_guard(m)) != 0) return
 * api_out_of_memory(m);` then the work, then api_unguard(m). Between the
 * two, the arena, Ctx.on_oom's Bufs and api_out(m, 0 or 1) jump back to
 * that setjmp when memory runs out; api_out_of_memory frees the api_out
 * Bufs, reports "out of memory" and returns -1. */
jmp_buf *api_guard(cnnc_model *m);
void api_unguard(cnnc_model *m);
int api_out_of_memory(cnnc_model *m);
Buf *api_out(cnnc_model *m, int i);
/* Hands a Buf's malloc'd text to the caller (cnnc_free), NUL-terminated
 * even if empty; b is left empty. */
void api_give(Buf *b, char **text, size_t *len);
/* The prefix and header name of the emitted files (opt's, or the model's
 * name); -1 after a diagnostic when either cannot be used. */
int api_emit_names(cnnc_model *m, const cnnc_emit_options *opt, const char **prefix,
                   const char **header_name);

#endif
