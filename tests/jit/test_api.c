/* test_api.c: the public API (cnnc.h only) end to end, as an embedder uses
 * it: models from strings (one with a weights file resolved through
 * base_dir), shape queries, the interpreter, JIT handles run several times,
 * diagnostics through the callback and the model's list, emitted C, and a
 * broken tcc directory that must become a diagnostic, not a crash. Expected
 * values come from arithmetic done here, not from cnnc. Run under valgrind
 * by ctest (jit_api_valgrind): every handle is freed, nothing leaks.
 *
 *   test_jit_api WORKDIR     (WORKDIR receives a small safetensors file)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"   /* tests/check.h: the tests' assertions, no cnnc internals */
#include "cnnc.h"

/* Counts what the callback saw, and keeps the last message. */
typedef struct Seen {
    int n, errors;
    char last[512];
} Seen;

static void on_diag(void *user, const cnnc_diag *d)
{
    Seen *s = user;
    s->n++;
    s->errors += d->severity == CNNC_ERROR;
    snprintf(s->last, sizeof s->last, "%s", d->message);
}

static cnnc_options options_for(Seen *seen)
{
    cnnc_options o;
    memset(&o, 0, sizeof o);
    o.diag_fn = on_diag;
    o.diag_user = seen;
    return o;
}

static double max_abs_diff(const float *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs((double)a[i] - b[i]) > m ? fabs((double)a[i] - b[i]) : m;
    return m;
}

/* ---- a model without parameters: softmax(relu(x)) ---- */

static void test_softmax_relu(void)
{
    const char *text = "model sr {\n    input x[6];\n    relu;\n    softmax;\n}\n";
    const float x[6] = { -1.0f, 0.0f, 0.5f, 1.0f, 2.0f, -3.0f };
    double want[6], sum = 0;
    for (int i = 0; i < 6; i++)
        sum += want[i] = exp(x[i] > 0 ? x[i] : 0.0);
    for (int i = 0; i < 6; i++)
        want[i] /= sum;
    Seen seen = { 0 };
    cnnc_options o = options_for(&seen);
    cnnc_model *m = cnnc_model_from_string("sr.cnn", text, NULL, &o);
    CHECK_OR(m && cnnc_model_errors(m) == 0, goto done);
    CHECK_INT(seen.n, 0);
    CHECK_STR(cnnc_model_name(m), "sr");
    CHECK(cnnc_model_input_size(m) == 6 && cnnc_model_output_size(m) == 6);
    float yi[6], yj[6];
    CHECK(cnnc_model_interp(m, x, yi) == 0);
    cnnc_jit *j = cnnc_jit_new(m);
    CHECK(j != NULL);
    if (j) {
        CHECK(cnnc_jit_run(j, x, yj) == 0);
        CHECK(max_abs_diff(yj, want, 6) < 1e-6);
        CHECK(memcmp(yi, yj, sizeof yi) == 0);
    }
    CHECK(max_abs_diff(yi, want, 6) < 1e-6);
    cnnc_jit_free(j);
done:
    cnnc_model_free(m);
}

/* ---- avgpool 2x2 on 0..15: exact means ---- */

static void test_avgpool(void)
{
    const char *text = "model ap { input img[1, 4, 4]; pooled = avgpool(kernel=2); }";
    float x[16], y[4] = { 0 };
    for (int i = 0; i < 16; i++)
        x[i] = (float)i;
    const float want[4] = { 2.5f, 4.5f, 10.5f, 12.5f };   /* (0+1+4+5)/4, ... */
    cnnc_model *m = cnnc_model_from_string("ap.cnn", text, NULL, NULL);
    cnnc_tensor_info in, out;
    CHECK_OR(cnnc_model_input(m, &in) == 0 && cnnc_model_output(m, &out) == 0, goto done);
    CHECK(strcmp(in.name, "img") == 0 && in.rank == 3 && in.size == 16);
    CHECK(in.dims[0] == 1 && in.dims[1] == 4 && in.dims[2] == 4);
    CHECK(strcmp(out.name, "pooled") == 0 && out.rank == 3 && out.size == 4);
    CHECK(out.dims[0] == 1 && out.dims[1] == 2 && out.dims[2] == 2);
    cnnc_jit *j = cnnc_jit_new(m);
    CHECK(j && cnnc_jit_run(j, x, y) == 0);
    CHECK(memcmp(y, want, sizeof y) == 0);
    cnnc_jit_free(j);
done:
    cnnc_model_free(m);
}

