/* diag.c: diagnostics. Renders "path:line:col: error: message", the source
 * line and a caret under the column, and hands the result to the embedder's
 * callback; the CLI's callback prints it. After LIMIT_ERRORS errors the rest
 * are counted but not shown. The one exception to "never prints" is ice_at:
 * an internal compiler error (a cnnc bug) writes to stderr and aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "base.h"

void ctx_init(Ctx *ctx, Arena *arena)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->arena = arena;
}

static const char *severity_name(cnnc_severity sev)
{
    switch (sev) {
    case CNNC_ERROR: return "error";
    case CNNC_WARNING: return "warning";
    case CNNC_NOTE: return "note";
    }
    return "error";
}

enum { LINE_SHOWN_MAX = 120, LINE_WINDOW = 100, LINE_BEFORE_CARET = 50 };

static int is_utf8_continuation(char c)
{
    return ((unsigned char)c & 0xC0) == 0x80;
}

/* The part [*lo, *hi) of the line [start, end) shown around off: all of a
 * line up to LINE_SHOWN_MAX bytes, else LINE_WINDOW bytes with the caret
 * about LINE_BEFORE_CARET in, never splitting a UTF-8 character (moving an
 * end by at most 3 bytes: a run of continuation bytes in a file that is
 * not UTF-8 must not shrink the window to nothing), and always showing the
 * byte under the caret. */
static void line_window(const char *text, size_t start, size_t end, size_t off, size_t *lo,
                        size_t *hi)
{
    *lo = start;
    *hi = end;
    if (end - start <= LINE_SHOWN_MAX)
        return;
    *lo = off > start + LINE_BEFORE_CARET ? off - LINE_BEFORE_CARET : start;
    if (*lo + LINE_WINDOW > end)
        *lo = end - LINE_WINDOW;
    *hi = *lo + LINE_WINDOW;
    for (int k = 0; k < 3 && *lo > start && *lo < off && is_utf8_continuation(text[*lo]); k++)
        (*lo)++;
    for (int k = 0; k < 3 && *hi < end && *hi > off + 1 && is_utf8_continuation(text[*hi]); k++)
        (*hi)--;
}

/* Appends the source line holding loc, then a caret line that copies the
 * line's tabs so the caret lines up in any terminal. A long line is cut
 * around the caret, "..." marking each cut end. */
static void render_source_line(Buf *b, const Source *src, Loc loc)
{
    if ((size_t)loc.off > src->len)
        return;
    size_t start = (size_t)loc.off, end = (size_t)loc.off, lo, hi;
    while (start > 0 && src->text[start - 1] != '\n')
        start--;
    while (end < src->len && src->text[end] != '\n' && src->text[end] != '\r')
        end++;
    line_window(src->text, start, end, (size_t)loc.off, &lo, &hi);
    buf_puts(b, lo > start ? "..." : "");
    buf_put(b, src->text + lo, hi - lo);
    buf_puts(b, hi < end ? "...\n" : "\n");
    buf_puts(b, lo > start ? "   " : "");
    for (size_t i = lo; i < (size_t)loc.off; i++)
        buf_putc(b, src->text[i] == '\t' ? '\t' : ' ');
    buf_puts(b, "^\n");
}

/* Control bytes from a hostile file (NUL above all) would cut or garble
 * the message: show them as '?', one for one, so the caret stays aligned. */
static void make_printable(Buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            b->data[i] = '?';
    }
}

/* Counts the diagnostic; 0 when it is to be shown, -1 when it is past
 * the error limit (or nobody listens). */
static int diag_count(Ctx *ctx, cnnc_severity sev)
{
    if (sev == CNNC_ERROR)
        ctx->nerrors++;
    else if (sev == CNNC_WARNING)
        ctx->nwarnings++;
    if (sev == CNNC_ERROR && ctx->nerrors > LIMIT_ERRORS) {
        ctx->suppressed++;
        return -1;
    }
    if (sev == CNNC_NOTE && ctx->nerrors > LIMIT_ERRORS)
        return -1;
    return ctx->diag_fn ? 0 : -1;
}

void diag_vreport(Ctx *ctx, cnnc_severity sev, const char *path, Loc loc,
                  const char *fmt, va_list ap)
{
    if (diag_count(ctx, sev) != 0)
        return;
    Buf msg, text;
    buf_init(&msg);
    buf_init(&text);
    buf_vprintf(&msg, fmt, ap);      /* msg.data is now never NULL */

    const Source *src = ctx->src;
    int located = loc.line > 0 && src && path == src->path;
    if (!path)
        buf_puts(&text, "cnnc");
    else
        buf_puts(&text, path);
    if (located)
        buf_printf(&text, ":%d:%d", loc.line, loc.col);
    buf_printf(&text, ": %s: %s\n", severity_name(sev), msg.data);
    if (located)
        render_source_line(&text, src, loc);

    make_printable(&msg);
    make_printable(&text);
    cnnc_diag d = { sev, path, located ? loc.line : 0, located ? loc.col : 0,
                    msg.data, text.data };
    ctx->diag_fn(ctx->diag_user, &d);
    buf_free(&msg);
    buf_free(&text);
}

static const char *src_path(const Ctx *ctx)
{
    return ctx->src ? ctx->src->path : NULL;
}

void diag_error(Ctx *ctx, Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(ctx, CNNC_ERROR, src_path(ctx), loc, fmt, ap);
    va_end(ap);
}

void diag_warning(Ctx *ctx, Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(ctx, CNNC_WARNING, src_path(ctx), loc, fmt, ap);
    va_end(ap);
}

void diag_note(Ctx *ctx, Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(ctx, CNNC_NOTE, src_path(ctx), loc, fmt, ap);
    va_end(ap);
}

void diag_file_error(Ctx *ctx, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    Loc none = { 0, 0, 0, 0 };
    diag_vreport(ctx, CNNC_ERROR, path, none, fmt, ap);
    va_end(ap);
}

_Noreturn void ice_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cnnc: internal error at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ---- "did you mean": cnnc_suggest ---- */

/* Edit distance (Levenshtein, a swap of neighbours counting 1), capped:
 * long names are never "near". */
static int edit_distance(const char *a, const char *b)
{
    enum { N = 32 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= N || lb >= N)
        return 99;
    int d[N + 1][N + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;    /* two letters swapped */
        }
    return d[la][lb];
}

const char *cnnc_suggest(const char *name, const char *const *cands, size_t n)
{
    const char *best = NULL;
    int bestd = 99;
    if (!name || !cands)
        return NULL;
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        int d = cands[i] ? edit_distance(name, cands[i]) : 99;
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    int limit = len <= 2 ? 0 : len <= 4 ? 1 : len <= 7 ? 2 : 3;
    return bestd <= limit ? best : NULL;
}
