/* jit.h: emitted C -> machine code in memory, with libtcc (jit.c). */
#ifndef CNNC_JIT_H
#define CNNC_JIT_H

#include "ir.h"

typedef struct Jit Jit;
int jit_available(void);          /* 0 in a build without libtcc */
/* Emits g's C with extern weights, compiles it with libtcc and binds each
 * weight's data by address. NULL after an internal-error diagnostic
 * through ctx (tcc's message). tcc_dir: libtcc1.a and tcc's include/, NULL
 * for the directory found at build time. g's weights must outlive the Jit. */
Jit *jit_compile(Ctx *ctx, const Graph *g, const char *tcc_dir);
void jit_run(const Jit *j, const float *input, float *output);
void jit_free(Jit *j);

#endif
