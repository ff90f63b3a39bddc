/* semihost.c: Arm semihosting for M-profile cores (semihost.h). A call is
 * `bkpt 0xab` with the operation in r0 and its argument (a pointer to a
 * parameter block) in r1; the result comes back in r0.
 */
#include <stdarg.h>
#include <stdint.h>

#include "semihost.h"

enum {
    SYS_OPEN = 0x01,
    SYS_WRITE0 = 0x04,
    SYS_WRITE = 0x05,
    SYS_EXIT = 0x18,
    SYS_EXIT_EXTENDED = 0x20,
    ADP_STOPPED_APPLICATION_EXIT = 0x20026,
    OPEN_MODE_W = 4,   /* "w": ":tt" opened for writing is stdout */
};

static int semihost_call(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_write0(const char *s)
{
    semihost_call(SYS_WRITE0, s);
}

void semihost_write(const char *s, size_t n)
{
    static int out = -1;
    if (out < 0) {
        static const char tt[] = ":tt";
        uintptr_t open_args[3] = { (uintptr_t)tt, OPEN_MODE_W, sizeof tt - 1 };
        out = semihost_call(SYS_OPEN, open_args);
    }
    uintptr_t args[3] = { (uintptr_t)out, (uintptr_t)s, n };
    semihost_call(SYS_WRITE, args);
}

void semihost_exit(int status)
{
    /* SYS_EXIT_EXTENDED carries the status; plain SYS_EXIT (older hosts)
     * only says whether the application exited normally. */
    uintptr_t args[2] = { ADP_STOPPED_APPLICATION_EXIT, (uintptr_t)status };
    semihost_call(SYS_EXIT_EXTENDED, args);
    semihost_call(SYS_EXIT, status == 0 ? (const void *)ADP_STOPPED_APPLICATION_EXIT : (const void *)0);
    for (;;) {
    }
}

/* ---- printf ---- */

typedef struct Line {
    char buf[256];
    size_t len;
} Line;

static void line_flush(Line *l)
{
    if (l->len)
        semihost_write(l->buf, l->len);
    l->len = 0;
}

static void line_putc(Line *l, char c)
{
    l->buf[l->len++] = c;
    if (c == '\n' || l->len == sizeof l->buf)
        line_flush(l);
}

static void line_puts(Line *l, const char *s)
{
    while (*s)
        line_putc(l, *s++);
}

static void line_unsigned(Line *l, unsigned long v, unsigned base)
{
    char digits[12];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n)
        line_putc(l, digits[--n]);
}

static void line_signed(Line *l, long v)
{
    if (v < 0) {
        line_putc(l, '-');
        line_unsigned(l, 0ul - (unsigned long)v, 10);
    } else {
        line_unsigned(l, (unsigned long)v, 10);
    }
}

/* One conversion at *p (after the '%'); returns the next character. */
static const char *line_format(Line *l, const char *p, va_list *ap)
{
    int is_long = *p == 'l';
    if (is_long)
        p++;
    switch (*p) {
    case 'd':
    case 'i':
        line_signed(l, is_long ? va_arg(*ap, long) : va_arg(*ap, int));
        break;
    case 'u':
    case 'x':
        line_unsigned(l, is_long ? va_arg(*ap, unsigned long) : va_arg(*ap, unsigned),
                      *p == 'x' ? 16 : 10);
        break;
    case 's': {
        const char *s = va_arg(*ap, const char *);
        line_puts(l, s ? s : "(null)");
        break;
    }
    case 'c':
        line_putc(l, (char)va_arg(*ap, int));
        break;
    case '%':
        line_putc(l, '%');
        break;
    default:   /* not supported: show it as written */
        line_putc(l, '%');
        if (is_long)
            line_putc(l, 'l');
        if (*p)
            line_putc(l, *p);
        break;
    }
    return *p ? p + 1 : p;
}

int semihost_printf(const char *fmt, ...)
{
    Line l;
    va_list ap;
    l.len = 0;
    va_start(ap, fmt);
    for (const char *p = fmt; *p;) {
        if (*p == '%')
            p = line_format(&l, p + 1, &ap);
        else
            line_putc(&l, *p++);
    }
    va_end(ap);
    line_flush(&l);
    return 0;
}
