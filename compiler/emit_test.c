/* emit_test.c: `cnnc MODEL -o OUT.c --emit-test OUT_test.c`, a standalone
 * C99 program that proves the generated code right, in the user's CI or on
 * the device (docs/cli.md, "The self-test").
 *
 * Consumes a planned Graph with its weights; produces the program's text:
 * seeded input vectors (exactly `cnnc run --input random --seed N`'s), the
 * reference interpreter's outputs for them, and per op a checksum of its
 * output, which the program compares when built with -DCNNC_TRACE through
 * the model's trace hook (EmitOptions.trace), naming the first layer that
 * diverges. Every float is written as its bit pattern, every checksum as
 * the float nearest the exact sum. The program computes in float only (no
 * double arithmetic: none of a Cortex-M4F's software double calls) and
 * prints numbers with its own formatter, so the smallest printf, without
 * floating point (newlib-nano's), does.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backend.h"

enum { NCHECK = 4 };   /* per op: sum, sum |x|, weighted sum, weighted sum |x| */

/* The generator of `cnnc run --input random --seed N` (docs/cli.md):
 * SplitMix64, the top 24 bits scaled into [-1, 1), exactly. */
static float test_random(unsigned long long *state)
{
    unsigned long long z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 8388608.0f) - 1.0f;
}

/* The checksums the generated program recomputes, in the same order and
 * precision: weights 1..16 by position catch permuted values. */
static void test_checksums(const float *x, long long n, double sums[NCHECK])
{
    double s = 0, a = 0, ws = 0, wa = 0;
    for (long long i = 0; i < n; i++) {
        double v = x[i], w = (double)(i % 16 + 1);
        s += v;
        a += fabs(v);
        ws += v * w;
        wa += fabs(v) * w;
    }
    sums[0] = s;
    sums[1] = a;
    sums[2] = ws;
    sums[3] = wa;
}

/* Runs g's ops 0..last on x with op last's output as the graph's output,
 * written to y: the interpreter's view of one layer. scratch holds g->nt
 * tensors. */
static int test_run_prefix(const Graph *g, Tensor *scratch, int last, const float *x, float *y)
{
    Graph h = *g;
    memcpy(scratch, g->t, sizeof *scratch * (size_t)g->nt);
    for (int t = 0; t < g->nt; t++)
        if (scratch[t].role == TR_OUTPUT)
            scratch[t].role = TR_ACT;
    h.t = scratch;
    h.nops = last + 1;
    h.output = g->ops[last].out;
    scratch[h.output].role = TR_OUTPUT;
    return interp_run(&h, x, y);
}

/* A run reads and writes nsamples samples (the model's batch, or one);
 * the model's code calls the trace hook once per op and sample. */
typedef struct TestData {
    int nvec, nops, nsamples;
    long long nin, nout;  /* floats of one run: all samples */
    float *inputs;        /* nvec * nin */
    float *outputs;       /* nvec * nout */
    double *sums;         /* [nvec][nsamples][nops][NCHECK] */
} TestData;

static double *test_sums(const TestData *d, int v, int sample, int op)
{
    size_t k = ((size_t)v * (size_t)d->nsamples + (size_t)sample) * (size_t)d->nops + (size_t)op;
    return d->sums + k * NCHECK;
}

static long long largest_output(const Graph *g)
{
    long long n = g->t[g->output].numel;
    for (int i = 0; i < g->nops; i++)
        if (g->t[g->ops[i].out].numel > n)
            n = g->t[g->ops[i].out].numel;
    return n;
}

/* The model's code calls the trace hook after the ops of float output:
 * all of a float model's, a quantized one's outside its int8 stretch. */
static int test_traced(const Graph *g, int i)
{
    return g->t[g->ops[i].out].dtype == DT_F32;
}

/* A quantized model whose last op dequantizes its int8 result: the
 * program's output is (q - z) * s of that result, which the C and the
 * interpreter compute alike, so the outputs must be equal (the int8
 * values equal). Otherwise (a float model, or float ops such as softmax
 * after the dequantize) the float tolerance applies. */
static int test_exact(const Graph *g)
{
    return g->quantized && g->nops > 0 && g->ops[g->nops - 1].kind == OP_DEQUANTIZE;
}

