/* summary.c: the Keras-style table of `cnnc --summary MODEL`.
 *
 * Consumes a planned Graph; produces one row per op (index, layer, op,
 * output shape, parameters, MACs, output bytes, and for windowed ops the
 * lecture's formula for each spatial size, e.g. "(28 + 2*0 - 3)/1 + 1 = 26"),
 * an indented row per statement fused into it, then the totals: parameters,
 * weight bytes, planned arena, I/O, RAM and MACs (budget.c's Footprint).
 * Numbers carry thousands separators, as Keras prints them.
 */
#include <string.h>

#include "backend.h"

enum { COL_IDX, COL_LAYER, COL_OP, COL_SHAPE, COL_PARAMS, COL_MACS, COL_BYTES, COL_SIZE, NCOL };

static const char *const col_title[NCOL] = {
    "#", "layer", "op", "output shape", "params", "MACs", "bytes",
    "spatial size: (n + pads - k)/stride + 1",
};

typedef struct Row {
    const char *col[NCOL];
} Row;

/* 1199882 -> "1,199,882". */
static const char *fmt_count(Arena *a, long long v)
{
    char digits[32], out[48];
    int n = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v), k = 0;
    if (v < 0)
        out[k++] = '-';
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = '\0';
    return arena_strdup(a, out);
}

/* One spatial size: out = (n + p0 + p1 - d*(k-1) - 1)/s + 1, written as the
 * lecture writes it: "2*p" for equal pads, "- k" without dilation. */
static const char *dim_formula(Arena *a, int n, int k, int s, int d, int p0, int p1, int *out)
{
    const char *pads = p0 == p1 ? arena_printf(a, "2*%d", p0) : arena_printf(a, "%d + %d", p0, p1);
    const char *kern = d == 1 ? arena_printf(a, "- %d", k) : arena_printf(a, "- %d*(%d-1) - 1", d, k);
    *out = (n + p0 + p1 - d * (k - 1) - 1) / s + 1;
    return arena_printf(a, "(%d + %s %s)/%d + 1 = %d", n, pads, kern, s, *out);
}

/* The height (h = 1) or width (h = 0) formula of a windowed op. */
static const char *window_formula(Arena *a, const Op *op, const Shape *in, int h)
{
    const Window *w = &op->win;
    int out;
    if (h)
        return dim_formula(a, in->dim[1], w->kh, w->sh, w->dh, w->pt, w->pb, &out);
    return dim_formula(a, in->dim[2], w->kw, w->sw, w->dw, w->pl, w->pr, &out);
}

static const char *pad_formula(Arena *a, int n, int p0, int p1)
{
    return arena_printf(a, "%d + %d + %d = %d", n, p0, p1, n + p0 + p1);
}

/* Both spatial sizes, once when they read the same. */
static const char *spatial_text(Arena *a, const Graph *g, const Op *op)
{
    const Shape *in = &g->t[op->in[0]].shape;
    const char *h, *w;
    switch (op->kind) {
    case OP_CONV:
    case OP_MAXPOOL:
    case OP_AVGPOOL:
    case OP_QCONV:
    case OP_QMAXPOOL:
    case OP_QAVGPOOL:
        h = window_formula(a, op, in, 1);
        w = window_formula(a, op, in, 0);
        break;
    case OP_PAD:
        h = pad_formula(a, in->dim[1], op->win.pt, op->win.pb);
        w = pad_formula(a, in->dim[2], op->win.pl, op->win.pr);
        break;
    case OP_UPSAMPLE:
        h = arena_printf(a, "%d * %d = %d", in->dim[1], op->win.sh, in->dim[1] * op->win.sh);
        w = arena_printf(a, "%d * %d = %d", in->dim[2], op->win.sw, in->dim[2] * op->win.sw);
        break;
    case OP_GLOBAL_AVGPOOL:
    case OP_MEAN:
    case OP_QGAP:
        return "1 (global)";
    default:
        return "";
    }
    return strcmp(h, w) == 0 ? h : arena_printf(a, "H %s; W %s", h, w);
}

/* "conv2d+relu", "leaky_relu", "maxpool"; "concat (view)" when its inputs'
 * producers write them into it (concat_view.c), "concat (2 views)" for
 * some of them. */
static const char *op_text(Arena *a, const Graph *g, const Op *op)
{
    if (op->kind == OP_ACT)
        return act_kind_name(op->act.kind);
    int views = 0;
    for (int k = 0; op->kind == OP_CONCAT && k < op->nin; k++)
        views += g->t[op->in[k]].slice_of == 1 + op->out;
    if (views)
        return views == op->nin ? "concat (view)" : arena_printf(a, "concat (%d views)", views);
    if (op->act.kind == ACT_NONE)
        return op_kind_name(op->kind);
    return arena_printf(a, "%s+%s", op_kind_name(op->kind), act_kind_name(op->act.kind));
}

static Row op_row(Arena *a, const Graph *g, int i)
{
    const Op *op = &g->ops[i];
    Row r;
    r.col[COL_IDX] = arena_printf(a, "%d", i);
    r.col[COL_LAYER] = op->name ? op->name : "?";
    r.col[COL_OP] = op_text(a, g, op);
    r.col[COL_SHAPE] = shape_str(a, &g->t[op->out].shape);
    r.col[COL_PARAMS] = fmt_count(a, op_param_count(g, op));
    r.col[COL_MACS] = fmt_count(a, op_macs(g, op));
    r.col[COL_BYTES] = fmt_count(a, g->t[op->out].numel * tensor_elem_bytes(&g->t[op->out]));
    r.col[COL_SIZE] = spatial_text(a, g, op);
    return r;
}

