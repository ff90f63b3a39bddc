/* backend_util.c: graph builders and plumbing for the backend tests.
 * Output shapes are computed here from the formulas of docs/language.md, not
 * taken from the compiler.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "backend_test.h"

void tb_init(TB *b, const char *name, unsigned seed)
{
    b->arena = arena_new();
    ctx_init(&b->ctx, b->arena);
    b->g = graph_new(&b->ctx, name,
                     arena_printf(b->arena, "tests/backend/%s.cnn", name));
    b->seed = seed;
    b->line = 3;
}

void tb_free(TB *b)
{
    arena_free(b->arena);
}

Shape shp1(int n)
{
    Shape s = { 1, { n, 0, 0, 0 } };
    return s;
}

Shape shp3(int c, int h, int w)
{
    Shape s = { 3, { c, h, w, 0 } };
    return s;
}

Window win(int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int pb, int pr)
{
    Window w = { kh, kw, sh, sw, dh, dw, pt, pl, pb, pr };
    return w;
}

Act act_of(ActKind k, float alpha, float beta)
{
    Act a = { k, alpha, beta };
    return a;
}

void fill_uniform(float *dst, long long n, unsigned seed, float lo, float hi)
{
    unsigned s = seed * 2654435761u + 12345u;
    for (long long i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        dst[i] = lo + (hi - lo) * (float)(s >> 8) * (1.0f / 16777216.0f);
    }
}

int tb_input(TB *b, Shape s)
{
    int t = graph_add_tensor(&b->ctx, b->g, "x", TR_INPUT, s);
    b->g->input = t;
    return t;
}

int tb_weight(TB *b, const char *layer, const char *what, Shape s, float lo, float hi)
{
    const char *name = arena_printf(b->arena, "%s.%s", layer, what);
    int t = graph_add_tensor(&b->ctx, b->g, name, TR_WEIGHT, s);
    float *d = arena_alloc(b->arena, (size_t)b->g->t[t].numel * sizeof *d);
    fill_uniform(d, b->g->t[t].numel, b->seed + (unsigned)t * 7919u, lo, hi);
    b->g->t[t].data = d;
    return t;
}

Op *tb_op(TB *b, OpKind kind, const char *name, Shape out, int nin, const int *in)
{
    int t = graph_add_tensor(&b->ctx, b->g, name, TR_ACT, out);
    Op *op = graph_add_op(&b->ctx, b->g, kind);
    op->name = name;
    op->loc.line = b->line++;
    op->loc.col = 5;
    op->in = arena_alloc(b->arena, (size_t)nin * sizeof *op->in);
    memcpy(op->in, in, (size_t)nin * sizeof *in);
    op->nin = nin;
    op->out = t;
    op->groups = 1;
    b->g->t[t].producer = b->g->nops - 1;
    return op;
}

int tb_out(const Op *op)
{
    return op->out;
}

void tb_fuse(TB *b, Op *op, const char *stmt)
{
    op->fused[op->nfused].name = stmt;
    op->fused[op->nfused].loc.line = b->line++;
    op->fused[op->nfused].loc.col = 5;
    op->nfused++;
}

static int win_out(int n, int k, int s, int d, int p0, int p1)
{
    return (n + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

int tb_conv(TB *b, const char *name, int x, int filters, Window w, int groups, int bias, Act act)
{
    const Shape is = b->g->t[x].shape;
    const int C = is.dim[0], fan_in = C / groups * w.kh * w.kw;
    const float bound = 1.0f / sqrtf((float)fan_in);
    int wt = tb_weight(b, name, "weight", (Shape){ 4, { filters, C / groups, w.kh, w.kw } },
                       -bound, bound);
    int bt = bias ? tb_weight(b, name, "bias", shp1(filters), -bound, bound) : -1;
    Shape os = shp3(filters, win_out(is.dim[1], w.kh, w.sh, w.dh, w.pt, w.pb),
                    win_out(is.dim[2], w.kw, w.sw, w.dw, w.pl, w.pr));
    Op *op = tb_op(b, OP_CONV, name, os, 1, &x);
    op->w = wt;
    op->b = bt;
    op->win = w;
    op->groups = groups;
    op->act = act;
    return op->out;
}

int tb_pool(TB *b, OpKind kind, const char *name, int x, Window w, int count_pad, Act act)
{
    const Shape is = b->g->t[x].shape;
    Shape os = shp3(is.dim[0], win_out(is.dim[1], w.kh, w.sh, w.dh, w.pt, w.pb),
                    win_out(is.dim[2], w.kw, w.sw, w.dw, w.pl, w.pr));
    Op *op = tb_op(b, kind, name, os, 1, &x);
    op->win = w;
    op->count_pad = count_pad;
    op->act = act;
    return op->out;
}

int tb_unary(TB *b, OpKind kind, const char *name, int x, Act act)
{
    Shape s = b->g->t[x].shape;
    if (kind == OP_GLOBAL_AVGPOOL)
        s = shp3(s.dim[0], 1, 1);
    else if (kind == OP_FLATTEN)
        s = shp1((int)b->g->t[x].numel);
    Op *op = tb_op(b, kind, name, s, 1, &x);
    op->act = act;
    return op->out;
}

int tb_dense(TB *b, const char *name, int x, int units, int bias, Act act)
{
    const int n = (int)b->g->t[x].numel;
    const float bound = 1.0f / sqrtf((float)n);
    int wt = tb_weight(b, name, "weight", (Shape){ 2, { units, n, 0, 0 } }, -bound, bound);
    int bt = bias ? tb_weight(b, name, "bias", shp1(units), -bound, bound) : -1;
    Op *op = tb_op(b, OP_DENSE, name, shp1(units), 1, &x);
    op->w = wt;
    op->b = bt;
    op->act = act;
    return op->out;
}

int tb_batchnorm(TB *b, const char *name, int x, float eps, Act act)
{
    const int C = b->g->t[x].shape.dim[0];
    int gamma = tb_weight(b, name, "weight", shp1(C), 0.5f, 1.5f);
    int beta = tb_weight(b, name, "bias", shp1(C), -0.5f, 0.5f);
    int mean = tb_weight(b, name, "running_mean", shp1(C), -0.5f, 0.5f);
    int var = tb_weight(b, name, "running_var", shp1(C), 0.25f, 2.0f);
    Op *op = tb_op(b, OP_BATCHNORM, name, b->g->t[x].shape, 1, &x);
    op->w = gamma;
    op->b = beta;
    op->mean = mean;
    op->var = var;
    op->epsilon = eps;
    op->act = act;
    return op->out;
}

int tb_nary(TB *b, OpKind kind, const char *name, int nin, const int *in, Act act)
{
    Shape s = b->g->t[in[0]].shape;
    if (kind == OP_CONCAT)
        for (int k = 1; k < nin; k++)
            s.dim[0] += b->g->t[in[k]].shape.dim[0];
    Op *op = tb_op(b, kind, name, s, nin, in);
    op->act = act;
    return op->out;
}

int tb_softmax(TB *b, const char *name, int x, int axis, Act act)
{
    Op *op = tb_op(b, OP_SOFTMAX, name, b->g->t[x].shape, 1, &x);
    op->axis = axis;
    op->act = act;
    return op->out;
}

void tb_output(TB *b, int t)
{
    b->g->t[t].role = TR_OUTPUT;
    b->g->output = t;
}

int run_cmd(const char *cmd)
{
    fflush(stdout);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

int write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return fclose(f) != 0 || n != len ? -1 : 0;
}

int plan_and_emit(Graph *g, Ctx *ctx, const char *dir, const char *prefix, int weights_extern,
                  int optimize)
{
    char path[1024];
    PassOptions po = { !optimize, NULL };
    if (pass_run_all(ctx, g, &po) != 0) {
        fprintf(stderr, "%s: the passes reported an error\n", prefix);
        return 1;
    }
    char *header = arena_printf(ctx->arena, "%s.h", prefix);
    EmitOptions opt = { .prefix = prefix, .header_name = header, .weights_extern = weights_extern };
    Buf c, h;
    buf_init(&c);
    buf_init(&h);
    emit_c(ctx, g, &opt, &c, &h);
    snprintf(path, sizeof path, "%s/%s.c", dir, prefix);
    int bad = write_file(path, c.data, c.len);
    snprintf(path, sizeof path, "%s/%s.h", dir, prefix);
    bad |= write_file(path, h.data, h.len);
    buf_free(&c);
    buf_free(&h);
    if (bad)
        fprintf(stderr, "%s: cannot write %s\n", prefix, path);
    return bad ? 1 : 0;
}

double rel_error(const float *ref, const float *got, long long n, long long *ndiff)
{
    double maxref = 0, maxdiff = 0;
    *ndiff = 0;
    for (long long i = 0; i < n; i++) {
        if (memcmp(&ref[i], &got[i], sizeof(float)) != 0)
            ++*ndiff;
        if (isnan(ref[i]) || isnan(got[i])) {
            if (isnan(ref[i]) != isnan(got[i]))
                maxdiff = INFINITY;
            continue;
        }
        if (fabs((double)ref[i]) > maxref)
            maxref = fabs((double)ref[i]);
        double d = ref[i] == got[i] ? 0.0 : fabs((double)ref[i] - (double)got[i]);
        if (d > maxdiff || isnan(d))
            maxdiff = isnan(d) ? INFINITY : d;
    }
    return maxdiff / (maxref > 1e-30 ? maxref : 1e-30);
}
