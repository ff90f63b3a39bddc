/* npy.c: read and write float32 .npy files (NumPy format versions 1.0-3.0).
 *
 * A file is the magic "\x93NUMPY", a major and minor version byte, the
 * header length (u16 little-endian for 1.x, u32 for 2.x and 3.x), a Python
 * dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)} padded
 * with spaces and a newline, then the data. We accept exactly '<f4' in C
 * order, rank 0..ST_MAX_RANK, and refuse anything else with a one-line
 * message (no file name: the caller adds it). Sizes are bounded before any
 * allocation, and data is read in growing chunks, so a short file that
 * claims a huge shape costs no huge allocation.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readers.h"

#define NPY_MAX_ELEMS (1LL << 28)      /* compiler/base.h's LIMIT_TENSOR_ELEMS */
#define NPY_MAX_DIM (1LL << 40)
enum { NPY_MAX_HEADER = 1 << 20, NPY_CHUNK = 1 << 20, NPY_ALIGN = 64, NPY_MAX_STR = 64 };

static const unsigned char npy_magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

/* ---- the header dict, a small subset of Python literals ---- */

typedef TextScan Lit;            /* the header's dict literal */

/* What the header said. */
typedef struct NpyHeader {
    char descr[NPY_MAX_STR + 1];
    int fortran;
    int rank;                    /* may exceed ST_MAX_RANK: checked later */
    long long shape[ST_MAX_RANK];
    int seen_descr, seen_fortran, seen_shape;
} NpyHeader;

static int lit_fail(Lit *l, const char *what)
{
    return reader_fail(l->err, l->errlen, "malformed header: %s at byte %zu", what, l->pos);
}


/* 'text' or "text", no escapes (no header numpy writes has any). */
static int lit_string(Lit *l, char *out)
{
    int q = scan_peek(l);
    if (q != '\'' && q != '"')
        return lit_fail(l, "expected a string");
    size_t start = ++l->pos;
    while (l->pos < l->n && l->s[l->pos] != q && l->s[l->pos] != '\\' && l->s[l->pos] != '\n')
        l->pos++;
    if (l->pos >= l->n || l->s[l->pos] != q)
        return lit_fail(l, "unterminated or escaped string");
    if (l->pos - start > NPY_MAX_STR)
        return lit_fail(l, "string too long");
    memcpy(out, l->s + start, l->pos - start);
    out[l->pos - start] = '\0';
    l->pos++;
    return 0;
}

static int lit_word(Lit *l, const char *w)
{
    size_t k = strlen(w);
    if (l->n - l->pos < k || memcmp(l->s + l->pos, w, k) != 0)
        return 0;
    l->pos += k;
    return 1;
}

static int lit_bool(Lit *l, int *v)
{
    scan_peek(l);
    if (lit_word(l, "True"))
        *v = 1;
    else if (lit_word(l, "False"))
        *v = 0;
    else
        return lit_fail(l, "expected True or False");
    return 0;
}

/* A non-negative integer; Python 2 era files may write 3L. */
static int lit_int(Lit *l, long long *v)
{
    int c = scan_peek(l);
    if (c < '0' || c > '9')
        return lit_fail(l, "expected a non-negative integer");
    for (*v = 0; l->pos < l->n && l->s[l->pos] >= '0' && l->s[l->pos] <= '9'; l->pos++) {
        *v = *v * 10 + (l->s[l->pos] - '0');
        if (*v > NPY_MAX_DIM)
            return lit_fail(l, "dimension too large");
    }
    if (l->pos < l->n && l->s[l->pos] == 'L')
        l->pos++;
    return 0;
}

/* '(' [int {, int} [,]] ')': a tuple, so one item needs its comma. */
static int lit_shape(Lit *l, NpyHeader *h)
{
    int comma = 0;
    h->rank = 0;
    if (scan_expect(l, '(') < 0)
        return -1;
    size_t start = l->pos - 1;
    while (scan_peek(l) != ')') {
        long long d = 0;
        if (lit_int(l, &d) < 0)
            return -1;
        if (h->rank < ST_MAX_RANK)
            h->shape[h->rank] = d;
        if (h->rank < 1000)
            h->rank++;
        comma = scan_peek(l) == ',';
        if (!comma && scan_peek(l) != ')')
            return lit_fail(l, "expected ',' or ')'");
        l->pos += (size_t)comma;
    }
    l->pos++;
    if (h->rank == 1 && !comma) {
        l->pos = start;
        return lit_fail(l, "shape (n) is not a tuple; expected (n,)");
    }
    return 0;
}

