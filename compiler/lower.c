/* lower.c: checked Model -> Graph. Every layer statement becomes one
 * op (plus a softmax op for activation=softmax), dead ones too, so that
 * their weights are still checked (the dce pass drops them); weights become TR_WEIGHT
 * tensors named as in PyTorch's state_dict ("conv1.weight"), still without
 * data (weights.c binds it). Requires: sema_check succeeded. Provides: a
 * graph in topological order (file order), one output tensor.
 */
#include <string.h>

#include "ast.h"

static Shape shape_of(int rank, int d0, int d1, int d2, int d3)
{
    Shape s = { rank, { d0, d1, d2, d3 } };
    return s;
}

static int add_weight(Ctx *ctx, Graph *g, const Stmt *s, const char *what, Shape shape)
{
    const char *name = arena_printf(ctx->arena, "%s.%s", s->name, what);
    return graph_add_tensor(ctx, g, name, TR_WEIGHT, shape);
}

/* The parameter tensors of a layer, per the table in docs/language.md. */
static void add_weights(Ctx *ctx, Graph *g, const Stmt *s, Op *op)
{
    const Shape *x = &s->in[0]->shape;
    int F = s->shape.dim[0];
    switch (op->kind) {
    case OP_CONV:
        op->w = add_weight(ctx, g, s, "weight",
                           shape_of(4, F, x->dim[0] / op->groups, op->win.kh, op->win.kw));
        if (s->bias)
            op->b = add_weight(ctx, g, s, "bias", shape_of(1, F, 0, 0, 0));
        break;
    case OP_DENSE:
        op->w = add_weight(ctx, g, s, "weight", shape_of(2, F, x->dim[0], 0, 0));
        if (s->bias)
            op->b = add_weight(ctx, g, s, "bias", shape_of(1, F, 0, 0, 0));
        break;
    case OP_BATCHNORM:
        op->w = add_weight(ctx, g, s, "weight", shape_of(1, x->dim[0], 0, 0, 0));
        op->b = add_weight(ctx, g, s, "bias", shape_of(1, x->dim[0], 0, 0, 0));
        op->mean = add_weight(ctx, g, s, "running_mean", shape_of(1, x->dim[0], 0, 0, 0));
        op->var = add_weight(ctx, g, s, "running_var", shape_of(1, x->dim[0], 0, 0, 0));
        break;
    case OP_SCALE:
    case OP_LAYERNORM:
        op->w = add_weight(ctx, g, s, "weight", shape_of(1, x->dim[0], 0, 0, 0));
        if (s->bias || op->kind == OP_LAYERNORM)
            op->b = add_weight(ctx, g, s, "bias", shape_of(1, x->dim[0], 0, 0, 0));
        break;
    default:
        break;
    }
}

static void lower_layer(Ctx *ctx, Graph *g, Stmt *s, int is_output)
{
    Op *op = graph_add_op(ctx, g, s->info->kind);
    int id = (int)(op - g->ops);
    int w = op->w, b = op->b, mean = op->mean, var = op->var, packed = op->packed;
    *op = *s->info;
    op->w = w, op->b = b, op->mean = mean, op->var = var, op->packed = packed;
    op->name = s->name;
    op->loc = s->loc;
    op->nin = s->nin;
    op->in = arena_alloc(ctx->arena, sizeof *op->in * (size_t)s->nin);
    for (int i = 0; i < s->nin; i++)
        op->in[i] = s->in[i]->tensor;
    add_weights(ctx, g, s, op);
    int last = is_output && !s->then_softmax;
    op->out = graph_add_tensor(ctx, g, s->name, last ? TR_OUTPUT : TR_ACT, s->shape);
    g->t[op->out].producer = id;
    s->tensor = op->out;
    if (!s->then_softmax)
        return;
    Op *sm = graph_add_op(ctx, g, OP_SOFTMAX);
    sm->name = s->name;
    sm->loc = s->loc;
    sm->nin = 1;
    sm->in = arena_alloc(ctx->arena, sizeof *sm->in);
    sm->in[0] = s->tensor;
    sm->out = graph_add_tensor(ctx, g, arena_printf(ctx->arena, "%s.softmax", s->name),
                               is_output ? TR_OUTPUT : TR_ACT, s->shape);
    g->t[sm->out].producer = (int)(sm - g->ops);
    s->tensor = sm->out;
}

static const Stmt *output_stmt(const Model *m)
{
    const Stmt *o = sema_find(m, STMT_OUTPUT), *last = NULL;
    for (const Stmt *s = m->stmts; s; s = s->next) {
        if (s->kind == STMT_LAYER)
            last = s;
        if (o && s->kind == STMT_LAYER && strcmp(s->name, o->name) == 0)
            return s;
    }
    return last;
}

/* The B of an input [B, C, H, W] or [B, N]; 0 when there is none. */
static int input_batch(const Stmt *input)
{
    int n = 0;
    for (const Value *v = input->dims; v; v = v->next)
        n++;
    return n == 4 || n == 2 ? (int)input->dims->i : 0;
}

Graph *lower_model(Ctx *ctx, const Model *m, const char *path)
{
    Graph *g = graph_new(ctx, m->name, path);
    Stmt *input = (Stmt *)sema_find(m, STMT_INPUT);
    g->input = graph_add_tensor(ctx, g, input->name, TR_INPUT, input->shape);
    input->tensor = g->input;
    g->batch = input_batch(input);
    const Stmt *out = output_stmt(m);
    for (Stmt *s = m->stmts; s; s = s->next)
        if (s->kind == STMT_LAYER)
            lower_layer(ctx, g, s, s == out);
    g->output = out->tensor;
    return g;
}
