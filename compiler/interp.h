/* interp.h: what the reference interpreter's two files share: interp.c
 * (the float ops, storage, the run) and interp_int8.c (the int8 ops of a
 * quantized graph). Nothing else includes it. */
#ifndef CNNC_INTERP_H
#define CNNC_INTERP_H

#include "ir.h"

/* Tensor id -> storage for one run. rd is what ops read, wr what they write
 * (NULL for the input and weights, which are never written). An int8 or
 * int32 tensor's storage is int8_t or int32_t: its ops convert the pointer
 * back (interp_int8.c's i8 and i32). */
typedef struct Bufs {
    const float **rd;
    float **wr;
} Bufs;

/* A feature map [C, H, W], or a vector [N] seen as [N, 1, 1]. */
typedef struct Dims3 {
    int c, h, w;
} Dims3;
Dims3 interp_dims3(const Tensor *t);

/* ops.def's run column for the int8 ops (interp_int8.c). */
void run_quantize(const Graph *g, const Op *op, const Bufs *b);
void run_dequantize(const Graph *g, const Op *op, const Bufs *b);
void run_qconv(const Graph *g, const Op *op, const Bufs *b);
void run_qdense(const Graph *g, const Op *op, const Bufs *b);
void run_qpool(const Graph *g, const Op *op, const Bufs *b);
void run_qgap(const Graph *g, const Op *op, const Bufs *b);
void run_qadd(const Graph *g, const Op *op, const Bufs *b);
void run_qconcat(const Graph *g, const Op *op, const Bufs *b);
void run_qcopy(const Graph *g, const Op *op, const Bufs *b);

#endif
