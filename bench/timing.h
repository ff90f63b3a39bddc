/* timing.h: the measurement core shared by the benchmark's C programs.
 *
 * Consumes a function to time (one inference) and a time budget; produces
 * the median (and spread) of many timed samples, taken on one pinned core
 * with CLOCK_MONOTONIC after a warm-up. Used by harness.c (generated code),
 * interp_bench.c (the reference interpreter) and peak.c (pinning only).
 */
#ifndef CNNC_BENCH_TIMING_H
#define CNNC_BENCH_TIMING_H

typedef void (*BenchFn)(void *ctx);

typedef struct BenchOpts {
    int cpu;              /* core to pin to; -1: the last core we may use */
    double seconds;       /* measuring budget, after the warm-up */
    double warmup;        /* warm-up budget, seconds */
    int min_samples;      /* at least this many samples, budget or not */
    const char *in_path;  /* --input X.f32, or NULL */
    const char *out_path; /* --output Y.f32, or NULL */
    const char *samples_path; /* --samples FILE: every sample's us, or NULL */
} BenchOpts;

#define BENCH_OPTS_DEFAULT {-1, 1.0, 0.2, 15, NULL, NULL, NULL}

typedef struct BenchStats {
    double median_ns, min_ns, p10_ns, p90_ns;  /* per inference */
    int samples;          /* timed samples */
    int batch;            /* inferences per sample (fast models run many) */
} BenchStats;

/* The option at argv[i], if it is one of --cpu N --seconds S --warmup S
 * --min-samples N --input X.f32 --output Y.f32 --samples FILE (other
 * arguments are left for the caller). Returns the argc handled (0: not ours), or -1 after
 * printing a usage error. */
int bench_opts_parse(BenchOpts *o, int argc, char **argv, int i);
/* Pins the calling thread to o->cpu (resolving -1). Returns the core, or -1
 * after a message on stderr when the kernel refused. */
int bench_pin(const BenchOpts *o);
double bench_now_ns(void);
/* Warms up, picks a batch so one sample lasts >= ~100 us (clock overhead
 * under 0.1%), then times samples until the budget and min_samples are
 * both met. With o->samples_path, writes every sample (us per inference,
 * one a line, in the order taken) there: bench.py pools the samples of
 * several runs. Returns 0, or -1 when out of memory or the file fails. */
int bench_measure(BenchFn fn, void *ctx, const BenchOpts *o, BenchStats *st);
/* The median of n values (sorts v in place); 0 for n == 0. */
double bench_median(double *v, int n);
/* "median_us=.. min_us=.. p10_us=.. p90_us=.. samples=.. batch=..\n" */
void bench_print(const char *label, const BenchStats *st);

/* Raw little-endian float32 files (the driver writes and reads them with
 * numpy). Return 0 ok, -1 after a message on stderr. */
int bench_read_f32(const char *path, float *dst, long n);
int bench_write_f32(const char *path, const float *src, long n);

#endif
