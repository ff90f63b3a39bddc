/* test_passes.c: the optimizer's passes on the IR, under the interpreter.
 *
 *   test_passes unit              each pass's effect on small models
 *   test_passes models FILE...    each model, pass by pass, against -O0
 *
 * models: a model compiled with -O0 is run by interp_run (the oracle, on
 * the graph as written); then fold_bn, fuse, pack, pad and inplace are
 * applied one after another to a second copy, and after each pass the
 * interpreter's result on that graph must match the oracle's within
 * max|a - b| / max|ref| <= 1e-5 on three seeded inputs. The final graph
 * is planned and plan_check must accept it. unit: what each pass must do
 * (and leave undone) on models written for it, packed weights checked
 * value by value against the PyTorch layout, and plan_check rejecting
 * unsafe sharing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check.h"
#include "driver.h"
#include "jit.h"

static void on_diag(void *user, const cnnc_diag *d)
{
    (void)user;
    if (d->severity == CNNC_ERROR)
        fprintf(stderr, "error: %s\n", d->message);
}

/* ---- inputs, comparison ---- */

static void fill_input(float *x, long long n, unsigned seed)
{
    unsigned long long s = 0x9e3779b97f4a7c15ULL * (seed + 1);
    for (long long i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((double)(s >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
    }
}

/* max |a - b| / max |ref|; a NaN where ref has one counts as equal. */
static double rel_err(const float *ref, const float *got, long long n)
{
    double maxref = 0, maxdiff = 0;
    for (long long i = 0; i < n; i++) {
        if (isnan(ref[i]) && isnan(got[i]))
            continue;
        if (isnan(ref[i]) || isnan(got[i]))
            return INFINITY;
        if (fabs(ref[i]) > maxref)
            maxref = fabs(ref[i]);
        double d = fabs((double)ref[i] - got[i]);
        if (d > maxdiff)
            maxdiff = d;
    }
    return maxdiff == 0 ? 0 : maxdiff / (maxref > 1e-30 ? maxref : 1e-30);
}

/* ---- compilation ---- */

static Graph *compile_file(Compilation *c, const char *path, int no_opt)
{
    PassOptions po = { no_opt, NULL };
    compilation_init(c, on_diag, NULL);
    if (compilation_run_file(c, path, &po) != 0)
        return NULL;
    return c->graph;
}

static Graph *compile_text(Compilation *c, const char *text, int no_opt)
{
    PassOptions po = { no_opt, NULL };
    compilation_init(c, on_diag, NULL);
    if (compilation_run_string(c, "test.cnn", text, ".", &po) != 0)
        return NULL;
    return c->graph;
}

typedef struct Refs {
    long long nin, nout;
    float *in[3], *out[3];
} Refs;

static int refs_make(Refs *r, const Graph *g)
{
    r->nin = g->t[g->input].numel;
    r->nout = g->t[g->output].numel;
    for (int k = 0; k < 3; k++) {
        r->in[k] = malloc(sizeof(float) * (size_t)r->nin);
        r->out[k] = malloc(sizeof(float) * (size_t)r->nout);
        fill_input(r->in[k], r->nin, (unsigned)k);
        if (interp_run(g, r->in[k], r->out[k]) != 0)
            return -1;
    }
    return 0;
}

static void refs_free(Refs *r)
{
    for (int k = 0; k < 3; k++) {
        free(r->in[k]);
        free(r->out[k]);
    }
}

/* The worst error of g against the references, over the three inputs. */
static double refs_compare(const Refs *r, const Graph *g)
{
    double worst = 0;
    float *got = malloc(sizeof(float) * (size_t)r->nout);
    for (int k = 0; k < 3; k++) {
        if (interp_run(g, r->in[k], got) != 0) {
            worst = INFINITY;
            break;
        }
        double e = rel_err(r->out[k], got, r->nout);
        if (!(e <= worst))
            worst = e;
    }
    free(got);
    return worst;
}

/* The worst error of the optimized g against the -O0 graph g0 on the
 * three inputs; INFINITY when g0 does not run. */
static double error_vs_O0(const Graph *g0, const Graph *g)
{
    Refs r = { 0 };   /* zeroed: a failed refs_make leaves it half made */
    if (refs_make(&r, g0) != 0) {
        refs_free(&r);
        return INFINITY;
    }
    double e = refs_compare(&r, g);
    refs_free(&r);
    return e;
}

/* ---- models: pass by pass against -O0 ---- */

typedef struct Step {
    const char *name;
    void (*run)(Ctx *, Graph *);
} Step;

static const Step steps[] = {
    { "fold_bn", fold_bn_run }, { "fuse", fuse_run }, { "pack", pack_run },
    { "pad", pad_run },         { "concat_view", concat_view_run },
    { "inplace", inplace_run }, { "plan", plan_run },
};

static int check_model(const char *path)
{
    Compilation ref, opt;
    Refs r;
    int bad = 0;
    Graph *g0 = compile_file(&ref, path, 1), *g = compile_file(&opt, path, 1);
    if (!g0 || !g || refs_make(&r, g0) != 0) {
        fprintf(stderr, "FAIL %s: does not compile or run\n", path);
        compilation_free(&ref);
        compilation_free(&opt);
        return 1;
    }
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        steps[s].run(&opt.ctx, g);
        double e = refs_compare(&r, g);
        if (!(e <= 1e-5)) {
            fprintf(stderr, "FAIL %s: after %s, max-rel error %.3g\n", path, steps[s].name, e);
            bad = 1;
            break;
        }
    }
    char msg[512];
    if (!bad && plan_check(&opt.ctx, g, msg, sizeof msg) != 0) {
        fprintf(stderr, "FAIL %s: plan_check: %s\n", path, msg);
        bad = 1;
    }
    refs_free(&r);
    compilation_free(&ref);
    compilation_free(&opt);
    return bad;
}

/* ---- unit: what each pass does ---- */

static int count_ops(const Graph *g, OpKind k)
{
    int n = 0;
    for (int i = 0; i < g->nops; i++)
        n += g->ops[i].kind == k;
    return n;
}

/* The op of the statement name that is not its explicit padding (pad.c
 * names a pad op after its conv). */
static const Op *find_op(const Graph *g, const char *name)
{
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].name && strcmp(g->ops[i].name, name) == 0 && g->ops[i].kind != OP_PAD)
            return &g->ops[i];
    return NULL;
}

