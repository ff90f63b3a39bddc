/* test_readers.c: safetensors and .npy readers and writers.
 *
 * Usage: test_readers DIR. DIR holds the files written by make_fixtures.py
 * (NumPy + struct + json, independent of our code), and receives scratch
 * files plus c_written.safetensors / c_written.npy, which check_written.py
 * then reads back with NumPy. Checks: round trips, files written by NumPy,
 * and the exact one-line message for each kind of malformed file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "readers.h"

enum { BYTES_MAX = 4096 };

static const char *path_in_dir(const char *dir, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK_OR(f != NULL, return);
    CHECK(fwrite(b, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

/* ---- safetensors byte strings ---- */

/* 8-byte little-endian length of json, json, then datalen data bytes with
 * byte i = i & 0xff. Returns the total size. */
static size_t st_bytes(unsigned char *out, const char *json, size_t datalen)
{
    size_t n = strlen(json);
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((unsigned long long)n >> (8 * i));
    memcpy(out + 8, json, n);
    for (size_t i = 0; i < datalen; i++)
        out[8 + n + i] = (unsigned char)i;
    return 8 + n + datalen;
}

static unsigned long long le_header_len(const unsigned char *b)
{
    unsigned long long v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* The header json with datalen data bytes must fail with exactly want. */
static void st_expect(const char *json, size_t datalen, const char *want)
{
    char err[256] = "";
    unsigned char scratch[BYTES_MAX];
    StFile f;
    size_t n = st_bytes(scratch, json, datalen);
    CHECK_INT(st_parse(scratch, n, &f, err, sizeof err), -1);
    CHECK_STR(err, want);
    CHECK(f.buf == NULL && f.tensors == NULL && f.ntensors == 0);   /* nothing leaks */
}

/* Failures of the 8-byte length itself, through st_load from a file. */
static void test_st_length_errors(const char *dir)
{
    char err[256], path[512];
    unsigned char scratch[BYTES_MAX];
    StFile f;
    path_in_dir(dir, "bad.safetensors", path, sizeof path);

    write_bytes(path, (const unsigned char *)"\x10\0\0\0\0", 5);
    CHECK_INT(st_load(path, &f, err, sizeof err), -1);
    CHECK_STR(err, "file is too short (5 bytes) for the 8-byte header length");

    memset(scratch, ' ', 100);                    /* 123456 = 0x01e240 */
    memcpy(scratch, "\x40\xe2\x01\0\0\0\0\0", 8);
    write_bytes(path, scratch, 100);
    CHECK_INT(st_load(path, &f, err, sizeof err), -1);
    CHECK_STR(err, "header length 123456 exceeds file size 100");

    memcpy(scratch, "\x00\xc2\xeb\x0b\0\0\0\0", 8);   /* 200000000 */
    CHECK_INT(st_parse(scratch, 100, &f, err, sizeof err), -1);
    CHECK_STR(err, "header length 200000000 exceeds the limit of 100000000 bytes");

    memcpy(scratch, "\x5d\0\0\0\0\0\0\0", 8);       /* 93 > 100 - 8 */
    CHECK_INT(st_parse(scratch, 100, &f, err, sizeof err), -1);
    CHECK_STR(err, "header length 93 exceeds file size 100");

    CHECK_INT(st_load("/nonexistent/x.safetensors", &f, err, sizeof err), -1);
    CHECK_STR(err, "cannot open: No such file or directory");
}

/* Byte offsets are 0-based within the header text. */
static void test_st_json_errors(void)
{
    st_expect("{\"a\" {", 0, "malformed header JSON at byte 5: expected ':'");
    st_expect("[1]", 0, "malformed header JSON at byte 0: expected '{'");
    st_expect("", 0, "malformed header JSON at byte 0: expected '{'");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4,
              "malformed header JSON at byte 53: expected ',' or '}'");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4,
              "malformed header JSON at byte 55: unexpected data after the header object");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],}}", 4,
              "malformed header JSON at byte 53: expected a string");
    st_expect("{\"a\\q\":1}", 0, "malformed header JSON at byte 4: invalid escape in string");
    st_expect("{\"\\ud800x\":1}", 0,
              "malformed header JSON at byte 8: unpaired surrogate in \\u escape");
    st_expect("{\"a\x01\":1}", 0, "malformed header JSON at byte 3: control character in string");
    st_expect("{\"\xc3\x28\":1}", 0, "malformed header JSON at byte 2: invalid UTF-8 in string");
    st_expect("{\"\xed\xa0\x80\":1}", 0,     /* an encoded surrogate is not UTF-8 */
              "malformed header JSON at byte 2: invalid UTF-8 in string");
    st_expect("{\"a", 0, "malformed header JSON at byte 3: unterminated string");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":01}}", 4,
              "malformed header JSON at byte 58: expected ',' or '}'");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1.}}", 4,
              "malformed header JSON at byte 59: expected a digit after '.'");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":tru}}", 4,
              "malformed header JSON at byte 57: expected a value");

    /* 65 nested arrays under an unknown key: past the depth limit. */
    char deep[256];
    snprintf(deep, sizeof deep, "{\"a\":{\"x\":%.65s%.65s}}",
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    st_expect(deep, 0, "malformed header JSON at byte 73: nesting is too deep");
}

