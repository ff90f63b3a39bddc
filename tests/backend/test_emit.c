/* test_emit.c: properties of the emitted text itself, without compiling it:
 * speed and size for the lecture network (1.2M parameters), byte-identical
 * output for the same graph, the include lines, names, exact literals and
 * the header's macros.
 *
 *   test_emit [CXX]    CXX (optional): a C++ compiler to check the header with
 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend_cases.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Occurrences of needle. Not a strstr loop: sanitizers' strstr measures the
 * whole 14 MB haystack on every call. */
static int count(const char *hay, const char *needle)
{
    const size_t n = strlen(needle);
    int hits = 0;
    for (const char *p = hay; *p; p++)
        hits += *p == needle[0] && strncmp(p, needle, n) == 0;
    return hits;
}

/* Emits tb's graph (planned) into c and h; weights extern, or as hex
 * integers, or (neither) as bytes in string literals. */
static void emit_graph_as(TB *b, const char *prefix, int ext, int hex, Buf *c, Buf *h)
{
    EmitOptions opt = { .prefix = prefix, .header_name = arena_printf(b->arena, "%s.h", prefix),
                        .weights_extern = ext, .weights = hex };
    buf_init(c);
    buf_init(h);
    emit_c(&b->ctx, b->g, &opt, c, h);
}

static void emit_graph(TB *b, const char *prefix, int ext, Buf *c, Buf *h)
{
    emit_graph_as(b, prefix, ext, 0, c, h);
}

/* Reads back the bytes of the string literals that follow `decl` in c:
 * plain characters and 3-digit octal escapes, as a C compiler does (the
 * emitter writes no other escape). Returns how many bytes it read. */
