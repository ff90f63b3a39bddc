/* passes.h: the optimizer and planner: pass.c runs the passes of
 * fold_bn.c, fuse.c, pack.c, pad.c, inplace.c and plan.c in order, checking
 * each one's contract (docs/passes.md). Sees the IR only. */
#ifndef CNNC_PASSES_H
#define CNNC_PASSES_H

#include "ir.h"

/* ---- pass.c: the pass pipeline ---- */
typedef struct PassOptions {
    int no_opt;        /* only the passes the backend needs (plan) */
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
void inplace_run(Ctx *ctx, Graph *g); /* inplace.c */
void plan_run(Ctx *ctx, Graph *g);    /* plan.c */
/* Returns 0 when no two tensors live at once share arena bytes; else -1
 * and a description of the first clash in msg. */
int plan_check(Ctx *ctx, const Graph *g, char *msg, size_t msglen);
/* The liveness optimum of a planned graph, in floats: the most activation
 * storage live at any one op, a lower bound for g->arena_floats. */
long long plan_lower_bound(Ctx *ctx, const Graph *g);
/* Width (floats per row) of block k of a KV_DENSE_BLOCKED layer of U units. */
int pack_dense_width(int U, int k);   /* pack.c */


#endif
