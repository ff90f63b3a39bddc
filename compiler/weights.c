/* weights.c: binds parameter values to the graph's TR_WEIGHT tensors, from
 * the model's `weights "FILE.safetensors"` (path relative to the .cnn file)
 * or from `weights random(seed=S)`. Reports a missing, unused, misshapen or
 * non-F32 tensor by name, located at the layer or the weights statement.
 *
 * `weights "FILE" (LAYER = "PREFIX", ...)` reads LAYER's tensors under
 * PREFIX instead of LAYER (PREFIX.weight, ...): PyTorch's nn.Sequential
 * names (features.0). A file's `*.num_batches_tracked` tensors (BatchNorm's
 * step counter, which no inference uses) are never "unused".
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "readers.h"

/* ---- random(seed=S): splitmix64, one stream per tensor name ---- */

static unsigned long long splitmix64(unsigned long long *state)
{
    unsigned long long z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned long long fnv1a64(const char *s)
{
    unsigned long long h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Uniform in [-bound, bound): 24 random bits make an exact float in
 * [-1, 1), scaled once, so every platform computes the same values. */
static void weights_random_fill(float *dst, long long n, unsigned long long seed,
                         const char *tensor_name, float bound)
{
    unsigned long long state = seed ^ fnv1a64(tensor_name);
    for (long long i = 0; i < n; i++) {
        unsigned long long bits = splitmix64(&state) >> 40;
        float u = (float)bits * (1.0f / 16777216.0f);
        dst[i] = (2.0f * u - 1.0f) * bound;
    }
}

static float *tensor_storage(Ctx *ctx, Tensor *t)
{
    float *p = arena_alloc(ctx->arena, sizeof(float) * (size_t)t->numel);
    t->data = p;
    return p;
}

static void fill_const(Ctx *ctx, Tensor *t, float v)
{
    float *p = tensor_storage(ctx, t);
    for (long long i = 0; i < t->numel; i++)
        p[i] = v;
}

static void bind_random_op(Ctx *ctx, Graph *g, const Op *op, unsigned long long seed)
{
    if (op->kind == OP_BATCHNORM) {
        fill_const(ctx, &g->t[op->w], 1.0f);
        fill_const(ctx, &g->t[op->b], 0.0f);
        fill_const(ctx, &g->t[op->mean], 0.0f);
        fill_const(ctx, &g->t[op->var], 1.0f);
        return;
    }
    if (op->w < 0)
        return;
    Tensor *w = &g->t[op->w];
    long long fan_in = w->numel / w->shape.dim[0];
    float bound = (float)(1.0 / sqrt((double)fan_in));
    weights_random_fill(tensor_storage(ctx, w), w->numel, seed, w->name, bound);
    if (op->b >= 0) {
        Tensor *b = &g->t[op->b];
        weights_random_fill(tensor_storage(ctx, b), b->numel, seed, b->name, bound);
    }
}

static int bind_random(Ctx *ctx, Graph *g, const Stmt *ws)
{
    unsigned long long seed = 0;
    int ok = 1;
    if (ws->srcs) {
        diag_error(ctx, ws->srcs->loc, "random weights take seed=INT, got '%s'", ws->srcs->name);
        ok = 0;
    }
    for (const Attr *a = ws->attrs; a; a = a->next) {
        if (strcmp(a->key, "seed") != 0) {
            diag_error(ctx, a->loc, "unknown argument '%s' of random weights; the only one is seed=INT", a->key);
            ok = 0;
        } else if (a->val->kind != VAL_INT || a->val->i < 0) {
            diag_error(ctx, a->val->loc, "seed must be a non-negative integer");
            ok = 0;
        } else {
            seed = (unsigned long long)a->val->i;
        }
    }
    if (!ok)
        return -1;
    for (int i = 0; i < g->nops; i++)
        bind_random_op(ctx, g, &g->ops[i], seed);
    return 0;
}

/* ---- weights "FILE.safetensors" ---- */

static const char *st_shape_str(Ctx *ctx, const StTensor *t)
{
    Buf b;
    buf_init(&b);
    buf_putc(&b, '[');
    for (int i = 0; i < t->rank; i++)
        buf_printf(&b, "%s%lld", i ? ", " : "", t->shape[i]);
    buf_putc(&b, ']');
    char *s = arena_strdup(ctx->arena, b.data);
    buf_free(&b);
    return s;
}

static int st_shape_matches(const StTensor *st, const Shape *s)
{
    if (st->rank != s->rank)
        return 0;
    for (int i = 0; i < s->rank; i++)
        if (st->shape[i] != s->dim[i])
            return 0;
    return 1;
}

/* ---- weights "FILE": names matched in O(n log n) ----
 * A model and a file may each hold tens of thousands of tensors (the
 * statement limit, and files with unused tensors), so nothing here scans
 * one list per element of the other. */

/* owner[id]: the op whose weight, bias, mean or var tensor id is, for
 * locating errors at its layer (NULL: none). */
static const Op **weight_owners(Arena *a, const Graph *g)
{
    const Op **owner = arena_alloc(a, ((size_t)g->nt + 1) * sizeof *owner);
    for (int i = g->nops - 1; i >= 0; i--) {
        const Op *op = &g->ops[i];
        const int ids[] = { op->w, op->b, op->mean, op->var };
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++)
            if (ids[k] >= 0 && ids[k] < g->nt)
                owner[ids[k]] = op;
    }
    return owner;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One file tensor under its name; arrays of these are sorted by name. */
typedef struct NamedTensor {
    const char *name;             /* first: cmp_names compares it */
    const StTensor *st;
} NamedTensor;

static NamedTensor *file_index(Arena *a, const StFile *f)
{
    NamedTensor *v = arena_alloc(a, ((size_t)f->ntensors + 1) * sizeof *v);
    for (int i = 0; i < f->ntensors; i++)
        v[i] = (NamedTensor){ f->tensors[i].name, &f->tensors[i] };
    qsort(v, (size_t)f->ntensors, sizeof *v, cmp_names);
    return v;
}

static const StTensor *index_find(const NamedTensor *v, int n, const char *name)
{
    const NamedTensor *hit = bsearch(&name, v, (size_t)n, sizeof *v, cmp_names);
    return hit ? hit->st : NULL;
}

/* Binds tensor id from st, which the file calls name. */
static int bind_tensor(Ctx *ctx, Graph *g, int id, const Op *op, const char *name,
                       const StTensor *st, const char *file)
{
    Tensor *t = &g->t[id];
    Loc at = op ? op->loc : (Loc){ 0, 0, 0, 0 };
    const char *shape = shape_str(ctx->arena, &t->shape);
    if (!st) {
        diag_error(ctx, at, "tensor '%s' (F32 %s) is missing from '%s'", name, shape, file);
        return -1;
    }
    if (strcmp(st->dtype, "F32") != 0) {
        diag_error(ctx, at, "tensor '%s' in '%s' has dtype %s; only F32 is supported", name, file, st->dtype);
        return -1;
    }
    if (!st_shape_matches(st, &t->shape)) {
        diag_error(ctx, at, "tensor '%s' in '%s' has shape %s, expected %s", name, file,
                   st_shape_str(ctx, st), shape);
        return -1;
    }
    st_read_f32(st, tensor_storage(ctx, t));
    return 0;
}

/* ---- the name map: weights "FILE" (LAYER = "PREFIX", ...) ---- */

/* The op named name that has parameters, or NULL. */
static const Op *param_op(const Graph *g, const char *name)
{
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].w >= 0 && strcmp(g->ops[i].name, name) == 0)
            return &g->ops[i];
    return NULL;
}

