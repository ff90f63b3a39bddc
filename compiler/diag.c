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

/* Appends the source line holding loc, then a caret line that copies the
 * line's tabs so the caret lines up in any terminal. */
static void render_source_line(Buf *b, const Source *src, Loc loc)
{
    if ((size_t)loc.off > src->len)
        return;
    size_t start = (size_t)loc.off, end = (size_t)loc.off;
    while (start > 0 && src->text[start - 1] != '\n')
        start--;
    while (end < src->len && src->text[end] != '\n' && src->text[end] != '\r')
        end++;
    buf_put(b, src->text + start, end - start);
    buf_putc(b, '\n');
    for (size_t i = start; i < (size_t)loc.off; i++)
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
