/* sema.c: the checker. Consumes the parsed Model; resolves statement names
 * and SOURCEs, validates every argument (type, range, required, unknown,
 * with a suggestion for typos), and infers every shape with the lecture's
 * formula. Every semantic error of a model is reported here, located at the
 * token it concerns; checking goes on after an error so that one run shows
 * several. On success each layer Stmt has info (its checked Op), in[] and
 * shape filled, ready for lower.c.
 */
#include <math.h>
#include <string.h>

#include "ast.h"

/* ------------------------------------------------------------------ */
/* Names and suggestions                                              */

/* The candidate nearest to name, or NULL if none is plausibly meant. */
static const char *nearest(const char *name, const char *const *cands, int n)
{
    return cnnc_suggest(name, cands, n > 0 ? (size_t)n : 0);
}

static const char *did_you_mean(Ctx *ctx, const char *name, const char *const *cands, int n)
{
    const char *s = nearest(name, cands, n);
    return s ? arena_printf(ctx->arena, "; did you mean '%s'?", s) : "";
}

/* ------------------------------------------------------------------ */
/* Op table: the statement ops and what they accept                   */

typedef struct Checker Checker;
/* Checks one statement's arguments and source shapes into op and c->s. */
typedef int CheckFn(Checker *c, Op *op, const Shape *x);

/* A statement op: an ops.def row, or for OP_ACT an acts.def row. */
typedef struct OpInfo {
    const char *name;
    OpKind kind;
    ActKind act;              /* OP_ACT */
    const char *const *keys;  /* accepted arguments, NULL-terminated; NULL: acts.def's */
    CheckFn *check;
} OpInfo;

static const char *const conv_keys[] = { "filters", "kernel", "stride", "padding", "dilation",
                                         "groups", "bias", "activation", NULL };
static const char *const pool_keys[] = { "kernel", "stride", "padding", "dilation", NULL };
static const char *const avgpool_keys[] = { "kernel", "stride", "padding", "dilation",
                                            "count_pad", NULL };
static const char *const dense_keys[] = { "units", "bias", "activation", NULL };
static const char *const bn_keys[] = { "epsilon", NULL };
static const char *const no_keys[] = { NULL };
static const char *const softmax_keys[] = { "axis", NULL };
static const char *const mean_keys[] = { "keepdims", NULL };
static const char *const scale_keys[] = { "bias", NULL };
static const char *const shuffle_keys[] = { "groups", NULL };
static const char *const upsample_keys[] = { "scale", "mode", NULL };
static const char *const pad_keys[] = { "padding", "top", "left", "bottom", "right", "mode",
                                        "value", NULL };

/* The statement ops in ops.def's order, acts.def's rows where OP_ACT is. */
enum { MAX_STMT_OPS = OP__COUNT + ACT__COUNT };
static int stmt_ops(const OpInfo **list);

static const OpInfo *op_lookup(const char *name)
{
    const OpInfo *list[MAX_STMT_OPS];
    int n = stmt_ops(list);
    for (int i = 0; i < n; i++)
        if (strcmp(list[i]->name, name) == 0)
            return list[i];
    return NULL;
}

static const char *op_suggestion(Ctx *ctx, const char *name)
{
    const OpInfo *list[MAX_STMT_OPS];
    const char *names[MAX_STMT_OPS];
    int n = stmt_ops(list);
    for (int i = 0; i < n; i++)
        names[i] = list[i]->name;
    /* common names from other frameworks */
    static const char *const aliases[][2] = {
        { "conv", "conv2d" }, { "linear", "dense" }, { "fc", "dense" },
        { "maxpool2d", "maxpool" }, { "avgpool2d", "avgpool" }, { "batchnorm2d", "batchnorm" },
        { "gap", "global_avgpool" }, { "silu", "swish" }, { "leakyrelu", "leaky_relu" },
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i][0]) == 0)
            return arena_printf(ctx->arena, "; did you mean '%s'?", aliases[i][1]);
    return did_you_mean(ctx, name, names, n);
}

/* ------------------------------------------------------------------ */
/* Arguments                                                          */

struct Checker {
    Ctx *ctx;
    Model *m;
    Stmt *s;              /* the statement being checked */
    const OpInfo *op;
    int ok;               /* no error in this statement */
};

/* "conv2d 'conv1'": how messages name the statement. */
static const char *who(const Checker *c)
{
    return arena_printf(c->ctx->arena, "%s '%s'", c->s->op, c->s->name);
}