static void test_st_schema_errors(void)
{
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
              "duplicate tensor 'a'");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
              4, "tensor 'a': rank 9 exceeds the limit of 8");
    st_expect("{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[32,1,3,3],"
              "\"data_offsets\":[0,100]}}", 100,
              "tensor 'conv1.weight': data_offsets [0, 100] do not match shape [32, 1, 3, 3] "
              "of F32 (1152 bytes)");
    st_expect("{\"x\":{\"dtype\":\"U8\",\"shape\":[1990],\"data_offsets\":[10,2000]}}", 1000,
              "tensor 'x': data_offsets [10, 2000] extend past the end of the data (1000 bytes)");
    st_expect("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
              "tensor 'a': unknown dtype 'Q4'");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,0]}}", 0,
              "tensor 'a': negative dimension -3 in shape [2, -3]");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
              "tensor 'a': data_offsets [8, 4] are out of order");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
              "tensors 'a' and 'b' overlap in the data");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
              "tensor 'a': missing 'shape'");
    st_expect("{\"a\":{}}", 0, "tensor 'a': missing 'dtype'");
    st_expect("{\"a\":[]}", 0, "tensor 'a': expected an object at byte 5");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
              "tensor 'a': shape entry 1.5 is not an integer");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
              "tensor 'a': data_offsets must hold 2 integers, not 3");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999]}}",
              4, "tensor 'a': data offset 99999999999999999 is too large");
    st_expect("{\"a\":{\"dtype\":\"U8\",\"shape\":[1048576,1048576,2],\"data_offsets\":[0,4]}}",
              4, "tensor 'a': shape [1048576, 1048576, 2] has more than 2^40 elements");
    st_expect("{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
              "tensor 'a': dtype must be a string");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}", 0,
              "tensor 'a': duplicate key 'dtype'");
    st_expect("{\"\":{}}", 0, "empty tensor name");
    st_expect("{\"__metadata__\":{\"format\":1}}", 0,
              "'__metadata__' must be an object of strings");
    st_expect("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate '__metadata__'");
    /* A name with a newline is shown escaped: the message stays one line. */
    st_expect("{\"a\\nb\":{\"dtype\":\"Q4\",\"shape\":[],\"data_offsets\":[0,1]}}", 1,
              "tensor 'a\\x0ab': unknown dtype 'Q4'");
}

/* Valid headers: metadata, unknown keys, escapes, other dtypes, empty and
 * unaligned tensors, gaps, trailing padding. */
