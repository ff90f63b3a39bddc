/* base.h: what every layer of cnnc shares: limits, the arena, growable
 * text buffers, source locations and diagnostics.
 *
 * Ownership: one Arena per compilation owns every string, AST node, tensor,
 * op and weight buffer. Only Buf (growable output text) uses malloc directly.
 * Layers, each seeing only those before it (docs/architecture.md):
 *   base.h -> ir.h -> passes.h -> backend.h -> jit.h
 *   base.h -> ir.h -> ast.h (the front end) -> driver.h (everything)
 */
#ifndef CNNC_BASE_H
#define CNNC_BASE_H

#include <setjmp.h>
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
Arena *arena_new(void);                             /* NULL: out of memory */
void arena_free(Arena *a);
/* Out of memory (malloc failed, or the limit would be passed) in
 * arena_alloc: longjmp(*on_oom, 1) when on_oom is set, as the API entry
 * points do (api.c), else an internal error. */
jmp_buf *arena_on_oom(Arena *a, jmp_buf *on_oom);  /* returns the previous one */
void arena_set_limit(Arena *a, size_t max_bytes);   /* 0: no limit */
void *arena_alloc(Arena *a, size_t size);           /* zeroed */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* ---- buf.c: growable byte buffer for emitted text ---- */
typedef struct Buf {
    char *data;
    size_t len, cap;
    jmp_buf *on_oom;   /* as Arena's; NULL (buf_init): an internal error */
} Buf;
void buf_init(Buf *b);
void buf_free(Buf *b);
void buf_put(Buf *b, const char *s, size_t n);
void buf_puts(Buf *b, const char *s);
void buf_putc(Buf *b, char c);
void buf_printf(Buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void buf_vprintf(Buf *b, const char *fmt, va_list ap);
/* [A-Za-z_][A-Za-z0-9_]*, in ASCII whatever the locale; 0 for NULL. */
int is_c_identifier(const char *s);

/* ---- diag.c: locations in a source text ---- */
typedef struct Loc {
    int off, len;     /* byte span in Source.text */
    int line, col;    /* 1-based; 0 = no location */
} Loc;

typedef struct Source {
    const char *path; /* as given by the user */
    const char *text; /* NUL-terminated */
    size_t len;
} Source;

/* ---- diag.c: the compilation context and diagnostics ---- */
struct Graph;
struct Target;
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
    /* The weights file weights.c read (resolved against the base
     * directory), or NULL: what a CLI output must not overwrite. */
    const char *weights_file;
    /* NULL, or called with each pass's name and the graph after it, and
     * with "lower" before the first pass: --print-after (api.c). */
    void (*after_pass)(void *user, const char *pass, const struct Graph *g);
    void *after_pass_user;
    /* During an API call: where running out of memory jumps (api.c). A
     * Buf of the library's own that may grow large sets on_oom from it. */
    jmp_buf *on_oom;
    /* The machine pack.c lays weights out for (passes.h, target.c); NULL:
     * target_default(). */
    const struct Target *target;
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

#endif