/* key ':' value, for the three keys numpy writes. */
static int lit_entry(Lit *l, NpyHeader *h)
{
    char key[NPY_MAX_STR + 1];
    if (lit_string(l, key) < 0 || scan_expect(l, ':') < 0)
        return -1;
    int *seen = strcmp(key, "descr") == 0 ? &h->seen_descr
              : strcmp(key, "fortran_order") == 0 ? &h->seen_fortran
              : strcmp(key, "shape") == 0 ? &h->seen_shape : NULL;
    if (!seen)
        return reader_fail(l->err, l->errlen, "malformed header: unexpected key '%s'", key);
    if ((*seen)++)
        return reader_fail(l->err, l->errlen, "malformed header: duplicate key '%s'", key);
    if (seen == &h->seen_descr) {
        if (scan_peek(l) == '[')
            return reader_fail(l->err, l->errlen, "structured dtypes are not supported");
        return lit_string(l, h->descr);
    }
    if (seen == &h->seen_fortran)
        return lit_bool(l, &h->fortran);
    return lit_shape(l, h);
}

static int lit_dict(Lit *l, NpyHeader *h)
{
    if (scan_expect(l, '{') < 0)
        return -1;
    while (scan_peek(l) != '}') {
        if (lit_entry(l, h) < 0)
            return -1;
        int c = scan_peek(l);
        if (c != ',' && c != '}')
            return lit_fail(l, "expected ',' or '}'");
        if (c == ',')
            l->pos++;
    }
    l->pos++;
    if (scan_peek(l) != -1)                 /* only the padding may follow */
        return lit_fail(l, "unexpected text after the dict");
    const char *miss = !h->seen_descr ? "descr" : !h->seen_fortran ? "fortran_order"
                     : !h->seen_shape ? "shape" : NULL;
    if (miss)
        return reader_fail(l->err, l->errlen, "malformed header: missing key '%s'", miss);
    return 0;
}

/* What we accept of a parsed header; fills out's rank, shape and numel. */
static int header_accept(const NpyHeader *h, NpyArray *out, char *err, size_t errlen)
{
    if (strcmp(h->descr, "<f4") != 0)
        return reader_fail(err, errlen, "dtype '%s' is not float32 ('<f4')", h->descr);
    if (h->fortran)
        return reader_fail(err, errlen, "Fortran-order arrays are not supported");
    if (h->rank > ST_MAX_RANK)
        return reader_fail(err, errlen, "array rank %d exceeds the limit of %d", h->rank,
                        ST_MAX_RANK);
    out->rank = h->rank;
    out->numel = 1;
    for (int i = 0; i < h->rank; i++)
        out->shape[i] = h->shape[i];
    for (int i = 0; i < h->rank; i++)
        if (h->shape[i] == 0)
            out->numel = 0;
    for (int i = 0; i < h->rank && out->numel; i++) {
        if (h->shape[i] > NPY_MAX_ELEMS / out->numel)
            return reader_fail(err, errlen, "array has more than %lld elements", NPY_MAX_ELEMS);
        out->numel *= h->shape[i];
    }
    return 0;
}

/* ---- reading ---- */

/* Magic, version and header length; leaves fp at the header text. */
static int read_preamble(FILE *fp, size_t *hlen, char *err, size_t errlen)
{
    unsigned char pre[12];
    size_t got = fread(pre, 1, 8, fp);
    if (ferror(fp))                        /* a directory, say */
        return reader_fail(err, errlen, "read error: %s", strerror(errno));
    if (got == 0 || memcmp(pre, npy_magic, got < 6 ? got : 6) != 0)
        return reader_fail(err, errlen, "not a .npy file (bad magic)");
    if (got < 8)
        return reader_fail(err, errlen, "truncated header");
    if (pre[6] < 1 || pre[6] > 3)
        return reader_fail(err, errlen, "unsupported .npy format version %d.%d", pre[6], pre[7]);
    size_t width = pre[6] == 1 ? 2 : 4;
    if (fread(pre + 8, 1, width, fp) != width)
        return reader_fail(err, errlen, "truncated header");
    unsigned long len = 0;
    for (size_t i = width; i-- > 0;)
        len = len << 8 | pre[8 + i];
    if (len > NPY_MAX_HEADER)
        return reader_fail(err, errlen, "header length %lu exceeds the limit of %d bytes", len,
                        NPY_MAX_HEADER);
    *hlen = len;
    return 0;
}

static int read_header(FILE *fp, NpyArray *out, char *err, size_t errlen)
{
    size_t hlen = 0;
    if (read_preamble(fp, &hlen, err, errlen) < 0)
        return -1;
    char *text = malloc(hlen + 1);
    if (!text)
        return reader_fail(err, errlen, "out of memory");
    int rc = 0;
    if (fread(text, 1, hlen, fp) != hlen)
        rc = reader_fail(err, errlen, "truncated header");
    NpyHeader h;
    memset(&h, 0, sizeof h);
    Lit l = { (const unsigned char *)text, hlen, 0, err, errlen, lit_fail };
    if (rc == 0)
        rc = lit_dict(&l, &h);
    if (rc == 0)
        rc = header_accept(&h, out, err, errlen);
    free(text);
    return rc;
}

