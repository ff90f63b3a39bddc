/* fuzz_pipeline.c: harness for the whole pipeline, differential.
 *
 * Input: any bytes, read as a model file. The model is compiled twice, at
 * -O0 and with every pass. A model either is refused by both or accepted by
 * both; when accepted (and small: see the caps), both graphs run in the
 * reference interpreter on one random input and must agree (within the
 * tolerance below: fold_bn changes the rounding), then the optimized
 * graph's emitted C is compiled in memory by libtcc (-Wall:
 * any message is a bug) and run on the same input with its arena, input and
 * output in guarded pages; it must match the -O0 interpreter within a
 * relative error of 1e-5 (of the largest magnitude), leave its input and the
 * bytes around its buffers untouched, and not fault.
 *
 * Then the model is compiled a third time quantized to int8 (quantize.c),
 * calibrated on two random samples: its emitted C, run the same way, must
 * EQUAL the int8 interpreter when every op is int8 (integer arithmetic
 * only: docs/quantization.md) and otherwise run without a fault.
 */
#define _GNU_SOURCE               /* MAP_ANONYMOUS */

#include <libtcc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef FUZZ_TCC_LIBDIR
#define FUZZ_TCC_LIBDIR "/usr/lib/x86_64-linux-gnu/tcc"
#endif

/* Caps on one input: text bytes, parameters, floats of activations and
 * io, and multiply-adds; beyond them a model is only compiled. */
enum { PIPE_MAX_TEXT = 16384, PIPE_MAX_WEIGHTS = 1 << 16, PIPE_MAX_FLOATS = 1 << 18 };
#define PIPE_MAX_WORK (1LL << 21)
#define PIPE_TOLERANCE 1e-5

typedef void (*RunWs)(const float *input, float *output, void *arena);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* ---- what a graph costs to run ---- */

static long long op_work(const Graph *g, const Op *op)
{
    long long out = g->t[op->out].numel, in = g->t[op->in[0]].numel;
    const Window *w = &op->win;
    switch (op->kind) {
    case OP_CONV:
        return out * (g->t[op->in[0]].shape.dim[0] / (op->groups > 0 ? op->groups : 1)) *
               w->kh * w->kw;
    case OP_MAXPOOL:
    case OP_AVGPOOL: return out * w->kh * w->kw;
    case OP_DENSE: return out * in;
    default: return out * (op->nin + 1);
    }
}

static int graph_affordable(const Graph *g)
{
    long long work = 0, floats = 0;
    for (int i = 0; i < g->nops; i++)
        work += op_work(g, &g->ops[i]);
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].role != TR_WEIGHT)
            floats += g->t[i].numel;
    const long long batch = g->batch > 1 ? g->batch : 1;   /* samples run one by one */
    return work * batch <= PIPE_MAX_WORK && floats + (batch - 1) * (g->t[g->input].numel +
           g->t[g->output].numel) <= PIPE_MAX_FLOATS &&
           fuzz_graph_weights(g) <= PIPE_MAX_WEIGHTS;
}

/* ---- buffers between guard pages ---- */

typedef struct Guarded {
    unsigned char *map;
    size_t maplen, slack;   /* slack: canary bytes before p, in the same page */
    float *p;               /* nbytes, ending where the guard page begins */
} Guarded;

enum { CANARY = 0xa5 };

static void guarded_alloc(Guarded *g, size_t nbytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (nbytes + page - 1) / page * page;
    if (body == 0)
        body = page;
    g->maplen = body + 2 * page;
    g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED)
        fuzz_fail("mmap of %zu bytes failed", g->maplen);
    if (mprotect(g->map, page, PROT_NONE) || mprotect(g->map + page + body, page, PROT_NONE))
        fuzz_fail("mprotect failed");
    g->slack = body - nbytes;
    memset(g->map + page, CANARY, g->slack);
    g->p = (float *)(void *)(g->map + page + g->slack);
}

static void guarded_check(const Guarded *g, const char *what)
{
    const unsigned char *s = g->map + (size_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < g->slack; i++)
        if (s[i] != CANARY)
            fuzz_fail("emitted code wrote %zu bytes before its %s", g->slack - i, what);
}

static void guarded_free(Guarded *g)
{
    munmap(g->map, g->maplen);
}

/* ---- libtcc ---- */

static void tcc_message(void *user, const char *msg)
{
    buf_puts(user, msg);
    buf_putc(user, '\n');
}

static _Noreturn void tcc_failed(const Buf *msgs, const Buf *src)
{
    fprintf(stderr, "---- emitted C (%zu bytes) ----\n%.*s\n", src->len,
            (int)(src->len < 65536 ? src->len : 65536), src->data);
    fuzz_fail("tcc: %s", msgs->data ? msgs->data : "(no message)");
}

