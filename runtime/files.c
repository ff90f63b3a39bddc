/* files.c: what the readers, writers and the CLI share: error text, the
 * removal of a partial output, and the header-text cursor (TextScan). */
#define _POSIX_C_SOURCE 200809L   /* lstat */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "readers.h"

void remove_partial(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
        remove(path);
}

int reader_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void scan_blanks(TextScan *t)
{
    while (t->pos < t->n && (t->s[t->pos] == ' ' || t->s[t->pos] == '\t' ||
                             t->s[t->pos] == '\r' || t->s[t->pos] == '\n'))
        t->pos++;
}

int scan_peek(TextScan *t)
{
    scan_blanks(t);
    return t->pos < t->n ? t->s[t->pos] : -1;
}

int scan_expect(TextScan *t, char c)
{
    if (scan_peek(t) != (unsigned char)c) {
        char what[32];
        snprintf(what, sizeof what, "expected '%c'", c);
        return t->fail(t, what);
    }
    t->pos++;
    return 0;
}
