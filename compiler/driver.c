/* driver.c: one compilation from a file or a string to a planned Graph:
 * load, parse, check, lower, bind weights, run the passes. Stops after any
 * stage that reported an error. Used by the CLI and the public API.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "readers.h"

/* A UTF-8 byte order mark (EF BB BF), which some editors put first: the
 * model starts after it, and columns count from there. */
static size_t bom_length(const char *text, size_t len)
{
    return text && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

/* Appends f's bytes to b; -1 after a diagnostic. */
static int read_stream(Ctx *ctx, const char *path, FILE *f, Buf *b)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b->len + n > (size_t)LIMIT_SOURCE_BYTES) {
            diag_file_error(ctx, path, "file is larger than the limit of %ld bytes", LIMIT_SOURCE_BYTES);
            return -1;
        }
        buf_put(b, chunk, n);
    }
    if (ferror(f)) {
        diag_file_error(ctx, path, "read error");
        return -1;
    }
    return 0;
}

/* Reads a whole file into the arena, NUL-terminated. Out of memory while
 * reading is this file's error, with nothing left open. */
static int read_file(Ctx *ctx, const char *path, Source *src)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_file_error(ctx, path, "cannot open: %s", strerror(errno));
        return -1;
    }
    Buf *b = arena_alloc(ctx->arena, sizeof *b);   /* not on the stack: setjmp */
    jmp_buf oom;
    buf_init(b);
    b->on_oom = &oom;
    int rc;
    if (setjmp(oom) != 0) {
        diag_file_error(ctx, path, "out of memory reading the file");
        rc = -1;
    } else {
        rc = read_stream(ctx, path, f, b);
    }
    fclose(f);
    if (rc == 0) {
        size_t skip = bom_length(b->data, b->len);
        src->path = arena_strdup(ctx->arena, path);
        src->text = arena_strndup(ctx->arena, b->data ? b->data + skip : "", b->len - skip);
        src->len = b->len - skip;
    }
    buf_free(b);
    return rc;
}

/* The directory part of path ("" for a bare file name). */
static const char *dir_of(Arena *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? arena_strndup(a, path, (size_t)(slash - path == 0 ? 1 : slash - path)) : "";
}

int compilation_init(Compilation *c, cnnc_diag_fn fn, void *user)
{
    memset(c, 0, sizeof *c);
    c->arena = arena_new();
    if (!c->arena)
        return -1;
    ctx_init(&c->ctx, c->arena);
    c->ctx.diag_fn = fn;
    c->ctx.diag_user = user;
    c->ctx.src = &c->src;
    return 0;
}

void compilation_free(Compilation *c)
{
    arena_free(c->arena);
    memset(c, 0, sizeof *c);
}

/* "[2, 1, 28, 28]" */
static const char *dims_text(Arena *a, int rank, const long long *dim)
{
    const char *s = "[";
    for (int i = 0; i < rank; i++)
        s = arena_printf(a, "%s%s%lld", s, i ? ", " : "", dim[i]);
    return arena_printf(a, "%s]", s);
}

/* [N, ...input shape] or [N, input size], N >= 1. */
static int calibration_shape(Ctx *ctx, const char *path, const NpyArray *a, const Tensor *in)
{
    int ok = a->rank == 2 && a->shape[1] == in->numel;
    if (a->rank == in->shape.rank + 1) {
        ok = 1;
        for (int i = 0; i < in->shape.rank; i++)
            ok &= a->shape[i + 1] == in->shape.dim[i];
    }
    if (a->rank >= 1 && a->shape[0] == 0 && (ok || a->numel == 0)) {
        diag_file_error(ctx, path, "calibration data holds no samples (shape %s)",
                        dims_text(ctx->arena, a->rank, a->shape));
        return -1;
    }
    if (!ok)
        diag_file_error(ctx, path, "calibration data shape %s does not match the input '%s': "
                        "want [N, %s or [N, %lld]", dims_text(ctx->arena, a->rank, a->shape),
                        in->name, shape_str(ctx->arena, &in->shape) + 1, in->numel);
    return ok ? 0 : -1;
}

/* Reads and checks the calibration samples for g's input; 0 ok, -1 after a
 * diagnostic naming the file. */
static int load_calibration(Ctx *ctx, const char *path, const Graph *g, NpyArray *a)
{
    char err[512];
    const Tensor *in = &g->t[g->input];
    if (g->batch > 1) {
        diag_file_error(ctx, g->path, "--quantize: a model with a batch cannot be quantized");
        return -1;
    }
    if (npy_load(path, a, err, sizeof err) != 0) {
        diag_file_error(ctx, path, "cannot read the calibration data: %s", err);
        return -1;
    }
    if (calibration_shape(ctx, path, a, in) != 0)
        return -1;
    for (long long i = 0; i < a->numel; i++)
        if (!isfinite(a->data[i])) {
            diag_file_error(ctx, path, "calibration sample %lld holds %s at element %lld",
                            i / in->numel, isnan(a->data[i]) ? "NaN" : "an infinity", i % in->numel);
            return -1;
        }
    return 0;
}

/* The passes, with the calibration samples when quantizing. */
static int run_passes(Compilation *c, const PassOptions *opt)
{
    if (!c->calibration && !c->nqparams)
        return pass_run_all(&c->ctx, c->graph, opt);
    NpyArray a = { 0, { 0 }, 0, NULL };
    int rc = c->calibration ? load_calibration(&c->ctx, c->calibration, c->graph, &a) : 0;
    if (rc == 0 && !c->calibration && c->graph->batch > 1) {
        diag_file_error(&c->ctx, c->graph->path, "a quantized model with a batch cannot be compiled "
                        "(its input is [N, ...] with N > 1)");
        rc = -1;
    }
    if (rc == 0) {
        QuantRequest q = { a.data, c->calibration ? a.shape[0] : 0, c->qparams, c->nqparams };
        PassOptions with = *opt;
        with.quant = &q;
        rc = pass_run_all(&c->ctx, c->graph, &with);
    }
    npy_free(&a);
    return rc;
}

static int run_front_end(Compilation *c, const char *base_dir, const PassOptions *opt)
{
    Ctx *ctx = &c->ctx;
    c->model = parse_model(ctx);
    if (ctx->nerrors || !c->model)
        return -1;
    if (sema_check(ctx, c->model) != 0)
        return -1;
    c->graph = lower_model(ctx, c->model, c->src.path);
    if (weights_bind(ctx, c->graph, c->model, base_dir) != 0)
        return -1;
    return run_passes(c, opt);
}

int compilation_run_file(Compilation *c, const char *path, const PassOptions *opt)
{
    if (read_file(&c->ctx, path, &c->src) != 0)
        return -1;
    return run_front_end(c, dir_of(c->arena, path), opt);
}

int compilation_run_string(Compilation *c, const char *name, const char *text,
                           const char *base_dir, const PassOptions *opt)
{
    size_t len = strlen(text);
    if (len > (size_t)LIMIT_SOURCE_BYTES) {
        diag_file_error(&c->ctx, name, "model text is larger than the limit of %ld bytes", LIMIT_SOURCE_BYTES);
        return -1;
    }
    size_t skip = bom_length(text, len);
    c->src.path = arena_strdup(c->arena, name);
    c->src.text = arena_strndup(c->arena, text + skip, len - skip);
    c->src.len = len - skip;
    return run_front_end(c, base_dir ? base_dir : "", opt);
}
