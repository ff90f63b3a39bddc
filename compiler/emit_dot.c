/* emit_dot.c: `cnnc --emit dot`, the network as a Graphviz digraph
 * (render with `dot -Tsvg`), in the spirit of Netron's pictures.
 *
 * Consumes a planned Graph; produces one record node per op, whose rows are
 * the op itself (layer, kind, window, activation), its weights and each
 * statement fused into it, so fused ops read as one box with their parts;
 * ellipses for the model's input and output; one edge per tensor read,
 * labelled with its shape. The text depends only on the graph.
 */
#include "backend.h"

/* Text inside a quoted string: quotes and backslashes escaped, control
 * characters dropped; in a record label also the record syntax { } | < >. */
static void dot_escape_as(Buf *b, const char *s, int record)
{
    for (; s && *s; s++) {
        if ((unsigned char)*s < ' ')
            continue;
        int special = *s == '"' || *s == '\\' ||
                      (record && (*s == '{' || *s == '}' || *s == '|' || *s == '<' || *s == '>'));
        if (special)
            buf_putc(b, '\\');
        buf_putc(b, *s);
    }
}

static void dot_escape(Buf *b, const char *s)
{
    dot_escape_as(b, s, 1);
}

static void dot_shape(Buf *b, const Shape *s)
{
    buf_putc(b, '[');
    for (int i = 0; i < s->rank; i++)
        buf_printf(b, "%s%d", i ? ", " : "", s->dim[i]);
    buf_putc(b, ']');
}

/* " 3x3 s2 d2 pad [1, 1, 1, 1] g4" for the fields that differ from 1 / 0. */
static void dot_window(Buf *b, const Op *op)
{
    const Window *w = &op->win;
    buf_printf(b, " %dx%d", w->kh, w->kw);
    if (w->sh != 1 || w->sw != 1)
        buf_printf(b, " s%dx%d", w->sh, w->sw);
    if (w->dh != 1 || w->dw != 1)
        buf_printf(b, " d%dx%d", w->dh, w->dw);
    if (w->pt || w->pl || w->pb || w->pr)
        buf_printf(b, " pad [%d, %d, %d, %d]", w->pt, w->pl, w->pb, w->pr);
    if (op->kind == OP_CONV && op->groups > 1)
        buf_printf(b, " g%d", op->groups);
}

/* The first row: "conv2: conv2d 3x3 +relu". */
static void dot_op_title(Buf *b, const Op *op)
{
    dot_escape(b, op->name ? op->name : "?");
    buf_puts(b, ": ");
    buf_puts(b, op->kind == OP_ACT ? act_kind_name(op->act.kind) : op_kind_name(op->kind));
    if (op->kind == OP_CONV || op->kind == OP_MAXPOOL || op->kind == OP_AVGPOOL)
        dot_window(b, op);
    if (op->kind != OP_ACT && op->act.kind != ACT_NONE)
        buf_printf(b, " +%s", act_kind_name(op->act.kind));
}

static void dot_op_weights(Buf *b, const Graph *g, const Op *op)
{
    static const char *const keys[] = { "w", "b", "mean", "var" };
    const int ids[] = { op->w, op->b, op->mean, op->var };
    int any = 0;
    for (int k = 0; k < 4; k++) {
        if (ids[k] < 0)
            continue;
        buf_puts(b, any ? ", " : "|");
        buf_printf(b, "%s ", keys[k]);
        dot_shape(b, &g->t[ids[k]].shape);
        any = 1;
    }
}

static const char *dot_fill(const Op *op)
{
    switch (op->kind) {
    case OP_CONV:
    case OP_DENSE: return "#cfe2f3";
    case OP_MAXPOOL:
    case OP_AVGPOOL:
    case OP_GLOBAL_AVGPOOL: return "#d9ead3";
    case OP_ADD:
    case OP_CONCAT: return "#fff2cc";
    default: return "#eeeeee";
    }
}

static void dot_op_node(Buf *b, const Graph *g, int i)
{
    const Op *op = &g->ops[i];
    buf_printf(b, "    op%d [fillcolor=\"%s\", label=\"{", i, dot_fill(op));
    dot_op_title(b, op);
    dot_op_weights(b, g, op);
    for (int k = 0; k < op->nfused && k < MAX_FUSED; k++) {
        buf_puts(b, "|");
        dot_escape(b, op->fused[k].name ? op->fused[k].name : "?");
        buf_puts(b, " (fused)");
    }
    buf_puts(b, "}\"];\n");
}

static void dot_io_node(Buf *b, const char *id, const Tensor *t)
{
    buf_printf(b, "    %s [shape=ellipse, style=filled, fillcolor=\"#ffffff\", label=\"", id);
    dot_escape_as(b, t->name ? t->name : "?", 0);
    buf_puts(b, "\\n");
    dot_shape(b, &t->shape);
    buf_puts(b, "\"];\n");
}

/* The node that makes tensor id: an op, or the input. */
static void dot_source(Buf *b, const Graph *g, int id)
{
    if (id == g->input || g->t[id].producer < 0)
        buf_puts(b, "input");
    else
        buf_printf(b, "op%d", g->t[id].producer);
}

static void dot_edge(Buf *b, const Graph *g, int tensor, const char *to)
{
    buf_puts(b, "    ");
    dot_source(b, g, tensor);
    buf_printf(b, " -> %s [label=\"", to);
    dot_shape(b, &g->t[tensor].shape);
    buf_puts(b, "\"];\n");
}

void emit_dot(const Graph *g, Buf *b)
{
    buf_puts(b, "digraph \"");
    dot_escape_as(b, g->name ? g->name : "model", 0);
    buf_puts(b, "\" {\n    graph [rankdir=TB, fontname=\"Helvetica\", label=\"");
    dot_escape_as(b, g->name ? g->name : "model", 0);
    if (g->path) {
        buf_puts(b, " (");
        dot_escape_as(b, g->path, 0);
        buf_putc(b, ')');
    }
    buf_puts(b, "\"];\n    node [shape=record, style=\"rounded,filled\", fontname=\"Helvetica\", "
                "fontsize=10];\n    edge [fontname=\"Helvetica\", fontsize=9];\n");
    dot_io_node(b, "input", &g->t[g->input]);
    for (int i = 0; i < g->nops; i++)
        dot_op_node(b, g, i);
    dot_io_node(b, "output", &g->t[g->output]);
    for (int i = 0; i < g->nops; i++) {
        char to[32];
        snprintf(to, sizeof to, "op%d", i);
        for (int k = 0; k < g->ops[i].nin; k++)
            dot_edge(b, g, g->ops[i].in[k], to);
    }
    dot_edge(b, g, g->output, "output");
    buf_puts(b, "}\n");
}
