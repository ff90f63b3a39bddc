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
} Compilation;
void compilation_init(Compilation *c, cnnc_diag_fn fn, void *user);
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
/* Hands a Buf's malloc'd text to the caller (cnnc_free), NUL-terminated
 * even if empty; b is left empty. */
void api_give(Buf *b, char **text, size_t *len);
/* The prefix and header name of the emitted files (opt's, or the model's
 * name); -1 after a diagnostic when either cannot be used. */
int api_emit_names(cnnc_model *m, const cnnc_emit_options *opt, const char **prefix,
                   const char **header_name);

#endif
