/* ir_print.c: the IR as stable text, for `cnnc --emit ir` and
 * `--print-after PASS` (docs/ir.md). Consumes a Graph in any state between
 * lowering and emission; produces a header (model, input, output, arena),
 * one line per tensor and one or more lines per op.
 *
 * The text depends only on the graph: no pointers, no timestamps, floats
 * printed with %.9g (which reads back as the same float), so golden tests
 * may diff it. The printer never changes the graph.
 */
#include <string.h>

#include "ir.h"

static const char *role_name(TensorRole r)
{
    switch (r) {
    case TR_INPUT: return "input";
    case TR_OUTPUT: return "output";
    case TR_WEIGHT: return "weight";
    case TR_ACT: return "act";
    }
    return "?";
}

/* The optimizer's kernel choice (pack.c, inplace.c); unknown values print
 * as numbers so a new variant never breaks the dump. */
static void print_variant(Buf *b, const Op *op)
{
    static const char *const names[] = {
        [KV_GENERIC] = "generic", [KV_CONV_BLOCKED] = "conv_blocked", [KV_CONV_ROWS] = "conv_rows",
        [KV_DENSE_BLOCKED] = "dense_blocked", [KV_VIEW] = "view", [KV_CONV_PIXELS] = "conv_pixels",
        [KV_CONV_WINOGRAD] = "conv_winograd",
    };
    unsigned v = (unsigned)op->variant;
    if (v == KV_GENERIC)
        return;
    if (v < sizeof names / sizeof names[0])
        buf_printf(b, " variant=%s", names[v]);
    else
        buf_printf(b, " variant=%u", v);
}

static void print_shape(Buf *b, const Shape *s)
{
    buf_putc(b, '[');
    for (int i = 0; i < s->rank; i++)
        buf_printf(b, "%s%d", i ? ", " : "", s->dim[i]);
    buf_putc(b, ']');
}

static void print_tensor(Buf *b, const Graph *g, int id)
{
    const Tensor *t = &g->t[id];
    buf_printf(b, "  t%-3d %-6s %s ", id, role_name(t->role), t->name ? t->name : "?");
    print_shape(b, &t->shape);
    if (t->role == TR_WEIGHT && !t->data && !t->qdata)
        buf_puts(b, " unbound");
    if (t->dtype != DT_F32)
        buf_printf(b, " %s", dtype_name(t->dtype));
    if (t->dtype == DT_I8 && t->role != TR_WEIGHT)
        buf_printf(b, " scale=%.9g zero=%d", (double)t->qscale, t->qzero);
    if (t->slice_of > 0)
        buf_printf(b, " slice=t%d+%lld", t->slice_of - 1, t->slice_at);
    if (t->offset >= 0)
        buf_printf(b, " @%lld", t->offset);
    if (t->first_op >= 0)
        buf_printf(b, " live %d..%d", t->first_op, t->last_op);
    buf_putc(b, '\n');
}

/* "relu", "leaky_relu(alpha=0.1)", "rbf(center=0, epsilon=1)". */
static void print_act(Buf *b, const Act *a)
{
    const ActDesc *d = act_desc(a->kind);
    const float val[2] = { a->alpha, a->beta };
    buf_puts(b, d->name);
    for (int k = 0; k < 2 && d->param[k]; k++)
        buf_printf(b, "%s%s=%.9g", k ? ", " : "(", d->param[k], (double)val[k]);
    if (d->param[0])
        buf_putc(b, ')');
}

static void print_window(Buf *b, const Window *w)
{
    buf_printf(b, " kernel=%dx%d stride=%dx%d dilation=%dx%d pad=[%d, %d, %d, %d]",
               w->kh, w->kw, w->sh, w->sw, w->dh, w->dw, w->pt, w->pl, w->pb, w->pr);
}

/* The attributes of one op kind, after its operands. */
static void print_attrs(Buf *b, const Op *op)
{
    switch (op->kind) {
    case OP_CONV:
        print_window(b, &op->win);
        buf_printf(b, " groups=%d", op->groups);
        break;
    case OP_MAXPOOL:
        print_window(b, &op->win);
        break;
    case OP_AVGPOOL:
        print_window(b, &op->win);
        buf_printf(b, " count_pad=%d", op->count_pad);
        break;
    case OP_PAD:
        buf_printf(b, " pad=[%d, %d, %d, %d]", op->win.pt, op->win.pl, op->win.pb, op->win.pr);
        if (op->mode == PAD_REFLECT)
            buf_puts(b, " mode=reflect");
        else if (op->value != 0.0f)
            buf_printf(b, " value=%.9g", (double)op->value);
        break;
    case OP_UPSAMPLE:
        buf_printf(b, " scale=%dx%d mode=%s", op->win.sh, op->win.sw,
                   op->mode == UP_BILINEAR ? "bilinear" : "nearest");
        break;
    case OP_CHANNEL_SHUFFLE:
        buf_printf(b, " groups=%d", op->groups);
        break;
    case OP_LAYERNORM:
    case OP_BATCHNORM:
        buf_printf(b, " epsilon=%.9g", (double)op->epsilon);
        break;
    case OP_SOFTMAX:
        buf_printf(b, " axis=%d", op->axis);
        break;
    default:
        break;
    }
}

