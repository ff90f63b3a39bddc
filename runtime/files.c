/* files.c: file helpers the readers, writers and the CLI share. */
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