/* ---- dense with weights from a file next to base_dir ---- */

static void put_f32(FILE *f, float v)
{
    unsigned int u;
    memcpy(&u, &v, sizeof u);
    unsigned char b[4] = { (unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                           (unsigned char)(u >> 24) };
    fwrite(b, 1, 4, f);
}

/* One tensor of a hand-written safetensors file: a flat F32 vector or a
 * [rows, cols] matrix (rows 0: flat). */
typedef struct StEntry {
    const char *name;
    int rows, cols;
    const float *v;
} StEntry;

/* A safetensors file by hand: u64 header length, JSON, little-endian data. */
static int write_safetensors(const char *path, const StEntry *e, int n)
{
    char json[2048];
    size_t len = 0, off = 0;
    len += (size_t)snprintf(json + len, sizeof json - len, "{");
    for (int i = 0; i < n; i++) {
        size_t bytes = 4u * (size_t)(e[i].rows ? e[i].rows * e[i].cols : e[i].cols);
        char shape[64];
        if (e[i].rows)
            snprintf(shape, sizeof shape, "%d,%d", e[i].rows, e[i].cols);
        else
            snprintf(shape, sizeof shape, "%d", e[i].cols);
        len += (size_t)snprintf(json + len, sizeof json - len,
                                "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[%zu,%zu]}",
                                i ? "," : "", e[i].name, shape, off, off + bytes);
        off += bytes;
    }
    len += (size_t)snprintf(json + len, sizeof json - len, "}");
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    for (int i = 0; i < 8; i++)
        fputc((int)((len >> (8 * i)) & 0xff), f);
    fwrite(json, 1, len, f);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < (e[i].rows ? e[i].rows * e[i].cols : e[i].cols); k++)
            put_f32(f, e[i].v[k]);
    return fclose(f);
}

static void test_dense_file(const char *workdir)
{
    const float w[6] = { 1, 2, 3, 4, 5, 6 }, b[2] = { 0.5f, -1.0f };
    char path[4096];
    snprintf(path, sizeof path, "%s/dense.safetensors", workdir);
    const StEntry e[2] = { { "fc.weight", 2, 3, w }, { "fc.bias", 0, 2, b } };
    CHECK_OR(write_safetensors(path, e, 2) == 0, return);
    const char *text = "model d { input v[3]; weights \"dense.safetensors\"; fc = dense(units=2); }";
    Seen seen = { 0 };
    cnnc_options o = options_for(&seen);
    cnnc_model *m = cnnc_model_from_string("d.cnn", text, workdir, &o);
    CHECK(cnnc_model_errors(m) == 0 && seen.n == 0);
    cnnc_jit *j = cnnc_jit_new(m);
    CHECK(j != NULL);
    const float x1[3] = { 1, 1, 1 }, x2[3] = { -2, 0.5f, 4 };
    /* exact in float: small integers and halves */
    const float want1[2] = { 6.5f, 14.0f }, want2[2] = { 11.5f, 17.5f };
    float y[2] = { 0 };
    if (j) {                          /* one handle, many runs */
        CHECK(cnnc_jit_run(j, x1, y) == 0 && y[0] == want1[0] && y[1] == want1[1]);
        CHECK(cnnc_jit_run(j, x2, y) == 0 && y[0] == want2[0] && y[1] == want2[1]);
        CHECK(cnnc_jit_run(j, x1, y) == 0 && y[0] == want1[0] && y[1] == want1[1]);
    }
    CHECK(cnnc_model_interp(m, x2, y) == 0 && y[0] == want2[0] && y[1] == want2[1]);
    cnnc_jit_free(j);
    cnnc_model_free(m);
}

/* ---- one-channel batchnorm: each parameter a scalar operand ----
 * tcc folds w[0] into `subss w(%rip)`; with weights bound as absolute
 * symbols, Debian's libtcc resolved that through a PLT stub (jit.c). */

