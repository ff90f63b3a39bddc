/* interp_bench.c: times the reference interpreter in-process.
 *
 * Consumes a .cnn model (loaded, checked and weight-bound once through the
 * public API, cnnc.h), an optional raw float32 input and timing options;
 * produces the interpreter's output (--output: the reference the driver
 * checks every other engine against) and "run median_us=..." on stdout.
 * What is timed is cnnc_model_interp() alone: no parsing, no file I/O.
 */
#include "cnnc.h"
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Run {
    const cnnc_model *m;
    const float *in;
    float *out;
    int failed;
} Run;

static void run_interp(void *ctx)
{
    Run *r = ctx;
    if (cnnc_model_interp(r->m, r->in, r->out) != 0)
        r->failed = 1;
}

typedef struct Args {
    BenchOpts o;
    const char *model;
} Args;

static int parse_args(Args *a, int argc, char **argv)
{
    for (int i = 1; i < argc;) {
        int used = bench_opts_parse(&a->o, argc, argv, i);
        if (used < 0)
            return -1;
        if (used == 0 && argv[i][0] != '-' && !a->model)
            a->model = argv[i], used = 1;
        if (used == 0)
            return -1;
        i += used;
    }
    return a->model ? 0 : -1;
}

static cnnc_model *load_model(const char *path)
{
    cnnc_model *m = cnnc_model_from_file(path, NULL);
    if (!m || cnnc_model_errors(m) == 0)
        return m;
    for (size_t i = 0; i < cnnc_model_diag_count(m); ++i)
        fputs(cnnc_model_diag(m, i)->text, stderr);
    cnnc_model_free(m);
    return NULL;
}

static int bench_model(const cnnc_model *m, const Args *a, float *in, float *out)
{
    long nin = (long)cnnc_model_input_size(m), nout = (long)cnnc_model_output_size(m);
    if (a->o.in_path && bench_read_f32(a->o.in_path, in, nin) < 0)
        return -1;
    for (long i = 0; !a->o.in_path && i < nin; ++i)
        in[i] = (float)(i % 17) / 8.0f - 1.0f;
    Run r = {m, in, out, 0};
    if (bench_pin(&a->o) < 0)
        return -1;
    run_interp(&r);
    if (a->o.out_path && bench_write_f32(a->o.out_path, out, nout) < 0)
        return -1;
    BenchStats st;
    if (bench_measure(run_interp, &r, &a->o, &st) < 0 || r.failed) {
        fprintf(stderr, "interp_bench: the interpreter failed (out of memory)\n");
        return -1;
    }
    bench_print("run", &st);
    return 0;
}

int main(int argc, char **argv)
{
    Args a = {BENCH_OPTS_DEFAULT, NULL};
    if (parse_args(&a, argc, argv) < 0) {
        fprintf(stderr, "usage: cnnc_bench_interp MODEL.cnn [--input X.f32] [--output Y.f32] "
                        "[--cpu N] [--seconds S] [--warmup S] [--min-samples N] "
                        "[--samples FILE]\n");
        return 2;
    }
    cnnc_model *m = load_model(a.model);
    if (!m)
        return 1;
    float *in = malloc(cnnc_model_input_size(m) * sizeof *in);
    float *out = malloc(cnnc_model_output_size(m) * sizeof *out);
    int rc = in && out ? bench_model(m, &a, in, out) : -1;
    free(in);
    free(out);
    cnnc_model_free(m);
    return rc < 0;
}
