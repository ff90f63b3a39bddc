/* buf.c: a growable byte buffer for emitted text. It owns its memory with
 * malloc because emitted files can be tens of megabytes and outlive the
 * compilation's arena. Also the one check of a name that must be a C
 * identifier (a prefix, --name).
 */
#include <stdlib.h>
#include <string.h>

#include "base.h"

void buf_init(Buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->on_oom = NULL;
}

void buf_free(Buf *b)
{
    jmp_buf *on_oom = b->on_oom;
    free(b->data);
    buf_init(b);
    b->on_oom = on_oom;
}

static void buf_reserve(Buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = cap > b->len + extra ? realloc(b->data, cap) : NULL;   /* NULL: overflow */
    if (!p && b->on_oom)
        longjmp(*b->on_oom, 1);
    if (!p)
        ICE("out of memory (%zu bytes of output)", cap);
    b->data = p;
    b->cap = cap;
}

void buf_put(Buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_puts(Buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

void buf_putc(Buf *b, char c)
{
    buf_put(b, &c, 1);
}

void buf_vprintf(Buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        ICE("bad format \"%s\"", fmt);
    buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void buf_printf(Buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

static int is_ident_start(char c)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int is_c_identifier(const char *s)
{
    if (!s || !is_ident_start(*s))
        return 0;
    for (; *s; s++)
        if (!is_ident_start(*s) && !(*s >= '0' && *s <= '9'))
            return 0;
    return 1;
}
