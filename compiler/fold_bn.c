/* fold_bn.c: pass: fold a batchnorm into the conv2d or dense that feeds
 * it, when nothing else reads the conv's result and the conv has no
 * activation of its own: the conv's weights and bias are rescaled at
 * compile time into new weight tensors and the batchnorm op disappears
 * (its activation, if any, moves to the conv).
 *
 *   requires: topological order, no dead ops
 *   provides: no foldable batchnorm left (IRP_BN_FOLDED)
 *   breaks:   the arena plan
 *
 * With scale[f] = gamma[f] / sqrtf(var[f] + eps) (numerics.md's formula):
 *   w'[f][...] = w[f][...] * scale[f]
 *   b'[f]      = (b[f] - mean[f]) * scale[f] + beta[f]      (b = 0 if none)
 * This rounds differently from the unfolded ops (docs/numerics.md): the
 * results agree to about 1e-6 relative, not bit for bit. -O0 does not fold.
 */
#include <math.h>

#include "passes.h"

static int foldable(const Graph *g, const Op *p, const Op *bn)
{
    if (p->kind != OP_CONV && p->kind != OP_DENSE)
        return 0;
    return p->act.kind == ACT_NONE && p->nfused + 1 + bn->nfused <= MAX_FUSED && p->w >= 0 &&
           g->t[p->w].data && (p->b < 0 || g->t[p->b].data) &&
           g->t[p->out].role == TR_ACT && graph_readers(g, p->out) == 1 &&
           g->t[bn->w].data && g->t[bn->b].data && g->t[bn->mean].data &&
           g->t[bn->var].data;
}

static const char *derived_name(Ctx *ctx, const Op *p, const char *what)
{
    return arena_printf(ctx->arena, "%s.%s_bn", p->name ? p->name : "layer", what);
}

/* New weight and bias tensors for p, rescaled by bn's statistics. */
static void fold_params(Ctx *ctx, Graph *g, Op *p, const Op *bn)
{
    const Tensor *tw = &g->t[p->w];
    const int F = g->t[p->out].shape.dim[0];
    const long long per = tw->numel / F;
    const float *w = tw->data, *b = p->b >= 0 ? g->t[p->b].data : NULL;
    const float *gamma = g->t[bn->w].data, *beta = g->t[bn->b].data;
    const float *mean = g->t[bn->mean].data, *var = g->t[bn->var].data;
    float *nw = arena_alloc(ctx->arena, sizeof *nw * (size_t)tw->numel);
    float *nb = arena_alloc(ctx->arena, sizeof *nb * (size_t)F);
    for (int f = 0; f < F; f++) {
        const float scale = gamma[f] / sqrtf(var[f] + bn->epsilon);
        for (long long k = 0; k < per; k++)
            nw[f * per + k] = w[f * per + k] * scale;
        nb[f] = ((b ? b[f] : 0.0f) - mean[f]) * scale + beta[f];
    }
    const Shape ws = tw->shape, bs = { 1, { F, 0, 0, 0 } };
    p->w = graph_add_weight(ctx, g, derived_name(ctx, p, "weight"), ws, nw);
    p->b = graph_add_weight(ctx, g, derived_name(ctx, p, "bias"), bs, nb);
}

void fold_bn_run(Ctx *ctx, Graph *g)
{
    for (int i = 0; i < g->nops; i++) {
        Op *bn = &g->ops[i];
        if (bn->kind != OP_BATCHNORM)
            continue;
        int src = g->t[bn->in[0]].producer;
        if (src < 0 || !foldable(g, &g->ops[src], bn))
            continue;
        Op *p = &g->ops[src];
        fold_params(ctx, g, p, bn);
        p->act = bn->act;
        p->fused[p->nfused].name = bn->name;
        p->fused[p->nfused].loc = bn->loc;
        p->nfused++;
        for (int k = 0; k < bn->nfused; k++)
            p->fused[p->nfused++] = bn->fused[k];
        p->out = bn->out;
        g->t[p->out].producer = src;
        op_remove(bn);
    }
    graph_compact(ctx, g);
}
