/* target.c: the machines cnnc writes code for (cnnc --target=NAME,
 * --print-targets; docs/targets.md). A Target says how pack.c lays out
 * weights and which code variants emit_c.c writes; an Isa says how one
 * SIMD variant's kernels are shaped (emit_simd.c). A new ISA is a new row
 * in each table, not edits across the kernels.
 *
 * Every file holds the portable C99 variant (what tcc, MSVC and firmware
 * compilers get); a target's SIMD variants sit beside it under #if guards
 * and share its one packed weight layout. Tile sizes follow the register
 * files: accumulators + the values one tap loads stay under the number of
 * vector registers, and there are at least 8 accumulators (two FMA pipes
 * x four cycles of latency) where the shape allows.
 */
#include <string.h>

#include "passes.h"

/* In order of preference: the dispatch tries them in this order. */
static const Isa isas[] = {
    { ISA_AVX512, "avx512", "CNNC_AVX512", "defined(__x86_64__)",
      "avx512f,avx2,fma", "__builtin_cpu_supports(\"avx512f\")",
      /* lanes regs blocked_px pixel_vecs pixel_ch wide_lanes */ 16, 32, 12, 2, 8, 8 },
    { ISA_AVX2, "avx2", "CNNC_AVX2", "defined(__x86_64__)",
      "avx2,fma", "__builtin_cpu_supports(\"avx2\") && __builtin_cpu_supports(\"fma\")", 8, 16, 6, 3, 4, 8 },
    { ISA_NEON, "neon", "CNNC_NEON", "defined(__aarch64__)", "", NULL, 4, 32, 6, 4, 4, 4 },
};
enum { NUM_ISAS = sizeof isas / sizeof isas[0] };

/* The portable code of a target with scalar_tiles: the kernels' SIMD
 * emitter at one lane, so each accumulator is a named float the compiler
 * keeps in a register (16 of a Cortex-M4F's 32 single-precision ones). */
static const Isa scalar = { 0, "scalar", NULL, NULL, "", NULL, 1, 32, 4, 0, 0, 1 };

static const Target targets[] = {
    { "auto", "portable C, plus AVX2+FMA and AVX-512F variants chosen at run time on "
              "x86-64 (gcc, clang) and NEON on aarch64: what `cc -O2 model.c` wants",
      16, 8, 16, ISA_AVX2 | ISA_AVX512 | ISA_NEON, 0 },
    { "generic", "portable C99 only, no extensions: tcc, MSVC, any firmware compiler",
      16, 8, 16, 0, 0 },
    { "x86-64-v3", "portable C plus an AVX2+FMA variant, used where the CPU has "
                   "them (gcc, clang)", 16, 8, 16, ISA_AVX2, 0 },
    { "x86-64-v4", "portable C plus an AVX-512F variant, used where the CPU has it "
                   "(gcc, clang)", 16, 8, 16, ISA_AVX512, 0 },
    { "aarch64", "portable C plus a NEON variant, used on any 64-bit Arm (gcc, clang)",
      16, 8, 16, ISA_NEON, 0 },
    { "cortex-m", "portable C with small tiles (4 channels x 4 pixels) of named scalar "
                  "accumulators that stay in a Cortex-M's 32 single-precision registers",
      4, 4, 0, 0, 1 },
};

enum { NUM_TARGETS = sizeof targets / sizeof targets[0] };

const Target *target_default(void)
{
    return &targets[0];
}

const Target *target_find(const char *name)
{
    for (int i = 0; i < NUM_TARGETS; i++)
        if (strcmp(targets[i].name, name) == 0)
            return &targets[i];
    return NULL;
}

const Target *target_at(int i)
{
    return i >= 0 && i < NUM_TARGETS ? &targets[i] : NULL;
}

const Isa *target_portable_isa(const Target *t)
{
    return t->scalar_tiles ? &scalar : NULL;
}

const Isa *isa_at(int i)
{
    return i >= 0 && i < NUM_ISAS ? &isas[i] : NULL;
}