static void test_batchnorm_scalars(const char *workdir)
{
    const float gamma = 2.0f, beta = 0.5f, mean = 0.25f, var = 3.990234375f;
    char path[4096];
    snprintf(path, sizeof path, "%s/bn.safetensors", workdir);
    const StEntry e[4] = { { "bn.weight", 0, 1, &gamma }, { "bn.bias", 0, 1, &beta },
                           { "bn.running_mean", 0, 1, &mean }, { "bn.running_var", 0, 1, &var } };
    CHECK_OR(write_safetensors(path, e, 4) == 0, return);
    /* var + epsilon = 3.990234375 + 0.009765625 = 4 exactly: scale = 2 / 2 = 1 */
    const char *text = "model b { input x[1, 2, 4]; weights \"bn.safetensors\";\n"
                       "    bn = batchnorm(epsilon=0.009765625); }";
    cnnc_model *m = cnnc_model_from_string("b.cnn", text, workdir, NULL);
    CHECK(cnnc_model_errors(m) == 0);
    cnnc_jit *j = cnnc_jit_new(m);
    float x[8], y[8] = { 0 }, yi[8] = { 0 };
    for (int i = 0; i < 8; i++)
        x[i] = 0.5f * (float)i - 1.0f;
    CHECK(j && cnnc_jit_run(j, x, y) == 0);
    CHECK(cnnc_model_interp(m, x, yi) == 0);
    for (int i = 0; i < 8; i++) {
        CHECK(y[i] == x[i] + 0.25f);     /* (x - 0.25) * 1 + 0.5, exact */
        CHECK(yi[i] == x[i] + 0.25f);
    }
    cnnc_jit_free(j);
    cnnc_model_free(m);
}

/* ---- random weights: two handles and the interpreter agree, run after run ---- */

static const char conv_model[] =
    "model net {\n"
    "    input image[3, 9, 9];\n"
    "    weights random(seed=42);\n"
    "    c1 = conv2d(filters=4, kernel=3, padding=same, activation=relu);\n"
    "    c2 = conv2d(filters=4, kernel=3, padding=same);\n"
    "    s = add(c1, c2);\n"
    "    p = maxpool(kernel=2);\n"
    "    bn = batchnorm;\n"
    "    t = tanh;\n"
    "    flatten;\n"
    "    out = dense(units=5, activation=sigmoid);\n"
    "}\n";

static void fill(float *x, size_t n, unsigned seed)
{
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f * 2.0f - 1.0f;
    }
}

static void test_reuse(void)
{
    cnnc_model *m = cnnc_model_from_string("net.cnn", conv_model, NULL, NULL);
    CHECK(cnnc_model_errors(m) == 0);
    size_t n = cnnc_model_input_size(m), k = cnnc_model_output_size(m);
    CHECK_OR(n == 243 && k == 5, { cnnc_model_free(m); return; });   /* x[243], y[5] below */
    cnnc_jit *a = cnnc_jit_new(m), *b = cnnc_jit_new(m);
    CHECK(a && b);
    float x[243], ya[5], yb[5], yi[5];
    for (unsigned round = 0; round < 3 && a && b; round++) {
        fill(x, n, round);
        CHECK(cnnc_jit_run(a, x, ya) == 0 && cnnc_jit_run(b, x, yb) == 0);
        CHECK(cnnc_model_interp(m, x, yi) == 0);
        for (size_t i = 0; i < k; i++) {
            CHECK(fabsf(ya[i] - yi[i]) <= 1e-5f * fabsf(yi[i]) + 1e-7f);
            CHECK(ya[i] == yb[i]);
            CHECK(ya[i] > 0.0f && ya[i] < 1.0f);   /* a sigmoid */
        }
    }
    cnnc_jit_free(a);
    cnnc_jit_free(b);
    cnnc_model_free(m);
}

/* ---- errors: reported once each, kept on the model, never printed ---- */

static void test_errors(void)
{
    const char *text = "model bad {\n    input x[1, 4, 4];\n    conv2d(filters=0, kernel=3);\n}\n";
    Seen seen = { 0 };
    cnnc_options o = options_for(&seen);
    cnnc_model *m = cnnc_model_from_string("bad.cnn", text, NULL, &o);
    CHECK(m != NULL);
    CHECK(cnnc_model_errors(m) >= 1 && seen.errors == cnnc_model_errors(m));
    CHECK(cnnc_model_diag_count(m) == (size_t)seen.n);
    const cnnc_diag *d = cnnc_model_diag(m, 0);
    CHECK(d && d->severity == CNNC_ERROR && d->line == 3 && d->file && strcmp(d->file, "bad.cnn") == 0);
    CHECK(d && strncmp(d->text, "bad.cnn:3:", 10) == 0);
    CHECK(cnnc_model_diag(m, cnnc_model_diag_count(m)) == NULL);
    CHECK(cnnc_model_name(m) == NULL && cnnc_model_input_size(m) == 0);
    float x[16] = { 0 }, y[16];
    CHECK(cnnc_model_interp(m, x, y) == -1);
    CHECK(cnnc_jit_new(m) == NULL);
    char *c = NULL, *h = NULL;
    CHECK(cnnc_emit_c(m, NULL, &c, NULL, &h, NULL) == -1 && !c && !h);
    char *w = NULL;
    CHECK(cnnc_emit_weights(m, &w, NULL) == -1 && !w);
    cnnc_model_free(m);
    CHECK(cnnc_model_from_string(NULL, text, NULL, NULL) == NULL);
    cnnc_model_free(NULL);
    cnnc_jit_free(NULL);
}