static const char bn_model[] =
    "model m { input x[3, 9, 9]; weights random(seed=4);\n"
    "  c = conv2d(filters=20, kernel=3, padding=1, bias=false);\n"
    "  bn = batchnorm; r = relu;\n"
    "  p = maxpool(kernel=2); bn2 = batchnorm;\n"   /* not after a conv: stays */
    "  flatten; d = dense(units=70); dbn = batchnorm; }\n";

static void unit_fold_bn(void)
{
    Compilation c0, c;
    Graph *g0 = compile_text(&c0, bn_model, 1), *g = compile_text(&c, bn_model, 0);
    CHECK_OR(g0 && g, goto done);
    CHECK_INT(count_ops(g0, OP_BATCHNORM), 3);
    CHECK_INT(count_ops(g, OP_BATCHNORM), 1);       /* bn2 follows a pool */
    const Op *conv = find_op(g, "c"), *dense = find_op(g, "d");
    CHECK(conv && conv->act.kind == ACT_RELU && conv->nfused == 2 && conv->b >= 0);
    CHECK(dense && dense->nfused == 1 && strcmp(dense->fused[0].name, "dbn") == 0);
    CHECK(error_vs_O0(g0, g) <= 1e-5);
done:
    compilation_free(&c0);
    compilation_free(&c);
}

/* The packed tensor against the PyTorch layout w[f][ic][ky][kx], value by
 * value: block f / 16 (within the group), row 1 + tap, lane f % 16. */