/* want bytes into a buffer grown chunk by chunk; *got = bytes read. */
static unsigned char *read_data(FILE *fp, size_t want, size_t *got)
{
    size_t cap = want < NPY_CHUNK ? want : NPY_CHUNK;
    unsigned char *b = malloc(cap + 4);
    *got = 0;
    while (b) {
        *got += fread(b + *got, 1, cap - *got, fp);
        if (*got < cap || cap == want)
            break;
        cap = cap > want / 2 ? want : cap * 2;
        unsigned char *nb = realloc(b, cap + 4);
        if (!nb)
            free(b);
        b = nb;
    }
    return b;
}

/* Little-endian bytes to host floats, in place. */
static void f32_from_le(unsigned char *b, long long numel)
{
    for (long long i = 0; i < numel; i++) {
        const unsigned char *p = b + 4 * i;
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(b + 4 * i, &u, sizeof u);
    }
}

/* Trailing bytes are refused: they mean a wrong shape or a damaged file. */
static int read_body(FILE *fp, NpyArray *out, char *err, size_t errlen)
{
    size_t want = (size_t)out->numel * 4, got;
    unsigned char *b = read_data(fp, want, &got);
    if (!b)
        return reader_fail(err, errlen, "out of memory");
    out->data = (float *)(void *)b;
    if (ferror(fp))
        return reader_fail(err, errlen, "read error: %s", strerror(errno));
    if (got < want)
        return reader_fail(err, errlen, "truncated data: expected %zu bytes, found %zu", want, got);
    if (fgetc(fp) != EOF)
        return reader_fail(err, errlen, "unexpected data after the %zu bytes of the array", want);
    f32_from_le(b, out->numel);
    return 0;
}

int npy_load(const char *path, NpyArray *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return reader_fail(err, errlen, "cannot open: %s", strerror(errno));
    int rc = read_header(fp, out, err, errlen);
    if (rc == 0)
        rc = read_body(fp, out, err, errlen);
    fclose(fp);
    if (rc < 0)
        npy_free(out);
    return rc;
}

void npy_free(NpyArray *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- writing ---- */

/* numpy's own header text, with Python's tuple repr for the shape, padded
 * with spaces and a final newline so the data starts at a multiple of 64. */
static size_t header_text(char *h, size_t cap, int rank, const long long *shape)
{
    size_t n = (size_t)snprintf(h, cap, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < rank; i++)
        n += (size_t)snprintf(h + n, cap - n, "%s%lld", i ? ", " : "", shape[i]);
    n += (size_t)snprintf(h + n, cap - n, "%s), }", rank == 1 ? "," : "");
    while ((10 + n + 1) % NPY_ALIGN != 0)
        h[n++] = ' ';
    h[n++] = '\n';
    return n;
}

static int write_all(FILE *fp, const char *h, size_t hlen, const float *data, long long numel)
{
    unsigned char pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                              (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8) };
    if (fwrite(pre, 1, sizeof pre, fp) != sizeof pre || fwrite(h, 1, hlen, fp) != hlen)
        return -1;
    for (long long i = 0; i < numel; i++) {
        uint32_t u;
        memcpy(&u, &data[i], sizeof u);
        unsigned char b[4] = { (unsigned char)u, (unsigned char)(u >> 8),
                               (unsigned char)(u >> 16), (unsigned char)(u >> 24) };
        if (fwrite(b, 1, 4, fp) != 4)
            return -1;
    }
    return 0;
}

int npy_save(const char *path, const float *data, int rank, const long long *shape,
             char *err, size_t errlen)
{
    NpyHeader h;
    memset(&h, 0, sizeof h);
    NpyArray a;
    if (rank < 0 || rank > ST_MAX_RANK)
        return reader_fail(err, errlen, "array rank %d exceeds the limit of %d", rank, ST_MAX_RANK);
    strcpy(h.descr, "<f4");
    h.rank = rank;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0 || shape[i] > NPY_MAX_DIM)
            return reader_fail(err, errlen, "invalid dimension %lld", shape[i]);
        h.shape[i] = shape[i];
    }
    if (header_accept(&h, &a, err, errlen) < 0)   /* a file we write must load */
        return -1;
    char text[512];                    /* 8 dims of 13 digits fit with room */
    size_t hlen = header_text(text, sizeof text, rank, shape);
    OutFile o;
    if (out_open(&o, path, err, errlen) != 0)
        return -1;
    if (write_all(o.fp, text, hlen, data, a.numel) < 0) {
        reader_fail(err, errlen, "write error: %s", strerror(errno));
        out_discard(&o);               /* never leave half a file */
        return -1;
    }
    return out_commit(&o, err, errlen);
}
