/* bandwidth.c: measures one core's memory bandwidth (GB/s), the roofline's
 * slope (docs/performance.md, "Roofline").
 *
 * Built by bench.py with gcc -O3 -march=native; produces two lines,
 * "bandwidth level=dram bytes=.. gbs=.. median_gbs=.." and the same for
 * level=cache. Each runs the STREAM triad a[i] = b[i] + s * c[i] over
 * three float arrays: for dram, 3 x 64 MiB, several times any L3 of today,
 * so every pass streams from memory; for cache, 3 x 192 KiB, which stays in
 * a 1 MiB L2 (in L3 on cores with a smaller L2). Bytes are counted as
 * STREAM counts them, 12 per element (two loads, one store; the store's
 * write-allocate read is not counted). The fastest sample is reported,
 * as STREAM and peak.c do.
 */
#include "timing.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct Triad {
    float *a, *b, *c;
    long n;
} Triad;

static void triad(void *ctx)
{
    Triad *t = ctx;
    float *restrict a = t->a;
    const float *restrict b = t->b, *restrict c = t->c;
    const float s = 3.0f;
    for (long i = 0; i < t->n; ++i)
        a[i] = b[i] + s * c[i];
}

static float *filled(long n, float v)
{
    float *p = aligned_alloc(64, (size_t)n * sizeof *p);
    if (p)
        for (long i = 0; i < n; ++i)   /* touches every page before timing */
            p[i] = v;
    return p;
}

/* Times the triad over three arrays of n floats; prints one line. */
static int measure(const char *level, long n, const BenchOpts *o)
{
    Triad t = {filled(n, 0.0f), filled(n, 1.0f), filled(n, 2.0f), n};
    int rc = -1;
    BenchStats st;
    if (t.a && t.b && t.c && bench_measure(triad, &t, o, &st) == 0) {
        double bytes = 12.0 * (double)n;
        printf("bandwidth level=%s bytes=%.0f gbs=%.1f median_gbs=%.1f check=%g\n", level,
               3.0 * 4.0 * (double)n, bytes / st.min_ns, bytes / st.median_ns,
               (double)t.a[n - 1]);
        rc = 0;
    }
    free(t.a);
    free(t.b);
    free(t.c);
    return rc;
}

int main(int argc, char **argv)
{
    BenchOpts o = {-1, 0.5, 0.1, 10, NULL, NULL, NULL};
    for (int i = 1; i < argc;) {
        int used = bench_opts_parse(&o, argc, argv, i);
        if (used <= 0) {
            fprintf(stderr, "usage: bandwidth [--cpu N] [--seconds S] [--warmup S]\n");
            return 2;
        }
        i += used;
    }
    if (bench_pin(&o) < 0)
        return 1;
    if (measure("dram", 16L << 20, &o) < 0 || measure("cache", 48L << 10, &o) < 0) {
        fprintf(stderr, "bandwidth: out of memory\n");
        return 1;
    }
    return 0;
}
