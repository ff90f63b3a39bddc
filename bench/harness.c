/* harness.c: times one generated model (cnnc ... --name bm) in-process.
 *
 * Consumes bm.h/bm.c (linked in), an optional raw float32 input file and
 * timing options; produces the model's output (--output, for the driver's
 * correctness check), "run median_us=..." on stdout and, with --samples
 * FILE, every sample's us in FILE (bench.py pools its rounds). Built with
 * -DBENCH_LAYERS against bm_layers.c, the same C with each op function's
 * call wrapped by bench.py in bench_layer_begin/end, it prints one
 * "layer K median_us=..." line per op instead: the per-layer profile.
 */
#include "bm.h"
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Run {
    const float *in;
    float *out;
} Run;

static void run_model(void *ctx)
{
    Run *r = ctx;
    bm_run(r->in, r->out);
}

#ifdef BENCH_LAYERS
void bench_layer_begin(void);
void bench_layer_end(int k);

enum { MAX_LAYERS = 4096, MAX_RUNS = 20000 };

/* The instrumented model calls in without a context argument (its run
 * function's signature is fixed), so the per-run clock is file state. */
static struct {
    double t0;
    double ns[MAX_LAYERS];   /* this run's time in each op */
    int nops;                /* highest op index seen + 1 */
} layer_clock;

void bench_layer_begin(void)
{
    layer_clock.t0 = bench_now_ns();
}

void bench_layer_end(int k)
{
    double t = bench_now_ns();
    if (k < 0 || k >= MAX_LAYERS)
        return;
    layer_clock.ns[k] += t - layer_clock.t0;
    if (k >= layer_clock.nops)
        layer_clock.nops = k + 1;
}

static void run_layers_once(Run *r)
{
    memset(layer_clock.ns, 0, sizeof layer_clock.ns);
    run_model(r);
}

/* One sample per run and op; the median per op over runs. */
static int time_layers(Run *r, const BenchOpts *o)
{
    double start = bench_now_ns();
    while (bench_now_ns() - start < o->warmup * 1e9)
        run_layers_once(r);
    run_layers_once(r);
    int nops = layer_clock.nops, n = 0;
    double *v = malloc((size_t)MAX_RUNS * (size_t)(nops ? nops : 1) * sizeof *v);
    if (!v)
        return -1;
    start = bench_now_ns();
    while (n < MAX_RUNS && (n < o->min_samples || bench_now_ns() - start < o->seconds * 1e9)) {
        run_layers_once(r);
        for (int k = 0; k < nops; ++k)
            v[(size_t)k * MAX_RUNS + (size_t)n] = layer_clock.ns[k];
        ++n;
    }
    for (int k = 0; k < nops; ++k)
        printf("layer %d median_us=%.3f samples=%d\n", k,
               bench_median(v + (size_t)k * MAX_RUNS, n) * 1e-3, n);
    free(v);
    return 0;
}
#endif

static int time_model(Run *r, const BenchOpts *o)
{
#ifdef BENCH_LAYERS
    return time_layers(r, o);
#else
    BenchStats st;
    if (bench_measure(run_model, r, o, &st) < 0)
        return -1;
    bench_print("run", &st);
    return 0;
#endif
}

/* A fixed input when the driver gives none: values in [-1, 1). */
static void fill_input(float *x, long n)
{
    unsigned s = 12345u;
    for (long i = 0; i < n; ++i) {
        s = s * 1103515245u + 12345u;
        x[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: harness [--input X.f32] [--output Y.f32] [--cpu N] "
                    "[--seconds S] [--warmup S] [--min-samples N] [--samples FILE]\n");
    return 2;
}

static int parse_args(BenchOpts *o, int argc, char **argv)
{
    for (int i = 1; i < argc;) {
        int used = bench_opts_parse(o, argc, argv, i);
        if (used <= 0)
            return -1;
        i += used;
    }
    return 0;
}

int main(int argc, char **argv)
{
    BenchOpts o = BENCH_OPTS_DEFAULT;
    if (parse_args(&o, argc, argv) < 0)
        return usage();
    float *in = malloc(BM_INPUT_SIZE * sizeof *in), *out = malloc(BM_OUTPUT_SIZE * sizeof *out);
    if (!in || !out)
        return 1;
    if (o.in_path && bench_read_f32(o.in_path, in, BM_INPUT_SIZE) < 0)
        return 1;
    if (!o.in_path)
        fill_input(in, BM_INPUT_SIZE);
    Run r = {in, out};
    if (bench_pin(&o) < 0)
        return 1;
    run_model(&r);   /* the output of the first run is the one checked */
    if (o.out_path && bench_write_f32(o.out_path, out, BM_OUTPUT_SIZE) < 0)
        return 1;
    int rc = time_model(&r, &o);
    free(in);
    free(out);
    return rc < 0;
}