/* ---- C text ---- */

static void test_emit(void)
{
    cnnc_model *m = cnnc_model_from_string("net.cnn", conv_model, NULL, NULL);
    cnnc_emit_options eo = { "foo", NULL, 0, CNNC_WEIGHTS_BYTES };
    char *c = NULL, *h = NULL;
    size_t clen = 0, hlen = 0;
    CHECK(cnnc_emit_c(m, &eo, &c, &clen, &h, &hlen) == 0);
    CHECK(c && h && clen == strlen(c) && hlen == strlen(h));
    CHECK(c && strstr(c, "#include \"foo.h\"") && strstr(c, "void foo_run("));
    CHECK(h && strstr(h, "#define FOO_INPUT_SIZE 243") && strstr(h, "#define FOO_OUTPUT_SIZE 5"));
    cnnc_free(c);
    cnnc_free(h);
    /* the weights file form: the header's size is the blob's */
    eo.weights = CNNC_WEIGHTS_FILE;
    char *w = NULL, want[64];
    size_t wlen = 0;
    CHECK(cnnc_emit_c(m, &eo, &c, &clen, &h, &hlen) == 0 && cnnc_emit_weights(m, &w, &wlen) == 0);
    snprintf(want, sizeof want, "#define FOO_WEIGHTS_BYTES %zu ", wlen);
    CHECK(h && strstr(h, want) && strstr(h, "void foo_run(const float *weights, const float *input"));
    CHECK(c && !strstr(c, "static const union") && strstr(c, "(weights + 0)"));
    CHECK(wlen % 64 == 0 && wlen >= 4 * (4 * 3 * 9 + 4));   /* c1's weights at least */
    cnnc_free(c);
    cnnc_free(h);
    cnnc_free(w);
    Seen seen = { 0 };
    cnnc_model_free(m);
    cnnc_options o = options_for(&seen);
    m = cnnc_model_from_string("net.cnn", conv_model, NULL, &o);
    eo.prefix = "1abc";
    CHECK(cnnc_emit_c(m, &eo, &c, NULL, &h, NULL) == -1 && !c && !h);
    CHECK(seen.errors == 1 && strstr(seen.last, "not a C identifier"));
    cnnc_model_free(m);
}

/* ---- out of memory: an error, never an abort ---- */

/* -1 with "out of memory" as the last diagnostic, or 0: nothing else. */
static int oom_or_ok(int rc, const Seen *seen, int *ooms)
{
    if (rc == 0)
        return 1;
    *ooms += strcmp(seen->last, "out of memory") == 0;
    return strcmp(seen->last, "out of memory") == 0;
}

/* One step of a sweep: load text, then emit and view, under a limit of
 * `limit` bytes of compiler memory. */
static void oom_step(const char *text, const char *dir, size_t limit, int *load_ooms,
                     int *later_ooms, int *loaded)
{
    Seen seen = { 0 };
    cnnc_options o = options_for(&seen);
    o.memory_limit = limit;
    cnnc_model *m = cnnc_model_from_string("net.cnn", text, dir, &o);
    CHECK_OR(m != NULL, return);
    int ok = cnnc_model_errors(m) == 0;
    CHECK(oom_or_ok(ok ? 0 : -1, &seen, load_ooms));
    CHECK(ok || (cnnc_model_diag_count(m) >= 1 &&
                 strcmp(cnnc_model_diag(m, cnnc_model_diag_count(m) - 1)->message,
                        "out of memory") == 0));
    if (ok) {
        char *c = NULL, *h = NULL, *v = NULL;
        int rc = cnnc_emit_c(m, NULL, &c, NULL, &h, NULL);
        CHECK(oom_or_ok(rc, &seen, later_ooms) && (rc == 0) == (c && h));
        rc = cnnc_model_view(m, CNNC_VIEW_SUMMARY, &v, NULL);
        CHECK(oom_or_ok(rc, &seen, later_ooms) && (rc == 0) == (v != NULL));
        cnnc_free(c);
        cnnc_free(h);
        cnnc_free(v);
        *loaded += 1;
    }
    cnnc_model_free(m);
}

