/* backend_test.h: shared helpers of the backend tests: build Graphs by hand,
 * fill weights and inputs deterministically, plan and emit them, compile the
 * emitted C with an external compiler, run it and compare with interp_run.
 */
#ifndef BACKEND_TEST_H
#define BACKEND_TEST_H

#include <stdio.h>

#include "backend.h"
#include "check.h"   /* tests/check.h: CHECK*, check_status, SKIP_STATUS */
#include "driver.h"
#include "jit.h"

/* A graph under construction. Weights get deterministic values from seed. */
typedef struct TB {
    Arena *arena;
    Ctx ctx;
    Graph *g;
    unsigned seed;
    int line;           /* fake source line of the next op */
} TB;

void tb_init(TB *b, const char *name, unsigned seed);
void tb_free(TB *b);
Shape shp1(int n);
Shape shp3(int c, int h, int w);
Window win(int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int pb, int pr);
Act act_of(ActKind k, float alpha, float beta);

int tb_input(TB *b, Shape s);
int tb_weight(TB *b, const char *layer, const char *what, Shape s, float lo, float hi);
/* An op writing a new TR_ACT tensor named after the op; returns the op. */
Op *tb_op(TB *b, OpKind kind, const char *name, Shape out, int nin, const int *in);
/* The tensor id written by op. */
int tb_out(const Op *op);
void tb_fuse(TB *b, Op *op, const char *stmt);   /* records a fused statement */

int tb_conv(TB *b, const char *name, int x, int filters, Window w, int groups, int bias, Act act);
int tb_pool(TB *b, OpKind kind, const char *name, int x, Window w, int count_pad, Act act);
int tb_unary(TB *b, OpKind kind, const char *name, int x, Act act);  /* gap, flatten, act */
int tb_dense(TB *b, const char *name, int x, int units, int bias, Act act);
int tb_batchnorm(TB *b, const char *name, int x, float eps, Act act);
int tb_nary(TB *b, OpKind kind, const char *name, int nin, const int *in, Act act);
int tb_softmax(TB *b, const char *name, int x, int axis, Act act);
/* Marks t as the graph's output (TR_OUTPUT). */
void tb_output(TB *b, int t);

/* Deterministic floats uniform in [lo, hi). */
void fill_uniform(float *dst, long long n, unsigned seed, float lo, float hi);

/* Runs cmd through the shell; returns its exit status (-1: not run). */
int run_cmd(const char *cmd);
int write_file(const char *path, const char *data, size_t len);
/* Runs pass.c's pipeline on g (every pass when optimize, else -O0's: dce and
 * plan), verifying the graph after each pass and checking the plan, then
 * emits it as dir/prefix.c and dir/prefix.h. Returns 0, or 1 after
 * printing why. */
int plan_and_emit(Graph *g, Ctx *ctx, const char *dir, const char *prefix, int weights_extern,
                  int optimize);

/* max |a - b| / max(1e-30, max |ref|), NaN equal to NaN; *ndiff gets the
 * number of values that are not bit-identical. */
double rel_error(const float *ref, const float *got, long long n, long long *ndiff);

#endif