/* Compiles src in memory; returns the state and the _run_ws function. */
static TCCState *tcc_build(const Buf *src, const char *prefix, RunWs *fn)
{
    Buf msgs;
    buf_init(&msgs);
    TCCState *s = tcc_new();
    if (!s)
        fuzz_fail("tcc_new failed");
    tcc_set_lib_path(s, FUZZ_TCC_LIBDIR);
    tcc_set_error_func(s, &msgs, tcc_message);
    tcc_set_options(s, "-Wall");
    tcc_set_output_type(s, TCC_OUTPUT_MEMORY);
    if (tcc_compile_string(s, src->data) != 0 || msgs.len ||
        tcc_relocate(s, TCC_RELOCATE_AUTO) < 0)
        tcc_failed(&msgs, src);
    char name[256];
    snprintf(name, sizeof name, "%s_run_ws", prefix);
    void *sym = tcc_get_symbol(s, name);
    if (!sym)
        fuzz_fail("tcc: no symbol %s", name);
    memcpy(fn, &sym, sizeof *fn);        /* object to function pointer */
    buf_free(&msgs);
    return s;
}

/* The C file with its #include "fuzz_model.h" replaced by the header's
 * text: one string for tcc, and no file anywhere. */
static void emit_source(Compilation *c, Buf *src)
{
    static const char include[] = "#include \"fuzz_model.h\"\n";
    Buf cbuf, hbuf;
    buf_init(&cbuf);
    buf_init(&hbuf);
    EmitOptions eo = { .prefix = c->graph->name, .header_name = "fuzz_model.h" };
    emit_c(&c->ctx, c->graph, &eo, &cbuf, &hbuf);
    const char *at = cbuf.data ? strstr(cbuf.data, include) : NULL;
    if (!at)
        fuzz_fail("emitted C does not include its header");
    size_t head = (size_t)(at - cbuf.data), skip = head + sizeof include - 1;
    buf_put(src, cbuf.data, head);
    buf_put(src, hbuf.data, hbuf.len);
    buf_put(src, cbuf.data + skip, cbuf.len - skip);
    buf_free(&cbuf);
    buf_free(&hbuf);
}

/* ---- comparing results ---- */

static int same_value(float a, float b)
{
    return a == b || (isnan(a) && isnan(b));
}

static void compare_tolerant(const float *ref, const float *got, long long n,
                             const char *what)
{
    float big = 0.0f;
    for (long long i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabsf(ref[i]) > big)
            big = fabsf(ref[i]);
    double tol = PIPE_TOLERANCE * big;
    for (long long i = 0; i < n; i++) {
        int ok = isfinite(ref[i]) ? fabs((double)got[i] - ref[i]) <= tol
                                  : same_value(ref[i], got[i]);
        if (!ok)
            fuzz_fail("%s and the -O0 interpreter differ at %lld: %.9g vs %.9g (tolerance %.3g)",
                      what, i, (double)got[i], (double)ref[i], tol);
    }
}

/* The int8 scheme is exact integer arithmetic: where every op but the
 * input's quantize and the result's dequantize is int8, the C and the
 * interpreter agree to the bit. */
static int all_int8(const Graph *g)
{
    for (int i = 0; i < g->nops; i++) {
        const OpKind k = g->ops[i].kind;
        if (k != OP_QUANTIZE && k != OP_DEQUANTIZE && g->t[g->ops[i].out].dtype != DT_I8)
            return 0;
    }
    return 1;
}

static void compare_exact(const float *ref, const float *got, long long n, const char *what)
{
    for (long long i = 0; i < n; i++)
        if (!same_value(ref[i], got[i]))
            fuzz_fail("%s and the int8 interpreter differ at %lld: %.9g vs %.9g", what, i, (double)got[i],
                      (double)ref[i]);
}

/* ---- the run ---- */

static float *interp_output(const Graph *g, const float *input)
{
    float *out = malloc((size_t)graph_run_floats(g, g->output) * sizeof *out + 1);
    if (!out || interp_run(g, input, out) != 0)
        fuzz_fail("out of memory in the interpreter");
    return out;
}

static void random_input(Guarded *in, long long n, unsigned long long seed)
{
    for (long long i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        in->p[i] = (float)(seed >> 40) * (4.0f / 16777216.0f) - 2.0f;
    }
    if (mprotect(in->map, in->maplen - (size_t)sysconf(_SC_PAGESIZE), PROT_READ))
        fuzz_fail("mprotect failed");
}