static int test_compute_vector(const Graph *g, TestData *d, int v, Tensor *scratch, float *y)
{
    const float *x = d->inputs + v * d->nin;
    for (int i = 0; i < g->nops; i++) {
        long long n = g->t[g->ops[i].out].numel;
        if (!test_traced(g, i))
            continue;           /* no hook call, no checksums: left 0 */
        if (test_run_prefix(g, scratch, i, x, y) != 0)
            return -1;
        for (int s = 0; s < d->nsamples; s++)
            test_checksums(y + s * n, n, test_sums(d, v, s, i));
    }
    return interp_run(g, x, d->outputs + v * d->nout);
}

static int test_compute(Ctx *ctx, const Graph *g, const TestOptions *opt, TestData *d)
{
    Arena *a = ctx->arena;
    d->nvec = opt->vectors > 0 ? opt->vectors : 1;
    d->nops = g->nops;
    d->nsamples = g->batch > 1 ? g->batch : 1;
    d->nin = g->t[g->input].numel * d->nsamples;
    d->nout = g->t[g->output].numel * d->nsamples;
    d->inputs = arena_alloc(a, sizeof(float) * (size_t)(d->nvec * d->nin + 1));
    d->outputs = arena_alloc(a, sizeof(float) * (size_t)(d->nvec * d->nout + 1));
    d->sums = arena_alloc(a, sizeof(double) * (size_t)(d->nvec * d->nsamples * d->nops * NCHECK + 1));
    memset(d->sums, 0, sizeof(double) * (size_t)(d->nvec * d->nsamples * d->nops * NCHECK + 1));
    Tensor *scratch = arena_alloc(a, sizeof *scratch * (size_t)(g->nt + 1));
    float *y = arena_alloc(a, sizeof(float) * (size_t)(largest_output(g) * d->nsamples + 1));
    for (int v = 0; v < d->nvec; v++) {
        unsigned long long state = opt->seed + (unsigned long long)v;
        for (long long i = 0; i < d->nin; i++)
            d->inputs[v * d->nin + i] = test_random(&state);
        if (test_compute_vector(g, d, v, scratch, y) != 0) {
            diag_file_error(ctx, NULL, "out of memory while computing the self-test's outputs");
            return -1;
        }
    }
    return 0;
}

/* ---- the program's text ---- */

/* A C string literal's contents: anything unusual as an octal escape,
 * '?' escaped against trigraphs. */
static void test_c_string(Buf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || c == '?')
            buf_printf(b, "\\%c", c);
        else if (c < ' ' || c >= 127)
            buf_printf(b, "\\%03o", c);
        else
            buf_putc(b, (char)c);
    }
}

static void test_floats(Buf *b, const char *name, const float *v, long long n)
{
    buf_printf(b, "static const union { unsigned int u[%lld]; float f[%lld]; } %s = {{\n", n, n,
               name);
    for (long long i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        buf_printf(b, "0x%08lx,%c", (unsigned long)u, i % 8 == 7 || i == n - 1 ? '\n' : ' ');
    }
    buf_puts(b, "}};\n\n");
}

/* A checksum as the float literal nearest to it (NAN, INFINITY too). */
static void test_sum_lit(Buf *b, double v)
{
    char lit[64];
    emit_float_lit(lit, sizeof lit, (float)v);
    buf_puts(b, lit);
}

static void test_file_comment(Buf *b, const Graph *g, const TestOptions *opt, int nvec)
{
    buf_puts(b, "/* Generated by cnnc from ");
    emit_comment_text(b, g->path);
    buf_printf(b, ": a self-test of %s_run(). Do not edit.\n *\n", opt->prefix);
    buf_puts(b, " *   cc -std=c99 ");
    emit_comment_text(b, opt->test_c ? opt->test_c : "TEST.c");
    buf_putc(b, ' ');
    emit_comment_text(b, opt->model_c ? opt->model_c : "MODEL.c");
    buf_puts(b, " -lm && ./a.out\n");
    buf_printf(b, " *\n * runs %s_run() on %d input vector%s, uniform in [-1, 1) as\n", opt->prefix,
               nvec, nvec == 1 ? "" : "s");
    buf_printf(b, " * `cnnc run MODEL --input random --seed N` makes them (N = %llu..%llu),\n",
               opt->seed, opt->seed + (unsigned long long)nvec - 1);
    buf_puts(b, " * and compares each output value with what cnnc's reference interpreter\n");
    if (test_exact(g))
        buf_puts(b, " * computed for the int8 model: equal (the int8 results are equal, and\n"
                    " * both dequantize them alike). It prints one line per\n");
    else
        buf_puts(b, " * computed: |got - want| <= 1e-4 * (1 + |want|). It prints one line per\n");
    buf_puts(b, " * vector and exits 0 when all pass, 1 otherwise.\n *\n"
                " * Built with -DCNNC_TRACE (this file and the model's .c), it also\n"
                " * checks a checksum of every layer's output, from the model's trace\n"
                " * hook, and names the first layer that diverges. Define\n"
                " * CNNC_TEST_PRINTF to route the report elsewhere than printf (a UART):\n"
                " * it is called with %d, %ld and %s only; the program checks in float\n"
                " * and formats its numbers itself, so printf needs no float support.\n */\n");
}

