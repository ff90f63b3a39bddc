/* fuzz_front.c: the compilation the .cnn harnesses run, and the checks
 * every diagnostic must pass.
 *
 * Consumes any bytes as a model file; produces a planned Graph in a
 * Compilation, or diagnostics. The stages and their order are driver.c's
 * run_front_end(); only the weights path is confined (see fuzz.h). Each
 * diagnostic is checked against the source: a located one must name a line
 * and column that exist, and its quoted line and caret must be exactly the
 * text at that line and column (docs/language.md, "Diagnostics"). An
 * accepted model must keep the limits of docs/limits.md, which is checked
 * here without help from the sanitizers (an overflowed size is caught in a
 * plain build too).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifndef FUZZ_FIXTURES
#define FUZZ_FIXTURES "fuzz/fixtures"
#endif

_Noreturn void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

unsigned long long fuzz_hash(const uint8_t *data, size_t size)
{
    unsigned long long h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ULL;
    return h;
}

long long fuzz_graph_weights(const Graph *g)
{
    long long n = 0;
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].role == TR_WEIGHT)
            n += g->t[i].numel;
    return n;
}

/* ---- diagnostics ---- */

/* Offset of the first byte of 1-based line `line`, or -1 past the end. */
static long line_start(const Source *src, int line)
{
    size_t at = 0;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(src->text + at, '\n', src->len - at);
        if (!nl)
            return -1;
        at = (size_t)(nl - src->text) + 1;
    }
    return (long)at;
}

static void put_printable(Buf *b, const Source *src, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        unsigned char c = (unsigned char)src->text[i];
        buf_putc(b, (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c);
    }
}

/* The tail diag.c renders for (line, col) when the quoted part of the line
 * is [lo, hi) of [start, end): "..." before a cut start and after a cut
 * end, control bytes but tab shown as '?', then the caret line. */
static void expected_tail(const Source *src, size_t start, size_t end, size_t lo, size_t hi,
                          size_t off, Buf *b)
{
    buf_puts(b, lo > start ? "..." : "");
    put_printable(b, src, lo, hi);
    buf_puts(b, hi < end ? "...\n" : "\n");
    buf_puts(b, lo > start ? "   " : "");
    for (size_t i = lo; i < off; i++)
        buf_putc(b, src->text[i] == '\t' ? '\t' : ' ');
    buf_puts(b, "^\n");
}

static int ends_with(const char *text, const Buf *tail)
{
    size_t n = strlen(text);
    return n >= tail->len && memcmp(text + n - tail->len, tail->data, tail->len) == 0;
}

/* Whether text ends in the window of [start, end) around off that begins
 * `lead` bytes of "..." into the quoted line (0: no cut at the start),
 * with or without a cut at the end. */
static int quotes_window(const Source *src, size_t start, size_t end, size_t off,
                         const char *text, size_t quoted, size_t caret, size_t lead)
{
    if (caret - 1 < lead || caret - 1 - lead > off - start)
        return 0;
    size_t lo = off - (caret - 1 - lead);
    for (int suf = 0; suf < 2; suf++) {
        size_t body = quoted - lead - (size_t)suf * 3, hi = lo + body;
        if (quoted < lead + (size_t)suf * 3 || hi > end || hi < off)
            continue;
        if (end - start > 120 ? body > 100 : (lo != start || hi != end))
            continue;
        Buf want;
        buf_init(&want);
        expected_tail(src, start, end, lo, hi, off, &want);
        int ok = ends_with(text, &want) && (hi < end) == suf;
        buf_free(&want);
        if (ok)
            return 1;
    }
    return 0;
}

/* Whether d->text ends in the line [start, end) quoted around off: whole
 * up to 120 bytes; else a part of at most 100 bytes holding off, the part
 * read back from the caret line (docs/language.md, Diagnostics). A quoted
 * line that starts with "..." may be a cut or the source's own dots: both
 * readings are tried. */