static void check_conv_packing(const Graph *g, const Op *op)
{
    CHECK_OR(op->packed >= 0 && op->b >= 0, return);   /* read below */
    const Tensor *w = &g->t[op->w], *b = &g->t[op->b], *p = &g->t[op->packed];
    const int F = w->shape.dim[0], taps = w->shape.dim[1] * w->shape.dim[2] * w->shape.dim[3];
    const int G = op->groups, Fg = F / G, nbg = (Fg + 15) / 16;
    CHECK(p->shape.rank == 3 && p->shape.dim[0] == G * nbg && p->shape.dim[1] == 1 + taps &&
          p->shape.dim[2] == 16);
    int bad = 0;
    for (int f = 0; f < F; f++) {
        const float *blk = p->data + (long long)(f / Fg * nbg + f % Fg / 16) * (1 + taps) * 16;
        bad += blk[f % Fg % 16] != b->data[f];
        for (int t = 0; t < taps; t++)
            bad += blk[(1 + t) * 16 + f % Fg % 16] != w->data[(long long)f * taps + t];
    }
    for (int lane = Fg % 16; Fg % 16 && lane < 16; lane++)   /* padding lanes */
        for (int t = 0; t <= taps; t++)
            bad += p->data[((long long)(nbg - 1) * (1 + taps) + t) * 16 + lane] != 0.0f;
    CHECK_INT(bad, 0);
}

static void check_dense_packing(const Graph *g, const Op *op)
{
    CHECK_OR(op->packed >= 0 && op->b >= 0, return);
    const Tensor *w = &g->t[op->w], *b = &g->t[op->b], *p = &g->t[op->packed];
    const int U = w->shape.dim[0], N = w->shape.dim[1];
    long long at = 0;
    int bad = 0;
    for (int u0 = 0; u0 < U; u0 += 64) {
        const int width = U - u0 >= 64 ? 64 : (U - u0 + 15) / 16 * 16;
        for (int j = 0; j < width; j++) {
            const int u = u0 + j;
            bad += p->data[at + j] != (u < U ? b->data[u] : 0.0f);
            for (int i = 0; i < N; i++)
                bad += p->data[at + (long long)(1 + i) * width + j] !=
                       (u < U ? w->data[(long long)u * N + i] : 0.0f);
        }
        at += (long long)(1 + N) * width;
    }
    CHECK_INT(at, p->numel);
    CHECK_INT(bad, 0);
}

static const char pack_model[] =
    "model m { input x[12, 12, 20]; weights random(seed=9);\n"
    "  a = conv2d(filters=40, kernel=3, padding=[1, 2, 0, 1], activation=relu);\n"
    "  b = conv2d(filters=18, kernel=3, stride=2, padding=1);\n"
    "  g = conv2d(filters=24, kernel=[3, 2], stride=2, groups=6, padding=1);\n"
    "  dw = conv2d(filters=24, kernel=3, groups=24, dilation=2, padding=same);\n"
    "  s = conv2d(filters=6, kernel=1);\n"
    "  flatten; d = dense(units=150, activation=tanh); }\n";