static void test_st_valid(void)
{
    char err[256] = "";
    unsigned char scratch[BYTES_MAX];
    StFile f;
    const char *json =
        "{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\\\"\"},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":[{\"x\":null}]},"
        "\"w\\u00e9\\ud83d\\ude00\":{\"shape\":[2],\"dtype\":\"F32\",\"data_offsets\":[1,9]},"
        "\"h\":{\"dtype\":\"F16\",\"shape\":[2,1],\"data_offsets\":[12,16]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[9,9]}}    ";
    size_t n = st_bytes(scratch, json, 16);
    /* Tensor "wé😀" at offset 1 (unaligned): floats 1.5 and -2 (0x3fc00000,
     * 0xc0000000), little-endian. */
    unsigned char *data = scratch + n - 16;
    memcpy(data + 1, "\x00\x00\xc0\x3f\x00\x00\x00\xc0", 8);
    CHECK_INT(st_parse(scratch, n, &f, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK_INT(f.ntensors, 4);
    const StTensor *t = st_find(&f, "w\xc3\xa9\xf0\x9f\x98\x80");
    CHECK(t != NULL);
    if (t) {
        float v[2];
        CHECK_STR(t->dtype, "F32");
        CHECK_INT(t->rank, 1);
        CHECK_INT(t->numel, 2);
        CHECK_INT((long long)t->nbytes, 8);
        st_read_f32(t, v);
        CHECK_NEAR(v[0], 1.5, 0.0);
        CHECK_NEAR(v[1], -2.0, 0.0);
    }
    t = st_find(&f, "h");
    CHECK(t && strcmp(t->dtype, "F16") == 0 && t->numel == 2 && t->rank == 2);
    t = st_find(&f, "e");
    CHECK(t && t->numel == 0 && t->nbytes == 0);
    CHECK(st_find(&f, "__metadata__") == NULL);
    CHECK(st_find(&f, "zz") == NULL);
    st_free(&f);

    CHECK_INT(st_parse(scratch, st_bytes(scratch, "{}", 0), &f, err, sizeof err), 0);
    CHECK_INT(f.ntensors, 0);
    st_free(&f);
}

/* st_save then st_load: values, shapes, order, padding, escaping. */
static void test_st_round_trip(const char *dir)
{
    char err[256] = "", path[512];
    static const float a[6] = { 0.5f, -1, 3.25f, 1e-30f, -0.0f, 65504 };
    static const float b[1] = { 42 };
    static const long long sa[2] = { 2, 3 }, sb[1] = { 1 };
    const char *names[3] = { "conv1.weight", "q\"uo\\te", "scalar" };
    const int ranks[3] = { 2, 1, 0 };
    const long long *shapes[3] = { sa, sb, NULL };
    const float *data[3] = { a, b, b };
    path_in_dir(dir, "round.safetensors", path, sizeof path);
    CHECK_INT(st_save(path, 3, names, ranks, shapes, data, err, sizeof err), 0);

    StFile f;
    CHECK_INT(st_load(path, &f, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK_INT(f.ntensors, 3);
    if (f.ntensors == 3) {
        CHECK_STR(f.tensors[0].name, names[0]);         /* in the order given */
        CHECK_STR(f.tensors[1].name, names[1]);
        CHECK_INT(f.tensors[2].rank, 0);
        CHECK_INT(f.tensors[2].numel, 1);
        CHECK_INT(f.tensors[0].shape[1], 3);
        CHECK_INT((long long)le_header_len(f.buf) % 8, 0);
        float v[6];
        st_read_f32(&f.tensors[0], v);
        CHECK(memcmp(v, a, sizeof a) == 0);             /* bit for bit, -0 too */
        st_read_f32(&f.tensors[2], v);
        CHECK_NEAR(v[0], 42.0, 0.0);
    }
    st_free(&f);

    const char *dup[2] = { "x", "x" };
    CHECK_INT(st_save(path, 2, dup, ranks, shapes, data, err, sizeof err), -1);
    CHECK_STR(err, "duplicate tensor 'x'");
    CHECK_INT(st_save("/nonexistent/x.safetensors", 1, names, ranks, shapes, data, err,
                      sizeof err), -1);
    CHECK_STR(err, "cannot create: No such file or directory");
}

/* The file make_fixtures.py wrote with numpy + struct + json (see there):
 * conv1.weight [4,1,3,3] = arange(36)/2 - 3, conv1.bias [4] = [1,-1,.5,-.5],
 * bn.num_batches_tracked I64 [] = 7, half F16 [3]. */
static void test_st_python_file(const char *dir)
{
    char err[256] = "", path[512];
    StFile f;
    CHECK_INT(st_load(path_in_dir(dir, "py_weights.safetensors", path, sizeof path), &f, err,
                      sizeof err), 0);
    CHECK_STR(err, "");
    const StTensor *w = st_find(&f, "conv1.weight"), *b = st_find(&f, "conv1.bias");
    const StTensor *nb = st_find(&f, "bn.num_batches_tracked"), *h = st_find(&f, "half");
    CHECK(w && b && nb && h);
    if (w && b && nb && h) {
        float v[36];
        CHECK_INT(w->rank, 4);
        CHECK_INT(w->shape[0] * 1000 + w->shape[1] * 100 + w->shape[2] * 10 + w->shape[3],
                  4133);
        st_read_f32(w, v);
        for (int i = 0; i < 36; i++)
            CHECK_NEAR(v[i], i / 2.0 - 3, 0.0);
        st_read_f32(b, v);
        CHECK(v[0] == 1 && v[1] == -1 && v[2] == 0.5f && v[3] == -0.5f);
        CHECK_STR(nb->dtype, "I64");
        CHECK_INT(nb->rank, 0);
        CHECK_INT(nb->data[0], 7);
        CHECK_STR(h->dtype, "F16");
        CHECK_INT((long long)h->nbytes, 6);
    }
    st_free(&f);
}

/* ---- .npy ---- */

/* The magic, version major.0, the header length (u16 or u32), the header
 * text, then ndata data bytes of value 0x3f. */
static size_t npy_bytes(unsigned char *out, int major, const char *header, size_t ndata)
{
    size_t n = strlen(header), at = 0, width = major == 1 ? 2 : 4;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    at = 8;
    for (size_t i = 0; i < width; i++)
        out[at++] = (unsigned char)(n >> (8 * i));
    memcpy(out + at, header, n);
    memset(out + at + n, 0x3f, ndata);
    return at + n + ndata;
}

static void npy_expect_bytes(const char *dir, const unsigned char *b, size_t n,
                             const char *want)
{
    char err[256] = "", path[512];
    NpyArray a;
    write_bytes(path_in_dir(dir, "bad.npy", path, sizeof path), b, n);
    CHECK_INT(npy_load(path, &a, err, sizeof err), -1);
    CHECK_STR(err, want);
    CHECK(a.data == NULL);
}

static void npy_expect(const char *dir, const char *header, size_t ndata, const char *want)
{
    unsigned char scratch[BYTES_MAX];
    npy_expect_bytes(dir, scratch, npy_bytes(scratch, 1, header, ndata), want);
}

static void test_npy_errors(const char *dir)
{
    npy_expect_bytes(dir, (const unsigned char *)"PK\3\4", 4, "not a .npy file (bad magic)");
    npy_expect_bytes(dir, (const unsigned char *)"", 0, "not a .npy file (bad magic)");
    npy_expect_bytes(dir, (const unsigned char *)"\x93NUMPY\x01", 7, "truncated header");
    npy_expect_bytes(dir, (const unsigned char *)"\x93NUMPY\x01\x00\x50", 9, "truncated header");
    npy_expect_bytes(dir, (const unsigned char *)"\x93NUMPY\x01\x00\x50\x00{'descr'", 17,
                     "truncated header");
    npy_expect_bytes(dir, (const unsigned char *)"\x93NUMPY\x04\x00\x00\x00", 10,
                     "unsupported .npy format version 4.0");
    npy_expect_bytes(dir, (const unsigned char *)"\x93NUMPY\x02\x00\x00\x00\x20\x00", 12,
                     "header length 2097152 exceeds the limit of 1048576 bytes");
    npy_expect(dir, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", 24,
               "dtype '<f8' is not float32 ('<f4')");
    npy_expect(dir, "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }\n", 12,
               "dtype '>f4' is not float32 ('<f4')");
    npy_expect(dir, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", 16,
               "Fortran-order arrays are not supported");
    npy_expect(dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (28, 28), }\n", 100,
               "truncated data: expected 3136 bytes, found 100");
    npy_expect(dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 12,
               "unexpected data after the 8 bytes of the array");
    npy_expect(dir, "{'descr': '<f4', 'fortran_order': False}\n", 4,
               "malformed header: missing key 'shape'");
    npy_expect(dir, "{'descr': '<f4' 'fortran_order': False, 'shape': (), }", 4,
               "malformed header: expected ',' or '}' at byte 16");
    npy_expect(dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", 12,
               "malformed header: shape (n) is not a tuple; expected (n,) at byte 50");
    npy_expect(dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", 12,
               "malformed header: expected a non-negative integer at byte 51");
    npy_expect(dir, "{'descr': '<f4', 'fortran_order': no, 'shape': (3,), }", 12,
               "malformed header: expected True or False at byte 34");
    npy_expect(dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", 12,
               "malformed header: unexpected key 'x'");
    npy_expect(dir, "{'descr': '<f4', 'descr': '<f4'}", 0,
               "malformed header: duplicate key 'descr'");
    npy_expect(dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x", 12,
               "malformed header: unexpected text after the dict at byte 58");
    npy_expect(dir, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", 12,
               "structured dtypes are not supported");
    npy_expect(dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4,
               "array rank 9 exceeds the limit of 8");
    npy_expect(dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536), }", 4,
               "array has more than 268435456 elements");

    char err[256];
    NpyArray a;
    CHECK_INT(npy_load("/nonexistent/x.npy", &a, err, sizeof err), -1);
    CHECK_STR(err, "cannot open: No such file or directory");
}

/* Format 2.0 headers, Python 2 era "3L" dimensions, rank 0, empty arrays. */
static void test_npy_variants(const char *dir)
{
    char err[256] = "", path[512];
    unsigned char scratch[BYTES_MAX];
    NpyArray a;
    path_in_dir(dir, "variant.npy", path, sizeof path);
    /* 0x3f3f3f3f is 0.7470588088035583 as a float (IEEE bits by hand). */
    size_t n = npy_bytes(scratch, 2, "{\"descr\": \"<f4\", \"shape\": (1L, 2L), "
                                     "\"fortran_order\": False}\n", 8);
    write_bytes(path, scratch, n);
    CHECK_INT(npy_load(path, &a, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK(a.rank == 2 && a.shape[0] == 1 && a.shape[1] == 2 && a.numel == 2);
    if (a.data && a.numel == 2)
        CHECK_NEAR(a.data[1], 0.7470588088035583, 1e-7);
    npy_free(&a);

    write_bytes(path, scratch, npy_bytes(scratch, 1, "{'descr':'<f4','fortran_order':False,"
                                                     "'shape':()}", 4));
    CHECK_INT(npy_load(path, &a, err, sizeof err), 0);
    CHECK(a.rank == 0 && a.numel == 1);
    npy_free(&a);

    write_bytes(path, scratch, npy_bytes(scratch, 3, "{'descr':'<f4','fortran_order':True,"
                                                     "'shape':(0,)}", 0));
    CHECK_STR(npy_load(path, &a, err, sizeof err) ? err : "ok",
              "Fortran-order arrays are not supported");
}

/* npy_save then npy_load, and the header layout numpy's format requires. */
static void test_npy_round_trip(const char *dir)
{
    char err[256] = "", path[512];
    static const float v[6] = { 1, -2.5f, 3e38f, -1e-40f, 0, 0.1f };
    static const long long shape[3] = { 1, 2, 3 };
    path_in_dir(dir, "round.npy", path, sizeof path);
    CHECK_INT(npy_save(path, v, 3, shape, err, sizeof err), 0);

    FILE *f = fopen(path, "rb");
    unsigned char head[128];
    CHECK_OR(f != NULL, return);
    size_t nread = fread(head, 1, sizeof head, f);
    fclose(f);
    CHECK_OR(nread == sizeof head, return);   /* head[] is read below */
    size_t hlen = (size_t)head[8] | (size_t)head[9] << 8;
    CHECK_INT((long long)(10 + hlen) % 64, 0);
    CHECK_OR(hlen > 0 && 10 + hlen <= sizeof head, return);
    CHECK(head[6] == 1 && head[7] == 0 && head[10 + hlen - 1] == '\n');
    CHECK(memcmp(head + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }",
                 62) == 0);

    NpyArray a;
    CHECK_INT(npy_load(path, &a, err, sizeof err), 0);
    CHECK(a.rank == 3 && a.shape[2] == 3 && a.numel == 6);
    CHECK(a.data && memcmp(a.data, v, sizeof v) == 0);
    npy_free(&a);

    static const long long one[1] = { 4 };
    CHECK_INT(npy_save(path, v, 9, one, err, sizeof err), -1);
    CHECK_STR(err, "array rank 9 exceeds the limit of 8");
}

/* The .npy files make_fixtures.py wrote with numpy.save: py_input.npy is
 * (arange(24) - 7.5) / 4 as float32 [2, 3, 4]; py_v2.npy the same in
 * format 2.0 via numpy.lib.format.write_array. */
static void test_npy_python_file(const char *dir)
{
    const char *files[2] = { "py_input.npy", "py_v2.npy" };
    for (int k = 0; k < 2; k++) {
        char err[256] = "", path[512];
        NpyArray a;
        CHECK_INT(npy_load(path_in_dir(dir, files[k], path, sizeof path), &a, err, sizeof err), 0);
        CHECK_STR(err, "");
        CHECK(a.rank == 3 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 4);
        for (int i = 0; a.data && i < 24; i++)
            CHECK_NEAR(a.data[i], (i - 7.5) / 4, 0.0);
        npy_free(&a);
    }
}

/* Files for check_written.py to read with NumPy: the same formula values
 * as the Python fixtures, written by our writers. */
static void test_write_for_numpy(const char *dir)
{
    char err[256] = "", path[512];
    float v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (float)(i - 7.5) / 4;
    static const long long shape[3] = { 2, 3, 4 }, s1[1] = { 24 };
    CHECK_INT(npy_save(path_in_dir(dir, "c_written.npy", path, sizeof path), v, 3, shape, err,
                       sizeof err), 0);
    const char *names[2] = { "fc.weight", "fc.bias" };
    const int ranks[2] = { 3, 1 };
    const long long *shapes[2] = { shape, s1 };
    const float *data[2] = { v, v };
    CHECK_INT(st_save(path_in_dir(dir, "c_written.safetensors", path, sizeof path), 2, names, ranks,
                      shapes, data, err, sizeof err), 0);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    test_st_length_errors(dir);
    test_st_json_errors();
    test_st_schema_errors();
    test_st_valid();
    test_st_round_trip(dir);
    test_st_python_file(dir);
    test_npy_errors(dir);
    test_npy_variants(dir);
    test_npy_round_trip(dir);
    test_npy_python_file(dir);
    test_write_for_numpy(dir);
    return check_status("test_readers");
}