static const char *layer_suggestion(Ctx *ctx, const Graph *g, const char *name)
{
    const char **names = arena_alloc(ctx->arena, ((size_t)g->nops + 1) * sizeof *names);
    size_t n = 0;
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].w >= 0)
            names[n++] = g->ops[i].name;
    const char *near = cnnc_suggest(name, names, n);
    return near ? arena_printf(ctx->arena, "; did you mean '%s'?", near) : "";
}

/* One LAYER = "PREFIX" entry; 0 ok, -1 after a diagnostic. */
static int check_map_entry(Ctx *ctx, const Graph *g, const Stmt *ws, const Attr *a)
{
    if (!param_op(g, a->key)) {
        const Op *any = NULL;
        for (int i = 0; i < g->nops && !any; i++)
            any = strcmp(g->ops[i].name, a->key) == 0 ? &g->ops[i] : NULL;
        if (any)
            diag_error(ctx, a->loc, "layer '%s' has no parameters to read from '%s'", a->key,
                       ws->path);
        else
            diag_error(ctx, a->loc, "no layer named '%s' has parameters%s", a->key,
                       layer_suggestion(ctx, g, a->key));
        return -1;
    }
    if (a->val->kind != VAL_STRING || !a->val->s[0]) {
        diag_error(ctx, a->val->loc, "the weights map takes LAYER = \"PREFIX\", a non-empty "
                   "string, e.g. %s = \"features.0\"", a->key);
        return -1;
    }
    for (const Attr *b = ws->attrs; b != a; b = b->next)
        if (strcmp(b->key, a->key) == 0) {
            diag_error(ctx, a->loc, "layer '%s' is mapped twice", a->key);
            return -1;
        }
    return 0;
}

static int check_map(Ctx *ctx, const Graph *g, const Stmt *ws)
{
    int ok = 1;
    for (const SrcRef *r = ws->srcs; r; r = r->next) {
        diag_error(ctx, r->loc, "the weights map takes LAYER = \"PREFIX\", got '%s' alone",
                   r->name);
        ok = 0;
    }
    for (const Attr *a = ws->attrs; a; a = a->next)
        ok &= check_map_entry(ctx, g, ws, a) == 0;
    return ok ? 0 : -1;
}

