/* concat_view.c: pass: a concat's inputs written straight into their
 * slices of its output, so the concat copies nothing (issue 12). Tensors
 * hold one sample and a concat joins them along dimension 0 of a C-major
 * layout, so input k of a concat is the output's elements
 * [at_k, at_k + numel_k): one contiguous slice. An input whose producer
 * writes there gets Tensor.slice_of / slice_at; plan.c places it inside the
 * concat output's storage, plan_check() verifies the sharing, and the
 * concat's code copies only the inputs that are not slices (none: no code).
 *
 * Input k of a concat becomes its slice when
 *   - the concat has no fused activation (the slice is the input unchanged),
 *     and its output is a float activation (not the caller's buffer);
 *   - the input is a float activation: not the graph's input or output, a
 *     weight, or a pinned int8 image (int8 concats are OP_QCONCAT, which
 *     rescales: they stay copies);
 *   - its producer can write at any offset: every emitter writes through a
 *     pointer with no alignment beyond a float's (cnnc_fN vectors are
 *     aligned(4)), but a flatten is left to become a view of its own input
 *     (inplace.c);
 *   - no later concat claimed it. Concats are visited last first, so a
 *     tensor read by several (DenseNet) lives in the last one: usually the
 *     largest, which holds every feature anyway, while a slice of an earlier
 *     one would keep that whole output alive until the tensor's last read.
 *     An input repeated in one concat is a slice at its first place only.
 * A concat output may itself be a slice of a later concat (nested concats).
 *
 *   requires: topological order, no dead ops, fast convs unpadded (pad.c
 *             adds ops, whose outputs this pass must see)
 *   provides: concat inputs as slices (IRP_SLICES)
 *   breaks:   the arena plan
 */
#include "passes.h"

/* A float activation whose storage may be placed anywhere in the arena. */
static int is_float_act(const Tensor *t)
{
    return t->role == TR_ACT && t->dtype == DT_F32 && !t->pinned;
}

static int can_be_slice(const Graph *g, int x)
{
    const Tensor *t = &g->t[x];
    if (!is_float_act(t) || t->slice_of || t->producer < 0)
        return 0;
    return !(op_flags(g->ops[t->producer].kind) & OPF_VIEW);
}

static void claim_slices(Graph *g, const Op *op)
{
    long long at = 0;
    for (int k = 0; k < op->nin; k++) {
        Tensor *t = &g->t[op->in[k]];
        if (can_be_slice(g, op->in[k])) {
            t->slice_of = 1 + op->out;
            t->slice_at = at;
        }
        at += t->numel;
    }
}

void concat_view_run(Ctx *ctx, Graph *g)
{
    (void)ctx;
    for (int i = g->nops - 1; i >= 0; i--) {
        const Op *op = &g->ops[i];
        if (op->kind == OP_CONCAT && op->act.kind == ACT_NONE && is_float_act(&g->t[op->out]))
            claim_slices(g, op);
    }
}
