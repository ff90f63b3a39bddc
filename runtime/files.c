/* files.c: file helpers the readers, writers and the CLI share: error
 * text, safe output files (through symlinks, atomic for regular files, in
 * place for devices, FIFOs and standard output), file identities, so that
 * no output ever lands on an input, and the header-text cursor (TextScan).
 */
#define _XOPEN_SOURCE 700   /* lstat, readlink, realpath, fdopen, fchmod */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readers.h"

enum { MAX_LINK_HOPS = 40, MAX_TEMP_TRIES = 100 };

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

/* ---- file identities ---- */

static void id_of(const struct stat *st, FileId *id)
{
    id->dev = (unsigned long long)st->st_dev;
    id->ino = (unsigned long long)st->st_ino;
    id->regular = S_ISREG(st->st_mode) != 0;
}

int file_id(const char *path, FileId *id)
{
    struct stat st;
    memset(id, 0, sizeof *id);
    if (stat(path, &st) != 0)
        return -1;
    id_of(&st, id);
    return 0;
}

int file_id_fd(int fd, FileId *id)
{
    struct stat st;
    memset(id, 0, sizeof *id);
    if (fstat(fd, &st) != 0)
        return -1;
    id_of(&st, id);
    return 0;
}

int file_id_same(const FileId *a, const FileId *b)
{
    return a->regular && b->regular && a->dev == b->dev && a->ino == b->ino;
}

/* ---- resolving an output path ---- */

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", name);
    return s;
}

static const char *last_part(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The directory part of path with every symlink in it resolved. */
static char *real_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return realpath(".", NULL);
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir)
        return NULL;
    memcpy(dir, path, n);
    dir[n] = '\0';
    char *real = realpath(dir, NULL);
    free(dir);
    return real;
}

static char *read_link(const char *path)
{
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

/* /proc/PID/fd/N (what /dev/stdout and /dev/fd/N lead to) stands for an
 * open descriptor: written in place, it is never renamed onto. */
static int is_proc(const char *dir)
{
    return strcmp(dir, "/proc") == 0 || strncmp(dir, "/proc/", 6) == 0;
}

typedef enum { DEST_NEW, DEST_REGULAR, DEST_IN_PLACE } DestKind;

/* One step: *kind and *full for cur's final file, or *next for the file a
 * symlink at cur leads to. 0 ok, -1 with errno set. */
static int resolve_step(const char *cur, char **full, char **next, DestKind *kind)
{
    char *dir = real_dir(cur);
    if (!dir)
        return -1;
    *full = join_path(dir, last_part(cur));
    struct stat st;
    int rc = 0;
    if (!*full) {
        rc = -1;
    } else if (is_proc(dir)) {
        *kind = DEST_IN_PLACE;
    } else if (lstat(*full, &st) != 0) {
        *kind = DEST_NEW;
        rc = errno == ENOENT ? 0 : -1;
    } else if (S_ISLNK(st.st_mode)) {
        char *link = read_link(*full);
        *next = !link ? NULL : link[0] == '/' ? strdup(link) : join_path(dir, link);
        free(link);
        rc = *next ? 0 : -1;
    } else {
        *kind = S_ISREG(st.st_mode) ? DEST_REGULAR : DEST_IN_PLACE;
    }
    free(dir);
    return rc;
}

/* Follows path's symlinks, one at a time, to the file that content written
 * through it reaches (which may not exist yet). 0 ok, -1 with errno. */
static int resolve(const char *path, char **target, DestKind *kind)
{
    char *cur = strdup(path);
    for (int hops = 0; cur && hops < MAX_LINK_HOPS; hops++) {
        char *full = NULL, *next = NULL;
        int rc = resolve_step(cur, &full, &next, kind);
        free(cur);
        if (rc != 0 || !next) {
            *target = rc == 0 ? full : NULL;
            if (rc != 0)
                free(full);
            return rc;
        }
        free(full);
        cur = next;
    }
    free(cur);
    errno = ELOOP;
    return -1;
}

/* ---- writing ---- */

/* A new file beside target, with target's permissions when it exists. */
static FILE *open_temp(const char *target, char **tmp)
{
    size_t n = strlen(target) + 48;
    struct stat st;
    int have = stat(target, &st) == 0;
    *tmp = malloc(n);
    for (int i = 0; *tmp && i < MAX_TEMP_TRIES; i++) {
        snprintf(*tmp, n, "%s.tmp%ld-%d", target, (long)getpid(), i);
        int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            break;
        if (have)
            (void)fchmod(fd, st.st_mode & 07777);
        FILE *f = fdopen(fd, "wb");
        if (f)
            return f;
        close(fd);
        remove(*tmp);
        break;
    }
    free(*tmp);
    *tmp = NULL;
    return NULL;
}

int out_open(OutFile *o, const char *path, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->path = path;
    if (strcmp(path, "-") == 0) {
        o->fp = stdout;
        o->in_place = 1;
        return 0;
    }
    DestKind kind;
    if (resolve(path, &o->target, &kind) != 0)
        return reader_fail(err, errlen, "cannot create: %s", strerror(errno));
    o->in_place = kind == DEST_IN_PLACE;
    o->fp = o->in_place ? fopen(o->target, "wb") : open_temp(o->target, &o->tmp);
    if (!o->fp) {
        int e = errno;
        out_discard(o);
        return reader_fail(err, errlen, "cannot create: %s", strerror(e));
    }
    return 0;
}

int out_commit(OutFile *o, char *err, size_t errlen)
{
    int bad = ferror(o->fp) != 0;
    bad |= o->fp == stdout ? fflush(stdout) != 0 : fclose(o->fp) != 0;
    int e = errno;
    o->fp = NULL;
    if (!bad && o->tmp && rename(o->tmp, o->target) != 0) {
        bad = 1;
        e = errno;
    }
    if (!bad) {
        free(o->tmp);
        o->tmp = NULL;
    }
    out_discard(o);
    return bad ? reader_fail(err, errlen, "write error: %s", strerror(e)) : 0;
}

void out_discard(OutFile *o)
{
    if (o->fp && o->fp != stdout)
        fclose(o->fp);
    if (o->tmp)
        remove(o->tmp);
    free(o->tmp);
    free(o->target);
    o->fp = NULL;
    o->tmp = o->target = NULL;
}

int out_write(OutFile *o, const void *data, size_t n)
{
    return n == 0 || fwrite(data, 1, n, o->fp) == n ? 0 : -1;
}