/* The name tensor id has in the file: "PREFIX.weight" for a mapped layer. */
static const char *file_name(Ctx *ctx, const Graph *g, const Op *owner, int id, const Stmt *ws)
{
    const char *name = g->t[id].name;
    size_t n = owner ? strlen(owner->name) : 0;
    if (!owner || strncmp(name, owner->name, n) != 0 || name[n] != '.')
        return name;
    for (const Attr *a = ws->attrs; a; a = a->next)
        if (strcmp(a->key, owner->name) == 0)
            return arena_printf(ctx->arena, "%s%s", a->val->s, name + n);
    return name;
}

/* BatchNorm's step counter: PyTorch saves it, inference never reads it. */
static int is_ignored(const char *name)
{
    const char *dot = strrchr(name, '.');
    return strcmp(dot ? dot + 1 : name, "num_batches_tracked") == 0;
}

/* Binds every weight tensor from f, then reports the file's unused ones
 * (in file order, as before). */
static int bind_from(Ctx *ctx, Graph *g, const StFile *f, const Stmt *ws)
{
    const Op **owner = weight_owners(ctx->arena, g);
    const NamedTensor *index = file_index(ctx->arena, f);
    const char **names = arena_alloc(ctx->arena, ((size_t)g->nt + 1) * sizeof *names);
    int ok = 1, nnames = 0;
    for (int i = 0; i < g->nt; i++) {
        if (g->t[i].role != TR_WEIGHT)
            continue;
        const char *fname = file_name(ctx, g, owner[i], i, ws);
        names[nnames++] = fname;
        ok &= bind_tensor(ctx, g, i, owner[i], fname, index_find(index, f->ntensors, fname),
                          ws->path) == 0;
    }
    qsort(names, (size_t)nnames, sizeof *names, cmp_names);
    for (int i = 0; i < f->ntensors; i++) {
        const char *name = f->tensors[i].name;
        if (!is_ignored(name) && !bsearch(&name, names, (size_t)nnames, sizeof *names, cmp_names)) {
            diag_error(ctx, ws->name_loc, "tensor '%s' in '%s' is not used by the model",
                       name, ws->path);
            ok = 0;
        }
    }
    return ok ? 0 : -1;
}

static int bind_file(Ctx *ctx, Graph *g, const Stmt *ws, const char *base_dir)
{
    const char *path = ws->path;
    if (check_map(ctx, g, ws) != 0)
        return -1;
    if (path[0] != '/' && base_dir && base_dir[0])
        path = arena_printf(ctx->arena, "%s/%s", base_dir, ws->path);
    if (ctx->weights_mem)
        return bind_from(ctx, g, ctx->weights_mem, ws);
    ctx->weights_file = path;
    StFile *loaded = arena_alloc(ctx->arena, sizeof *loaded);   /* not on the stack: setjmp */
    char err[512];
    if (st_load(path, loaded, err, sizeof err) != 0) {
        diag_error(ctx, ws->name_loc, "weights file '%s': %s", ws->path, err);
        return -1;
    }
    /* Out of memory while binding: free the file's bytes, then go on to
     * the handler that was set (the API's), as if this one were not here. */
    jmp_buf oom;
    jmp_buf *outer = arena_on_oom(ctx->arena, &oom);
    if (setjmp(oom) != 0) {
        st_free(loaded);
        arena_on_oom(ctx->arena, outer);
        if (outer)
            longjmp(*outer, 1);
        ICE("out of memory binding '%s'", ws->path);
    }
    int rc = bind_from(ctx, g, loaded, ws);
    arena_on_oom(ctx->arena, outer);
    st_free(loaded);
    return rc;
}

static long long total_weights(const Graph *g)
{
    long long n = 0;
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].role == TR_WEIGHT)
            n += g->t[i].numel;
    return n;
}

int weights_bind(Ctx *ctx, Graph *g, const Model *m, const char *base_dir)
{
    const Stmt *ws = sema_find(m, STMT_WEIGHTS);
    long long total = total_weights(g);
    if (total > LIMIT_WEIGHT_ELEMS) {
        diag_error(ctx, m->name_loc, "model '%s' has %lld parameters, over the limit of %lld",
                   m->name, total, LIMIT_WEIGHT_ELEMS);
        return -1;
    }
    if (!ws) {
        if (total == 0)
            return 0;
        diag_error(ctx, m->name_loc, "model '%s' has parameters but no weights statement; "
                   "add 'weights \"FILE.safetensors\";' or 'weights random(seed=1);'", m->name);
        return -1;
    }
    return ws->path ? bind_file(ctx, g, ws, base_dir) : bind_random(ctx, g, ws);
}