static void unit_pack_pad(void)
{
    Compilation c0, c;
    Graph *g0 = compile_text(&c0, pack_model, 1), *g = compile_text(&c, pack_model, 0);
    CHECK_OR(g0 && g, goto done);
    const Op *a = find_op(g, "a"), *b = find_op(g, "b"), *gr = find_op(g, "g");
    const Op *dw = find_op(g, "dw"), *s = find_op(g, "s"), *d = find_op(g, "d");
    CHECK(a && a->variant == KV_CONV_PIXELS);        /* 21 wide, stride 1, 12 channels */
    CHECK(b && b->variant == KV_CONV_BLOCKED);       /* stride 2 */
    CHECK(gr && gr->variant == KV_CONV_ROWS);        /* 4 filters per group */
    CHECK(dw && dw->variant == KV_CONV_ROWS);        /* depthwise */
    CHECK(s && s->variant == KV_CONV_ROWS);          /* 6 filters */
    CHECK(d && d->variant == KV_DENSE_BLOCKED);
    if (a && b && d) {
        check_conv_packing(g, a);
        check_conv_packing(g, b);
        check_dense_packing(g, d);
    }
    /* pad.c: an explicit pad before each fast padded conv but the depthwise
     * one, which pads itself (pad_in_kernel) and keeps its padding. */
    CHECK(count_ops(g, OP_PAD) == 3 && count_ops(g0, OP_PAD) == 0);
    CHECK(dw && pad_in_kernel(g, dw) && dw->win.pt == 2 && dw->win.pr == 2);
    CHECK(gr && !pad_in_kernel(g, gr));   /* 3 input channels per group */
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        if (op->kind != OP_CONV || op == dw)
            continue;
        CHECK(op->win.pt == 0 && op->win.pl == 0 && op->win.pb == 0 && op->win.pr == 0);
        if (op == a) {
            CHECK_OR(i > 0, continue);
            const Op *pad = &g->ops[i - 1];
            CHECK(pad->kind == OP_PAD && pad->out == op->in[0]);
            CHECK(g->t[pad->out].shape.dim[1] == 13 && g->t[pad->out].shape.dim[2] == 23);
        }
    }
    CHECK(error_vs_O0(g0, g) <= 1e-5);
    /* -O0 chooses nothing. */
    for (int i = 0; i < g0->nops; i++)
        CHECK(g0->ops[i].variant == KV_GENERIC && g0->ops[i].inplace == 0);
done:
    compilation_free(&c0);
    compilation_free(&c);
}

/* A Winograd conv of odd output height (11 x 20): its pad copy gets one
 * more row of zeros below (pad_borders), for the last row of tiles. The
 * 1x1 conv before sets the arena's peak, so that its work tensor fits. */
static const char winograd_model[] =
    "model m { input x[16, 11, 21]; weights random(seed=4);\n"
    "  big = conv2d(filters=200, kernel=1); s = conv2d(filters=16, kernel=1);\n"
    "  a = conv2d(filters=32, kernel=3, padding=[1, 1, 1, 0]); }\n";

static void unit_winograd_odd(void)
{
    Compilation c0, c;
    Graph *g0 = compile_text(&c0, winograd_model, 1), *g = compile_text(&c, winograd_model, 0);
    CHECK_OR(g0 && g, goto done);
    const Op *a = find_op(g, "a");
    CHECK_OR(a && a > g->ops, goto done);
    const Op *pad = a - 1;
    CHECK(a->variant == KV_CONV_WINOGRAD && a->work > 0);
    CHECK(pad->kind == OP_PAD && pad->out == a->in[0]);
    CHECK(pad->win.pt == 1 && pad->win.pl == 1 && pad->win.pb == 2 && pad->win.pr == 0);
    const Shape *ps = &g->t[pad->out].shape;
    CHECK(ps->dim[0] == 16 && ps->dim[1] == 14 && ps->dim[2] == 22);
    CHECK(error_vs_O0(g0, g) <= 1e-5);
done:
    compilation_free(&c0);
    compilation_free(&c);
}

/* p is read after the add: the add may write over q only. */
static const char inplace_model[] =
    "model m { input x[4, 6, 6]; weights random(seed=2);\n"
    "  p = maxpool(kernel=1); q = avgpool(kernel=1);\n"
    "  s = add(p, q); t = add(s, p); sig = sigmoid;\n"
    "  flatten; d = dense(units=5); }\n";