static Row fused_row(Arena *a, const Op *op, int k)
{
    Row r = { { "" } };
    for (int c = 0; c < NCOL; c++)
        r.col[c] = "";
    r.col[COL_LAYER] = arena_printf(a, "+ %s", op->fused[k].name ? op->fused[k].name : "?");
    r.col[COL_OP] = op->fused[k].loc.line > 0
                        ? arena_printf(a, "(fused, line %d)", op->fused[k].loc.line)
                        : "(fused)";
    return r;
}

static int is_numeric(int c)
{
    return c == COL_PARAMS || c == COL_MACS || c == COL_BYTES;
}

/* Columns two spaces apart; numbers right-aligned; no trailing blanks. */
static void print_row(Buf *b, const Row *r, const int *width)
{
    size_t start = b->len;
    for (int c = 0; c < NCOL; c++) {
        const char *s = r->col[c];
        int pad = width[c] - (int)strlen(s);
        if (c)
            buf_puts(b, "  ");
        if (is_numeric(c))
            buf_printf(b, "%*s%s", pad, "", s);
        else
            buf_printf(b, "%s%*s", s, c == NCOL - 1 ? 0 : pad, "");
    }
    while (b->len > start && b->data[b->len - 1] == ' ')
        b->len--;
    buf_putc(b, '\n');
}

static void print_rule(Buf *b, const int *width)
{
    int total = 0;
    for (int c = 0; c < NCOL; c++)
        total += width[c] + (c ? 2 : 0);
    for (int i = 0; i < total; i++)
        buf_putc(b, '-');
    buf_putc(b, '\n');
}

static void print_table(Buf *b, const Row *rows, int n)
{
    Row head;
    int width[NCOL];
    for (int c = 0; c < NCOL; c++) {
        head.col[c] = col_title[c];
        width[c] = (int)strlen(col_title[c]);
    }
    for (int i = 0; i < n; i++)
        for (int c = 0; c < NCOL; c++)
            if ((int)strlen(rows[i].col[c]) > width[c])
                width[c] = (int)strlen(rows[i].col[c]);
    print_row(b, &head, width);
    print_rule(b, width);
    for (int i = 0; i < n; i++)
        print_row(b, &rows[i], width);
    print_rule(b, width);
}

static void print_totals(Ctx *ctx, const Graph *g, Buf *b)
{
    Arena *a = ctx->arena;
    Footprint f;
    budget_measure(ctx, g, &f);
    buf_printf(b, "Total params: %s\n", fmt_count(a, f.params));
    if (g->quantized)
        buf_printf(b, "Weights:      %s bytes (int8 weights; int32 biases, multipliers and shifts;"
                      " float32: %s bytes)", fmt_count(a, f.weight_bytes), fmt_count(a, f.params * 4));
    else
        buf_printf(b, "Weights:      %s bytes", fmt_count(a, f.params * 4));
    if (!g->quantized && f.weight_bytes != f.params * 4)
        buf_printf(b, " (%s bytes in the generated C, packed for speed)",
                   fmt_count(a, f.weight_bytes));
    buf_printf(b, "\nArena:        %s bytes (planned peak; all outputs add up to %s bytes)\n",
               fmt_count(a, f.arena_bytes), fmt_count(a, f.act_total_bytes));
    buf_printf(b, "I/O buffers:  %s bytes (input %s + output %s)\n",
               fmt_count(a, f.input_bytes + f.output_bytes), fmt_count(a, f.input_bytes),
               fmt_count(a, f.output_bytes));
    buf_printf(b, "RAM:          %s bytes (arena + I/O)\n", fmt_count(a, f.ram_bytes));
    buf_printf(b, "Total MACs:   %s%s\n", fmt_count(a, f.macs), g->batch > 1 ? " per sample" : "");
}

/* A quantized graph's int8 tensors: real = scale * (q - zero point). */
static void print_quantized(Ctx *ctx, const Graph *g, Buf *b)
{
    buf_puts(b, "\nInt8 tensors (real value = scale * (q - zero point)):\n");
    for (int t = 0; t < g->nt; t++) {
        const Tensor *x = &g->t[t];
        if (x->dtype == DT_I8 && x->role != TR_WEIGHT)
            buf_printf(b, "  %-24s %-16s scale %-14.9g zero point %d\n", x->name ? x->name : "?",
                       shape_str(ctx->arena, &x->shape), (double)x->qscale, x->qzero);
    }
}

static int count_rows(const Graph *g)
{
    int n = 0;
    for (int i = 0; i < g->nops; i++)
        n += 1 + (g->ops[i].nfused < MAX_FUSED ? g->ops[i].nfused : MAX_FUSED);
    return n;
}

void summary_print(Ctx *ctx, const Graph *g, Buf *b)
{
    Arena *a = ctx->arena;
    const Tensor *in = &g->t[g->input];
    Row *rows = arena_alloc(a, sizeof *rows * (size_t)(count_rows(g) + 1));
    int n = 0;
    for (int i = 0; i < g->nops; i++) {
        rows[n++] = op_row(a, g, i);
        for (int k = 0; k < g->ops[i].nfused && k < MAX_FUSED; k++)
            rows[n++] = fused_row(a, &g->ops[i], k);
    }
    buf_printf(b, "Model \"%s\"", g->name ? g->name : "?");
    if (g->path)
        buf_printf(b, " (%s)", g->path);
    buf_printf(b, "\nInput: %s %s", in->name ? in->name : "?", shape_str(a, &in->shape));
    if (g->batch > 1)
        buf_printf(b, ", a batch of %d samples run one after another (shapes below: one sample)",
                   g->batch);
    buf_puts(b, "\n\n");
    print_table(b, rows, n);
    print_totals(ctx, g, b);
    if (g->quantized)
        print_quantized(ctx, g, b);
}