static void run_emitted(Compilation *opt, const Guarded *in, const float *ref, int exact)
{
    const Graph *g = opt->graph;
    long long nout = graph_run_floats(g, g->output);
    Buf src;
    buf_init(&src);
    emit_source(opt, &src);
    RunWs run;
    TCCState *s = tcc_build(&src, g->name, &run);
    Guarded out, arena;
    guarded_alloc(&out, (size_t)nout * sizeof(float));
    guarded_alloc(&arena, (size_t)g->arena_floats * sizeof(float));
    run(in->p, out.p, arena.p);
    guarded_check(&out, "output");
    guarded_check(&arena, "arena");
    if (exact)
        compare_exact(ref, out.p, nout, "the emitted int8 C");
    else if (!opt->graph->quantized)
        compare_tolerant(ref, out.p, nout, "the emitted C");
    guarded_free(&out);
    guarded_free(&arena);
    tcc_delete(s);
    buf_free(&src);
}

static void run_both(Compilation *o0, Compilation *opt, unsigned long long seed)
{
    const Graph *g = o0->graph;
    /* a batch of N samples: N inputs in, N outputs out */
    long long nin = graph_run_floats(g, g->input), nout = graph_run_floats(g, g->output);
    if (graph_run_floats(opt->graph, opt->graph->output) != nout ||
        graph_run_floats(opt->graph, opt->graph->input) != nin)
        fuzz_fail("-O0 and optimized graphs have different input or output sizes");
    Guarded in;
    guarded_alloc(&in, (size_t)nin * sizeof(float));
    random_input(&in, nin, seed);
    float *ref = interp_output(g, in.p), *ref_opt = interp_output(opt->graph, in.p);
    compare_tolerant(ref, ref_opt, nout, "the interpreter on the optimized graph");
    run_emitted(opt, &in, ref, 0);
    guarded_check(&in, "input");
    free(ref);
    free(ref_opt);
    guarded_free(&in);
}

enum { QUANT_SAMPLES = 2 };

/* data compiled with int8 quantization, calibrated on random samples of
 * the input o0 has; its emitted C against its int8 interpreter. */
static void run_quantized(const uint8_t *data, size_t size, const Graph *o0, unsigned long long seed)
{
    const long long nin = o0->t[o0->input].numel, nout = o0->t[o0->output].numel;
    Guarded cal, in;
    guarded_alloc(&cal, (size_t)(QUANT_SAMPLES * nin) * sizeof(float));
    random_input(&cal, QUANT_SAMPLES * nin, seed ^ 0x5bd1e995ULL);
    QuantRequest qr = { cal.p, QUANT_SAMPLES, NULL, 0 };
    FuzzCaps caps = { PIPE_MAX_WEIGHTS, (int)(seed & 1), &qr };
    Compilation q;
    compilation_init(&q, NULL, NULL);
    if (fuzz_compile(&q, data, size, &caps) == 0) {
        if (!q.graph->quantized || graph_run_floats(q.graph, q.graph->output) != nout)
            fuzz_fail("the quantized graph is not int8, or its output size changed");
        guarded_alloc(&in, (size_t)nin * sizeof(float));
        random_input(&in, nin, seed);
        float *ref = interp_output(q.graph, in.p);
        run_emitted(&q, &in, ref, all_int8(q.graph));
        guarded_check(&in, "input");
        free(ref);
        guarded_free(&in);
    }
    compilation_free(&q);
    guarded_free(&cal);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > PIPE_MAX_TEXT)
        return 0;
    Compilation o0, opt;
    compilation_init(&o0, NULL, NULL);
    compilation_init(&opt, NULL, NULL);
    FuzzCaps caps0 = { PIPE_MAX_WEIGHTS, 1, NULL }, caps = { PIPE_MAX_WEIGHTS, 0, NULL };
    /* Refused before the passes: the optimized build would repeat the same
     * steps (most fuzzed inputs; skipping it doubles the rate). */
    int r0 = fuzz_compile(&o0, data, size, &caps0);
    int r = r0 == FUZZ_REFUSED_EARLY ? r0 : fuzz_compile(&opt, data, size, &caps);
    if (r0 != r)
        fuzz_fail("-O0 %s the model, the optimized build %s it", r0 ? "refused" : "accepted",
                  r ? "refused" : "accepted");
    if (r == 0 && graph_affordable(o0.graph)) {
        run_both(&o0, &opt, fuzz_hash(data, size));
        if (o0.graph->batch <= 1)
            run_quantized(data, size, o0.graph, fuzz_hash(data, size));
    }
    compilation_free(&o0);
    compilation_free(&opt);
    return 0;
}
