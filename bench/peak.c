/* peak.c: measures one core's peak float32 FMA rate (GFLOP/s).
 *
 * Built by bench.py with gcc -O3 -march=native (and once more with
 * -mno-avx512f, for the AVX2 figure); produces "peak gflops=.. isa=..
 * lanes=.. accumulators=..". The loop keeps ACC independent vector
 * accumulators, each updated by acc = acc * a + b, which gcc contracts to
 * one FMA (GNU C's default -ffp-contract=fast): 12 chains cover the FMA
 * latency (4 cycles) times the FMA pipes (2) of current x86 cores with room
 * to spare, and 12 + 2 vectors still fit AVX2's 16 registers. GCC vector
 * extensions make the width explicit without intrinsics.
 */
#include "timing.h"

#include <stdio.h>

#if defined(__AVX512F__)
#define VEC_BYTES 64
#define ISA "AVX-512"
#elif defined(__AVX2__) && defined(__FMA__)
#define VEC_BYTES 32
#define ISA "AVX2+FMA"
#elif defined(__AVX__)
#define VEC_BYTES 32
#define ISA "AVX (no FMA)"
#else
#define VEC_BYTES 16
#define ISA "SSE/NEON-width"
#endif

enum { LANES = VEC_BYTES / 4, ACC = 12, TRIALS = 15 };
typedef float vf __attribute__((vector_size(VEC_BYTES)));

typedef struct Probe {
    long iters;
    float sink;        /* the result, so the loop is not dead code */
} Probe;

static vf splat(float x)
{
    vf v;
    for (int i = 0; i < LANES; ++i)
        v[i] = x;
    return v;
}

#define STEP(k) acc##k = acc##k * a + b
static void fma_loop(void *ctx)
{
    Probe *p = ctx;
    volatile float va = 0.999999f, vb = 1e-7f, vc = 1e-3f;   /* unknown to gcc */
    vf a = splat(va), b = splat(vb), c = splat(vc);
    /* Distinct starting values: equal chains would be computed once. */
    vf acc0 = c, acc1 = c * 2, acc2 = c * 3, acc3 = c * 4, acc4 = c * 5, acc5 = c * 6;
    vf acc6 = c * 7, acc7 = c * 8, acc8 = c * 9, acc9 = c * 10, acc10 = c * 11, acc11 = c * 12;
    for (long i = 0; i < p->iters; ++i) {
        STEP(0); STEP(1); STEP(2); STEP(3); STEP(4); STEP(5);
        STEP(6); STEP(7); STEP(8); STEP(9); STEP(10); STEP(11);
    }
    vf s = acc0 + acc1 + acc2 + acc3 + acc4 + acc5 + acc6 + acc7 + acc8 + acc9 + acc10 + acc11;
    for (int i = 0; i < LANES; ++i)
        p->sink += s[i];
}

int main(int argc, char **argv)
{
    BenchOpts o = {-1, 0.3, 0.1, TRIALS, NULL, NULL, NULL};
    for (int i = 1; i < argc;) {
        int used = bench_opts_parse(&o, argc, argv, i);
        if (used <= 0) {
            fprintf(stderr, "usage: peak [--cpu N] [--seconds S] [--warmup S]\n");
            return 2;
        }
        i += used;
    }
    if (bench_pin(&o) < 0)
        return 1;
    Probe p = {200000, 0};   /* 200k * 12 FMAs: ~0.1-1 ms per call */
    BenchStats st;
    if (bench_measure(fma_loop, &p, &o, &st) < 0)
        return 1;
    double flops = 2.0 * LANES * ACC * (double)p.iters;
    printf("peak gflops=%.1f median_gflops=%.1f isa=%s lanes=%d accumulators=%d sink=%g\n",
           flops / st.min_ns, flops / st.median_ns, ISA, LANES, ACC, (double)p.sink);
    return 0;
}