static void unit_inplace(void)
{
    Compilation c0, c;
    Graph *g0 = compile_text(&c0, inplace_model, 1), *g = compile_text(&c, inplace_model, 0);
    CHECK_OR(g0 && g, goto done);
    const Op *s = find_op(g, "s"), *t = find_op(g, "t"), *fl = find_op(g, "flatten_0");
    CHECK(s && s->inplace == 2);                     /* over q, not p */
    CHECK(t && t->inplace >= 1);                     /* s and p both die here */
    CHECK(fl && fl->variant == KV_VIEW);
    if (s && t && fl) {
        CHECK(g->t[s->out].offset == g->t[s->in[1]].offset);
        CHECK(g->t[fl->out].offset == g->t[fl->in[0]].offset);
    }
    char msg[512];
    CHECK(plan_check(&c.ctx, g, msg, sizeof msg) == 0);
    CHECK(g->arena_floats < g0->arena_floats);
    CHECK(g->arena_floats >= plan_lower_bound(&c.ctx, g));
    CHECK(error_vs_O0(g0, g) <= 1e-5);
    /* Unsafe: s written over p, which t reads afterwards. The planner
     * shares the storage as told; plan_check must refuse. */
    Op *sw = (Op *)find_op(g, "s");
    if (sw) {
        sw->inplace = 1;
        plan_run(&c.ctx, g);
        CHECK(plan_check(&c.ctx, g, msg, sizeof msg) != 0);
        CHECK(strstr(msg, "overlap") != NULL);
    }
done:
    compilation_free(&c0);
    compilation_free(&c);
}

/* ---- concat_view: which concat inputs are slices, exactly ---- */

static int find_tensor(const Graph *g, const char *name)
{
    for (int t = 0; t < g->nt; t++)
        if (g->t[t].name && strcmp(g->t[t].name, name) == 0)
            return t;
    return -1;
}

/* Tensor name is a slice of tensor of at element at (of NULL: no slice),
 * and the plan put it there. */
static int is_slice_at(const Graph *g, const char *name, const char *of, long long at)
{
    int t = find_tensor(g, name), y = of ? find_tensor(g, of) : -1;
    if (t < 0 || (of && y < 0))
        return 0;
    if (!of)
        return g->t[t].slice_of == 0;
    return g->t[t].slice_of == 1 + y && g->t[t].slice_at == at &&
           g->t[t].offset == g->t[y].offset + at;
}

/* The emitted C (libtcc) of g equals the references (-O0, interpreted). */
static double jit_compare(Compilation *c, const Refs *r, const Graph *g)
{
    Jit *j = jit_compile(&c->ctx, g, NULL);
    if (!j)
        return INFINITY;
    double worst = 0;
    float *got = malloc(sizeof(float) * (size_t)r->nout);
    for (int k = 0; k < 3; k++) {
        jit_run(j, r->in[k], got);
        double e = rel_err(r->out[k], got, r->nout);
        if (!(e <= worst))
            worst = e;
    }
    free(got);
    jit_free(j);
    return worst;
}

/* Compiles text with and without the optimizer; the optimized graph's C
 * must equal the -O0 graph's interpreted results. */
static Graph *compile_pair(Compilation *c0, Compilation *c, const char *text, Refs *r)
{
    Graph *g0 = compile_text(c0, text, 1), *g = compile_text(c, text, 0);
    if (!g0 || !g || refs_make(r, g0) != 0)
        return NULL;
    char msg[512];
    CHECK_OR(plan_check(&c->ctx, g, msg, sizeof msg) == 0, fprintf(stderr, "  %s\n", msg));
    CHECK(g->arena_floats <= g0->arena_floats);
    CHECK(refs_compare(r, g) <= 1e-5);
    if (jit_available())
        CHECK(jit_compare(c, r, g) <= 1e-5);
    else
        printf("concat_view: no libtcc in this build, the emitted C is not run here\n");
    return g;
}

/* Last claim wins: e takes d and r, d takes c and a (at its first place;
 * the second a and, in c, a again are copies), c takes b; x is the
 * graph's input and is copied. r reads a after c and d. */
static const char slices_model[] =
    "model m { input x[4, 6, 6]; weights random(seed=3);\n"
    "  a = conv2d(x, filters=3, kernel=1);\n"
    "  b = maxpool(x, kernel=3, stride=1, padding=1);\n"
    "  c = concat(a, b, x); r = relu(a);\n"
    "  d = concat(c, a, a); e = concat(d, r);\n"
    "  out = conv2d(e, filters=2, kernel=1); }\n";

/* s = add(q, p) writes its slice of f in place over q, which moves into
 * the slice; g's fused relu and y's being the output leave them copies. */
