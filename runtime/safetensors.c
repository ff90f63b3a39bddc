/* safetensors.c: read and write safetensors files.
 *
 * Format: an 8-byte little-endian header length N, N bytes of JSON mapping
 * each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the first byte after the header), an optional
 * "__metadata__" object of strings, then the raw data. The JSON parser is our
 * own: strict (RFC 8259 plus UTF-8 validation), bounded (nesting depth,
 * integer size) and recursive only to a fixed depth. Every error is one line
 * without the file name; JSON errors give the 0-based byte offset within the
 * header text (byte 0 is the first byte after the 8-byte length).
 */
#define _POSIX_C_SOURCE 200809L   /* fileno, fstat */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "readers.h"

#define ST_MAX_HEADER 100000000ULL      /* the reference implementation's limit */
#define ST_MAX_NUMEL (1LL << 40)
/* The largest file st_load reads: the header limit plus 2^28 parameters
 * (cnnc's limit) at 8 bytes, the widest dtype. */
#define ST_MAX_FILE (8ULL + ST_MAX_HEADER + (1ULL << 28) * 8)
#define ST_MAX_INT (1LL << 53)          /* integers beyond this are not exact in JSON */
enum { ST_MAX_DEPTH = 64, ST_NAME_SHOWN = 80 };

/* ---- names and shapes in messages ---- */

/* A name as shown in a message: control bytes escaped so the message stays
 * one line, and long names cut (at a UTF-8 character boundary). */
static const char *name_show(const char *name, char *buf, size_t cap)
{
    size_t n = 0, i = 0;
    for (; name[i] && n + 8 < cap && i < ST_NAME_SHOWN; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", c);
        else
            buf[n++] = (char)c;
    }
    if (name[i]) {
        while (n > 0 && ((unsigned char)buf[n - 1] & 0xc0) == 0x80)
            n--;                                     /* drop a cut UTF-8 tail */
        if (n > 0 && (unsigned char)buf[n - 1] >= 0xc0)
            n--;
        n += (size_t)snprintf(buf + n, cap - n, "...");
    }
    buf[n] = '\0';
    return buf;
}