static void test_prelude(Buf *b, const Graph *g, const TestOptions *opt, const TestData *d)
{
    buf_puts(b, "#include <math.h>\n\n");
    buf_puts(b, "#ifndef CNNC_TEST_PRINTF\n#include <stdio.h>\n#define CNNC_TEST_PRINTF printf\n#endif\n\n");
    buf_printf(b, "#include \"%s\"\n\n", opt->header_name);
    buf_printf(b, "#define NVECTORS %d\n#define NINPUT %lld\n#define NOUTPUT %lld\n", d->nvec, d->nin,
               d->nout);
    if (test_exact(g))
        buf_puts(b, "#define TOLERANCE 0.0f /* int8 results: equal */\n"
                    "#define TOLERANCE_TEXT \"0, int8\"\n");
    else
        buf_puts(b, "#define TOLERANCE 1e-4f\n#define TOLERANCE_TEXT \"1e-4\"\n");
    buf_putc(b, '\n');
    buf_puts(b, "/* Weights, inputs and outputs are stored as float bit patterns. */\n"
                "typedef char cnnc_uint_is_32_bits[sizeof(unsigned int) == 4 ? 1 : -1];\n\n");
}

/* "conv2 (conv2d+relu, model.cnn:10:5)" for each op. */
static void test_layer_table(Buf *b, const Graph *g)
{
    buf_puts(b, "static const char *const layer_name[NOPS + 1] = {\n");
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        buf_puts(b, "    \"");
        test_c_string(b, op->name ? op->name : "?");
        buf_printf(b, " (%s", op->kind == OP_ACT ? act_kind_name(op->act.kind) : op_kind_name(op->kind));
        if (op->kind != OP_ACT && op->act.kind != ACT_NONE)
            buf_printf(b, "+%s", act_kind_name(op->act.kind));
        buf_puts(b, ", ");
        test_c_string(b, g->path ? g->path : "?");
        buf_printf(b, ":%d:%d)\",\n", op->loc.line, op->loc.col);
    }
    buf_puts(b, "    0\n};\n\nstatic const long layer_size[NOPS + 1] = {\n");
    for (int i = 0; i < g->nops; i++)
        buf_printf(b, "    %lld,\n", g->t[g->ops[i].out].numel);
    buf_puts(b, "    0\n};\n\n");
}

/* The ops the model's code traces, in order: every op of a float model
 * (TRACED_OP(k) is k), a quantized model's of float output (a table). */
static void test_traced_table(Buf *b, const Graph *g)
{
    int n = 0;
    for (int i = 0; i < g->nops; i++)
        n += test_traced(g, i);
    if (!g->quantized) {
        buf_puts(b, "#define NTRACED NOPS\n#define TRACED_OP(k) (k)\n\n");
        return;
    }
    buf_printf(b, "/* The ops of float output, which the model traces (its int8 ops are\n"
                  " * checked through the float ops after them). */\n"
                  "#define NTRACED %d\n#define TRACED_OP(k) traced_op[k]\n"
                  "static const int traced_op[NTRACED + 1] = {", n);
    for (int i = 0; i < g->nops; i++)
        if (test_traced(g, i))
            buf_printf(b, " %d,", i);
    buf_puts(b, " -1 };\n\n");
}