static int quotes_line(const Source *src, size_t start, size_t off, const char *text)
{
    size_t end = off;
    while (end < src->len && src->text[end] != '\n' && src->text[end] != '\r')
        end++;
    size_t n = strlen(text), caret = 0, quoted = 0;
    if (n < 2 || text[n - 1] != '\n' || text[n - 2] != '^')
        return 0;
    while (caret < n - 1 && text[n - 2 - caret] != '\n')
        caret++;                          /* the caret line's length, '^' included */
    while (quoted + caret + 1 < n && text[n - caret - 3 - quoted] != '\n')
        quoted++;                         /* the quoted line's length */
    int dots = end - start > 120 && quoted >= 3 &&
               memcmp(text + n - caret - 2 - quoted, "...", 3) == 0;
    for (int pre = dots; pre >= 0; pre--)
        if (quotes_window(src, start, end, off, text, quoted, caret, (size_t)pre * 3))
            return 1;
    return 0;
}

static void check_located(const Source *src, const cnnc_diag *d)
{
    char head[64];
    snprintf(head, sizeof head, "%s:%d:%d: ", src->path, d->line, d->col);
    if (strncmp(d->text, head, strlen(head)) != 0)
        fuzz_fail("diagnostic does not start with '%s': %s", head, d->text);
    long start = line_start(src, d->line);
    if (d->col < 1 || start < 0 || (size_t)start + (size_t)d->col - 1 > src->len)
        fuzz_fail("diagnostic at %d:%d, outside the %zu-byte source: %s", d->line, d->col,
                  src->len, d->text);
    size_t off = (size_t)start + (size_t)d->col - 1;
    if (memchr(src->text + start, '\n', off - (size_t)start))
        fuzz_fail("diagnostic column %d is past the end of line %d: %s", d->col, d->line, d->text);
    if (!quotes_line(src, (size_t)start, off, d->text))
        fuzz_fail("diagnostic quotes the wrong source text or caret for %d:%d:\n%s", d->line,
                  d->col, d->text);
}

void fuzz_diag_check(void *user, const cnnc_diag *d)
{
    const Source *src = user;
    size_t n = d->text ? strlen(d->text) : 0;
    if (n == 0 || d->text[n - 1] != '\n')
        fuzz_fail("diagnostic text does not end in a newline: '%s'", d->text ? d->text : "(null)");
    if (!d->message || !d->message[0])
        fuzz_fail("diagnostic with an empty message: %s", d->text);
    if (d->line < 0 || d->col < 0 || (d->line == 0) != (d->col == 0))
        fuzz_fail("diagnostic with line %d, column %d: %s", d->line, d->col, d->text);
    if (d->line > 0)
        check_located(src, d);
}

/* ---- what an accepted model promises (docs/limits.md) ---- */

static void check_tensor_limits(const Tensor *t)
{
    long long n = 1;
    if (t->shape.rank < 1 || t->shape.rank > MAX_RANK)
        fuzz_fail("tensor '%s' has rank %d", t->name, t->shape.rank);
    for (int d = 0; d < t->shape.rank; d++) {
        if (t->shape.dim[d] < 1 || t->shape.dim[d] > LIMIT_TENSOR_ELEMS)
            fuzz_fail("tensor '%s' has dimension %d = %d", t->name, d, t->shape.dim[d]);
        n *= t->shape.dim[d];
    }
    if (n != t->numel || n > LIMIT_TENSOR_ELEMS)
        fuzz_fail("tensor '%s' has %lld elements (numel %lld, limit %d)", t->name, n,
                  t->numel, LIMIT_TENSOR_ELEMS);
}

/* Window arguments within the one-dimension limit, padding included: the
 * interpreter and the emitted C compute coordinates in int. */
static void check_window_limits(const Op *op)
{
    const Window *w = &op->win;
    const int v[] = { w->kh, w->kw, w->sh, w->sw, w->dh, w->dw };
    const int pad[] = { w->pt, w->pl, w->pb, w->pr };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] < 1 || v[i] > LIMIT_DIM)
            fuzz_fail("op '%s': kernel/stride/dilation value %d outside [1, %d]", op->name,
                      v[i], LIMIT_DIM);
    for (size_t i = 0; i < 4; i++)
        if (pad[i] < 0 || pad[i] > LIMIT_DIM)
            fuzz_fail("op '%s': padding %d outside [0, %d]", op->name, pad[i], LIMIT_DIM);
}