static const char slices_model2[] =
    "model m { input x[2, 5, 5]; weights random(seed=4);\n"
    "  p = conv2d(x, filters=4, kernel=3, padding=1); q = avgpool(kernel=1);\n"
    "  s = add(q, p); f = concat(s, x);\n"
    "  m1 = maxpool(f, kernel=1); g = concat(m1, f); gr = relu;\n"
    "  flatten; v = dense(units=3); w = dense(v, units=5);\n"
    "  y = concat(w, v); }\n";

static void unit_concat_view(void)
{
    Compilation c0, c;
    Refs r;
    Graph *g = compile_pair(&c0, &c, slices_model, &r);
    CHECK_OR(g != NULL, goto second);
    CHECK(is_slice_at(g, "a", "d", 11 * 36) && is_slice_at(g, "b", "c", 3 * 36));
    CHECK(is_slice_at(g, "c", "d", 0) && is_slice_at(g, "r", "e", 17 * 36));
    CHECK(is_slice_at(g, "d", "e", 0) && is_slice_at(g, "e", NULL, 0));
    CHECK(is_slice_at(g, "x", NULL, 0));
    CHECK(emit_concat_is_view(g, find_op(g, "e")));
    CHECK(!emit_concat_is_view(g, find_op(g, "d")) && !emit_concat_is_view(g, find_op(g, "c")));
    CHECK(find_op(g, "r")->inplace == 0);   /* a's storage is e's, read later */
    /* Broken: b told to sit at c's start, where c's copy of a goes. */
    int b = find_tensor(g, "b");
    g->t[b].slice_at = 0;
    plan_run(&c.ctx, g);
    char msg[512];
    CHECK(plan_check(&c.ctx, g, msg, sizeof msg) != 0);
    CHECK(strstr(msg, "'b'") && strstr(msg, "'c'") && strstr(msg, "overlap"));
    g->t[b].slice_at = 3 * 36;
    plan_run(&c.ctx, g);
    CHECK(plan_check(&c.ctx, g, msg, sizeof msg) == 0);
    /* Broken: a fused activation on e changes its slices' values. */
    Op *e = (Op *)find_op(g, "e");
    e->act = act_default(ACT_RELU);
    CHECK(plan_check(&c.ctx, g, msg, sizeof msg) != 0);
    CHECK(strstr(msg, "'e'") && strstr(msg, "overlap"));
    refs_free(&r);
second:
    compilation_free(&c0);
    compilation_free(&c);
    g = compile_pair(&c0, &c, slices_model2, &r);
    CHECK_OR(g != NULL, goto done);
    CHECK(is_slice_at(g, "s", "f", 0) && find_op(g, "s")->inplace == 1);
    CHECK(g->t[find_tensor(g, "q")].offset == g->t[find_tensor(g, "f")].offset);
    CHECK(is_slice_at(g, "m1", NULL, 0) && is_slice_at(g, "f", NULL, 0));
    CHECK(is_slice_at(g, "w", NULL, 0) && is_slice_at(g, "v", NULL, 0));
    refs_free(&r);
done:
    compilation_free(&c0);
    compilation_free(&c);
}

/* fuse.c's residuals: which adds become a conv's second input, and which
 * of those convs write over the residual (inplace.c). */
static const char residual_model[] =
    "model m { input x[4, 6, 6]; weights random(seed=5);\n"
    "  a = conv2d(filters=4, kernel=3, padding=1);\n"
    "  b = conv2d(a, filters=4, kernel=3, padding=1);\n"
    "  s = add(b, a); r = relu;\n"                 /* b takes a, and the relu */
    "  c = conv2d(r, filters=4, kernel=1);\n"
    "  t = add(c, r, x);\n"                        /* three operands: stays */
    "  d = conv2d(t, filters=4, kernel=1);\n"
    "  u = add(t, d);\n"                           /* d takes t, its window input */
    "  e = conv2d(u, filters=4, kernel=1); m1 = relu(u);\n"
    "  v = add(e, m1);\n"                          /* m1 made after e: stays */
    "  f = conv2d(v, filters=4, kernel=1); fr = relu(f);\n"
    "  w = add(f, fr);\n"                          /* f read twice: stays */
    "  h = conv2d(w, filters=4, kernel=1);\n"
    "  k = conv2d(w, filters=4, kernel=1);\n"
    "  z = add(h, k);\n"                           /* the later conv, k, takes h */
    "  flatten; o = dense(units=5); }\n";