static void print_params(Buf *b, const Op *op)
{
    const char *const keys[] = { "w", "b", "mean", "var" };
    const int ids[] = { op->w, op->b, op->mean, op->var };
    for (int k = 0; k < 4; k++)
        if (ids[k] >= 0)
            buf_printf(b, " %s=t%d", keys[k], ids[k]);
    if (op_packed_weight(op) >= 0)
        buf_printf(b, " packed=t%d", op->packed);
    if (op->work > 0)
        buf_printf(b, " work=t%d", op->work - 1);
}

static void print_loc(Buf *b, Loc loc)
{
    if (loc.line > 0)
        buf_printf(b, "  # %d:%d", loc.line, loc.col);
}

/* Whether input k of op, at element at of its output, is a slice of it
 * (concat_view.c: its producer writes it there). */
static int is_slice(const Graph *g, const Op *op, int k, long long at)
{
    const Tensor *x = &g->t[op->in[k]];
    return op->kind == OP_CONCAT && x->slice_of == 1 + op->out && x->slice_at == at;
}

/* A concat's inputs that are slices of its output: " variant=view" when
 * all are (no code), else " views=in0,in2". */
static void print_slices(Buf *b, const Graph *g, const Op *op)
{
    long long at = 0;
    int n = 0;
    for (int k = 0; k < op->nin; at += g->t[op->in[k]].numel, k++)
        n += is_slice(g, op, k, at);
    if (n == 0)
        return;
    if (n == op->nin) {
        buf_puts(b, " variant=view");
        return;
    }
    const char *sep = " views=";
    at = 0;
    for (int k = 0; k < op->nin; at += g->t[op->in[k]].numel, k++)
        if (is_slice(g, op, k, at)) {
            buf_printf(b, "%sin%d", sep, k);
            sep = ",";
        }
}

/* "op1 conv2 = conv2d t3 -> t6 w=t4 b=t5 kernel=... act=relu  # 10:5" and
 * a "fused NAME" line per statement merged into it. */
static void print_op(Buf *b, const Graph *g, int i)
{
    const Op *op = &g->ops[i];
    buf_printf(b, "  op%-3d %s = ", i, op->name ? op->name : "?");
    if (op->kind == OP_ACT)
        print_act(b, &op->act);
    else
        buf_puts(b, op_kind_name(op->kind));
    for (int k = 0; k < op->nin; k++)
        buf_printf(b, "%s t%d", k ? "," : "", op->in[k]);
    buf_printf(b, " -> t%d", op->out);
    print_params(b, op);
    print_attrs(b, op);
    if (op->kind != OP_ACT && op->act.kind != ACT_NONE) {
        buf_puts(b, " act=");
        print_act(b, &op->act);
    }
    if (op->kind > OP_DEQUANTIZE)
        buf_printf(b, " clamp=[%d, %d]", op->qlo, op->qhi);
    print_variant(b, op);
    print_slices(b, g, op);
    if (op->inplace)
        buf_printf(b, " inplace=in%d", op->inplace - 1);
    print_loc(b, op->loc);
    buf_putc(b, '\n');
    for (int k = 0; k < op->nfused && k < MAX_FUSED; k++) {
        buf_printf(b, "        fused %s", op->fused[k].name ? op->fused[k].name : "?");
        print_loc(b, op->fused[k].loc);
        buf_putc(b, '\n');
    }
}

void ir_print(const Graph *g, Buf *b)
{
    buf_printf(b, "graph %s", g->name ? g->name : "?");
    if (g->path)
        buf_printf(b, "  # %s", g->path);
    buf_printf(b, "\ninput t%d\noutput t%d\n", g->input, g->output);
    if (g->arena_floats > 0)
        buf_printf(b, "arena %lld floats (%lld bytes)\n", g->arena_floats, g->arena_floats * 4);
    buf_printf(b, "tensors %d:\n", g->nt);
    for (int t = 0; t < g->nt; t++)
        print_tensor(b, g, t);
    buf_printf(b, "ops %d:\n", g->nops);
    for (int i = 0; i < g->nops; i++)
        print_op(b, g, i);
}