static void check_error(Checker *c, Loc loc, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void check_error(Checker *c, Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *msg = arena_printf(c->ctx->arena, "%s: %s", who(c), fmt);
    diag_vreport(c->ctx, CNNC_ERROR, c->ctx->src->path, loc, msg, ap);
    va_end(ap);
    c->ok = 0;
}

static Attr *arg_find(Checker *c, const char *key)
{
    for (Attr *a = c->s->attrs; a; a = a->next)
        if (strcmp(a->key, key) == 0)
            return a;
    return NULL;
}

static const char *value_desc(Ctx *ctx, const Value *v)
{
    switch (v->kind) {
    case VAL_INT: return arena_printf(ctx->arena, "%lld", v->i);
    case VAL_REAL: return arena_printf(ctx->arena, "%g", v->r);
    case VAL_BOOL: return v->i ? "true" : "false";
    case VAL_IDENT: return arena_printf(ctx->arena, "'%s'", v->s);
    case VAL_STRING: return arena_printf(ctx->arena, "\"%s\"", v->s);
    case VAL_LIST: return "a list";
    }
    return "?";
}

/* An integer argument in [lo, hi]; *out keeps its default when absent. */
static int arg_int(Checker *c, const char *key, long long lo, long long hi, int *out)
{
    Attr *a = arg_find(c, key);
    if (!a)
        return 0;
    if (a->val->kind != VAL_INT) {
        check_error(c, a->val->loc, "%s must be an integer, got %s", key, value_desc(c->ctx, a->val));
        return -1;
    }
    if (a->val->i < lo || a->val->i > hi) {
        check_error(c, a->val->loc, "%s must be between %lld and %lld, got %lld", key, lo, hi, a->val->i);
        return -1;
    }
    *out = (int)a->val->i;
    return 1;
}

static int arg_real(Checker *c, const char *key, float *out)
{
    Attr *a = arg_find(c, key);
    if (!a)
        return 0;
    if (a->val->kind != VAL_INT && a->val->kind != VAL_REAL) {
        check_error(c, a->val->loc, "%s must be a number, got %s", key, value_desc(c->ctx, a->val));
        return -1;
    }
    if (!isfinite((float)a->val->r)) {
        check_error(c, a->val->loc, "%s %g is out of the range of float", key, a->val->r);
        return -1;
    }
    *out = (float)a->val->r;
    return 1;
}

static int arg_bool(Checker *c, const char *key, int *out)
{
    Attr *a = arg_find(c, key);
    if (!a)
        return 0;
    if (a->val->kind != VAL_BOOL) {
        check_error(c, a->val->loc, "%s must be true or false, got %s", key, value_desc(c->ctx, a->val));
        return -1;
    }
    *out = (int)a->val->i;
    return 1;
}

/* A list of integers in [lo, hi] with one of the allowed lengths (a bare
 * integer counts as a list of one). Returns the length, 0 absent, -1 error. */
static int arg_ints(Checker *c, Attr *a, const char *forms, const int *lens, int nlens,
                    long long lo, long long hi, int *out)
{
    const Value *v = a->val;
    int n = v->kind == VAL_LIST ? v->nitems : 1;
    int len_ok = 0;
    for (int i = 0; i < nlens; i++)
        len_ok |= n == lens[i];
    if ((v->kind != VAL_LIST && v->kind != VAL_INT) || !len_ok) {
        check_error(c, v->loc, "%s must be %s, got %s", a->key, forms, value_desc(c->ctx, v));
        return -1;
    }
    const Value *it = v->kind == VAL_LIST ? v->items : v;
    for (int i = 0; i < n; i++, it = it->next) {
        if (it->kind != VAL_INT) {
            check_error(c, it->loc, "%s must be %s, got %s", a->key, forms, value_desc(c->ctx, it));
            return -1;
        }
        if (it->i < lo || it->i > hi) {
            check_error(c, it->loc, "%s must be between %lld and %lld, got %lld", a->key, lo, hi, it->i);
            return -1;
        }
        out[i] = (int)it->i;
    }
    return n;
}

/* K or [KH, KW], each >= lo: kernel, stride, dilation. */
static int arg_pair(Checker *c, const char *key, long long lo, int *h, int *w)
{
    Attr *a = arg_find(c, key);
    if (!a)
        return 0;
    static const int lens[] = { 1, 2 };
    int v[2];
    const char *forms = arena_printf(c->ctx->arena, "an integer or a list [%sH, %sW]",
                                     strcmp(key, "kernel") == 0 ? "K" : strcmp(key, "dilation") == 0 ? "D" : "S",
                                     strcmp(key, "kernel") == 0 ? "K" : strcmp(key, "dilation") == 0 ? "D" : "S");
    int n = arg_ints(c, a, forms, lens, 2, lo, LIMIT_DIM, v);
    if (n <= 0)
        return n;
    *h = v[0];
    *w = n == 2 ? v[1] : v[0];
    return 1;
}

typedef enum { PAD_EXPLICIT, PAD_SAME } PadMode;

/* padding: P, [PH, PW], [PT, PL, PB, PR], valid or same. */
static int arg_padding(Checker *c, Window *win, PadMode *mode, Loc *loc)
{
    Attr *a = arg_find(c, "padding");
    *mode = PAD_EXPLICIT;
    if (!a)
        return 0;
    *loc = a->val->loc;
    if (a->val->kind == VAL_IDENT) {
        if (strcmp(a->val->s, "same") == 0)
            *mode = PAD_SAME;
        else if (strcmp(a->val->s, "valid") != 0) {
            check_error(c, a->val->loc, "padding must be an integer, a list, 'valid' or 'same', got '%s'", a->val->s);
            return -1;
        }
        return 1;
    }
    static const int lens[] = { 1, 2, 4 };
    int v[4];
    int n = arg_ints(c, a, "an integer P, [PH, PW], [PT, PL, PB, PR], valid or same", lens, 3, 0, LIMIT_DIM, v);
    if (n <= 0)
        return n;
    if (n == 1)
        win->pt = win->pb = win->pl = win->pr = v[0];
    else if (n == 2)
        win->pt = win->pb = v[0], win->pl = win->pr = v[1];
    else
        win->pt = v[0], win->pl = v[1], win->pb = v[2], win->pr = v[3];
    return 1;
}

/* What activation= accepts: acts.def's names, softmax, none. */
static int act_arg_names(const char **names)
{
    int n = 0;
    for (int k = ACT_NONE + 1; k < ACT__COUNT; k++)
        names[n++] = act_kind_name((ActKind)k);
    names[n++] = "softmax";
    names[n++] = "none";
    return n;
}

/* activation=NAME: an elementwise op with its default parameters, or softmax. */
static int arg_activation(Checker *c, Act *act, int *then_softmax)
{
    Attr *a = arg_find(c, "activation");
    if (!a)
        return 0;
    const Value *v = a->val;
    if (v->kind != VAL_IDENT) {
        check_error(c, v->loc, "activation must be the name of an activation, e.g. relu, got %s", value_desc(c->ctx, v));
        return -1;
    }
    if (strcmp(v->s, "softmax") == 0) {
        *then_softmax = 1;
        return 1;
    }
    if (strcmp(v->s, "none") == 0)
        return 1;
    const OpInfo *op = op_lookup(v->s);
    if (!op || op->kind != OP_ACT) {
        const char *names[ACT__COUNT + 2];
        int n = act_arg_names(names);
        check_error(c, v->loc, "unknown activation '%s'%s", v->s, did_you_mean(c->ctx, v->s, names, n));
        return -1;
    }
    *act = act_default(op->act);
    return 1;
}

static int key_known(const char *const *keys, const char *key)
{
    for (; *keys; keys++)
        if (strcmp(*keys, key) == 0)
            return 1;
    return 0;
}

/* Every argument the op does not take is unknown; each may appear once. */
static void check_unknown_args(Checker *c)
{
    const char *act_keys[3] = { NULL, NULL, NULL };
    const char *const *keys = c->op->keys;
    if (!keys) {                             /* an activation: its parameters */
        const ActDesc *d = act_desc(c->op->act);
        act_keys[0] = c->op->act == ACT_GELU ? "approximate" : d->param[0];
        act_keys[1] = d->param[0] ? d->param[1] : NULL;
        keys = act_keys;
    }
    int nkeys = 0, nattrs = 0;
    while (keys[nkeys])
        nkeys++;
    for (Attr *a = c->s->attrs; a; a = a->next)
        nattrs++;
    if (nattrs > LIMIT_ARGS) {               /* the checks below are quadratic */
        check_error(c, c->s->attrs->loc, "%d arguments exceed the limit of %d", nattrs, LIMIT_ARGS);
        return;
    }
    for (Attr *a = c->s->attrs; a; a = a->next) {
        for (Attr *b = c->s->attrs; b != a; b = b->next)
            if (strcmp(a->key, b->key) == 0) {
                check_error(c, a->loc, "argument '%s' is given twice", a->key);
                diag_note(c->ctx, b->loc, "first given here");
                break;
            }
        if (key_known(keys, a->key))
            continue;
        if (nkeys == 0)
            check_error(c, a->loc, "%s takes no arguments, got '%s'", c->s->op, a->key);
        else
            check_error(c, a->loc, "unknown argument '%s'%s", a->key, did_you_mean(c->ctx, a->key, keys, nkeys));
    }
}

static int arg_required(Checker *c, const char *key, const char *example)
{
    for (Attr *a = c->s->attrs; a; a = a->next)
        if (strcmp(a->key, key) == 0)
            return 1;
    check_error(c, c->s->op_loc, "missing required argument '%s' (e.g. %s)", key, example);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Shapes                                                             */

static const char *in_name(const Checker *c, int i)
{
    const Stmt *in = c->s->in[i];
    return in->name;
}

static Loc in_loc(const Checker *c, int i)
{
    int k = 0;
    for (const SrcRef *r = c->s->srcs; r; r = r->next, k++)
        if (k == i)
            return r->loc;
    return c->s->op_loc;
}

static int need_feature_map(Checker *c, const Shape *x)
{
    if (x->rank == 3)
        return 1;
    check_error(c, in_loc(c, 0), "input '%s' is a vector %s; %s needs a feature map [C, H, W]",
                in_name(c, 0), shape_str(c->ctx->arena, x), c->s->op);
    return 0;
}

/* Checks a product of dimensions against the tensor limit. */
static int check_numel(Checker *c, const Shape *s)
{
    long long n = 1;
    for (int i = 0; i < s->rank; i++) {
        n *= s->dim[i];
        if (n > LIMIT_TENSOR_ELEMS) {
            check_error(c, c->s->op_loc, "output would have more than %d elements (limit, see docs/limits.md)",
                        LIMIT_TENSOR_ELEMS);
            return 0;
        }
    }
    return 1;
}

/* Resolves padding=same for one axis: out = ceil(n/s), extra pad at the end. */
static void same_pad(int n, int k, int s, int d, int *begin, int *end)
{
    long long out = ((long long)n + s - 1) / s;
    long long total = (out - 1) * s + (long long)d * (k - 1) + 1 - n;
    if (total < 0)
        total = 0;
    if (total > 4LL * LIMIT_DIM)             /* reported by the caller */
        total = 4LL * LIMIT_DIM;
    *begin = (int)(total / 2);
    *end = (int)(total - total / 2);
}

/* The window's output size on one axis; 0 if the kernel does not fit. */
static long long window_out(long long n, int pb, int pe, int k, int s, int d)
{
    long long span = n + pb + pe - (long long)d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
}

/* Common to conv2d, maxpool, avgpool: reads kernel/stride/padding/dilation,
 * resolves same padding and computes H', W'. */
static int check_window(Checker *c, const Shape *x, Window *win, int stride_is_kernel, int *oh, int *ow)
{
    PadMode mode;
    Loc pad_loc = c->s->op_loc;
    win->kh = win->kw = 1;
    win->dh = win->dw = 1;
    if (arg_pair(c, "kernel", 1, &win->kh, &win->kw) < 0)
        return 0;
    win->sh = stride_is_kernel ? win->kh : 1;
    win->sw = stride_is_kernel ? win->kw : 1;
    if (arg_pair(c, "stride", 1, &win->sh, &win->sw) < 0 ||
        arg_pair(c, "dilation", 1, &win->dh, &win->dw) < 0 ||
        arg_padding(c, win, &mode, &pad_loc) < 0)
        return 0;
    if (!c->ok)
        return 0;
    int H = x->dim[1], W = x->dim[2];
    if (mode == PAD_SAME) {
        same_pad(H, win->kh, win->sh, win->dh, &win->pt, &win->pb);
        same_pad(W, win->kw, win->sw, win->dw, &win->pl, &win->pr);
        if (win->pb > LIMIT_DIM || win->pr > LIMIT_DIM) {
            check_error(c, pad_loc, "padding=same needs a pad of %d, over the limit of %d",
                        win->pb > win->pr ? win->pb : win->pr, LIMIT_DIM);
            return 0;
        }
    }
    long long eh = (long long)win->dh * (win->kh - 1) + 1, ew = (long long)win->dw * (win->kw - 1) + 1;
    long long ph = (long long)H + win->pt + win->pb, pw = (long long)W + win->pl + win->pr;
    if (eh > ph || ew > pw) {
        Attr *k = arg_find(c, "kernel");
        const char *dil = (eh != win->kh || ew != win->kw)
            ? arena_printf(c->ctx->arena, " (dilated to %lldx%lld)", eh, ew) : "";
        check_error(c, k ? k->val->loc : c->s->op_loc, "kernel %dx%d%s is larger than its padded input %lldx%lld",
                    win->kh, win->kw, dil, ph, pw);
        return 0;
    }
    *oh = (int)window_out(H, win->pt, win->pb, win->kh, win->sh, win->dh);
    *ow = (int)window_out(W, win->pl, win->pr, win->kw, win->sw, win->dw);
    return 1;
}

/* Pools: a window that lies wholly in the padding would have no value. */
static int check_pool_padding(Checker *c, const Window *win)
{
    long long eh = (long long)win->dh * (win->kh - 1) + 1, ew = (long long)win->dw * (win->kw - 1) + 1;
    if (win->pt < eh && win->pb < eh && win->pl < ew && win->pr < ew)
        return 1;
    Attr *p = arg_find(c, "padding");
    check_error(c, p ? p->val->loc : c->s->op_loc,
                "padding [%d, %d, %d, %d] must be smaller than the kernel %lldx%lld on every side",
                win->pt, win->pl, win->pb, win->pr, eh, ew);
    return 0;
}

static Shape shape3(int c, int h, int w)
{
    Shape s = { 3, { c, h, w, 0 } };
    return s;
}

static Shape shape1(int n)
{
    Shape s = { 1, { n, 0, 0, 0 } };
    return s;
}

/* ------------------------------------------------------------------ */
/* One checker per kind of op                                         */

static int check_conv(Checker *c, Op *op, const Shape *x)
{
    int filters = 0, groups = 1, bias = 1, oh, ow;
    int has_filters = arg_required(c, "filters", "filters=32");   /* both reported */
    int has_kernel = arg_required(c, "kernel", "kernel=3");
    if (!has_filters || !has_kernel)
        return 0;
    arg_int(c, "filters", 1, LIMIT_DIM, &filters);
    arg_int(c, "groups", 1, LIMIT_DIM, &groups);
    arg_bool(c, "bias", &bias);
    arg_activation(c, &op->act, &c->s->then_softmax);
    if (!need_feature_map(c, x) || !check_window(c, x, &op->win, 0, &oh, &ow))
        return 0;
    if (x->dim[0] % groups || filters % groups) {
        Attr *g = arg_find(c, "groups");
        check_error(c, g->val->loc, "groups=%d must divide both the input channels (%d) and filters (%d)",
                    groups, x->dim[0], filters);
        return 0;
    }
    long long wn = (long long)filters * (x->dim[0] / groups) * op->win.kh * op->win.kw;
    if (wn > LIMIT_TENSOR_ELEMS) {
        check_error(c, c->s->op_loc, "weight tensor would have %lld elements, over the limit of %d",
                    wn, LIMIT_TENSOR_ELEMS);
        return 0;
    }
    op->groups = groups;
    c->s->bias = bias;
    c->s->shape = shape3(filters, oh, ow);
    return 1;
}

static int check_pool(Checker *c, Op *op, const Shape *x)
{
    int oh, ow;
    if (!arg_required(c, "kernel", "kernel=2"))
        return 0;
    if (c->op->kind == OP_AVGPOOL)
        arg_bool(c, "count_pad", &op->count_pad);
    if (!need_feature_map(c, x) || !check_window(c, x, &op->win, 1, &oh, &ow) ||
        !check_pool_padding(c, &op->win))
        return 0;
    c->s->shape = shape3(x->dim[0], oh, ow);
    return 1;
}

static int check_dense(Checker *c, Op *op, const Shape *x)
{
    int units = 0, bias = 1;
    if (!arg_required(c, "units", "units=10"))
        return 0;
    arg_int(c, "units", 1, LIMIT_DIM, &units);
    arg_bool(c, "bias", &bias);
    arg_activation(c, &op->act, &c->s->then_softmax);
    if (x->rank != 1) {
        check_error(c, in_loc(c, 0), "input '%s' is a feature map %s; dense needs a vector: add 'flatten;' before it",
                    in_name(c, 0), shape_str(c->ctx->arena, x));
        return 0;
    }
    if ((long long)units * x->dim[0] > LIMIT_TENSOR_ELEMS) {
        check_error(c, c->s->op_loc, "weight tensor [%d, %d] is over the limit of %d elements",
                    units, x->dim[0], LIMIT_TENSOR_ELEMS);
        return 0;
    }
    c->s->bias = bias;
    c->s->shape = shape1(units);
    return 1;
}

static int check_multi(Checker *c, Op *op, const Shape *x)
{
    (void)op;
    Stmt *s = c->s;
    if (s->nin < 2) {
        check_error(c, s->op_loc, "%s needs two or more sources, e.g. %s(a, b)", s->op, s->op);
        return 0;
    }
    Shape out = *x;
    long long channels = x->dim[0];     /* vectors of 2^28 could overflow int */
    for (int i = 1; i < s->nin; i++) {
        const Shape *y = &s->in[i]->shape;
        int same = c->op->kind == OP_ADD ? shape_equal(x, y)
                 : x->rank == y->rank && (x->rank == 1 || (x->dim[1] == y->dim[1] && x->dim[2] == y->dim[2]));
        if (!same) {
            Arena *a = c->ctx->arena;
            check_error(c, in_loc(c, i), "source '%s' has shape %s, which does not match '%s' %s%s",
                        in_name(c, i), shape_str(a, y), in_name(c, 0), shape_str(a, x),
                        c->op->kind == OP_ADD ? "" : " (concat needs equal H and W)");
            return 0;
        }
        if (c->op->kind == OP_CONCAT)
            channels += y->dim[0];
    }
    long long limit = x->rank == 1 ? LIMIT_TENSOR_ELEMS : LIMIT_DIM;
    if (channels > limit)
        return check_error(c, s->op_loc, "concatenated %s exceed the limit of %lld",
                           x->rank == 1 ? "elements" : "channels", limit), 0;
    out.dim[0] = (int)channels;
    if (!check_numel(c, &out))
        return 0;
    s->shape = out;
    return 1;
}

/* gelu's approximate=none|tanh picks the erf or the tanh formula. */
static void arg_approximate(Checker *c, Act *act)
{
    Attr *a = arg_find(c, "approximate");
    if (!a)
        return;
    if (a->val->kind == VAL_IDENT && strcmp(a->val->s, "tanh") == 0)
        act->kind = ACT_GELU_TANH;
    else if (a->val->kind != VAL_IDENT || strcmp(a->val->s, "none") != 0)
        check_error(c, a->val->loc, "approximate must be none or tanh, got %s", value_desc(c->ctx, a->val));
}

/* An activation: acts.def's parameters, each with its default. */
static int check_act(Checker *c, Op *op, const Shape *x)
{
    const ActDesc *d = act_desc(c->op->act);
    op->act = act_default(c->op->act);
    if (d->param[0])
        arg_real(c, d->param[0], &op->act.alpha);
    if (d->param[0] && d->param[1])
        arg_real(c, d->param[1], &op->act.beta);
    if ((d->flags & ACTF_ORDERED) && c->ok && op->act.alpha > op->act.beta) {
        Attr *a = arg_find(c, d->param[0]);
        check_error(c, a ? a->val->loc : c->s->op_loc, "%s %g is greater than %s %g", d->param[0],
                    (double)op->act.alpha, d->param[1], (double)op->act.beta);
    }
    if (c->op->act == ACT_GELU)
        arg_approximate(c, &op->act);
    c->s->shape = *x;
    return c->ok;
}

static int check_gap(Checker *c, Op *op, const Shape *x)
{
    (void)op;
    if (!need_feature_map(c, x))
        return 0;
    c->s->shape = shape3(x->dim[0], 1, 1);
    return 1;
}

static int check_flatten(Checker *c, Op *op, const Shape *x)
{
    (void)op;
    c->s->shape = shape1((int)shape_numel(x));
    return 1;
}

static int check_batchnorm(Checker *c, Op *op, const Shape *x)
{
    op->epsilon = 1e-5f;
    if (arg_real(c, "epsilon", &op->epsilon) > 0 && !(op->epsilon > 0))
        check_error(c, arg_find(c, "epsilon")->val->loc, "epsilon must be greater than 0");
    c->s->shape = *x;
    return c->ok;
}

static int check_softmax(Checker *c, Op *op, const Shape *x)
{
    arg_int(c, "axis", -x->rank, x->rank - 1, &op->axis);
    if (op->axis < 0)
        op->axis += x->rank;
    c->s->shape = *x;
    return c->ok;
}

/* An identifier argument that must be one of words; its index, or dflt
 * when absent, -1 after an error. */
static int arg_word(Checker *c, const char *key, const char *const *words, int nwords, int dflt)
{
    Attr *a = arg_find(c, key);
    if (!a)
        return dflt;
    for (int i = 0; a->val->kind == VAL_IDENT && i < nwords; i++)
        if (strcmp(a->val->s, words[i]) == 0)
            return i;
    const char *list = words[0];
    for (int i = 1; i < nwords; i++)
        list = arena_printf(c->ctx->arena, "%s%s%s", list, i == nwords - 1 ? " or " : ", ", words[i]);
    check_error(c, a->val->loc, "%s must be %s, got %s", key, list, value_desc(c->ctx, a->val));
    return -1;
}

/* Whether small is one value per channel of big: [C, 1, 1] or [C]
 * against [C, H, W]. */
static int per_channel_of(const Shape *small, const Shape *big)
{
    if (big->rank != 3 || small->dim[0] != big->dim[0])
        return 0;
    return small->rank == 1 || (small->rank == 3 && small->dim[1] == 1 && small->dim[2] == 1);
}

/* mul, sub: two sources of one shape, or one of them per channel of the
 * other (squeeze-and-excitation's channel scaling). */
static int check_binary(Checker *c, Op *op, const Shape *x)
{
    Stmt *s = c->s;
    (void)op;
    if (s->nin != 2) {
        check_error(c, s->nin < 2 ? s->op_loc : in_loc(c, 2), "%s needs exactly two sources, e.g. %s(a, b), got %d",
                    s->op, s->op, s->nin);
        return 0;
    }
    const Shape *y = &s->in[1]->shape;
    if (shape_equal(x, y) || per_channel_of(y, x)) {
        s->shape = *x;
        return 1;
    }
    if (per_channel_of(x, y)) {
        s->shape = *y;
        return 1;
    }
    Arena *a = c->ctx->arena;
    check_error(c, in_loc(c, 1), "source '%s' has shape %s, which neither matches '%s' %s nor has one value per channel of it ([C, 1, 1] or [C] against [C, H, W])",
                in_name(c, 1), shape_str(a, y), in_name(c, 0), shape_str(a, x));
    return 0;
}

/* mean over H and W: global_avgpool, keeping the dimensions or not. */
static int check_mean(Checker *c, Op *op, const Shape *x)
{
    int keep = 1;
    (void)op;
    arg_bool(c, "keepdims", &keep);
    if (!need_feature_map(c, x))
        return 0;
    c->s->shape = keep ? shape3(x->dim[0], 1, 1) : shape1(x->dim[0]);
    return c->ok;
}

static int check_scale(Checker *c, Op *op, const Shape *x)
{
    int bias = 0;
    (void)op;
    arg_bool(c, "bias", &bias);
    c->s->bias = bias;
    c->s->shape = *x;
    return c->ok;
}

static int check_shuffle(Checker *c, Op *op, const Shape *x)
{
    if (!arg_required(c, "groups", "groups=2") || arg_int(c, "groups", 1, LIMIT_DIM, &op->groups) < 0 ||
        !need_feature_map(c, x))
        return 0;
    if (x->dim[0] % op->groups) {
        check_error(c, arg_find(c, "groups")->val->loc, "groups=%d must divide the input channels (%d)",
                    op->groups, x->dim[0]);
        return 0;
    }
    c->s->shape = *x;
    return 1;
}

static int check_layernorm(Checker *c, Op *op, const Shape *x)
{
    return check_batchnorm(c, op, x);
}

static int check_upsample(Checker *c, Op *op, const Shape *x)
{
    static const char *const modes[] = { "nearest", "bilinear" };
    if (!arg_required(c, "scale", "scale=2") || arg_pair(c, "scale", 1, &op->win.sh, &op->win.sw) < 0)
        return 0;
    op->mode = arg_word(c, "mode", modes, 2, UP_NEAREST);
    if (op->mode < 0 || !need_feature_map(c, x))
        return 0;
    long long oh = (long long)x->dim[1] * op->win.sh, ow = (long long)x->dim[2] * op->win.sw;
    if (oh > LIMIT_DIM || ow > LIMIT_DIM) {
        check_error(c, arg_find(c, "scale")->val->loc, "upsampled size %lldx%lld is over the limit of %d",
                    oh, ow, LIMIT_DIM);
        return 0;
    }
    c->s->shape = shape3(x->dim[0], (int)oh, (int)ow);
    return 1;
}

/* pad's sizes: padding= as conv2d's numeric forms, or top=, left=,
 * bottom=, right= (each 0 by default), not both. */
static int arg_pad_sides(Checker *c, Window *w)
{
    static const char *const sides[] = { "top", "left", "bottom", "right" };
    int *at[] = { &w->pt, &w->pl, &w->pb, &w->pr };
    Attr *p = arg_find(c, "padding"), *side = NULL;
    for (int k = 0; k < 4; k++) {
        Attr *a = arg_find(c, sides[k]);
        side = side ? side : a;
        if (a && arg_int(c, sides[k], 0, LIMIT_DIM, at[k]) < 0)
            return 0;
    }
    if (p && side) {
        check_error(c, side->loc, "give padding= or top=, left=, bottom=, right=, not both");
        return 0;
    }
    if (!p)
        return 1;
    static const int lens[] = { 1, 2, 4 };
    int v[4], n = arg_ints(c, p, "an integer P, [PH, PW] or [PT, PL, PB, PR]", lens, 3, 0, LIMIT_DIM, v);
    if (n <= 0)
        return n == 0;
    w->pt = v[0], w->pl = n == 1 ? v[0] : v[1];
    w->pb = n == 4 ? v[2] : v[0], w->pr = n == 4 ? v[3] : w->pl;
    return 1;
}

static int check_pad(Checker *c, Op *op, const Shape *x)
{
    static const char *const modes[] = { "constant", "reflect" };
    if (!arg_pad_sides(c, &op->win))
        return 0;
    op->mode = arg_word(c, "mode", modes, 2, PAD_CONSTANT);
    if (op->mode < 0 || arg_real(c, "value", &op->value) < 0 || !need_feature_map(c, x))
        return 0;
    const Window *w = &op->win;
    if (op->mode == PAD_REFLECT) {
        Attr *v = arg_find(c, "value");
        if (v) {
            check_error(c, v->loc, "value is for mode=constant; reflect pads with the input's own values");
            return 0;
        }
        if (w->pt >= x->dim[1] || w->pb >= x->dim[1] || w->pl >= x->dim[2] || w->pr >= x->dim[2]) {
            check_error(c, arg_find(c, "mode")->val->loc, "reflect padding [%d, %d, %d, %d] must be smaller than the input's H and W (%d, %d)",
                        w->pt, w->pl, w->pb, w->pr, x->dim[1], x->dim[2]);
            return 0;
        }
    }
    long long h = (long long)x->dim[1] + w->pt + w->pb, wd = (long long)x->dim[2] + w->pl + w->pr;
    if (h > LIMIT_DIM || wd > LIMIT_DIM) {
        check_error(c, c->s->op_loc, "padded size %lldx%lld is over the limit of %d", h, wd, LIMIT_DIM);
        return 0;
    }
    c->s->shape = shape3(x->dim[0], (int)h, (int)wd);
    return 1;
}

/* ops.def's statement rows, then acts.def's. */
static const OpInfo op_rows[] = {
#define OP(kind, name, nin, flags, check, keys, run, emit) { name, kind, ACT_NONE, keys, check },
#include "ops.def"
#undef OP
};
static const OpInfo act_rows[] = {
#define ACT(kind, name, ...) { name, OP_ACT, kind, NULL, check_act },
#include "acts.def"
#undef ACT
};

static int stmt_ops(const OpInfo **list)
{
    int n = 0;
    for (int i = 0; i < OP__COUNT; i++) {
        if (op_rows[i].kind == OP_ACT)
            for (int k = ACT_NONE + 1; k < ACT__COUNT; k++)
                list[n++] = &act_rows[k];
        else if (op_rows[i].check)
            list[n++] = &op_rows[i];
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Names, sources, statements                                         */

/* Open-addressing hash table from names to statements, so that resolving
 * names stays linear in the size of the model. */
typedef struct NameSlot {
    const char *key;
    Stmt *stmt;
    int count;
} NameSlot;

typedef struct NameTable {
    NameSlot *slots;
    unsigned mask;
} NameTable;

static void table_init(Ctx *ctx, NameTable *t, int n)
{
    unsigned cap = 16;
    while (cap < 2u * (unsigned)n + 16u)
        cap *= 2;
    t->slots = arena_alloc(ctx->arena, sizeof *t->slots * cap);
    t->mask = cap - 1;
}

/* The slot holding key, or the empty slot where it would go. */
static NameSlot *table_slot(const NameTable *t, const char *key)
{
    unsigned h = 2166136261u;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (unsigned i = h & t->mask;; i = (i + 1) & t->mask)
        if (!t->slots[i].key || strcmp(t->slots[i].key, key) == 0)
            return &t->slots[i];
}

typedef struct Scope {
    Stmt **defs;      /* input and layers, in file order */
    int n;
    NameTable table;
} Scope;

static void scope_init(Ctx *ctx, Scope *sc, int n)
{
    sc->defs = arena_alloc(ctx->arena, sizeof(Stmt *) * (size_t)(n + 1));
    sc->n = 0;
    table_init(ctx, &sc->table, n);
}

static Stmt *scope_find(const Scope *sc, const char *name)
{
    return table_slot(&sc->table, name)->stmt;
}

static const char **scope_names(Ctx *ctx, const Scope *sc)
{
    const char **names = arena_alloc(ctx->arena, sizeof *names * (size_t)(sc->n + 1));
    for (int i = 0; i < sc->n; i++)
        names[i] = sc->defs[i]->name;
    return names;
}

/* Resolves one SOURCE against the names defined so far. */
static Stmt *resolve_source(Checker *c, const Scope *sc, const Scope *all, const SrcRef *r)
{
    Stmt *d = scope_find(sc, r->name);
    if (d)
        return d;
    Stmt *later = scope_find(all, r->name);
    if (later == c->s) {
        check_error(c, r->loc, "'%s' cannot read its own output", r->name);
    } else if (later) {
        check_error(c, r->loc, "'%s' is used before it is defined", r->name);
        diag_note(c->ctx, later->name_loc.line ? later->name_loc : later->loc, "'%s' is defined here", r->name);
    } else {
        check_error(c, r->loc, "unknown source '%s'%s", r->name,
                    did_you_mean(c->ctx, r->name, scope_names(c->ctx, sc), sc->n));
    }
    return NULL;
}

static int resolve_sources(Checker *c, const Scope *sc, const Scope *all, Stmt *prev)
{
    Stmt *s = c->s;
    int multi = op_desc(c->op->kind)->nin != 1;
    if (s->nsrcs > LIMIT_SOURCES) {
        check_error(c, s->op_loc, "%d sources exceed the limit of %d", s->nsrcs, LIMIT_SOURCES);
        return 0;
    }
    if (!multi && s->nsrcs > 1) {
        check_error(c, s->srcs->next->loc, "%s reads one source, got %d", s->op, s->nsrcs);
        return 0;
    }
    s->in = arena_alloc(c->ctx->arena, sizeof *s->in * (size_t)(s->nsrcs ? s->nsrcs : 1));
    if (s->nsrcs == 0) {
        s->in[0] = prev;
        s->nin = 1;
        return prev && prev->shape.rank > 0;
    }
    int ok = 1;
    for (const SrcRef *r = s->srcs; r; r = r->next) {
        Stmt *d = resolve_source(c, sc, all, r);
        ok &= d != NULL && d->shape.rank > 0;   /* a failed source was reported already */
        s->in[s->nin++] = d;
    }
    return ok;
}

static int check_layer(Ctx *ctx, Model *m, const Scope *sc, const Scope *all, Stmt *s, Stmt *prev)
{
    Checker c = { ctx, m, s, op_lookup(s->op), 1 };
    if (!c.op) {
        diag_error(ctx, s->op_loc, "unknown op '%s'%s", s->op, op_suggestion(ctx, s->op));
        return 0;
    }
    s->op_kind = (int)c.op->kind;
    Op *op = arena_alloc(ctx->arena, sizeof *op);
    op->kind = (OpKind)s->op_kind;
    op->name = s->name;
    op->loc = s->loc;
    s->info = op;
    check_unknown_args(&c);
    if (!resolve_sources(&c, sc, all, prev))
        return 0;
    int ok = c.op->check(&c, op, &s->in[0]->shape) && c.ok;
    return ok && check_numel(&c, &s->shape) && c.ok;
}

/* ------------------------------------------------------------------ */
/* The model as a whole                                               */

const Stmt *sema_find(const Model *m, StmtKind kind)
{
    for (const Stmt *s = m->stmts; s; s = s->next)
        if (s->kind == kind)
            return s;
    return NULL;
}

static const char *stmt_kind_word(StmtKind k)
{
    return k == STMT_INPUT ? "input" : k == STMT_WEIGHTS ? "weights" : "output";
}

/* At most one of each of input, weights and output; exactly one input. */
static void check_singletons(Ctx *ctx, const Model *m)
{
    for (StmtKind k = STMT_INPUT; k <= STMT_OUTPUT; k++) {
        const Stmt *first = sema_find(m, k);
        for (const Stmt *s = first ? first->next : NULL; s; s = s->next)
            if (s->kind == k) {
                diag_error(ctx, s->loc, "a model has at most one '%s' statement", stmt_kind_word(k));
                diag_note(ctx, first->loc, "the first is here");
            }
    }
    if (!sema_find(m, STMT_INPUT))
        diag_error(ctx, m->name_loc, "model '%s' has no input; add one, e.g. 'input image[1, 28, 28];'", m->name);
}

/* [C, H, W] or [N]; with a batch in front (extension), [B, C, H, W] or
 * [B, N]: B samples one after another. s->shape is one sample's. */
static int check_input(Ctx *ctx, Stmt *s)
{
    int n = 0;
    for (const Value *v = s->dims; v; v = v->next)
        n++;
    if (n > 4) {
        diag_error(ctx, s->dims->loc, "input '%s' has %d dimensions; give [C, H, W] or [B, C, H, W] for images, "
                   "[N] or [B, N] for vectors", s->name, n);
        return 0;
    }
    int lead = n == 4 || n == 2;
    s->shape.rank = n - lead;
    int i = -lead;
    long long total = 1;
    for (const Value *v = s->dims; v; v = v->next, i++) {
        if (v->kind != VAL_INT || v->i < 1 || v->i > LIMIT_DIM) {
            diag_error(ctx, v->loc, "input dimension must be an integer between 1 and %d, got %s",
                       LIMIT_DIM, v->kind == VAL_INT ? arena_printf(ctx->arena, "%lld", v->i) : "a non-integer");
            return 0;
        }
        if (i >= 0)
            s->shape.dim[i] = (int)v->i;
        total = total * v->i > LIMIT_TENSOR_ELEMS ? LIMIT_TENSOR_ELEMS + 1LL : total * v->i;
    }
    if (total > LIMIT_TENSOR_ELEMS) {
        diag_error(ctx, s->dims->loc, "input '%s' has more than %d elements", s->name, LIMIT_TENSOR_ELEMS);
        return 0;
    }
    return 1;
}

/* With a batch, the output of all its samples, like the input, stays
 * within the tensor limit (the generated C indexes both in int). */
static int check_batch_output(Ctx *ctx, const Stmt *input, const Stmt *out)
{
    int n = 0;
    for (const Value *v = input->dims; v; v = v->next)
        n++;
    long long b = n == 4 || n == 2 ? input->dims->i : 1;
    if (b * shape_numel(&out->shape) <= LIMIT_TENSOR_ELEMS)
        return 1;
    diag_error(ctx, input->dims->loc, "a batch of %lld outputs '%s' %s has more than %d elements",
               b, out->name, shape_str(ctx->arena, &out->shape), LIMIT_TENSOR_ELEMS);
    return 0;
}

/* Unnamed layers get OP_K, K counting that op's statements in file order. */
static void assign_auto_names(Ctx *ctx, Model *m)
{
    NameTable ops;
    int n = 0;
    for (Stmt *s = m->stmts; s; s = s->next)
        n++;
    table_init(ctx, &ops, n);
    for (Stmt *s = m->stmts; s; s = s->next) {
        if (s->kind != STMT_LAYER)
            continue;
        NameSlot *slot = table_slot(&ops, s->op);
        slot->key = s->op;
        if (!s->name)
            s->name = arena_printf(ctx->arena, "%s_%d", s->op, slot->count);
        slot->count++;
    }
}

static void scope_add(Ctx *ctx, Scope *sc, Stmt *s)
{
    Stmt *prior = scope_find(sc, s->name);
    if (prior) {
        Loc at = s->name_loc.line ? s->name_loc : s->loc;
        diag_error(ctx, at, "'%s' is defined twice%s", s->name,
                   s->name_loc.line ? "" : " (the automatic name of this unnamed statement)");
        diag_note(ctx, prior->name_loc.line ? prior->name_loc : prior->loc, "'%s' is first defined here", s->name);
        return;
    }
    NameSlot *slot = table_slot(&sc->table, s->name);
    slot->key = s->name;
    slot->stmt = s;
    sc->defs[sc->n++] = s;
}

static int count_defs(const Model *m)
{
    int n = 0;
    for (const Stmt *s = m->stmts; s; s = s->next)
        n += s->kind == STMT_LAYER || s->kind == STMT_INPUT;
    return n;
}

static Stmt *check_output(Ctx *ctx, Model *m, const Scope *sc, Stmt *last)
{
    const Stmt *o = sema_find(m, STMT_OUTPUT);
    if (!o)
        return last;
    Stmt *d = scope_find(sc, o->name);
    if (!d) {
        diag_error(ctx, o->name_loc, "unknown output '%s'%s", o->name,
                   did_you_mean(ctx, o->name, scope_names(ctx, sc), sc->n));
        return NULL;
    }
    if (d->kind == STMT_INPUT) {
        diag_error(ctx, o->name_loc, "the output must be a layer, not the input '%s'", o->name);
        return NULL;
    }
    return d;
}

/* Dependencies are resolved in file order, so marking in reverse file
 * order from the output reaches every ancestor without deep recursion. */
static void mark_live_all(Ctx *ctx, Model *m, Stmt *out, int ndefs)
{
    out->live = 1;
    Stmt **order = arena_alloc(ctx->arena, sizeof *order * (size_t)(ndefs + 1));
    int n = 0;
    for (Stmt *s = m->stmts; s && n < ndefs; s = s->next)
        if (s->kind == STMT_LAYER || s->kind == STMT_INPUT)
            order[n++] = s;
    for (int i = n - 1; i >= 0; i--)
        if (order[i]->live)
            for (int j = 0; j < order[i]->nin; j++)
                if (order[i]->in[j])
                    order[i]->in[j]->live = 1;
}

static void warn_dead(Ctx *ctx, const Model *m, const Stmt *out)
{
    for (const Stmt *s = m->stmts; s; s = s->next)
        if (s->kind == STMT_LAYER && !s->live)
            diag_warning(ctx, s->name_loc.line ? s->name_loc : s->loc,
                         "'%s' does not contribute to the output '%s' and is not computed", s->name, out->name);
}

/* Every name defined in the model, first definition first: `all` answers
 * "is this defined later?" for the notes of source errors. */
static void scope_all_defs(Scope *all, const Model *m)
{
    for (Stmt *s = m->stmts; s; s = s->next)
        if ((s->kind == STMT_LAYER || s->kind == STMT_INPUT) && !scope_find(all, s->name)) {
            NameSlot *slot = table_slot(&all->table, s->name);
            slot->key = s->name;
            slot->stmt = s;           /* the first definition of each name */
            all->defs[all->n++] = s;
        }
}

/* The input, then every layer in file order, each seeing the names before
 * it in sc. Returns the last statement checked (the default output). */
static Stmt *check_stmts(Ctx *ctx, Model *m, Scope *sc, Scope *all, Stmt *input)
{
    if (input) {
        if (!check_input(ctx, input))
            input->shape.rank = 0;   /* its readers are not checked */
        scope_add(ctx, sc, input);
    }
    Stmt *prev = input;
    int nlayers = 0;
    for (Stmt *s = m->stmts; s; s = s->next) {
        if (s->kind != STMT_LAYER)
            continue;
        if (ctx->nerrors > LIMIT_ERRORS)
            break;                   /* nothing more would be shown */
        nlayers++;
        if (!check_layer(ctx, m, sc, all, s, prev))
            s->shape.rank = 0;       /* failed: its readers are not checked */
        scope_add(ctx, sc, s);
        prev = s;
    }
    if (input && nlayers == 0)
        diag_error(ctx, m->name_loc, "model '%s' has no layers", m->name);
    return prev;
}

int sema_check(Ctx *ctx, Model *m)
{
    int errors = ctx->nerrors;
    check_singletons(ctx, m);
    int ndefs = count_defs(m);
    if (ndefs > LIMIT_STATEMENTS + 1) {
        diag_error(ctx, m->name_loc, "model '%s' has %d statements, over the limit of %d",
                   m->name, ndefs - 1, LIMIT_STATEMENTS);
        return -1;
    }
    assign_auto_names(ctx, m);
    Scope sc, all;
    scope_init(ctx, &sc, ndefs);
    scope_init(ctx, &all, ndefs);
    scope_all_defs(&all, m);
    Stmt *input = (Stmt *)sema_find(m, STMT_INPUT);
    Stmt *last = check_stmts(ctx, m, &sc, &all, input);
    if (ctx->nerrors > errors)
        return -1;
    Stmt *out = check_output(ctx, m, &sc, last);
    if (!out || !check_batch_output(ctx, input, out))
        return -1;
    mark_live_all(ctx, m, out, ndefs);
    warn_dead(ctx, m, out);
    return ctx->nerrors > errors ? -1 : 0;
}
