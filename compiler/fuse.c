/* fuse.c: pass: an elementwise activation op whose input is read by it
 * alone is merged into the op that produces that input (conv2d + bias +
 * relu becomes one loop nest that writes each value once). Requires
 * topological order and no dead ops; breaks the arena plan.
 */
#include "passes.h"

static int fusable(const Graph *g, const Op *producer, const Op *act)
{
    return (op_flags(act->kind) & OPF_IS_ACT) && producer->act.kind == ACT_NONE &&
           (op_flags(producer->kind) & OPF_TAKES_ACT) && producer->nfused < MAX_FUSED &&
           g->t[producer->out].role == TR_ACT && graph_readers(g, producer->out) == 1;
}

void fuse_run(Ctx *ctx, Graph *g)
{
    for (int i = 0; i < g->nops; i++) {
        Op *act = &g->ops[i];
        if (!(op_flags(act->kind) & OPF_IS_ACT))
            continue;
        int src = g->t[act->in[0]].producer;
        if (src < 0 || !fusable(g, &g->ops[src], act))
            continue;
        Op *p = &g->ops[src];
        p->act = act->act;
        p->fused[p->nfused].name = act->name;
        p->fused[p->nfused].loc = act->loc;
        p->nfused++;
        p->out = act->out;
        g->t[p->out].producer = src;
        op_remove(act);
    }
    graph_compact(ctx, g);
}
