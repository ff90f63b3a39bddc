/* fuzz_replay.c: a main() for the harnesses when libFuzzer is not linked.
 *
 *   fuzz_X_replay [-timeout=S] FILE|DIR...
 *
 * Feeds every file (a directory: its regular files in name order) to
 * LLVMFuzzerTestOneInput, each in a buffer of exactly its size so that the
 * sanitizers see any read past the end. A harness bug aborts the program; an
 * input that takes longer than S seconds (default: no limit) is reported as
 * a hang and makes the exit status 1, as is finding no input at all.
 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fuzz.h"

typedef struct Replay {
    double timeout;      /* seconds; 0: none */
    int ran, slow;
} Replay;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The whole file in a malloc'd buffer of exactly its size. */
static unsigned char *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    unsigned char *b = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size >= 0) {
        *size = (size_t)st.st_size;
        b = malloc(*size ? *size : 1);
        if (b && fread(b, 1, *size, f) != *size) {
            free(b);
            b = NULL;
        }
    }
    fclose(f);
    return b;
}

static int replay_file(Replay *r, const char *path)
{
    size_t size;
    unsigned char *data = read_whole(path, &size);
    if (!data) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    double t0 = now_seconds();
    LLVMFuzzerTestOneInput(data, size);
    double dt = now_seconds() - t0;
    free(data);
    r->ran++;
    if (r->timeout > 0 && dt > r->timeout) {
        fprintf(stderr, "replay: HANG %s took %.2f s (limit %.2f s)\n", path, dt, r->timeout);
        r->slow++;
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, sorted, as malloc'd full paths; count in *n. */
static char **list_dir(const char *dir, int *n)
{
    DIR *d = opendir(dir);
    char **v = NULL;
    int cap = 0;
    *n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        v[*n] = malloc(len);
        if (!v[*n])
            break;
        snprintf(v[(*n)++], len, "%s/%s", dir, e->d_name);
    }
    if (d)
        closedir(d);
    if (*n)
        qsort(v, (size_t)*n, sizeof *v, by_name);
    return v;
}

static int replay_path(Replay *r, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: no such file or directory: %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(r, path);
    int n, rc = 0;
    char **files = list_dir(path, &n);
    for (int i = 0; i < n; i++) {
        struct stat fs;
        if (stat(files[i], &fs) == 0 && S_ISREG(fs.st_mode))
            rc |= replay_file(r, files[i]);
        free(files[i]);
    }
    free(files);
    return rc;
}

int main(int argc, char **argv)
{
    Replay r = { 0, 0, 0 };
    LLVMFuzzerInitialize(&argc, &argv);
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-timeout=", 9) == 0)
            r.timeout = atof(argv[i] + 9);
        else
            rc |= replay_path(&r, argv[i]);
    }
    printf("replay: %d inputs, %d over the time limit\n", r.ran, r.slow);
    return rc != 0 || r.slow > 0 || r.ran == 0;
}