static void unit_fuse_residual(void)
{
    Compilation c0, c;
    Graph *g0 = compile_text(&c0, residual_model, 1), *g = compile_text(&c, residual_model, 0);
    CHECK_OR(g0 && g, goto done);
    CHECK_INT(count_ops(g0, OP_ADD), 6);
    CHECK_INT(count_ops(g, OP_ADD), 3);              /* t, v, w */
    const Op *a = find_op(g, "a"), *b = find_op(g, "b"), *d = find_op(g, "d");
    const Op *e = find_op(g, "e"), *h = find_op(g, "h"), *k = find_op(g, "k");
    CHECK_OR(a && b && d && e && h && k, goto done);
    CHECK(op_residual(b) == a->out && b->act.kind == ACT_RELU && b->nfused == 2);
    CHECK(b->inplace == 2 && g->t[b->out].offset == g->t[a->out].offset);
    CHECK(op_residual(d) == d->in[0] && d->inplace == 0);   /* reads t as both */
    CHECK(op_residual(e) < 0 && op_residual(h) < 0);
    CHECK(op_residual(k) == h->out && k->inplace == 2);
    char msg[512];
    CHECK(plan_check(&c.ctx, g, msg, sizeof msg) == 0);
    CHECK(error_vs_O0(g0, g) == 0);                 /* bit for bit */
done:
    compilation_free(&c0);
    compilation_free(&c);
}

/* fuse.c: a concat read by a batchnorm alone becomes the batchnorm's
 * inputs; one read by something else too stays. */
static const char concat_bn_model[] =
    "model m { input x[4, 6, 6]; weights random(seed=6);\n"
    "  a = conv2d(filters=3, kernel=1); b = maxpool(x, kernel=1);\n"
    "  c1 = concat(a, b, x); n1 = batchnorm; r1 = relu;\n"    /* fused */
    "  c2 = concat(a, r1); n2 = batchnorm(c2); m2 = maxpool(c2, kernel=1);\n"
    "  s = concat(n2, m2); flatten; o = dense(units=5); }\n";

static void unit_fuse_concat(void)
{
    Compilation c0, c;
    Graph *g0 = compile_text(&c0, concat_bn_model, 1), *g = compile_text(&c, concat_bn_model, 0);
    CHECK_OR(g0 && g, goto done);
    CHECK_INT(count_ops(g0, OP_CONCAT), 3);
    CHECK_INT(count_ops(g, OP_CONCAT), 2);           /* c2 (read twice) and s */
    const Op *n1 = find_op(g, "n1"), *n2 = find_op(g, "n2");
    CHECK_OR(n1 && n2, goto done);
    CHECK(n1->nin == 3 && n1->act.kind == ACT_RELU && n1->nfused == 2);
    CHECK(n2->nin == 1);
    CHECK(error_vs_O0(g0, g) == 0);                 /* bit for bit */
done:
    compilation_free(&c0);
    compilation_free(&c);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "unit") == 0) {
        unit_fold_bn();
        unit_pack_pad();
        unit_winograd_odd();
        unit_inplace();
        unit_concat_view();
        unit_fuse_residual();
        unit_fuse_concat();
        return check_status("passes unit");
    }
    if (argc >= 3 && strcmp(argv[1], "models") == 0) {
        int bad = 0;
        for (int i = 2; i < argc; i++)
            bad += check_model(argv[i]);
        printf("passes models: %d of %d failed\n", bad, argc - 2);
        return check_status("passes models") | (bad != 0);
    }
    fprintf(stderr, "usage: test_passes unit | test_passes models FILE...\n");
    return 2;
}