static void test_sum_table(Buf *b, const TestData *d)
{
    buf_puts(b, "/* Per vector, sample and op: sum, sum |x|, and both weighted by\n"
                " * 1 + i % 16. */\n");
    buf_puts(b, "static const float layer_sums[NVECTORS][NSAMPLES][NOPS + 1][4] = {\n");
    for (int v = 0; v < d->nvec; v++) {
        buf_puts(b, "    {\n");
        for (int smp = 0; smp < d->nsamples; smp++) {
            buf_puts(b, "        {\n");
            for (int i = 0; i < d->nops; i++) {
                const double *s = test_sums(d, v, smp, i);
                buf_puts(b, "            { ");
                for (int k = 0; k < NCHECK; k++) {
                    test_sum_lit(b, s[k]);
                    buf_puts(b, k < NCHECK - 1 ? ", " : " },\n");
                }
            }
            buf_puts(b, "            { 0, 0, 0, 0 }\n        },\n");
        }
        buf_puts(b, "    },\n");
    }
    buf_puts(b, "};\n\n");
}

/* The program's fixed part: the trace hook, the comparisons, main(). */
/* The comparison and the number formatter. */
static const char test_check_code[] =
    "static int close_enough(float got, float want, float tol)\n"
    "{\n"
    "    if (isnan(want))\n"
    "        return isnan(got);\n"
    "    if (isinf(want))\n"
    "        return isinf(got) && (got > 0) == (want > 0);\n"
    "    return fabsf(got - want) <= tol;\n"
    "}\n"
    "\n"
    "/* x with `digits` (1..7) significant digits, as printf's %g prints it\n"
    " * (to within the last digit), in buf[24]: no float goes through printf,\n"
    " * whose floating-point support small C libraries leave out. */\n"
    "static const char *show(char *buf, float x, int digits)\n"
    "{\n"
    "    char d[8], *p = buf;\n"
    "    long m, scale = 1;\n"
    "    int e = 0, i, last;\n"
    "    if (isnan(x))\n"
    "        return \"nan\";\n"
    "    if (isinf(x))\n"
    "        return x > 0 ? \"inf\" : \"-inf\";\n"
    "    if (x < 0) {\n"
    "        *p++ = '-';\n"
    "        x = -x;\n"
    "    }\n"
    "    if (!(x > 0)) {                /* zero */\n"
    "        p[0] = '0';\n"
    "        p[1] = 0;\n"
    "        return buf;\n"
    "    }\n"
    "    for (i = 1; i < digits; i++)\n"
    "        scale *= 10;\n"
    "    for (; x >= 1e10f; e += 10)\n"
    "        x /= 1e10f;\n"
    "    for (; x < 1e-9f; e -= 10)\n"
    "        x *= 1e10f;\n"
    "    for (; x >= 10.0f; e++)\n"
    "        x /= 10.0f;\n"
    "    for (; x < 1.0f; e--)\n"
    "        x *= 10.0f;\n"
    "    m = (long)(x * (float)scale + 0.5f);\n"
    "    if (m >= 10 * scale) {\n"
    "        m /= 10;\n"
    "        e++;\n"
    "    }\n"
    "    for (i = digits - 1; i >= 0; i--, m /= 10)\n"
    "        d[i] = (char)('0' + m % 10);\n"
    "    for (last = digits - 1; last > 0 && d[last] == '0'; last--)\n"
    "        ;\n"
    "    if (e < -4 || e >= digits) {   /* d.ddde-07 */\n"
    "        *p++ = d[0];\n"
    "        if (last > 0)\n"
    "            *p++ = '.';\n"
    "        for (i = 1; i <= last; i++)\n"
    "            *p++ = d[i];\n"
    "        *p++ = 'e';\n"
    "        *p++ = e < 0 ? '-' : '+';\n"
    "        e = e < 0 ? -e : e;\n"
    "        *p++ = (char)('0' + e / 10);\n"
    "        *p++ = (char)('0' + e % 10);\n"
    "    } else if (e < 0) {            /* 0.000ddd */\n"
    "        *p++ = '0';\n"
    "        *p++ = '.';\n"
    "        for (i = -1; i > e; i--)\n"
    "            *p++ = '0';\n"
    "        for (i = 0; i <= last; i++)\n"
    "            *p++ = d[i];\n"
    "    } else {                       /* ddd.dd */\n"
    "        for (i = 0; i <= e || i <= last; i++) {\n"
    "            if (i == e + 1)\n"
    "                *p++ = '.';\n"
    "            *p++ = d[i];\n"
    "        }\n"
    "    }\n"
    "    *p = 0;\n"
    "    return buf;\n"
    "}\n"
    "\n";