static const char *shape_show(const StTensor *t, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < t->rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", t->shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

/* ---- the JSON cursor ---- */

typedef TextScan Json;          /* the header's JSON text */

static int json_fail(Json *j, const char *what)
{
    return reader_fail(j->err, j->errlen, "malformed header JSON at byte %zu: %s", j->pos, what);
}

/* After an item of a list or object that `close` ends: consumes the ','
 * (returns 0: another item follows) or `close` (returns 1); anything else
 * is an error (-1). */
static int json_after_item(Json *j, char close)
{
    int c = scan_peek(j);
    if (c == close || c == ',') {
        j->pos++;
        return c == close;
    }
    return json_fail(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0:
 * rejects overlong forms, surrogates and code points past U+10FFFF. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (len == 0 || s[0] > 0xf4 || n < len)
        return 0;
    unsigned long cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const unsigned long min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

static size_t utf8_put(unsigned char *d, unsigned long cp)
{
    if (cp < 0x80) {
        d[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (unsigned char)(0xc0 | cp >> 6);
        d[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (unsigned char)(0xe0 | cp >> 12);
        d[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        d[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (unsigned char)(0xf0 | cp >> 18);
    d[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    d[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    d[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Four hex digits at j->pos; -1 (and an error) if they are not there. */
static long json_hex4(Json *j)
{
    long v = 0;
    for (int i = 0; i < 4; i++, j->pos++) {
        int c = j->pos < j->n ? j->s[j->pos] : -1;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return json_fail(j, "expected 4 hex digits after '\\u'");
        v = v << 4 | d;
    }
    return v;
}

/* The code point of a \u escape (j->pos just past the 'u'), joining a
 * surrogate pair; -1 on error. \u0000 is refused: names are C strings. */
static long json_unicode(Json *j)
{
    long hi = json_hex4(j);
    if (hi < 0)
        return -1;
    if (hi == 0)
        return json_fail(j, "\\u0000 is not allowed in a string");
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return json_fail(j, "unpaired surrogate in \\u escape");
    if (hi < 0xd800 || hi > 0xdbff)
        return hi;
    if (j->pos + 2 > j->n || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u')
        return json_fail(j, "unpaired surrogate in \\u escape");
    j->pos += 2;
    long lo = json_hex4(j);
    if (lo < 0)
        return -1;
    if (lo < 0xdc00 || lo > 0xdfff)
        return json_fail(j, "unpaired surrogate in \\u escape");
    return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
}

/* One escape (j->pos at the backslash) decoded into d; its length or -1. */
static int json_escape(Json *j, unsigned char *d)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    j->pos++;
    int c = j->pos < j->n ? j->s[j->pos] : -1;
    const char *hit = c > 0 ? strchr(from, c) : NULL;
    if (hit) {
        j->pos++;
        *d = (unsigned char)to[hit - from];
        return 1;
    }
    if (c != 'u')
        return json_fail(j, "invalid escape in string");
    j->pos++;
    long cp = json_unicode(j);
    return cp < 0 ? -1 : (int)utf8_put(d, (unsigned long)cp);
}

/* A string at j->pos, decoded into d (room for as many bytes as the raw
 * text, which escapes never exceed). Returns the decoded length or -1. */
static long json_string_into(Json *j, unsigned char *d)
{
    long len = 0;
    j->pos++;                                        /* the opening quote */
    for (;;) {
        if (j->pos >= j->n)
            return json_fail(j, "unterminated string");
        unsigned char c = j->s[j->pos];
        if (c == '"') {
            j->pos++;
            return len;
        }
        if (c < 0x20)
            return json_fail(j, "control character in string");
        if (c == '\\') {
            int k = json_escape(j, d + len);
            if (k < 0)
                return -1;
            len += k;
            continue;
        }
        size_t k = c < 0x80 ? 1 : utf8_seq_len(j->s + j->pos, j->n - j->pos);
        if (k == 0)
            return json_fail(j, "invalid UTF-8 in string");
        memcpy(d + len, j->s + j->pos, k);
        len += (long)k;
        j->pos += k;
    }
}

/* A string, malloc'd and NUL-terminated, into *out; 0 or -1. */
static int json_string(Json *j, char **out)
{
    *out = NULL;
    if (scan_peek(j) != '"')
        return json_fail(j, "expected a string");
    /* Up to the closing quote: escapes never lengthen a string, so this
     * bounds its decoded size (allocating the rest of the header instead
     * made a header of N strings cost O(N^2)). */
    size_t end = j->pos + 1;
    while (end < j->n && j->s[end] != '"')
        end += j->s[end] == '\\' ? 2 : 1;
    unsigned char *d = malloc((end < j->n ? end : j->n) - j->pos + 1);
    if (!d)
        return reader_fail(j->err, j->errlen, "out of memory");
    long len = json_string_into(j, d);
    if (len < 0) {
        free(d);
        return -1;
    }
    d[len] = '\0';
    *out = (char *)d;
    return 0;
}

/* A JSON number's text (RFC 8259 grammar); sets *is_int when it has no
 * fraction or exponent. */
static int json_number_span(Json *j, int *is_int)
{
    size_t p = j->pos;
    const unsigned char *s = j->s;
#define DIGIT(k) ((k) < j->n && s[k] >= '0' && s[k] <= '9')
    if (p < j->n && s[p] == '-')
        p++;
    if (!DIGIT(p))
        return json_fail(j, "expected a number");
    if (s[p] == '0')
        p++;
    else
        while (DIGIT(p))
            p++;
    *is_int = 1;
    if (p < j->n && s[p] == '.') {
        *is_int = 0;
        if (!DIGIT(p + 1)) {
            j->pos = p + 1;
            return json_fail(j, "expected a digit after '.'");
        }
        for (p++; DIGIT(p); p++) {}
    }
    if (p < j->n && (s[p] == 'e' || s[p] == 'E')) {
        *is_int = 0;
        p++;
        if (p < j->n && (s[p] == '+' || s[p] == '-'))
            p++;
        if (!DIGIT(p)) {
            j->pos = p;
            return json_fail(j, "expected a digit in the exponent");
        }
        while (DIGIT(p))
            p++;
    }
#undef DIGIT
    j->pos = p;
    return 0;
}

/* An integer within +-2^53 into *v. what ("tensor 'x': shape entry")
 * prefixes the message when the number is not an integer or too large. */
static int json_integer(Json *j, long long *v, const char *what)
{
    int is_int;
    scan_blanks(j);
    size_t start = j->pos;
    if (json_number_span(j, &is_int) < 0)
        return -1;
    int len = (int)(j->pos - start < 40 ? j->pos - start : 40);
    if (!is_int)
        return reader_fail(j->err, j->errlen, "%s %.*s is not an integer", what, len,
                       (const char *)j->s + start);
    int neg = j->s[start] == '-';
    long long acc = 0;
    for (size_t p = start + (size_t)neg; p < j->pos; p++) {
        acc = acc * 10 + (j->s[p] - '0');
        if (acc > ST_MAX_INT)
            return reader_fail(j->err, j->errlen, "%s %.*s is too large", what, len,
                           (const char *)j->s + start);
    }
    *v = neg ? -acc : acc;
    return 0;
}

static int json_literal(Json *j, const char *word)
{
    size_t len = strlen(word);
    if (j->n - j->pos < len || memcmp(j->s + j->pos, word, len) != 0)
        return json_fail(j, "expected a value");
    j->pos += len;
    return 0;
}

static int json_skip_value(Json *j, int depth);

/* The rest of an array or object whose opener was just consumed. */
static int json_skip_members(Json *j, int depth, char close)
{
    if (scan_peek(j) == close) {
        j->pos++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            char *key;
            if (json_string(j, &key) < 0)
                return -1;
            free(key);
            if (scan_expect(j, ':') < 0)
                return -1;
        }
        if (json_skip_value(j, depth + 1) < 0)
            return -1;
        int end = json_after_item(j, close);
        if (end != 0)
            return end < 0 ? -1 : 0;
    }
}

/* Validates and skips any value; recursion is bounded by ST_MAX_DEPTH. */
static int json_skip_value(Json *j, int depth)
{
    if (depth > ST_MAX_DEPTH)
        return json_fail(j, "nesting is too deep");
    int c = scan_peek(j), is_int;
    char *s;
    switch (c) {
    case '{': j->pos++; return json_skip_members(j, depth, '}');
    case '[': j->pos++; return json_skip_members(j, depth, ']');
    case '"':
        if (json_string(j, &s) < 0)
            return -1;
        free(s);
        return 0;
    case 't': return json_literal(j, "true");
    case 'f': return json_literal(j, "false");
    case 'n': return json_literal(j, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return json_number_span(j, &is_int);
        return json_fail(j, "expected a value");
    }
}

/* '[' int {, int} ']' into v, keeping the first max items; *count is the
 * number of items, which may exceed max. */
static int json_int_list(Json *j, long long *v, int max, int *count, const char *what)
{
    *count = 0;
    if (scan_expect(j, '[') < 0)
        return -1;
    if (scan_peek(j) == ']') {
        j->pos++;
        return 0;
    }
    for (;;) {
        long long x = 0;
        if (json_integer(j, &x, what) < 0)
            return -1;
        if (*count < max)
            v[*count] = x;
        if (*count < (1 << 30))
            ++*count;
        int end = json_after_item(j, ']');
        if (end != 0)
            return end < 0 ? -1 : 0;
    }
}

/* ---- one tensor's entry ---- */

typedef struct DtypeInfo {
    const char *name;
    int size;
} DtypeInfo;

/* The dtypes of the safetensors specification and their sizes. */
static const DtypeInfo dtypes[] = {
    { "F64", 8 }, { "F32", 4 }, { "F16", 2 }, { "BF16", 2 },
    { "I64", 8 }, { "I32", 4 }, { "I16", 2 }, { "I8", 1 },
    { "U64", 8 }, { "U32", 4 }, { "U16", 2 }, { "U8", 1 },
    { "BOOL", 1 }, { "F8_E4M3", 1 }, { "F8_E5M2", 1 },
};

static int dtype_size(const char *name)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, name) == 0)
            return dtypes[i].size;
    return 0;
}

/* What a tensor entry said, before validation. */
typedef struct Entry {
    char *dtype;
    int has_shape, has_offsets, noffsets;
    long long off[2];
} Entry;

static int entry_field(Json *j, const char *key, Entry *e, StTensor *t, const char *shown)
{
    char what[ST_NAME_SHOWN + 48];
    if (strcmp(key, "dtype") == 0) {
        if (e->dtype)
            return reader_fail(j->err, j->errlen, "tensor '%s': duplicate key 'dtype'", shown);
        if (scan_peek(j) != '"')
            return reader_fail(j->err, j->errlen, "tensor '%s': dtype must be a string", shown);
        return json_string(j, &e->dtype);
    }
    if (strcmp(key, "shape") == 0) {
        if (e->has_shape++)
            return reader_fail(j->err, j->errlen, "tensor '%s': duplicate key 'shape'", shown);
        snprintf(what, sizeof what, "tensor '%s': shape entry", shown);
        if (json_int_list(j, t->shape, ST_MAX_RANK, &t->rank, what) < 0)
            return -1;
        if (t->rank > ST_MAX_RANK)
            return reader_fail(j->err, j->errlen, "tensor '%s': rank %d exceeds the limit of %d",
                           shown, t->rank, ST_MAX_RANK);
        return 0;
    }
    if (strcmp(key, "data_offsets") == 0) {
        if (e->has_offsets++)
            return reader_fail(j->err, j->errlen, "tensor '%s': duplicate key 'data_offsets'", shown);
        snprintf(what, sizeof what, "tensor '%s': data offset", shown);
        if (json_int_list(j, e->off, 2, &e->noffsets, what) < 0)
            return -1;
        if (e->noffsets != 2)
            return reader_fail(j->err, j->errlen,
                           "tensor '%s': data_offsets must hold 2 integers, not %d", shown,
                           e->noffsets);
        return 0;
    }
    /* Unknown keys are skipped, as the reference implementation does. */
    return json_skip_value(j, 2);
}

/* The '{...}' of one tensor into e and t->shape/rank. */
static int entry_parse(Json *j, Entry *e, StTensor *t, const char *shown)
{
    if (scan_peek(j) != '{')
        return reader_fail(j->err, j->errlen, "tensor '%s': expected an object at byte %zu",
                       shown, j->pos);
    j->pos++;
    if (scan_peek(j) == '}') {
        j->pos++;
        return 0;                       /* entry_check names what is missing */
    }
    for (;;) {
        char *key;
        if (json_string(j, &key) < 0)
            return -1;
        int rc = scan_expect(j, ':');
        if (rc == 0)
            rc = entry_field(j, key, e, t, shown);
        free(key);
        if (rc < 0)
            return -1;
        int end = json_after_item(j, '}');
        if (end != 0)
            return end < 0 ? -1 : 0;
    }
}

static int entry_numel(Json *j, StTensor *t, const char *shown)
{
    char sh[256];
    t->numel = 1;
    for (int i = 0; i < t->rank; i++)
        if (t->shape[i] < 0)
            return reader_fail(j->err, j->errlen, "tensor '%s': negative dimension %lld in shape %s",
                           shown, t->shape[i], shape_show(t, sh, sizeof sh));
    for (int i = 0; i < t->rank; i++)
        if (t->shape[i] == 0)
            t->numel = 0;
    for (int i = 0; i < t->rank && t->numel; i++) {
        if (t->shape[i] > ST_MAX_NUMEL / t->numel)
            return reader_fail(j->err, j->errlen,
                           "tensor '%s': shape %s has more than 2^40 elements", shown,
                           shape_show(t, sh, sizeof sh));
        t->numel *= t->shape[i];
    }
    return 0;
}

/* Checks the entry against the shape and the data section of datalen
 * bytes at data; fills t. */
static int entry_check(Json *j, Entry *e, StTensor *t, const char *shown,
                       const unsigned char *data, size_t datalen)
{
    char sh[256];
    const char *miss = !e->dtype ? "dtype" : !e->has_shape ? "shape"
                     : !e->has_offsets ? "data_offsets" : NULL;
    if (miss)
        return reader_fail(j->err, j->errlen, "tensor '%s': missing '%s'", shown, miss);
    int size = dtype_size(e->dtype);
    if (size == 0) {
        char dt[ST_NAME_SHOWN + 16];
        return reader_fail(j->err, j->errlen, "tensor '%s': unknown dtype '%s'", shown,
                       name_show(e->dtype, dt, sizeof dt));
    }
    snprintf(t->dtype, sizeof t->dtype, "%s", e->dtype);
    if (entry_numel(j, t, shown) < 0)
        return -1;
    long long b = e->off[0], end = e->off[1];
    if (b < 0 || end < 0)
        return reader_fail(j->err, j->errlen, "tensor '%s': negative data offset in [%lld, %lld]",
                       shown, b, end);
    if (b > end)
        return reader_fail(j->err, j->errlen,
                       "tensor '%s': data_offsets [%lld, %lld] are out of order", shown, b, end);
    if (end - b != t->numel * size)
        return reader_fail(j->err, j->errlen, "tensor '%s': data_offsets [%lld, %lld] do not match "
                       "shape %s of %s (%lld bytes)", shown, b, end,
                       shape_show(t, sh, sizeof sh), t->dtype, t->numel * size);
    if ((unsigned long long)end > datalen)
        return reader_fail(j->err, j->errlen, "tensor '%s': data_offsets [%lld, %lld] extend past "
                       "the end of the data (%zu bytes)", shown, b, end, datalen);
    t->data = data + b;
    t->nbytes = (size_t)(end - b);
    return 0;
}

/* ---- the header ---- */

static int tensors_push(StFile *f, int *cap, StTensor **out)
{
    if (f->ntensors == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        StTensor *p = realloc(f->tensors, (size_t)ncap * sizeof *p);
        if (!p)
            return -1;
        f->tensors = p;
        *cap = ncap;
    }
    *out = &f->tensors[f->ntensors++];
    memset(*out, 0, sizeof **out);
    return 0;
}

/* "__metadata__": an object of string values, which we do not use. */
static int metadata_parse(Json *j)
{
    if (scan_peek(j) != '{')
        return reader_fail(j->err, j->errlen, "'__metadata__' must be an object of strings");
    j->pos++;
    if (scan_peek(j) == '}') {
        j->pos++;
        return 0;
    }
    for (;;) {
        char *key, *val;
        if (json_string(j, &key) < 0)
            return -1;
        free(key);
        if (scan_expect(j, ':') < 0)
            return -1;
        if (scan_peek(j) != '"')
            return reader_fail(j->err, j->errlen, "'__metadata__' must be an object of strings");
        if (json_string(j, &val) < 0)
            return -1;
        free(val);
        int end = json_after_item(j, '}');
        if (end != 0)
            return end < 0 ? -1 : 0;
    }
}

/* One "name": {...} member of the header object. */
static int header_member(Json *j, StFile *f, int *cap, const unsigned char *data,
                         size_t datalen, int *seen_meta)
{
    char *name, shown[ST_NAME_SHOWN + 16];
    if (json_string(j, &name) < 0)
        return -1;
    if (scan_expect(j, ':') < 0) {
        free(name);
        return -1;
    }
    if (strcmp(name, "__metadata__") == 0) {
        free(name);
        if ((*seen_meta)++)
            return reader_fail(j->err, j->errlen, "duplicate '__metadata__'");
        return metadata_parse(j);
    }
    StTensor *t;
    const char *why = name[0] == '\0' ? "empty tensor name"
                    : tensors_push(f, cap, &t) < 0 ? "out of memory" : NULL;
    if (why) {
        free(name);
        return reader_fail(j->err, j->errlen, "%s", why);
    }
    t->name = name;
    name_show(name, shown, sizeof shown);
    Entry e = { NULL, 0, 0, 0, { 0, 0 } };
    int rc = entry_parse(j, &e, t, shown);
    if (rc == 0)
        rc = entry_check(j, &e, t, shown, data, datalen);
    free(e.dtype);
    return rc;
}

static int header_parse(Json *j, StFile *f, const unsigned char *data, size_t datalen)
{
    int cap = 0, seen_meta = 0;
    if (scan_expect(j, '{') < 0)
        return -1;
    if (scan_peek(j) == '}') {
        j->pos++;
    } else {
        for (;;) {
            if (header_member(j, f, &cap, data, datalen, &seen_meta) < 0)
                return -1;
            int end = json_after_item(j, '}');
            if (end < 0)
                return -1;
            if (end)
                break;
        }
    }
    if (scan_peek(j) != -1)           /* trailing spaces are the writer's padding */
        return json_fail(j, "unexpected data after the header object");
    return 0;
}

/* ---- whole-file checks: duplicates and overlaps ---- */

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const StTensor *const *)a)->name, (*(const StTensor *const *)b)->name);
}

static int by_begin(const void *a, const void *b)
{
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

/* Overlapping data is no use to any writer, so it is refused; empty tensors
 * occupy no bytes and never overlap. Gaps between tensors are allowed. */
static int tensors_check(StFile *f, char *err, size_t errlen)
{
    const StTensor **v = malloc(((size_t)f->ntensors + 1) * sizeof *v);
    char a[ST_NAME_SHOWN + 16], b[ST_NAME_SHOWN + 16];
    int n = 0, rc = 0;
    if (!v)
        return reader_fail(err, errlen, "out of memory");
    for (int i = 0; i < f->ntensors; i++)
        v[i] = &f->tensors[i];
    qsort(v, (size_t)f->ntensors, sizeof *v, by_name);
    for (int i = 1; i < f->ntensors && rc == 0; i++)
        if (strcmp(v[i - 1]->name, v[i]->name) == 0)
            rc = reader_fail(err, errlen, "duplicate tensor '%s'", name_show(v[i]->name, a, sizeof a));
    for (int i = 0; i < f->ntensors; i++)
        if (f->tensors[i].nbytes > 0)
            v[n++] = &f->tensors[i];
    qsort(v, (size_t)n, sizeof *v, by_begin);
    for (int i = 1; i < n && rc == 0; i++)
        if (v[i]->data < v[i - 1]->data + v[i - 1]->nbytes)
            rc = reader_fail(err, errlen, "tensors '%s' and '%s' overlap in the data",
                         name_show(v[i - 1]->name, a, sizeof a),
                         name_show(v[i]->name, b, sizeof b));
    free(v);
    return rc;
}

/* ---- loading ---- */

void st_free(StFile *f)
{
    for (int i = 0; i < f->ntensors; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

static unsigned long long le64(const unsigned char *p)
{
    unsigned long long v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Parses f->buf (f->size bytes, owned by f). */
static int st_parse_owned(StFile *f, char *err, size_t errlen)
{
    if (f->size < 8)
        return reader_fail(err, errlen, "file is too short (%zu bytes) for the 8-byte header length",
                       f->size);
    unsigned long long hlen = le64(f->buf);
    if (hlen > ST_MAX_HEADER)
        return reader_fail(err, errlen, "header length %llu exceeds the limit of %llu bytes", hlen,
                       ST_MAX_HEADER);
    if (hlen > f->size - 8)
        return reader_fail(err, errlen, "header length %llu exceeds file size %zu", hlen, f->size);
    Json j = { f->buf + 8, (size_t)hlen, 0, err, errlen, json_fail };
    size_t data_at = 8 + (size_t)hlen;
    if (header_parse(&j, f, f->buf + data_at, f->size - data_at) < 0)
        return -1;
    return tensors_check(f, err, errlen);
}

int st_parse(const unsigned char *bytes, size_t size, StFile *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->buf = malloc(size + 1);
    if (!out->buf)
        return reader_fail(err, errlen, "out of memory (%zu bytes)", size);
    if (size)
        memcpy(out->buf, bytes, size);
    out->size = size;
    if (st_parse_owned(out, err, errlen) < 0) {
        st_free(out);
        return -1;
    }
    return 0;
}

/* The whole of an open regular file into a malloc'd buffer. Anything else
 * is refused: /dev/zero would be read until memory runs out, a FIFO or a
 * terminal could block for ever; and so is a file larger than any weights
 * a model can use (ST_MAX_FILE). */
static int read_all(FILE *fp, unsigned char **buf, size_t *size, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fileno(fp), &st) != 0)
        return reader_fail(err, errlen, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return reader_fail(err, errlen, "not a regular file");
    if ((unsigned long long)st.st_size > ST_MAX_FILE)
        return reader_fail(err, errlen, "file is %lld bytes, over the limit of %llu bytes",
                       (long long)st.st_size, ST_MAX_FILE);
    size_t want = (size_t)st.st_size;
    unsigned char *b = malloc(want + 1);
    if (!b)
        return reader_fail(err, errlen, "out of memory (%zu bytes)", want + 1);
    size_t n = fread(b, 1, want + 1, fp);       /* one more: did it grow? */
    if (ferror(fp) || n != want) {
        free(b);
        return ferror(fp) ? reader_fail(err, errlen, "read error: %s", strerror(errno))
                          : reader_fail(err, errlen, "file changed while it was read");
    }
    *buf = b;
    *size = n;
    return 0;
}

int st_load(const char *path, StFile *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct stat st;                    /* before opening: a FIFO blocks in open */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return reader_fail(err, errlen, "not a regular file");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return reader_fail(err, errlen, "cannot open: %s", strerror(errno));
    int rc = read_all(fp, &out->buf, &out->size, err, errlen);
    fclose(fp);
    if (rc == 0)
        rc = st_parse_owned(out, err, errlen);
    if (rc < 0)
        st_free(out);
    return rc;
}

const StTensor *st_find(const StFile *f, const char *name)
{
    for (int i = 0; i < f->ntensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

/* Assembled byte by byte: the data may be unaligned, the host big-endian. */
void st_read_f32(const StTensor *t, float *dst)
{
    for (long long i = 0; i < t->numel; i++) {
        const unsigned char *p = t->data + 4 * i;
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(&dst[i], &u, sizeof dst[i]);
    }
}

/* ---- saving ---- */

/* The writers below append at h[*n], or only count when h is NULL, so
 * one function both sizes and fills the header. */
static void put_raw(char *h, size_t *n, const char *s)
{
    size_t k = strlen(s);
    if (h)
        memcpy(h + *n, s, k);
    *n += k;
}

static void put_json_string(char *h, size_t *n, const char *s)
{
    char tmp[8];
    put_raw(h, n, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            snprintf(tmp, sizeof tmp, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
        else
            snprintf(tmp, sizeof tmp, "%c", c);
        put_raw(h, n, tmp);
    }
    put_raw(h, n, "\"");
}

static void put_int(char *h, size_t *n, const char *sep, long long v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%s%lld", sep, v);
    put_raw(h, n, tmp);
}

/* The header JSON (h NULL: only its length), padded with spaces to a
 * multiple of 8 bytes as the reference writer does. */
static size_t header_write(char *h, int n, const char *const *names, const int *ranks,
                           const long long *const *shapes, const long long *numel)
{
    size_t len = 0;
    long long at = 0;
    put_raw(h, &len, "{");
    for (int i = 0; i < n; i++) {
        put_raw(h, &len, i ? "," : "");
        put_json_string(h, &len, names[i]);
        put_raw(h, &len, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < ranks[i]; d++)
            put_int(h, &len, d ? "," : "", shapes[i][d]);
        put_int(h, &len, "],\"data_offsets\":[", at);
        put_int(h, &len, ",", at + 4 * numel[i]);
        put_raw(h, &len, "]}");
        at += 4 * numel[i];
    }
    put_raw(h, &len, "}");
    while (len % 8)
        put_raw(h, &len, " ");
    return len;
}

/* Refuses what st_load would refuse: a file we write must load. */
static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Refuses a duplicate name; sorted, so tens of thousands of names cost
 * O(n log n), not a comparison of every pair. */
static int names_unique(int n, const char *const *names, char *err, size_t errlen)
{
    const char **v = malloc(((size_t)n + 1) * sizeof *v);
    char shown[ST_NAME_SHOWN + 16];
    int rc = 0;
    if (!v)
        return reader_fail(err, errlen, "out of memory");
    if (n > 0)
        memcpy(v, names, (size_t)n * sizeof *v);
    qsort(v, (size_t)n, sizeof *v, by_string);
    for (int i = 1; i < n && rc == 0; i++)
        if (strcmp(v[i - 1], v[i]) == 0)
            rc = reader_fail(err, errlen, "duplicate tensor '%s'", name_show(v[i], shown, sizeof shown));
    free(v);
    return rc;
}

static int save_check(int n, const char *const *names, const int *ranks,
                      const long long *const *shapes, long long *numel, char *err, size_t errlen)
{
    char shown[ST_NAME_SHOWN + 16];
    for (int i = 0; i < n; i++) {
        name_show(names[i], shown, sizeof shown);
        if (names[i][0] == '\0' || strcmp(names[i], "__metadata__") == 0 ||
            !utf8_valid(names[i]))
            return reader_fail(err, errlen, "invalid tensor name '%s'", shown);
        if (ranks[i] < 0 || ranks[i] > ST_MAX_RANK)
            return reader_fail(err, errlen, "tensor '%s': rank %d exceeds the limit of %d", shown,
                           ranks[i], ST_MAX_RANK);
        numel[i] = 1;
        for (int d = 0; d < ranks[i]; d++) {
            long long dim = shapes[i][d];
            if (dim < 0 || (dim > 0 && numel[i] > ST_MAX_NUMEL / dim))
                return reader_fail(err, errlen, "tensor '%s': invalid shape", shown);
            numel[i] *= dim;
        }
    }
    return names_unique(n, names, err, errlen);
}

static int write_f32_le(FILE *fp, const float *x, long long numel)
{
    unsigned char b[4];
    for (long long i = 0; i < numel; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        b[0] = (unsigned char)u;
        b[1] = (unsigned char)(u >> 8);
        b[2] = (unsigned char)(u >> 16);
        b[3] = (unsigned char)(u >> 24);
        if (fwrite(b, 1, 4, fp) != 4)
            return -1;
    }
    return 0;
}

static int save_write(FILE *fp, const char *h, size_t hlen, int n, const float *const *data,
                      const long long *numel)
{
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((unsigned long long)hlen >> (8 * i));
    if (fwrite(len8, 1, 8, fp) != 8 || fwrite(h, 1, hlen, fp) != hlen)
        return -1;
    for (int i = 0; i < n; i++)
        if (write_f32_le(fp, data[i], numel[i]) < 0)
            return -1;
    return 0;
}

int st_write(FILE *fp, int n, const char *const *names, const int *ranks,
             const long long *const *shapes, const float *const *data,
             char *err, size_t errlen)
{
    long long *numel = malloc(((size_t)(n > 0 ? n : 0) + 1) * sizeof *numel);
    if (!numel)
        return reader_fail(err, errlen, "out of memory");
    char *h = NULL;
    int rc = save_check(n, names, ranks, shapes, numel, err, errlen);
    size_t hlen = rc == 0 ? header_write(NULL, n, names, ranks, shapes, numel) : 0;
    if (rc == 0 && !(h = malloc(hlen + 1)))
        rc = reader_fail(err, errlen, "out of memory");
    if (rc == 0) {
        header_write(h, n, names, ranks, shapes, numel);
        if (save_write(fp, h, hlen, n, data, numel) < 0)
            rc = reader_fail(err, errlen, "write error: %s", strerror(errno));
    }
    free(h);
    free(numel);
    return rc;
}

int st_save(const char *path, int n, const char *const *names, const int *ranks,
            const long long *const *shapes, const float *const *data,
            char *err, size_t errlen)
{
    OutFile o;
    if (out_open(&o, path, err, errlen) != 0)
        return -1;
    if (st_write(o.fp, n, names, ranks, shapes, data, err, errlen) != 0) {
        out_discard(&o);                  /* never leave half a file */
        return -1;
    }
    return out_commit(&o, err, errlen);
}
