/* budget.c: what a planned Graph costs on a device, and the checks behind
 * `cnnc --ram-budget BYTES` / `--flash-budget BYTES`.
 *
 * Consumes a planned Graph (plan.c ran); produces a Footprint: parameters,
 * the bytes of weights the generated C embeds (packed copies where the
 * optimizer chose them, pack.c), arena and I/O bytes, MACs, and the layers
 * that dominate RAM and flash. RAM is the arena plus the caller's input and
 * output buffers; flash counts the weights only (code is a few KB: measure
 * it with size(1)). budget_check reports one error per exceeded budget, at
 * the largest layer's statement, so the user sees what to shrink.
 */
#include "backend.h"

/* Parameters of an op as the model defines them: w, b, mean, var (an int8
 * op's mean and var are its multipliers and shifts, not parameters). */
long long op_param_count(const Graph *g, const Op *op)
{
    const int ids[] = { op->w, op->b, op->mean, op->var };
    long long n = 0;
    for (int k = 0; k < (op->kind >= OP_QUANTIZE ? 2 : 4); k++)
        if (ids[k] >= 0)
            n += g->t[ids[k]].numel;
    return n;
}

/* The bytes of weights op's C code reads: the packed tensor (bias
 * included) instead of w and b when the optimizer packed them. Tensors an
 * earlier op already counted (seen) are not counted again. */
static long long op_emitted_bytes(const Graph *g, const Op *op, char *seen)
{
    int ids[5], n = 0, packed = op_packed_weight(op);
    if (packed >= 0)
        ids[n++] = packed;
    else {
        ids[n++] = op->w;
        ids[n++] = op->b;
    }
    ids[n++] = op->mean;
    ids[n++] = op->var;
    long long floats = 0;
    for (int k = 0; k < n; k++)
        if (ids[k] >= 0 && !seen[ids[k]]) {
            seen[ids[k]] = 1;
            floats += g->t[ids[k]].numel * tensor_elem_bytes(&g->t[ids[k]]);
        }
    return floats;
}

/* conv2d's output height or width before any fused pooling. */
static int conv_out(int n, int k, int s, int d, int p0, int p1)
{
    return (n + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

long long op_macs(const Graph *g, const Op *op)
{
    const Tensor *in = &g->t[op->in[0]], *out = &g->t[op->out];
    const Window *w = &op->win;
    switch (op->kind) {
    case OP_CONV:
    case OP_QCONV: {
        int oh = conv_out(in->shape.dim[1], w->kh, w->sh, w->dh, w->pt, w->pb);
        int ow = conv_out(in->shape.dim[2], w->kw, w->sw, w->dw, w->pl, w->pr);
        int groups = op->groups > 0 ? op->groups : 1;
        long long per_out = (long long)(in->shape.dim[0] / groups) * w->kh * w->kw;
        return per_out * out->shape.dim[0] * oh * ow;
    }
    case OP_DENSE:
    case OP_QDENSE:
        return in->numel * out->numel;
    case OP_BATCHNORM:
        return out->numel;      /* one scale-and-shift per element */
    default:
        return 0;
    }
}

static void footprint_op(const Graph *g, int i, char *seen, Footprint *f)
{
    const Op *op = &g->ops[i];
    long long act = g->t[op->out].numel * tensor_elem_bytes(&g->t[op->out]);
    long long wbytes = op_emitted_bytes(g, op, seen);
    f->params += op_param_count(g, op);
    f->weight_bytes += wbytes;
    f->macs += op_macs(g, op);
    f->act_total_bytes += act;
    if (f->largest_act_op < 0 || act > f->largest_act_bytes) {
        f->largest_act_op = i;
        f->largest_act_bytes = act;
    }
    if (wbytes > 0 && (f->largest_weight_op < 0 || wbytes > f->largest_weight_bytes)) {
        f->largest_weight_op = i;
        f->largest_weight_bytes = wbytes;
    }
}

void budget_measure(Ctx *ctx, const Graph *g, Footprint *f)
{
    char *seen = arena_alloc(ctx->arena, (size_t)g->nt + 1);
    *f = (Footprint){ 0 };
    f->largest_act_op = f->largest_weight_op = -1;
    for (int i = 0; i < g->nops; i++)
        footprint_op(g, i, seen, f);
    /* A batch runs its samples one after another on one arena. */
    long long samples = g->batch > 1 ? g->batch : 1;
    f->arena_bytes = g->arena_floats * 4;
    f->input_bytes = g->t[g->input].numel * 4 * samples;
    f->output_bytes = g->t[g->output].numel * 4 * samples;
    f->ram_bytes = f->arena_bytes + f->input_bytes + f->output_bytes;
}

static Loc op_loc(const Graph *g, int i)
{
    Loc none = { 0, 0, 0, 0 };
    return i >= 0 ? g->ops[i].loc : none;
}

static const char *op_label(const Graph *g, int i)
{
    const Op *op = &g->ops[i];
    return op->kind == OP_ACT ? act_kind_name(op->act.kind) : op_kind_name(op->kind);
}

static void report_ram(Ctx *ctx, const Graph *g, const Footprint *f, long long budget)
{
    int i = f->largest_act_op;
    const char *name = i >= 0 && g->ops[i].name ? g->ops[i].name : "?";
    diag_error(ctx, op_loc(g, i),
               "model '%s' needs %lld bytes of RAM (arena %lld + input %lld + output %lld), "
               "over the RAM budget of %lld bytes; the largest layer is '%s' (%s, output %s, "
               "%lld bytes)",
               g->name, f->ram_bytes, f->arena_bytes, f->input_bytes, f->output_bytes, budget,
               name, i >= 0 ? op_label(g, i) : "?",
               i >= 0 ? shape_str(ctx->arena, &g->t[g->ops[i].out].shape) : "[]",
               f->largest_act_bytes);
}

static void report_flash(Ctx *ctx, const Graph *g, const Footprint *f, long long budget)
{
    int i = f->largest_weight_op;
    const char *name = i >= 0 && g->ops[i].name ? g->ops[i].name : "?";
    diag_error(ctx, op_loc(g, i),
               "model '%s' needs %lld bytes of flash for its weights, over the flash budget "
               "of %lld bytes; the largest layer is '%s' (%s, %lld parameters, %lld bytes)",
               g->name, f->weight_bytes, budget, name, i >= 0 ? op_label(g, i) : "?",
               i >= 0 ? op_param_count(g, &g->ops[i]) : 0, f->largest_weight_bytes);
}

int budget_check(Ctx *ctx, const Graph *g, long long ram_budget, long long flash_budget)
{
    Footprint f;
    budget_measure(ctx, g, &f);
    int over = 0;
    if (ram_budget > 0 && f.ram_bytes > ram_budget) {
        report_ram(ctx, g, &f, ram_budget);
        over = 1;
    }
    if (flash_budget > 0 && f.weight_bytes > flash_budget) {
        report_flash(ctx, g, &f, flash_budget);
        over = 1;
    }
    return over ? -1 : 0;
}
