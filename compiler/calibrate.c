/* calibrate.c: the ranges quantization needs. Consumes a float graph
 * (fused, batchnorms folded: what quantize.c rewrites) and the calibration
 * samples; produces, for every tensor the interpreter computes, the least
 * and largest value seen over all samples, widened to include 0 (a real 0
 * must be exact in int8: padding and relu). Runs the reference interpreter,
 * so the ranges are those of the graph's own float arithmetic.
 */
#include <stdlib.h>

#include "passes.h"

typedef struct Seen {
    const Graph *g;
    float *lo, *hi;
} Seen;

static void observe(void *user, int tensor, const float *v)
{
    Seen *s = user;
    const long long n = s->g->t[tensor].numel;
    float lo = s->lo[tensor], hi = s->hi[tensor];
    for (long long i = 0; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    s->lo[tensor] = lo;
    s->hi[tensor] = hi;
}

int calibrate_ranges(const Graph *g, const QuantRequest *q, float *lo, float *hi)
{
    Seen s = { g, lo, hi };
    const long long in = g->t[g->input].numel;
    float *out = malloc(((size_t)g->t[g->output].numel + 1) * sizeof *out);
    if (!out)
        return -1;
    for (int t = 0; t < g->nt; t++)
        lo[t] = hi[t] = 0.0f;
    int rc = 0;
    for (long long k = 0; k < q->n && rc == 0; k++)
        rc = interp_run_observed(g, q->samples + k * in, out, observe, &s);
    free(out);
    return rc;
}