static long long read_literal_bytes(const char *c, const char *decl, unsigned char *dst,
                                    long long max)
{
    const char *p = strstr(c, decl);
    long long n = 0;
    if (!p)
        return -1;
    for (p += strlen(decl); *p == '"' || *p == '\n'; ) {
        if (*p++ == '\n')
            continue;
        for (; *p != '"' && n < max; n++) {
            if (*p == '\\') {
                dst[n] = (unsigned char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                p += 4;
            } else {
                dst[n] = (unsigned char)*p++;
            }
        }
        p++;
    }
    return n;
}

/* Whether the little-endian bytes of v[0..n) are bytes[0..n*4). */
static int same_le_floats(const float *v, const unsigned char *bytes, long long n)
{
    for (long long i = 0; i < n; i++) {
        unsigned u;
        memcpy(&u, &v[i], sizeof u);
        for (int k = 0; k < 4; k++)
            if (bytes[4 * i + k] != ((u >> (8 * k)) & 255u))
                return 0;
    }
    return 1;
}

/* The lecture network: size, determinism, layout of the weights. The
 * printed time is information only; speed is measured by `make bench`,
 * never asserted by a test on a shared machine. */
static void test_fashion(void)
{
    TB b;
    tb_init(&b, "fashion", 7u);
    case_fashion(&b);
    long long params = 0;
    for (int t = 0; t < b.g->nt; t++)
        if (b.g->t[t].role == TR_WEIGHT)
            params += b.g->t[t].numel;
    CHECK_INT(params, 1199882);   /* 320 + 18496 + 1179776 + 1290 */
    double best = 1e9, t0 = now_ms();
    plan_run(&b.ctx, b.g);
    double plan_ms = now_ms() - t0;
    Buf c0, h0;
    emit_graph(&b, "fashion", 0, &c0, &h0);
    for (int i = 0; i < 5; i++) {
        Buf c, h;
        t0 = now_ms();
        emit_graph(&b, "fashion", 0, &c, &h);
        double ms = now_ms() - t0;
        best = ms < best ? ms : best;
        CHECK(c.len == c0.len && memcmp(c.data, c0.data, c.len) == 0);   /* deterministic */
        CHECK(h.len == h0.len && memcmp(h.data, h0.data, h.len) == 0);
        buf_free(&c);
        buf_free(&h);
    }
    printf("fashion: %lld parameters, plan %.2f ms, emit %.1f ms (best of 5), "
           ".c %zu bytes (%.2f bytes/parameter), .h %zu bytes\n",
           params, plan_ms, best, c0.len, (double)c0.len / (double)params, h0.len);
    CHECK(c0.len <= 15u * 1000u * 1000u);
    /* fc1's weights read back from the literals are its floats' bytes */
    const Tensor *fc1 = &b.g->t[b.g->ops[5].w];
    unsigned char *bytes = malloc((size_t)fc1->numel * 4);
    const char *decl = "static const union { unsigned char b[4718592]; float f[1179648]; } "
                       "w_fc1_weight = {\n";
    CHECK_OR(bytes, return);
    CHECK_INT(read_literal_bytes(c0.data, decl, bytes, fc1->numel * 4), fc1->numel * 4);
    CHECK(same_le_floats(fc1->data, bytes, fc1->numel));
    free(bytes);
    /* --weights=hex: one "0x" per parameter, fc1's first as its bit pattern */
    Buf ch, hh;
    emit_graph_as(&b, "fashion", 0, 1, &ch, &hh);
    CHECK_INT(count(ch.data, "0x"), params);
    char first[64];
    unsigned bits;
    memcpy(&bits, &fc1->data[0], sizeof bits);
    snprintf(first, sizeof first, "w_fc1_weight = {{\n0x%08x, ", bits);
    CHECK(strstr(ch.data, first) != NULL);
    CHECK(strstr(ch.data, "static const union { unsigned int u[1179648]; float f[1179648]; } "
                          "w_fc1_weight = {{\n") != NULL);
    CHECK(h0.len == hh.len && memcmp(h0.data, hh.data, h0.len) == 0);   /* one interface */
    buf_free(&ch);
    buf_free(&hh);
    CHECK(strstr(h0.data, "#define FASHION_INPUT_SIZE 784 /* [1, 28, 28], float, C,H,W order */"));
    CHECK(strstr(h0.data, "#define FASHION_OUTPUT_SIZE 10 /* [10], float */"));
    CHECK(strstr(h0.data, "#define FASHION_INPUT_SHAPE {1, 28, 28}"));
    CHECK(strstr(h0.data, "#define FASHION_OUTPUT_RANK 1"));
    buf_free(&c0);
    buf_free(&h0);
    tb_free(&b);
}

/* Exact literals: the float nearest 0.1, and 1e-5 written back exactly. */
static void test_literals(void)
{
    char s[64];
    emit_float_lit(s, sizeof s, 0.1f);
    CHECK_STR(s, "0.100000001f");
    emit_float_lit(s, sizeof s, 1.0f);
    CHECK_STR(s, "1.0f");
    emit_float_lit(s, sizeof s, -2.5f);
    CHECK_STR(s, "(-2.5f)");
    emit_float_lit(s, sizeof s, 1e-5f);
    CHECK_STR(s, "9.99999975e-06f");
    emit_float_lit(s, sizeof s, 16777216.0f);
    CHECK_STR(s, "16777216.0f");
    /* every literal reads back as the same float */
    for (unsigned u = 1; u < 4000000000u; u += 1234567u) {
        float f, g;
        memcpy(&f, &u, sizeof f);
        if (f != f || f - f != 0.0f)
            continue;
        emit_float_lit(s, sizeof s, f);
        g = strtof(s + (s[0] == '('), NULL);
        CHECK_OR(memcmp(&f, &g, sizeof f) == 0, { fprintf(stderr, "  %s\n", s); break; });
    }
}

/* Includes, names and the header's shape for small graphs. */
static void test_text(void)
{
    TB b;
    tb_init(&b, "names", 3u);
    backend_case_find("names")->build(&b);
    plan_run(&b.ctx, b.g);
    Buf c, h;
    emit_graph(&b, "names", 0, &c, &h);
    CHECK_INT(count(c.data, "#include"), 1);          /* relu and add need no <math.h> */
    CHECK(strstr(c.data, "#include \"names.h\"\n"));
    CHECK_INT(count(h.data, "#include"), 0);
    CHECK(strstr(c.data, "Generated by cnnc from tests/backend/names.cnn. Do not edit."));
    CHECK(strstr(c.data, "static void op0_while_dense_relu(const float *restrict in,"));
    CHECK(strstr(c.data, "static void op2_return_add2(const float *restrict in0,"));
    CHECK(strstr(c.data, "} w_while_weight = {\n\""));
    CHECK(strstr(c.data, "} w_while_bias = {\n\""));
    CHECK(strstr(c.data, "} w4_while_bias = {\n\""));    /* "while-bias" collides */
    CHECK_INT(count(c.data, "static float names_arena["), 1);
    CHECK(strstr(h.data, "#ifndef NAMES_H_INCLUDED"));
    CHECK(strstr(h.data, "extern \"C\" {"));
    CHECK(strstr(h.data, "void names_run(const float *input, float *output);"));
    CHECK(strstr(h.data, "void names_run_ws(const float *input, float *output, void *arena);"));
    buf_free(&c);
    buf_free(&h);
    emit_graph(&b, "names", 1, &c, &h);
    CHECK(strstr(c.data, "extern const float names_w1[192];"));
    CHECK(!strstr(c.data, "union"));
    buf_free(&c);
    buf_free(&h);
    tb_free(&b);
}

/* Activation formulas and math.h. */
static void test_activations(void)
{
    TB b;
    tb_init(&b, "activations", 3u);
    backend_case_find("activations")->build(&b);
    plan_run(&b.ctx, b.g);
    Buf c, h;
    emit_graph(&b, "acts", 0, &c, &h);
    CHECK(strstr(c.data, "#include <math.h>\n"));
    CHECK(strstr(c.data, "out[i] = v >= 0.0f ? v : 0.200000003f * v;"));
    CHECK(strstr(c.data, "out[i] = 1.05070102f * (v > 0.0f ? v : 1.67326319f * expm1f(v));"));
    CHECK(strstr(c.data, "out[i] = v > 20.0f ? v : log1pf(expf(v));"));
    CHECK(strstr(c.data, "expf(-((1.5f * (v - (-0.25f))) * (1.5f * (v - (-0.25f)))))"));
    CHECK(!strstr(c.data, "typedef char"));   /* no weights, no size guard */
    buf_free(&c);
    buf_free(&h);
    tb_free(&b);
}

/* The header compiles as C++ too (extern "C" guards). */
static void test_header_cxx(const char *cxx)
{
    if (!cxx) {
        printf("note: no C++ compiler given, header not checked as C++\n");
        return;
    }
    TB b;
    tb_init(&b, "lenet_like", 3u);
    backend_case_find("lenet_like")->build(&b);
    int rc = plan_and_emit(b.g, &b.ctx, ".", "emit_cxx", 0, 0);
    tb_free(&b);
    CHECK_OR(rc == 0, return);
    const char *src = "#include \"emit_cxx.h\"\nint main() { float i[EMIT_CXX_INPUT_SIZE] = {0}, "
                      "o[EMIT_CXX_OUTPUT_SIZE]; emit_cxx_run(i, o); return 0; }\n";
    CHECK_OR(write_file("emit_cxx_main.cc", src, strlen(src)) == 0, return);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -Wall -Wextra -Werror -fsyntax-only -I. emit_cxx_main.cc", cxx);
    CHECK_OR(run_cmd(cmd) == 0, return);
    printf("header compiles as C++ with %s\n", cxx);
}

int main(int argc, char **argv)
{
    test_literals();
    test_text();
    test_activations();
    test_fashion();
    test_header_cxx(argc > 1 ? argv[1] : NULL);
    return check_status("test_emit");
}