/* Limits from 16 KiB up, 5% apart, so that the loads run out at many
 * places: parsing, checking, the passes, and (the second model) binding a
 * weights file while its bytes are held. Each step must end in success or
 * in an "out of memory" error, with nothing leaked (valgrind, ASan). */
static void oom_sweep(const char *text, const char *dir)
{
    int load_ooms = 0, later_ooms = 0, loaded = 0;
    for (double limit = 16384; limit < 4e6; limit *= 1.05)
        oom_step(text, dir, (size_t)limit, &load_ooms, &later_ooms, &loaded);
    CHECK(load_ooms > 5 && loaded > 5);   /* both sides of the threshold seen */
    printf("out of memory: %d loads and %d emits/views ran out, %d loaded\n", load_ooms,
           later_ooms, loaded);
}

static void test_out_of_memory(const char *workdir)
{
    enum { UNITS = 3000 };
    static float w[UNITS * 3], b[UNITS];
    char path[4096];
    snprintf(path, sizeof path, "%s/big_dense.safetensors", workdir);
    const StEntry e[2] = { { "fc.weight", UNITS, 3, w }, { "fc.bias", 0, UNITS, b } };
    CHECK_OR(write_safetensors(path, e, 2) == 0, return);
    oom_sweep(conv_model, NULL);
    oom_sweep("model d { input v[3]; weights \"big_dense.safetensors\"; fc = dense(units=3000); }",
              workdir);
}

/* ---- targets: the names, an unknown one, what each file holds ---- */

static int variants_of(cnnc_model *m, const char *want)
{
    char *c = NULL, *h = NULL;
    int ok = cnnc_emit_c(m, NULL, &c, NULL, &h, NULL) == 0 && h && strstr(h, want) != NULL;
    cnnc_free(c);
    cnnc_free(h);
    return ok;
}

static void test_targets(void)
{
    const char *summary = NULL;
    CHECK(strcmp(cnnc_target_name(0, &summary), "auto") == 0 && summary && *summary);
    int n = 0;
    while (cnnc_target_name(n, NULL))
        n++;
    CHECK_INT(n, 6);
    CHECK(cnnc_target_name(n, &summary) == NULL && summary == NULL);
    CHECK(cnnc_target_name(-1, NULL) == NULL);
    Seen seen = { 0 };
    cnnc_options o = options_for(&seen);
    o.target = "pdp-11";
    cnnc_model *m = cnnc_model_from_string("net.cnn", conv_model, NULL, &o);
    CHECK(m && cnnc_model_errors(m) == 1 && seen.errors == 1 &&
          strstr(seen.last, "unknown target 'pdp-11'"));
    cnnc_model_free(m);
    o.target = "cortex-m";
    m = cnnc_model_from_string("net.cnn", conv_model, NULL, &o);
    CHECK(cnnc_model_errors(m) == 0 && variants_of(m, "_VARIANTS \"portable\" /* --target=cortex-m"));
    cnnc_model_free(m);
    m = cnnc_model_from_string("net.cnn", conv_model, NULL, NULL);
    CHECK(variants_of(m, "_VARIANTS \"portable avx512 avx2 neon\" /* --target=auto"));
    cnnc_model_free(m);
}

/* ---- libtcc failing inside: an internal-error diagnostic ---- */

static void test_tcc_failure(void)
{
    Seen seen = { 0 };
    cnnc_options o = options_for(&seen);
    o.tcc_dir = "/nonexistent/cnnc-test-tcc";   /* no libtcc1.a there */
    cnnc_model *m = cnnc_model_from_string("net.cnn", conv_model, NULL, &o);
    CHECK(cnnc_model_errors(m) == 0);
    CHECK(cnnc_jit_new(m) == NULL);
    CHECK(seen.errors >= 1 && strstr(seen.last, "internal error") && strstr(seen.last, "libtcc"));
    CHECK(cnnc_model_diag_count(m) == (size_t)seen.n);
    cnnc_model_free(m);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_jit_api WORKDIR\n");
        return 2;
    }
    CHECK_INT(cnnc_has_jit(), 1);
    test_softmax_relu();
    test_avgpool();
    test_dense_file(argv[1]);
    test_batchnorm_scalars(argv[1]);
    test_reuse();
    test_errors();
    test_emit();
    test_tcc_failure();
    test_targets();
    test_out_of_memory(argv[1]);
    return check_status("test_jit_api");
}