void fuzz_check_graph(const Graph *g)
{
    for (int i = 0; i < g->nt; i++)
        check_tensor_limits(&g->t[i]);
    if (fuzz_graph_weights(g) > LIMIT_WEIGHT_ELEMS)
        fuzz_fail("%lld parameters, over the limit", fuzz_graph_weights(g));
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        if (op->kind == OP_CONV || op->kind == OP_MAXPOOL || op->kind == OP_AVGPOOL)
            check_window_limits(op);
    }
}

/* ---- the compilation ---- */

/* A weights path the harness may open: a plain file name in the fixtures
 * directory, no directory part, no leading dot. */
static int path_is_fixture(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 64 || p[0] == '.')
        return 0;
    return strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

int fuzz_compile(Compilation *c, const uint8_t *data, size_t size, const FuzzCaps *caps)
{
    Ctx *ctx = &c->ctx;
    ctx->diag_fn = fuzz_diag_check;
    ctx->diag_user = &c->src;
    c->src.path = "fuzz.cnn";
    c->src.text = arena_strndup(c->arena, (const char *)data, size);
    c->src.len = size;
    c->model = parse_model(ctx);
    if (ctx->nerrors || !c->model)
        return FUZZ_REFUSED_EARLY;
    if (sema_check(ctx, c->model) != 0)
        return FUZZ_REFUSED_EARLY;
    c->graph = lower_model(ctx, c->model, c->src.path);
    Stmt *ws = (Stmt *)sema_find(c->model, STMT_WEIGHTS);
    if (ws && ws->path && !path_is_fixture(ws->path))
        ws->path = "not-a-fixture.safetensors";
    long long nw = fuzz_graph_weights(c->graph);
    if (nw > caps->max_weights && nw <= LIMIT_WEIGHT_ELEMS)
        return FUZZ_REFUSED_EARLY;      /* valid but slow to bind: skipped */
    if (weights_bind(ctx, c->graph, c->model, FUZZ_FIXTURES) != 0)
        return FUZZ_REFUSED_EARLY;
    PassOptions opt = { caps->no_opt, NULL };
    opt.quant = caps->quant;
    if (caps->quant && c->graph->batch > 1)
        return FUZZ_REFUSED_EARLY;      /* the driver refuses to quantize a batch */
    if (pass_run_all(ctx, c->graph, &opt) != 0)
        return -1;
    fuzz_check_graph(c->graph);
    return 0;
}

/* ---- emitting ---- */

/* The emitted pair must define <prefix>_run and _run_ws and declare them
 * (the prefix may be megabytes long: a model's name is not limited). */
static void check_emitted(Arena *a, const char *prefix, const Buf *c, const Buf *h)
{
    const char *def = arena_printf(a, "void %s_run_ws(const float *input, float *output, "
                                      "void *arena)\n{", prefix);
    const char *decl = arena_printf(a, "void %s_run(const float *input, float *output);", prefix);
    if (!c->data || !strstr(c->data, def))
        fuzz_fail("emitted C lacks the definition of %s_run_ws", prefix);
    if (!h->data || !strstr(h->data, decl))
        fuzz_fail("emitted header lacks the declaration of %s_run", prefix);
    if (strlen(c->data) != c->len || strlen(h->data) != h->len)
        fuzz_fail("emitted C contains a NUL byte");
}

void fuzz_emit_check(Compilation *c)
{
    Buf cbuf, hbuf;
    buf_init(&cbuf);
    buf_init(&hbuf);
    EmitOptions eo = { .prefix = c->graph->name, .header_name = "fuzz.h" };
    emit_c(&c->ctx, c->graph, &eo, &cbuf, &hbuf);
    check_emitted(c->arena, c->graph->name, &cbuf, &hbuf);
    buf_free(&cbuf);
    buf_free(&hbuf);
}
