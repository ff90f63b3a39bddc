/* passes.h: the optimizer and planner: pass.c runs the passes of
 * fold_bn.c, fuse.c, pack.c, pad.c, concat_view.c, inplace.c and plan.c in
 * order, checking each one's contract (docs/passes.md). Sees the IR only. */
#ifndef CNNC_PASSES_H
#define CNNC_PASSES_H

#include "ir.h"

/* ---- target.c: the machines code is written for (docs/targets.md) ---- */
typedef enum {
    ISA_AVX2 = 1,      /* x86-64-v3: AVX2 + FMA, 8 lanes */
    ISA_AVX512 = 2,    /* x86-64-v4: AVX-512F, 16 lanes */
    ISA_NEON = 4,      /* aarch64: NEON (Advanced SIMD), 4 lanes */
} IsaBit;
enum { ISA_ALL = ISA_AVX2 | ISA_AVX512 | ISA_NEON };

/* One SIMD variant of the emitted kernels: everything the emitter needs
 * to write, guard and choose it. */
typedef struct Isa {
    IsaBit bit;
    const char *name;  /* its functions' suffix: "avx2" */
    const char *guard; /* the macro that is 1 where it compiles: "CNNC_AVX2";
                          NULL: portable C (named scalar accumulators) */
    const char *arch;  /* where it compiles: "defined(__x86_64__)" */
    const char *features; /* its functions' target attribute: "avx2,fma";
                             "": none (NEON is in every aarch64 CPU) */
    const char *cpu_test; /* C expression: the running CPU has it; NULL: every
                             CPU of arch does (the portable code is left out) */
    int lanes;         /* floats per vector register */
    int vregs;         /* vector registers */
    int blocked_px;    /* pixels of a KV_CONV_BLOCKED tile (channels in lanes) */
    int pixel_vecs;    /* KV_CONV_PIXELS tile: vectors of pixels ... */
    int pixel_ch;      /* ... x channels (divides the block) */
    int wide_lanes;    /* floats per vector of a KV_CONV_ROWS tile on a plane
                          run as one wide row (small maps; docs/targets.md) */
} Isa;

typedef struct Target {
    const char *name;  /* --target=NAME */
    const char *summary;
    int block;         /* output channels per packed conv block (a multiple of
                          every variant's lanes) */
    int conv_xb;       /* pixels of the portable KV_CONV_BLOCKED tile */
    int pixels_min_ow; /* KV_CONV_PIXELS from this output width on (0: never) */
    unsigned isas;     /* IsaBit: the SIMD variants written beside portable C */
    int scalar_tiles;  /* portable tiles as named scalars (target_portable_isa) */
} Target;
const Target *target_default(void);           /* "auto" */
const Target *target_find(const char *name);  /* NULL: no such target */
const Target *target_at(int i);               /* the i-th, NULL past the end */
const Isa *isa_at(int i);   /* in order of preference; NULL past the end */
/* How the portable variant's kernels are written: NULL, loops over
 * arrays (gcc vectorizes them for its -march); or a one-lane Isa. */
const Isa *target_portable_isa(const Target *t);

/* ---- pass.c: the pass pipeline ---- */
typedef struct PassOptions {
    int no_opt;        /* only the passes the backend needs (plan); with
                          quant, fold_bn and fuse still run (quantize.c) */
    const QuantRequest *quant;  /* --quantize int8: the calibration; NULL: none */
} PassOptions;
/* Runs the pipeline on g, verifying the graph after each pass. 0 ok. */
int pass_run_all(Ctx *ctx, Graph *g, const PassOptions *opt);
/* The pass names for --print-after: 0: "lower" (before any pass), then
 * each pass in order; NULL past the end. */
const char *pass_name(int i);
void fuse_run(Ctx *ctx, Graph *g);    /* fuse.c */
void fold_bn_run(Ctx *ctx, Graph *g); /* fold_bn.c */
void pack_run(Ctx *ctx, Graph *g);    /* pack.c */
void pad_run(Ctx *ctx, Graph *g);     /* pad.c */
int pad_in_kernel(const Graph *g, const Op *op);  /* pad.c: the kernel pads, no pad op */
/* pad.c: the borders of conv op's padded copy if its kernel were v: its own,
 * and for a Winograd conv of odd output height or width one more row below
 * or column to the right, the zeros its last tiles read past the map; the
 * shape of x padded by w's borders, rank 0 beyond the limits. */
Window pad_borders(const Graph *g, const Op *op, KernelVariant v);
Shape pad_shape(const Tensor *x, const Window *w);
void concat_view_run(Ctx *ctx, Graph *g); /* concat_view.c */
void inplace_run(Ctx *ctx, Graph *g); /* inplace.c */
void plan_run(Ctx *ctx, Graph *g);    /* plan.c */
/* quantize.c: with g->quant, rewrites the graph to int8 ops (docs/quantization.md). */
void quantize_run(Ctx *ctx, Graph *g);
/* calibrate.c: lo[t], hi[t] for every tensor t the interpreter computes,
 * over q's samples, widened to include 0. 0 ok, -1 out of memory. */
int calibrate_ranges(const Graph *g, const QuantRequest *q, float *lo, float *hi);
/* Returns 0 when no two tensors live at once share arena bytes; else -1
 * and a description of the first clash in msg. */
int plan_check(Ctx *ctx, const Graph *g, char *msg, size_t msglen);
/* The liveness optimum of a planned graph, in floats: the most activation
 * storage live at any one op, a lower bound for g->arena_floats. */
long long plan_lower_bound(Ctx *ctx, const Graph *g);
/* Activation floats live at each op of g (result[i] for ops[i]), in or
 * out of a plan: sets every tensor's first_op and last_op, as plan_run
 * does. */
long long *plan_live_floats(Ctx *ctx, Graph *g);
/* Width (floats per row) of block k of a KV_DENSE_BLOCKED layer of U units. */
int pack_dense_width(int U, int k);   /* pack.c */
/* pack_int8.c: a qconv2d's or qdense's Cortex-M int8 kernel and its
 * packed int8 weights (docs/quantization.md). */
void pack_int8_op(Ctx *ctx, Graph *g, Op *op);


#endif