/* The trace hook and its checks, under #ifdef CNNC_TRACE. */
static const char test_trace_code[] =
    "#ifdef CNNC_TRACE\n"
    "/* The trace: state of the vector being run (this program is a test\n"
    " * driver; the model's code itself keeps no such state). */\n"
    "static int trace_vector, trace_calls, trace_failed;\n"
    "\n"
    "/* Recomputes the checksums of one layer's output as cnnc did, in float\n"
    " * with compensated (Kahan) sums: as precise as the exact sums the table\n"
    " * holds, to a few units in the last place, however long the layer. */\n"
    "static int layer_matches(int sample, int op, const float *out, long n, float got[4])\n"
    "{\n"
    "    const float *want = layer_sums[trace_vector][sample][op];\n"
    "    float carry[4] = { 0, 0, 0, 0 };\n"
    "    for (long i = 0; i < n; i++) {\n"
    "        float v = out[i], w = (float)(i % 16 + 1);\n"
    "        float term[4];\n"
    "        term[0] = v;\n"
    "        term[1] = fabsf(v);\n"
    "        term[2] = v * w;\n"
    "        term[3] = fabsf(v) * w;\n"
    "        for (int k = 0; k < 4; k++) {\n"
    "            float y = term[k] - carry[k], t = got[k] + y;\n"
    "            carry[k] = isinf(t) || isnan(t) ? 0.0f : (t - got[k]) - y;\n"
    "            got[k] = t;\n"
    "        }\n"
    "    }\n"
    "    /* sums compare relative to the sums of |x|: want[1], want[3] */\n"
    "    for (int k = 0; k < 4; k++)\n"
    "        if (!close_enough(got[k], want[k], TRACE_TOLERANCE * (want[k | 1] + 1e-3f)))\n"
    "            return 0;\n"
    "    return 1;\n"
    "}\n"
    "\n"
    "void PREFIX_trace(int op, const char *layer, const float *out, long n);\n"
    "\n"
    "/* Called by the model after each op (built with -DCNNC_TRACE). */\n"
    "void PREFIX_trace(int op, const char *layer, const float *out, long n)\n"
    "{\n"
    "    float got[4] = { 0, 0, 0, 0 };\n"
    "    char got_text[24], want_text[24];\n"
    "    int sample = trace_calls / NTRACED, expected_op = TRACED_OP(trace_calls % NTRACED);\n"
    "    trace_calls++;\n"
    "    if (trace_failed)\n"
    "        return;   /* only the first divergence is news */\n"
    "    if (op != expected_op || sample >= NSAMPLES || n != layer_size[op]) {\n"
    "        CNNC_TEST_PRINTF(\"vector %d: unexpected trace call for op %d '%s' \"\n"
    "                         \"(the model differs from the one this test was made for)\\n\",\n"
    "                         trace_vector, op, layer);\n"
    "        trace_failed = 1;\n"
    "    } else if (!layer_matches(sample, op, out, n, got)) {\n"
    "#if NSAMPLES > 1\n"
    "        CNNC_TEST_PRINTF(\"vector %d, sample %d:\\n\", trace_vector, sample);\n"
    "#endif\n"
    "        CNNC_TEST_PRINTF(\"vector %d: first divergent layer: op %d %s: \"\n"
    "                         \"sum %s, expected %s\\n\",\n"
    "                         trace_vector, op, layer_name[op], show(got_text, got[0], 7),\n"
    "                         show(want_text, layer_sums[trace_vector][sample][op][0], 7));\n"
    "        trace_failed = 1;\n"
    "    }\n"
    "}\n"
    "\n"
    "static void trace_begin(int v)\n"
    "{\n"
    "    trace_vector = v;\n"
    "    trace_calls = 0;\n"
    "    trace_failed = 0;\n"
    "}\n"
    "\n"
    "/* 1 when a layer diverged or the hook was not called once per op. */\n"
    "static int trace_end(int v)\n"
    "{\n"
    "    if (trace_calls != NTRACED * NSAMPLES && !trace_failed) {\n"
    "        CNNC_TEST_PRINTF(\"vector %d: the trace hook ran %d times, not %d: \"\n"
    "                         \"build the model's .c with -DCNNC_TRACE too\\n\", v, trace_calls,\n"
    "                         NTRACED * NSAMPLES);\n"
    "        return 1;\n"
    "    }\n"
    "    return trace_failed;\n"
    "}\n"
    "#else\n"
    "static void trace_begin(int v)\n"
    "{\n"
    "    (void)v;\n"
    "}\n"
    "\n"
    "static int trace_end(int v)\n"
    "{\n"
    "    (void)v;\n"
    "    return 0;\n"
    "}\n"
    "#endif\n"
    "\n";

