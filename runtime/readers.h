/* readers.h: host-side file readers and writers (safetensors, .npy).
 *
 * Used by the compiler (weights), the CLI (`run`) and the tests; never by
 * generated code. Every length and offset in a file is bounds-checked; on
 * failure a function returns -1 and writes a one-line message into err
 * (without the file name, which the caller adds).
 */
#ifndef CNNC_READERS_H
#define CNNC_READERS_H

#include <stddef.h>
#include <stdio.h>

enum { ST_MAX_RANK = 8 };

typedef struct StTensor {
    char *name;
    char dtype[16];             /* "F32", "F16", ... as in the file */
    int rank;
    long long shape[ST_MAX_RANK];
    long long numel;
    const unsigned char *data;  /* points into StFile.buf, little-endian */
    size_t nbytes;
} StTensor;

typedef struct StFile {
    unsigned char *buf;         /* the whole file */
    size_t size;
    StTensor *tensors;
    int ntensors;
} StFile;

/* Loads and validates a safetensors file. 0 ok, -1 error (message in err). */
int st_load(const char *path, StFile *out, char *err, size_t errlen);
/* Same, from bytes in memory (copied). */
int st_parse(const unsigned char *bytes, size_t size, StFile *out, char *err, size_t errlen);
void st_free(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
/* Reads an F32 tensor's values into dst (numel floats), host byte order. */
void st_read_f32(const StTensor *t, float *dst);
/* Writes F32 tensors: names[i], ranks[i], shapes[i][..], data[i]. */
int st_save(const char *path, int n, const char *const *names, const int *ranks,
            const long long *const *shapes, const float *const *data,
            char *err, size_t errlen);
/* The same into an open stream (st_save's body). */
int st_write(FILE *fp, int n, const char *const *names, const int *ranks,
             const long long *const *shapes, const float *const *data,
             char *err, size_t errlen);

/* A float32 array from a .npy file (C order, little-endian '<f4'). */
typedef struct NpyArray {
    int rank;
    long long shape[ST_MAX_RANK];
    long long numel;
    float *data;                /* malloc'd, numel values */
} NpyArray;

int npy_load(const char *path, NpyArray *out, char *err, size_t errlen);
void npy_free(NpyArray *a);
int npy_save(const char *path, const float *data, int rank, const long long *shape,
             char *err, size_t errlen);

/* ---- files.c ---- */

#if defined(__GNUC__)
#define READER_PRINTF_LIKE __attribute__((format(printf, 3, 4)))
#else
#define READER_PRINTF_LIKE
#endif
/* Writes the message into err (when err is not NULL) and returns -1: how
 * every reader and writer here fails. */
int reader_fail(char *err, size_t errlen, const char *fmt, ...) READER_PRINTF_LIKE;

/* A cursor over a small header text: .npy's dict literal, safetensors'
 * JSON. Each reader supplies fail(), which words its own message. */
typedef struct TextScan TextScan;
struct TextScan {
    const unsigned char *s;      /* the text, n bytes */
    size_t n, pos;
    char *err;                   /* where fail() writes the message */
    size_t errlen;
    int (*fail)(TextScan *t, const char *what);   /* reports; returns -1 */
};
void scan_blanks(TextScan *t);          /* skips ' ', '\t', '\r', '\n' */
int scan_peek(TextScan *t);             /* after blanks: the next byte, -1 at the end */
int scan_expect(TextScan *t, char c);   /* after blanks: c, taken; else fail() */

/* Removes what a failed write left at path, if path is a regular file: a
 * write to /dev/full or a FIFO that failed must not delete the device. */
void remove_partial(const char *path);

/* What identifies a file: device and inode, after following symlinks. */
typedef struct FileId {
    unsigned long long dev, ino;
    int regular;
} FileId;
/* 0 ok, -1 when path (or fd) cannot be stat'ed (e.g. does not exist). */
int file_id(const char *path, FileId *id);
int file_id_fd(int fd, FileId *id);
/* Whether a and b are one regular file: writing b would destroy a. */
int file_id_same(const FileId *a, const FileId *b);

/* An output file. out_open follows path's symlinks to their final target
 * (a link stays a link; the file it names gets the content). A regular
 * file (or a new one) is written to a temporary in the target's directory
 * and renamed onto it by out_commit, so a failure leaves the old file; a
 * device, a FIFO, a descriptor alias (/dev/stdout, /proc/self/fd/N) and
 * "-" (standard output) are written in place, never replaced. */
typedef struct OutFile {
    const char *path;   /* as given */
    char *target;       /* the resolved destination; NULL for "-" */
    char *tmp;          /* the temporary beside target; NULL in place */
    FILE *fp;           /* write here (out_write or fwrite) */
    int in_place;
} OutFile;
/* 0 ok; -1 and a message ("cannot create: ...") in err. */
int out_open(OutFile *o, const char *path, char *err, size_t errlen);
int out_write(OutFile *o, const void *data, size_t n);   /* 0 ok, -1 */
/* Closes and renames into place; on any failure removes the temporary.
 * 0 ok, -1 and "write error: ..." in err. Releases o either way. */
int out_commit(OutFile *o, char *err, size_t errlen);
/* Closes and removes the temporary: nothing is written. Idempotent. */
void out_discard(OutFile *o);

#endif
