/* timing.c: pin, warm up, time many samples, take the median.
 *
 * Consumes a BenchFn and BenchOpts (see timing.h); produces BenchStats and
 * key=value lines on stdout that bench.py parses. Every sample is timed
 * with clock_gettime(CLOCK_MONOTONIC); the median, not the mean, is the
 * result, because a shared machine adds one-sided noise (preemption).
 */
#define _GNU_SOURCE
#include "timing.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_SAMPLES = 1 << 20 };
static const double SAMPLE_NS = 100e3;   /* shortest sample: 100 us */

static int opt_value(int argc, char **argv, int i, double *v)
{
    char *end;
    if (i + 1 >= argc) {
        fprintf(stderr, "bench: %s needs a value\n", argv[i]);
        return -1;
    }
    *v = strtod(argv[i + 1], &end);
    if (*end) {
        fprintf(stderr, "bench: %s: not a number: %s\n", argv[i], argv[i + 1]);
        return -1;
    }
    return 0;
}

int bench_opts_parse(BenchOpts *o, int argc, char **argv, int i)
{
    static const char *const names[] = {"--cpu", "--seconds", "--warmup", "--min-samples"};
    double v;
    const char **path = strcmp(argv[i], "--input") == 0    ? &o->in_path
                        : strcmp(argv[i], "--output") == 0  ? &o->out_path
                        : strcmp(argv[i], "--samples") == 0 ? &o->samples_path
                                                            : NULL;
    if (path) {
        if (i + 1 >= argc) {
            fprintf(stderr, "bench: %s needs a file name\n", argv[i]);
            return -1;
        }
        *path = argv[i + 1];
        return 2;
    }
    for (int k = 0; k < 4; ++k) {
        if (strcmp(argv[i], names[k]) != 0)
            continue;
        if (opt_value(argc, argv, i, &v) < 0)
            return -1;
        if (k == 0)
            o->cpu = (int)v;
        else if (k == 1)
            o->seconds = v;
        else if (k == 2)
            o->warmup = v;
        else
            o->min_samples = (int)v;
        return 2;
    }
    return 0;
}

static int last_allowed_cpu(void)
{
    cpu_set_t set;
    int last = 0;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 0;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set))
            last = c;
    return last;
}

int bench_pin(const BenchOpts *o)
{
    int cpu = o->cpu >= 0 ? o->cpu : last_allowed_cpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        fprintf(stderr, "bench: cannot pin to cpu %d: %s\n", cpu, strerror(errno));
        return -1;
    }
    return cpu;
}

double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Runs fn for the warm-up budget (caches, branch predictors, page faults
 * of the arena and weights, CPU clock ramp); returns ns per call. */
static double bench_warm_up(BenchFn fn, void *ctx, const BenchOpts *o)
{
    double t0 = bench_now_ns(), t = t0;
    long n = 0;
    while (n < 2 || t - t0 < o->warmup * 1e9) {
        fn(ctx);
        ++n;
        t = bench_now_ns();
    }
    return (t - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Every sample in us, one a line, in the order taken. */
static int bench_write_samples(const char *path, const double *v, int n)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; ++i)
        fprintf(f, "%.4f\n", v[i] * 1e-3);
    if (fclose(f) != 0) {
        fprintf(stderr, "bench: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

static void bench_summarize(double *v, int n, BenchStats *st)
{
    st->median_ns = bench_median(v, n);   /* sorts v */
    st->min_ns = v[0];
    st->p10_ns = v[n / 10];
    st->p90_ns = v[n - 1 - n / 10];
    st->samples = n;
}

int bench_measure(BenchFn fn, void *ctx, const BenchOpts *o, BenchStats *st)
{
    double per_call = bench_warm_up(fn, ctx, o);
    int batch = per_call >= SAMPLE_NS ? 1 : (int)(SAMPLE_NS / per_call) + 1;
    int cap = MAX_SAMPLES, n = 0, min = o->min_samples < 1 ? 1 : o->min_samples;
    double *v = malloc((size_t)cap * sizeof *v);
    if (!v)
        return -1;
    double start = bench_now_ns(), t = start;
    while (n < cap && (n < min || t - start < o->seconds * 1e9)) {
        double t0 = t;
        for (int k = 0; k < batch; ++k)
            fn(ctx);
        t = bench_now_ns();
        v[n++] = (t - t0) / batch;
    }
    st->batch = batch;
    int rc = o->samples_path ? bench_write_samples(o->samples_path, v, n) : 0;
    bench_summarize(v, n, st);   /* sorts v */
    free(v);
    return rc;
}

void bench_print(const char *label, const BenchStats *st)
{
    printf("%s median_us=%.3f min_us=%.3f p10_us=%.3f p90_us=%.3f samples=%d batch=%d\n",
           label, st->median_ns * 1e-3, st->min_ns * 1e-3, st->p10_ns * 1e-3,
           st->p90_ns * 1e-3, st->samples, st->batch);
}

int bench_read_f32(const char *path, float *dst, long n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t got = fread(dst, sizeof *dst, (size_t)n, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != (size_t)n || extra) {
        fprintf(stderr, "bench: %s: expected exactly %ld float32 values\n", path, n);
        return -1;
    }
    return 0;
}

int bench_write_f32(const char *path, const float *src, long n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t put = fwrite(src, sizeof *src, (size_t)n, f);
    if (fclose(f) != 0 || put != (size_t)n) {
        fprintf(stderr, "bench: %s: write failed\n", path);
        return -1;
    }
    return 0;
}