static const char test_main_code[] =
    "/* Runs vector v and compares its output; 0 when it passes. */\n"
    "static int run_vector(int v, float *output)\n"
    "{\n"
    "    const float *want = expected.f + (long)v * NOUTPUT;\n"
    "    char got_text[24], want_text[24];\n"
    "    long bad = -1;\n"
    "    float worst = 0.0f;\n"
    "    int layers_bad;\n"
    "    trace_begin(v);\n"
    "    PREFIX_run(inputs.f + (long)v * NINPUT, output);\n"
    "    layers_bad = trace_end(v);\n"
    "    for (long i = 0; i < NOUTPUT; i++) {\n"
    "        float d = fabsf(output[i] - want[i]);\n"
    "        if (!close_enough(output[i], want[i], TOLERANCE * (1.0f + fabsf(want[i])))) {\n"
    "            if (bad < 0)\n"
    "                bad = i;\n"
    "        } else if (d > worst) {\n"
    "            worst = d;\n"
    "        }\n"
    "    }\n"
    "    if (bad >= 0)\n"
    "        CNNC_TEST_PRINTF(\"vector %d: FAILED: output[%ld] = %s, expected %s (tolerance %s)\\n\",\n"
    "                         v, bad, show(got_text, output[bad], 7), show(want_text, want[bad], 7),\n"
    "                         TOLERANCE_TEXT);\n"
    "    else if (layers_bad)\n"
    "        CNNC_TEST_PRINTF(\"vector %d: FAILED (see the trace above)\\n\", v);\n"
    "    else\n"
    "        CNNC_TEST_PRINTF(\"vector %d: ok (max |diff| %s)\\n\", v, show(got_text, worst, 3));\n"
    "    return bad >= 0 || layers_bad;\n"
    "}\n"
    "\n"
    "int main(void)\n"
    "{\n"
    "    static float output[NOUTPUT];\n"
    "    int failed = 0;\n"
    "    for (int v = 0; v < NVECTORS; v++)\n"
    "        failed += run_vector(v, output);\n"
    "    if (failed)\n"
    "        CNNC_TEST_PRINTF(\"PREFIX: %d of %d vectors FAILED\\n\", failed, NVECTORS);\n"
    "    else\n"
    "        CNNC_TEST_PRINTF(\"PREFIX: all %d vectors passed\\n\", NVECTORS);\n"
    "    return failed ? 1 : 0;\n"
    "}\n";

/* Copies code with every "PREFIX" replaced by the model's prefix. */
static void test_put_code(Buf *b, const char *code, const char *prefix)
{
    const char *p;
    while ((p = strstr(code, "PREFIX")) != NULL) {
        buf_put(b, code, (size_t)(p - code));
        buf_puts(b, prefix);
        code = p + strlen("PREFIX");
    }
    buf_puts(b, code);
}

int emit_test(Ctx *ctx, const Graph *g, const TestOptions *opt, Buf *b)
{
    TestData d;
    if (test_compute(ctx, g, opt, &d) != 0)
        return -1;
    test_file_comment(b, g, opt, d.nvec);
    test_prelude(b, g, opt, &d);
    test_floats(b, "inputs", d.inputs, d.nvec * d.nin);
    test_floats(b, "expected", d.outputs, d.nvec * d.nout);
    buf_printf(b, "#ifdef CNNC_TRACE\n#define NOPS %d\n#define NSAMPLES %d\n", d.nops, d.nsamples);
    buf_puts(b, "#define TRACE_TOLERANCE 1e-4f /* the layers' checksums */\n\n");
    test_layer_table(b, g);
    test_traced_table(b, g);
    test_sum_table(b, &d);
    buf_puts(b, "#endif\n\n");
    test_put_code(b, test_check_code, opt->prefix);
    test_put_code(b, test_trace_code, opt->prefix);
    test_put_code(b, test_main_code, opt->prefix);
    return 0;
}
