/* files.c: file helpers the readers, writers and the CLI share. */
#define _POSIX_C_SOURCE 200809L   /* lstat */
#include <stdio.h>
#include <sys/stat.h>

#include "readers.h"

void remove_partial(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
        remove(path);
}
