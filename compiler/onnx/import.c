/* onnx/import.c: OnnxModel -> .cnn text + weights (an StFile in memory).
 *
 * Consumes a decoded model (read.c). Finds the one graph input and output,
 * keeps only the nodes the output needs, and translates them in file order
 * (ONNX requires topological order) with one translator per op
 * (ops.c). Every ONNX value becomes an activation (made by a .cnn
 * statement, with a batch layout), a constant (initializer or Constant),
 * or an alias of another value (Identity, Dropout, Flatten of a vector).
 * Produces readable .cnn text whose weights are named as the language
 * wants (NAME.weight, ...), then hands it to the normal pipeline, so every
 * check, the interpreter and the backend are reused (docs/onnx.md).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

/* ---- string -> int map ---- */

static unsigned long map_hash(const char *s)
{
    unsigned long h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void map_init(Arena *a, OnnxMap *m, int expected)
{
    int cap = 16;
    while (cap < 2 * expected + 16)
        cap *= 2;
    m->keys = arena_alloc(a, sizeof *m->keys * (size_t)cap);
    m->vals = arena_alloc(a, sizeof *m->vals * (size_t)cap);
    m->cap = cap;
    m->n = 0;
}

static int map_slot(const OnnxMap *m, const char *key)
{
    unsigned long i = map_hash(key) & (unsigned long)(m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (unsigned long)(m->cap - 1);
    return (int)i;
}

static int map_get(const OnnxMap *m, const char *key)
{
    int i = map_slot(m, key);
    return m->keys[i] ? m->vals[i] : -1;
}

static void map_put(Arena *a, OnnxMap *m, const char *key, int val)
{
    if (2 * (m->n + 1) > m->cap) {
        OnnxMap bigger;
        map_init(a, &bigger, m->cap);
        for (int i = 0; i < m->cap; i++)
            if (m->keys[i])
                map_put(a, &bigger, m->keys[i], m->vals[i]);
        *m = bigger;
    }
    int i = map_slot(m, key);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

/* ---- errors and attributes ---- */

const OnnxNode *imp_node(const Imp *im)
{
    return &im->g->nodes[im->node];
}

static const char *node_label(Imp *im, int index)
{
    const OnnxNode *n = &im->g->nodes[index];
    if (n->name[0])
        return arena_printf(im->a, "node %d '%s' (%s)", index, onnx_printable(im->a, n->name),
                            onnx_printable(im->a, n->op_type));
    return arena_printf(im->a, "node %d (%s)", index, onnx_printable(im->a, n->op_type));
}

int imp_error(Imp *im, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_file_error(im->ctx, im->path, "%s: %s", node_label(im, im->node), msg);
    return -1;
}

const OnnxAttr *imp_attr(Imp *im, const char *name)
{
    const OnnxNode *n = imp_node(im);
    for (int i = n->nattrs - 1; i >= 0; i--)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int imp_attrs_known(Imp *im, const char *const *known)
{
    const OnnxNode *n = imp_node(im);
    for (int i = 0; i < n->nattrs; i++) {
        const char *const *k = known;
        while (*k && strcmp(*k, n->attrs[i].name) != 0)
            k++;
        if (!*k)
            return imp_error(im, "attribute '%s' is not supported", onnx_printable(im->a, n->attrs[i].name));
    }
    return 0;
}

/* Old files may leave AttributeProto.type unset: then the field present decides. */
static int attr_is(const OnnxAttr *a, int type, int present)
{
    return a->type == type || (a->type == 0 && present);
}

int imp_attr_int(Imp *im, const char *name, long long def, long long *out)
{
    const OnnxAttr *a = imp_attr(im, name);
    *out = def;
    if (!a)
        return 0;
    if (!attr_is(a, ONNX_ATTR_INT, a->has_i))
        return imp_error(im, "attribute '%s' must be an integer", name);
    *out = a->i;
    return 0;
}

int imp_attr_float(Imp *im, const char *name, float def, float *out)
{
    const OnnxAttr *a = imp_attr(im, name);
    *out = def;
    if (!a)
        return 0;
    if (!attr_is(a, ONNX_ATTR_FLOAT, a->has_f))
        return imp_error(im, "attribute '%s' must be a float", name);
    if (!isfinite(a->f))
        return imp_error(im, "attribute '%s' is not a finite number", name);
    *out = a->f;
    return 0;
}

/* A list of at most maxn integers; *n = -1 when absent. */
int imp_attr_ints(Imp *im, const char *name, int maxn, long long *out, int *n)
{
    const OnnxAttr *a = imp_attr(im, name);
    *n = -1;
    if (!a)
        return 0;
    if (!attr_is(a, ONNX_ATTR_INTS, a->nints > 0))
        return imp_error(im, "attribute '%s' must be a list of integers", name);
    if (a->nints > maxn)
        return imp_error(im, "attribute '%s' has %d values, at most %d are supported", name, a->nints, maxn);
    if (a->nints)
        memcpy(out, a->ints, sizeof *out * (size_t)a->nints);
    *n = a->nints;
    return 0;
}

int imp_attr_string(Imp *im, const char *name, const char *def, const char **out)
{
    const OnnxAttr *a = imp_attr(im, name);
    *out = def;
    if (!a)
        return 0;
    if (!attr_is(a, ONNX_ATTR_STRING, a->has_s))
        return imp_error(im, "attribute '%s' must be a string", name);
    *out = a->s ? a->s : "";
    return 0;
}

/* ---- values ---- */

OnnxVal *imp_val(Imp *im, const char *name)
{
    int i = map_get(&im->val_index, name);
    return i < 0 ? NULL : &im->vals[i];
}

static int le_float_array(Imp *im, OnnxVal *v, const OnnxTensor *t)
{
    v->f = arena_alloc(im->a, sizeof *v->f * (size_t)(t->numel ? t->numel : 1));
    for (long long k = 0; k < t->numel; k++) {
        if (t->has_raw && t->dtype == ONNX_FLOAT) {
            const unsigned char *p = t->raw + 4 * k;
            uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            memcpy(&v->f[k], &u, sizeof u);
        } else if (t->has_raw) {   /* DOUBLE */
            uint64_t u = 0;
            for (int b = 7; b >= 0; b--)
                u = u << 8 | t->raw[8 * k + b];
            double x;
            memcpy(&x, &u, sizeof x);
            v->f[k] = (float)x;
        } else {
            v->f[k] = t->dtype == ONNX_FLOAT ? t->floats[k] : (float)t->doubles[k];
        }
    }
    v->dtype = ONNX_FLOAT;
    return 0;
}

static void le_int_array(Imp *im, OnnxVal *v, const OnnxTensor *t)
{
    v->i = arena_alloc(im->a, sizeof *v->i * (size_t)(t->numel ? t->numel : 1));
    size_t esize = t->dtype == ONNX_INT64 ? 8 : t->dtype == ONNX_INT32 ? 4 : 1;
    for (long long k = 0; k < t->numel; k++) {
        if (!t->has_raw) {
            v->i[k] = t->ints[k];
            continue;
        }
        uint64_t u = 0;
        for (int b = (int)esize - 1; b >= 0; b--)
            u = u << 8 | t->raw[esize * (size_t)k + (size_t)b];
        v->i[k] = esize == 8 ? (long long)u : esize == 4 ? (long long)(int32_t)(uint32_t)u
                : t->dtype == ONNX_INT8 ? (long long)(int8_t)(uint8_t)u : (long long)u;
    }
    v->dtype = ONNX_INT64;
}

/* Converts an initializer or Constant tensor on first use; what names it
 * in errors ("input 1 'W'"). */
int imp_load_const(Imp *im, OnnxVal *v, const char *what)
{
    const OnnxTensor *t = v->tensor;
    if (!t || v->f || v->i)
        return 0;
    if (t->external)
        return imp_error(im, "%s keeps its data in an external file; cnnc reads only data inside the .onnx file",
                         what);
    v->numel = t->numel;
    switch (t->dtype) {
    case ONNX_FLOAT: case ONNX_DOUBLE: return le_float_array(im, v, t);
    case ONNX_INT64: case ONNX_INT32: case ONNX_BOOL: case ONNX_INT8: case ONNX_UINT8:
        le_int_array(im, v, t);
        return 0;
    default:
        return imp_error(im, "%s has dtype %s; cnnc reads FLOAT (and INT64 for shapes)", what,
                         onnx_dtype_name(t->dtype));
    }
}

OnnxVal *imp_input_opt(Imp *im, int k)
{
    const OnnxNode *n = imp_node(im);
    if (k >= n->ninputs || !n->inputs[k][0])
        return NULL;
    OnnxVal *v = imp_val(im, n->inputs[k]);
    if (v && v->kind == VAL_CONST && v->tensor && !v->f && !v->i &&
        imp_load_const(im, v, arena_printf(im->a, "input %d '%s'", k, onnx_printable(im->a, v->name))) != 0)
        return NULL;
    return v;
}

OnnxVal *imp_input(Imp *im, int k)
{
    int errors = im->ctx->nerrors;
    OnnxVal *v = imp_input_opt(im, k);
    if (!v && im->ctx->nerrors == errors)
        imp_error(im, "input %d is missing", k);
    return v;
}

OnnxVal *imp_act_nhwc(Imp *im, int k)
{
    OnnxVal *v = imp_input(im, k);
    if (!v)
        return NULL;
    if (v->kind == VAL_EXPR) {
        imp_error(im, "input %d '%s' comes from node %d (%s), which cnnc supports only inside %s", k,
                  onnx_printable(im->a, v->name), v->producer,
                  onnx_printable(im->a, im->g->nodes[v->producer].op_type), imp_expr_what(v->expr));
        return NULL;
    }
    if (v->kind != VAL_ACT) {
        imp_error(im, "input %d '%s' is a constant; cnnc supports this op only on activations",
                  k, onnx_printable(im->a, v->name));
        return NULL;
    }
    if (v->padded) {
        imp_error(im, "input %d '%s' comes from a Pad, which cnnc folds only into a following Conv",
                  k, onnx_printable(im->a, v->name));
        return NULL;
    }
    return v;
}

OnnxVal *imp_act(Imp *im, int k)
{
    OnnxVal *v = imp_act_nhwc(im, k);
    if (v && v->nhwc) {
        imp_error(im, "input %d '%s' is channels-last (Transpose perm [0, 2, 3, 1]); there cnnc supports "
                  "elementwise ops, a LayerNorm or MatMul over the channels, and the Transpose back",
                  k, onnx_printable(im->a, v->name));
        return NULL;
    }
    return v;
}

OnnxVal *imp_const(Imp *im, int k, int dtype)
{
    OnnxVal *v = imp_input(im, k);
    if (!v)
        return NULL;
    if (v->kind != VAL_CONST) {
        imp_error(im, "input %d '%s' must be a constant (an initializer); cnnc compiles constant weights",
                  k, onnx_printable(im->a, v->name));
        return NULL;
    }
    if (v->dtype != dtype) {
        imp_error(im, "input %d '%s' has dtype %s, expected %s", k, onnx_printable(im->a, v->name),
                  onnx_dtype_name(v->dtype), onnx_dtype_name(dtype));
        return NULL;
    }
    return v;
}

OnnxVal *imp_output(Imp *im, int k)
{
    const OnnxNode *n = imp_node(im);
    if (k >= n->noutputs || !n->outputs[k][0])
        return NULL;
    return imp_val(im, n->outputs[k]);
}

int imp_output_unused(Imp *im, int k)
{
    OnnxVal *v = imp_output(im, k);
    return !v || v->nuses == 0;
}

/* Saturates at 2^62: a hostile shape may not overflow; the limits in sema.c
 * then reject what it names. */
long long imp_numel(int rank, const long long *dims)
{
    const long long cap = 1LL << 62;
    long long n = 1;
    for (int i = 0; i < rank; i++)
        n = dims[i] <= 0 ? 0 : n > cap / dims[i] ? cap : n * dims[i];
    return n;
}

void imp_set_act(Imp *im, OnnxVal *out, const OnnxVal *x, int stmt, int rank, const long long *dims)
{
    (void)im;
    if (!out)
        return;
    out->kind = VAL_ACT;
    out->stmt = stmt;
    out->lead = x->lead;
    out->layout = x->layout;
    out->rank = rank;
    memcpy(out->dims, dims, sizeof *dims * (size_t)rank);
    out->padded = 0;
    out->nhwc = x->nhwc;
}

void imp_alias(OnnxVal *out, const OnnxVal *x)
{
    if (!out)
        return;
    const char *name = out->name;
    int producer = out->producer, nuses = out->nuses;
    *out = *x;
    out->name = name;
    out->producer = producer;
    out->nuses = nuses;
}

int imp_cnn_axis(const OnnxVal *x, long long axis)
{
    long long a = axis < 0 ? axis + x->rank : axis;
    if (a < 0 || a >= x->rank)
        return -2;
    if (a < x->lead)
        return -1;
    int k = (int)a - x->lead;
    return x->layout == LAY_MAP1D && k == 1 ? 2 : k;
}

const char *imp_fmt_float(Imp *im, float f)
{
    char buf[64];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    return arena_strdup(im->a, buf);
}

/* ---- .cnn names ---- */

static int is_keyword(const char *s)
{
    static const char *const kw[] = { "model", "input", "weights", "output", "random", "true", "false" };
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(s, kw[i]) == 0)
            return 1;
    return 0;
}

/* A C identifier from any string: other bytes become '_', runs of '_'
 * one, no '_' at either end, a leading digit gets a 'v'. NULL when empty. */
static char *c_identifier(Arena *a, const char *s, size_t maxlen)
{
    size_t n = strlen(s);
    char *out = arena_alloc(a, n + 3);
    size_t k = 0;
    for (size_t i = 0; i < n && k < maxlen; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (ok)
            out[k++] = (char)c;
        else if (k > 0 && out[k - 1] != '_')
            out[k++] = '_';
    }
    while (k > 0 && out[k - 1] == '_')
        k--;
    out[k] = 0;
    if (k == 0)
        return NULL;
    if (out[0] >= '0' && out[0] <= '9') {
        memmove(out + 1, out, k + 1);
        out[0] = 'v';
    }
    return out;
}

/* The same, and never a .cnn keyword ("input" -> "input_"). */
static const char *sanitize(Arena *a, const char *s, size_t maxlen)
{
    const char *out = c_identifier(a, s, maxlen);
    return out && is_keyword(out) ? arena_printf(a, "%s_", out) : out;
}

/* PyTorch names a node by its module path and op: "/layer1/layer1.0/conv1/Conv".
 * Keep the path, without the op and without a component that the next one
 * repeats ("layer1" before "layer1.0"): "layer1.0/conv1". */
static const char *scope_of(Arena *a, const char *name, const char *op_type)
{
    const char *slash = strrchr(name, '/');
    if (name[0] != '/' || !slash || slash == name || strcmp(slash + 1, op_type) != 0)
        return name;
    Buf b;
    buf_init(&b);
    const char *p = name + 1;
    while (p < slash) {
        const char *end = strchr(p, '/');
        size_t n = (size_t)(end - p);
        int repeated = end < slash && strncmp(end + 1, p, n) == 0 && end[1 + n] == '.';
        if (!repeated) {
            if (b.len)
                buf_putc(&b, '/');
            buf_put(&b, p, n);
        }
        p = end + 1;
    }
    const char *s = b.len ? arena_strdup(a, b.data) : name;
    buf_free(&b);
    return s;
}

static const char *take_name(Imp *im, const char *want)
{
    if (map_get(&im->names, want) < 0) {
        map_put(im->a, &im->names, want, 1);
        return want;
    }
    for (int k = 2;; k++) {
        const char *s = arena_printf(im->a, "%s_%d", want, k);
        if (map_get(&im->names, s) < 0) {
            map_put(im->a, &im->names, s, 1);
            return s;
        }
    }
}

static const char *stmt_name(Imp *im, const char *op)
{
    const OnnxNode *n = imp_node(im);
    enum { MAXLEN = 60 };
    const char *cands[3] = {
        sanitize(im->a, scope_of(im->a, n->name, n->op_type), MAXLEN),
        sanitize(im->a, n->name, MAXLEN),
        n->noutputs ? sanitize(im->a, n->outputs[0], MAXLEN) : NULL,
    };
    const char *first = NULL;
    for (int i = 0; i < 3; i++) {
        if (cands[i] && map_get(&im->names, cands[i]) < 0)
            return take_name(im, cands[i]);
        if (!first)
            first = cands[i];
    }
    return take_name(im, first ? first : op);
}

/* ---- statements ---- */

OnnxStmt *imp_stmt(Imp *im, const char *op, const char *args, const OnnxVal *const *src, int nsrc)
{
    if (im->nstmts == im->capstmts) {
        int cap = im->capstmts ? 2 * im->capstmts : 16;
        OnnxStmt *p = arena_alloc(im->a, sizeof *p * (size_t)cap);
        if (im->nstmts)
            memcpy(p, im->stmts, sizeof *p * (size_t)im->nstmts);
        im->stmts = p;
        im->capstmts = cap;
    }
    OnnxStmt *s = &im->stmts[im->nstmts++];
    memset(s, 0, sizeof *s);
    s->name = im->node >= 0 ? stmt_name(im, op) : take_name(im, "identity");
    s->op = op;
    s->args = args ? args : "";
    s->node = im->node;
    s->src = arena_alloc(im->a, sizeof *s->src * (size_t)(nsrc ? nsrc : 1));
    for (int i = 0; i < nsrc; i++)
        s->src[i] = src[i]->stmt;
    s->nsrc = nsrc;
    return s;
}

OnnxWeight *imp_weight(Imp *im, OnnxStmt *s, const char *suffix, int rank, const long long *shape)
{
    if (s->nw >= ONNX_STMT_WEIGHTS)
        ICE("onnx: more than %d weights in '%s'", ONNX_STMT_WEIGHTS, s->name);
    OnnxWeight *w = &s->w[s->nw++];
    w->suffix = suffix;
    w->rank = rank;
    memcpy(w->shape, shape, sizeof *shape * (size_t)rank);
    w->data = arena_alloc(im->a, sizeof *w->data * (size_t)(imp_numel(rank, shape) + 1));
    return w;
}

/* ---- the graph: input, output, live nodes ---- */

static int file_error(Imp *im, const char *msg)
{
    diag_file_error(im->ctx, im->path, "%s", msg);
    return -1;
}

static int add_val(Imp *im, const char *name, OnnxValKind kind, int producer)
{
    if (map_get(&im->val_index, name) >= 0) {
        diag_file_error(im->ctx, im->path, "value '%s' is defined twice", onnx_printable(im->a, name));
        return -1;
    }
    OnnxVal *v = &im->vals[im->nvals];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->kind = kind;
    v->producer = producer;
    v->stmt = -1;
    map_put(im->a, &im->val_index, name, im->nvals++);
    return 0;
}

static int collect_values(Imp *im)
{
    const OnnxGraph *g = im->g;
    long long n = g->ninits + g->ninputs;
    for (int i = 0; i < g->nnodes; i++)
        n += g->nodes[i].noutputs;
    im->vals = arena_alloc(im->a, sizeof *im->vals * (size_t)(n + 1));
    map_init(im->a, &im->val_index, (int)n);
    for (int i = 0; i < g->ninits; i++) {
        if (add_val(im, g->inits[i].name, VAL_CONST, -1) != 0)
            return -1;
        im->vals[im->nvals - 1].tensor = &g->inits[i];
        im->vals[im->nvals - 1].rank = g->inits[i].rank;
        memcpy(im->vals[im->nvals - 1].dims, g->inits[i].dims, sizeof g->inits[i].dims);
        im->vals[im->nvals - 1].numel = g->inits[i].numel;
        im->vals[im->nvals - 1].dtype = g->inits[i].dtype;
    }
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].noutputs; k++)
            if (g->nodes[i].outputs[k][0] && add_val(im, g->nodes[i].outputs[k], VAL_PENDING, i) != 0)
                return -1;
    return 0;
}

/* The one graph input that is not an initializer (IR < 4 lists both). */
static const OnnxValueInfo *find_input(Imp *im)
{
    const OnnxGraph *g = im->g;
    const OnnxValueInfo *found = NULL;
    int n = 0;
    Buf names;
    buf_init(&names);
    for (int i = 0; i < g->ninputs; i++) {
        OnnxVal *v = imp_val(im, g->inputs[i].name);
        if (v && v->kind == VAL_CONST)
            continue;
        buf_printf(&names, "%s'%s'", n ? ", " : "", onnx_printable(im->a, g->inputs[i].name));
        found = &g->inputs[i];
        n++;
    }
    if (n != 1) {
        diag_file_error(im->ctx, im->path, n == 0 ? "the graph has no input; a cnnc model reads one tensor"
                        : "the graph has %d inputs (%s); a cnnc model reads one tensor", n, names.data);
        found = NULL;
    }
    buf_free(&names);
    return found;
}

/* Marks the nodes the output depends on, with an explicit stack. */
static char *live_nodes(Imp *im, const OnnxVal *out)
{
    const OnnxGraph *g = im->g;
    char *live = arena_alloc(im->a, (size_t)g->nnodes + 1);
    int *stack = arena_alloc(im->a, sizeof *stack * ((size_t)g->nnodes + 1));
    int sp = 0;
    if (out->producer >= 0) {
        live[out->producer] = 1;
        stack[sp++] = out->producer;
    }
    while (sp > 0) {
        const OnnxNode *n = &g->nodes[stack[--sp]];
        for (int k = 0; k < n->ninputs; k++) {
            const OnnxVal *v = n->inputs[k][0] ? imp_val(im, n->inputs[k]) : NULL;
            if (v && v->producer >= 0 && !live[v->producer]) {
                live[v->producer] = 1;
                stack[sp++] = v->producer;
            }
        }
    }
    return live;
}

static void count_uses(Imp *im, const char *live, OnnxVal *out)
{
    const OnnxGraph *g = im->g;
    for (int i = 0; i < g->nnodes; i++) {
        if (!live[i])
            continue;
        for (int k = 0; k < g->nodes[i].ninputs; k++) {
            OnnxVal *v = g->nodes[i].inputs[k][0] ? imp_val(im, g->nodes[i].inputs[k]) : NULL;
            if (v)
                v->nuses++;
        }
    }
    out->nuses++;
}

static const char *dims_text(Arena *a, int rank, const long long *dims)
{
    Buf b;
    buf_init(&b);
    buf_putc(&b, '[');
    for (int i = 0; i < rank; i++)
        buf_printf(&b, "%s%lld", i ? ", " : "", dims[i]);
    buf_putc(&b, ']');
    const char *s = arena_strdup(a, b.data);
    buf_free(&b);
    return s;
}

static int input_shape(Imp *im, const OnnxValueInfo *vi, OnnxVal *v)
{
    const char *name = onnx_printable(im->a, vi->name);
    if (vi->kind != 1 || vi->elem_type != ONNX_FLOAT)
        return diag_file_error(im->ctx, im->path, "input '%s' has type %s; cnnc reads FLOAT tensors", name,
                               vi->kind == 1 ? onnx_dtype_name(vi->elem_type) : "that is not a tensor"), -1;
    if (!vi->has_shape || vi->rank == 0)
        return diag_file_error(im->ctx, im->path, "input '%s' has %s; cnnc reads [N, C, H, W], [N, C, L], [N, F], "
                               "[C, H, W] or [F]", name, !vi->has_shape ? "no shape"
                               : arena_printf(im->a, "rank %d", vi->rank)), -1;
    if (vi->rank > 4)
        return diag_file_error(im->ctx, im->path, "input '%s' has rank %d (%d-D data); cnnc supports 1-D and 2-D data",
                               name, vi->rank, vi->rank - 2), -1;
    for (int i = 0; i < vi->rank; i++) {
        if (vi->dims[i] <= 0 || vi->dims[i] > LIMIT_DIM)
            return diag_file_error(im->ctx, im->path, "input '%s': dimension %d is %s; cnnc needs fixed sizes "
                                   "from 1 to %d (export with a fixed batch size)", name, i,
                                   vi->dim_param[i] ? arena_printf(im->a, "'%s'", onnx_printable(im->a, vi->dim_param[i]))
                                   : vi->dims[i] < 0 ? "unknown" : arena_printf(im->a, "%lld", vi->dims[i]),
                                   LIMIT_DIM), -1;
        v->dims[i] = vi->dims[i];
    }
    v->rank = vi->rank;
    return 0;
}

/* Ranks 4 and 2 carry a batch; rank 3 is [N, C, L] when a layer needs the
 * channel axis, otherwise one [C, H, W] sample (any layout suits
 * elementwise layers, and this one lets softmax use every axis). */
static void input_layout(Imp *im, const char *live, OnnxVal *v)
{
    int channels = 0;
    for (int i = 0; i < im->g->nnodes; i++)
        channels |= live[i] && imp_op_uses_channels(im->g->nodes[i].op_type);
    switch (v->rank) {
    case 4: v->lead = 1; v->layout = LAY_MAP; break;
    case 3: v->lead = channels; v->layout = channels ? LAY_MAP1D : LAY_MAP; break;
    case 2: v->lead = 1; v->layout = LAY_VEC; break;
    default: v->lead = 0; v->layout = LAY_VEC; break;
    }
    im->batch = v->lead ? (int)v->dims[0] : 1;
}

/* "'a', 'b', 'c'" (at most 4, then "..."). */
static const char *value_names(Imp *im, const OnnxValueInfo *v, int n)
{
    Buf b;
    buf_init(&b);
    buf_putc(&b, 0);
    b.len = 0;
    for (int i = 0; i < n && i < 4; i++)
        buf_printf(&b, "%s'%s'", i ? ", " : "", onnx_printable(im->a, v[i].name));
    if (n > 4)
        buf_puts(&b, ", ...");
    const char *s = arena_strdup(im->a, b.data);
    buf_free(&b);
    return s;
}

static int setup_graph(Imp *im, char **live)
{
    const OnnxGraph *g = im->g;
    if (collect_values(im) != 0)
        return -1;
    if (g->noutputs != 1)
        return diag_file_error(im->ctx, im->path, "the graph has %d outputs (%s); a cnnc model computes one tensor",
                               g->noutputs, value_names(im, g->outputs, g->noutputs)), -1;
    const OnnxValueInfo *vi = find_input(im);
    if (!vi)
        return -1;
    if (imp_val(im, vi->name))
        return diag_file_error(im->ctx, im->path, "value '%s' is defined twice", onnx_printable(im->a, vi->name)), -1;
    add_val(im, vi->name, VAL_ACT, -1);
    OnnxVal *in = &im->vals[im->nvals - 1];
    if (input_shape(im, vi, in) != 0)
        return -1;
    OnnxVal *out = imp_val(im, g->outputs[0].name);
    if (!out)
        return diag_file_error(im->ctx, im->path, "the graph's output '%s' is not computed by any node",
                               onnx_printable(im->a, g->outputs[0].name)), -1;
    *live = live_nodes(im, out);
    count_uses(im, *live, out);
    input_layout(im, *live, in);
    im->input = in;
    map_init(im->a, &im->names, g->nnodes + 4);
    im->input_name = take_name(im, sanitize(im->a, vi->name, 60) ? sanitize(im->a, vi->name, 60) : "x");
    return 0;
}

/* ---- translating the nodes ---- */

static int check_inputs_defined(Imp *im)
{
    const OnnxNode *n = imp_node(im);
    for (int k = 0; k < n->ninputs; k++) {
        if (!n->inputs[k][0])
            continue;
        const OnnxVal *v = imp_val(im, n->inputs[k]);
        if (!v)
            return imp_error(im, "input %d '%s' is not produced by any node, initializer or graph input",
                             k, onnx_printable(im->a, n->inputs[k]));
        if (v->kind == VAL_PENDING)
            return imp_error(im, "input %d '%s' is used before the node that produces it "
                             "(nodes must be in topological order)", k, onnx_printable(im->a, n->inputs[k]));
    }
    return 0;
}

static int translate_node(Imp *im)
{
    const OnnxNode *n = imp_node(im);
    if (n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        return imp_error(im, "operator domain '%s' is not supported (only the default ONNX domain)",
                         onnx_printable(im->a, n->domain));
    if (check_inputs_defined(im) != 0 || imp_check_not_int8(im) != 0)
        return -1;
    int folded = imp_fold(im);
    if (folded <= 0)
        return folded;
    ImpOpFn fn = imp_find_op(n->op_type);
    if (!fn)
        return imp_error(im, "op '%s' is not supported (docs/onnx.md lists the supported ops)",
                         onnx_printable(im->a, n->op_type));
    for (int k = 0; k < n->noutputs; k++) {
        OnnxVal *v = imp_output(im, k);
        if (v && v->kind != VAL_PENDING)
            return imp_error(im, "output %d '%s' is defined twice", k, onnx_printable(im->a, v->name));
    }
    return fn(im);
}

/* The graph's output must be made by a statement: an output that is the
 * input itself (Identity, Dropout) gets an identity layer. */
static int finish_output(Imp *im, const OnnxVal *out)
{
    if (out->kind == VAL_CONST)
        return file_error(im, "the graph's output is a constant; cnnc computes a function of the input");
    if (out->padded)
        return file_error(im, "the graph's output comes from a Pad, which cnnc folds only into a following Conv");
    if (out->kind == VAL_EXPR)
        return diag_file_error(im->ctx, im->path, "the graph's output is part of %s, which cnnc supports only whole",
                               imp_expr_what(out->expr)), -1;
    if (out->nhwc)
        return file_error(im, "the graph's output is channels-last (a Transpose perm [0, 2, 3, 1] of a feature "
                          "map); cnnc's outputs are [N, C, H, W]");
    if (out->stmt >= 0)
        return out->stmt;
    im->node = -1;   /* no node of its own */
    const OnnxVal *src[1] = { out };
    OnnxStmt *s = imp_stmt(im, out->layout == LAY_VEC ? "flatten" : "maxpool",
                           out->layout == LAY_VEC ? "" : "kernel=1", src, 1);
    s->note = "the identity: the graph's output is its input";
    return im->nstmts - 1;
}

/* Drops statements the output does not read (a Sigmoid merged into swish). */
static void mark_live_stmts(Imp *im, int out)
{
    im->stmts[out].live = 1;
    for (int i = out; i >= 0; i--) {
        if (!im->stmts[i].live)
            continue;
        for (int k = 0; k < im->stmts[i].nsrc; k++)
            if (im->stmts[i].src[k] >= 0)
                im->stmts[im->stmts[i].src[k]].live = 1;
    }
}

/* ---- text ---- */

static void put_src(Buf *b, const Imp *im, int s)
{
    buf_puts(b, s < 0 ? im->input_name : im->stmts[s].name);
}

static int stmt_has_bias(const OnnxStmt *s)
{
    for (int k = 0; k < s->nw; k++)
        if (strcmp(s->w[k].suffix, "bias") == 0)
            return 1;
    return 0;
}

static void print_stmt(Imp *im, Buf *b, int i, int prev)
{
    const OnnxStmt *s = &im->stmts[i];
    int explicit = !(s->nsrc == 1 && s->src[0] == prev);
    const char *bias = s->has_bias_arg && !stmt_has_bias(s) ? "bias=false" : "";
    int nargs = (s->args[0] != 0) + (bias[0] != 0);
    buf_printf(b, "    %s = %s", s->name, s->op);
    if (explicit || nargs) {
        buf_putc(b, '(');
        const char *sep = "";
        for (int k = 0; explicit && k < s->nsrc; k++, sep = ", ") {
            buf_puts(b, sep);
            put_src(b, im, s->src[k]);
        }
        if (s->args[0])
            buf_printf(b, "%s%s", sep, s->args), sep = ", ";
        if (bias[0])
            buf_printf(b, "%s%s", sep, bias);
        buf_putc(b, ')');
    }
    buf_printf(b, ";  # %s", s->node >= 0 ? node_label(im, s->node) : "");
    if (s->note)
        buf_printf(b, "%s%s", s->node >= 0 ? ": " : "", s->note);
    buf_putc(b, '\n');
}

static const char *input_decl(Imp *im)
{
    const OnnxVal *v = im->input;
    if (v->layout == LAY_MAP1D) {
        long long d[4] = { v->dims[0], v->dims[1], 1, v->dims[2] };
        return dims_text(im->a, 4, d);
    }
    return dims_text(im->a, v->rank, v->dims);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void print_header(Imp *im, Buf *b, const char *model_name, const OnnxVal *out)
{
    const OnnxVal *in = im->input;
    buf_printf(b, "# Imported by cnnc from %s (ONNX IR %lld, opset %lld%s%s).\n",
               onnx_printable(im->a, base_name(im->path)), im->m->ir_version, im->opset,
               im->m->producer[0] ? ", made by " : "", onnx_printable(im->a, im->m->producer));
    buf_printf(b, "# Input '%s' %s", onnx_printable(im->a, in->name), dims_text(im->a, in->rank, in->dims));
    if (in->layout == LAY_MAP1D)
        buf_printf(b, " is 1-D data [N, C, L], read as [N, C, 1, L]");
    else if (in->lead)
        buf_printf(b, " is a batch of %d", im->batch);
    buf_printf(b, ";\n# output '%s' %s.\n", onnx_printable(im->a, out->name), dims_text(im->a, out->rank, out->dims));
    buf_printf(b, "model %s {\n    input %s%s;\n", model_name, im->input_name, input_decl(im));
}

static int count_weights(const Imp *im)
{
    int n = 0;
    for (int i = 0; i < im->nstmts; i++)
        if (im->stmts[i].live)
            n += im->stmts[i].nw;
    return n;
}

static const char *print_text(Imp *im, const char *model_name, const char *weights_name,
                              const OnnxVal *out, int out_stmt)
{
    Buf b;
    buf_init(&b);
    b.on_oom = im->ctx->on_oom;   /* a model's whole text */
    print_header(im, &b, model_name, out);
    if (count_weights(im))
        buf_printf(&b, "    weights \"%s\";\n", weights_name);
    buf_putc(&b, '\n');
    int prev = -1;
    for (int i = 0; i < im->nstmts; i++) {
        if (!im->stmts[i].live)
            continue;
        print_stmt(im, &b, i, prev);
        prev = i;
    }
    buf_printf(&b, "\n    output %s;\n}\n", im->stmts[out_stmt].name);
    const char *s = arena_strdup(im->a, b.data);
    buf_free(&b);
    return s;
}

/* ---- weights ---- */

static void put_le_floats(unsigned char *dst, const float *src, long long n)
{
    for (long long i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        for (int k = 0; k < 4; k++)
            dst[4 * i + k] = (unsigned char)(u >> (8 * k));
    }
}

static void build_weights(Imp *im, StFile *f)
{
    int n = count_weights(im), k = 0;
    memset(f, 0, sizeof *f);
    f->tensors = arena_alloc(im->a, sizeof *f->tensors * (size_t)(n + 1));
    for (int i = 0; i < im->nstmts; i++) {
        const OnnxStmt *s = &im->stmts[i];
        for (int j = 0; s->live && j < s->nw; j++) {
            StTensor *t = &f->tensors[k++];
            const OnnxWeight *w = &s->w[j];
            t->name = arena_printf(im->a, "%s.%s", s->name, w->suffix);
            strcpy(t->dtype, "F32");
            t->rank = w->rank;
            memcpy(t->shape, w->shape, sizeof *w->shape * (size_t)w->rank);
            t->numel = imp_numel(w->rank, w->shape);
            t->nbytes = (size_t)t->numel * 4;
            unsigned char *bytes = arena_alloc(im->a, t->nbytes + 1);
            put_le_floats(bytes, w->data, t->numel);
            t->data = bytes;
        }
    }
    f->ntensors = n;
}

/* The quantization the file gives (qdq.c): the input's and each live
 * statement's scale and zero point, the weights' scales per channel. */
static void collect_qparams(Imp *im, OnnxImport *out)
{
    int n = im->input_q.q;
    for (int i = 0; i < im->nstmts; i++)
        for (int j = 0; im->stmts[i].live && j < im->stmts[i].nw; j++)
            n += im->stmts[i].w[j].qscale != NULL;
    for (int i = 0; i < im->nstmts; i++)
        n += im->stmts[i].live && im->stmts[i].q;
    if (n == 0)
        return;
    QuantParam *p = arena_alloc(im->a, sizeof *p * (size_t)n);
    int k = 0;
    float *scales = arena_alloc(im->a, sizeof *scales * (size_t)n);   /* im is on the stack */
    if (im->input_q.q) {
        scales[k] = im->input_q.qs;
        p[k] = (QuantParam){ im->input_name, &scales[k], 1, im->input_q.qz, node_label(im, im->input_q.qnode) };
        k++;
    }
    for (int i = 0; i < im->nstmts; i++) {
        const OnnxStmt *s = &im->stmts[i];
        if (s->live && s->q) {
            scales[k] = s->qs;
            p[k] = (QuantParam){ s->name, &scales[k], 1, s->qz, node_label(im, s->qnode) };
            k++;
        }
        for (int j = 0; s->live && j < s->nw; j++)
            if (s->w[j].qscale)
                p[k++] = (QuantParam){ arena_printf(im->a, "%s.%s", s->name, s->w[j].suffix), s->w[j].qscale,
                                       (int)s->w[j].shape[0], 0, node_label(im, s->node) };
    }
    out->qparams = p;
    out->nqparams = n;
}

/* ---- entry points ---- */

/* "dir/my-net.onnx" -> "my_net"; keyword: whether "model" may stay. */
static const char *file_identifier(Arena *a, const char *path, int keyword_ok)
{
    const char *base = base_name(path);
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".onnx") == 0)
        n -= 5;
    const char *b = arena_strndup(a, base, n);
    const char *s = keyword_ok ? c_identifier(a, b, 60) : sanitize(a, b, 60);
    return s ? s : "onnx_model";
}

const char *onnx_model_name(Arena *a, const char *path)
{
    return file_identifier(a, path, 0);
}

int onnx_translate(Ctx *ctx, const char *path, const OnnxModel *m, const char *model_name,
                   const char *weights_name, OnnxImport *out)
{
    Imp im = { .ctx = ctx, .a = ctx->arena, .path = path, .m = m, .g = m->graph, .opset = m->opset };
    char *live = NULL;
    memset(out, 0, sizeof *out);
    if (m->opset == 0)
        im.opset = 1;
    if (m->graph->nsparse)
        return file_error(&im, "sparse initializers are not supported");
    if (setup_graph(&im, &live) != 0)
        return -1;
    im.live = live;
    for (im.node = 0; im.node < im.g->nnodes; im.node++)
        if (live[im.node] && translate_node(&im) != 0)
            return -1;
    const OnnxVal *res = imp_val(&im, m->graph->outputs[0].name);
    int out_stmt = finish_output(&im, res);
    if (out_stmt < 0)
        return -1;
    mark_live_stmts(&im, out_stmt);
    if (res->q)
        return file_error(&im, "the graph's output is int8 data; cnnc's outputs are float (end the graph with "
                          "a DequantizeLinear)");
    collect_qparams(&im, out);
    out->text = print_text(&im, model_name, weights_name, res, out_stmt);
    build_weights(&im, &out->weights);
    out->nparams = out->weights.ntensors;
    return 0;
}

static int load_and_translate(Compilation *c, const char *path, const char *weights_name, OnnxImport *imp)
{
    Ctx *ctx = &c->ctx;
    const unsigned char *bytes;
    size_t size;
    OnnxModel m;
    if (onnx_read_file(ctx, path, &bytes, &size) != 0 || onnx_decode(ctx, path, bytes, size, &m) != 0)
        return -1;
    return onnx_translate(ctx, path, &m, onnx_model_name(c->arena, path), weights_name, imp);
}

int compilation_run_onnx(Compilation *c, const char *path, const PassOptions *opt)
{
    OnnxImport imp;
    const char *wname = arena_printf(c->arena, "%s.safetensors", onnx_model_name(c->arena, path));
    if (load_and_translate(c, path, wname, &imp) != 0)
        return -1;
    c->ctx.weights_mem = &imp.weights;
    c->qparams = imp.qparams;
    c->nqparams = imp.nqparams;
    int rc = compilation_run_string(c, arena_printf(c->arena, "%s (imported)", path), imp.text, "", opt);
    c->ctx.weights_mem = NULL;
    /* The default C prefix is the file's name, even where the .cnn text had
     * to avoid a keyword: model.onnx gives model_run, not model__run. */
    if (rc == 0 && c->graph)
        c->graph->name = file_identifier(c->arena, path, 1);
    return rc;
}

/* "dir/net.cnn" -> "net.safetensors" and "dir/net.safetensors". */
static void weights_paths(Arena *a, const char *cnn_path, const char **name, const char **path)
{
    const char *base = base_name(cnn_path);
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".cnn") == 0)
        n -= 4;
    *name = arena_printf(a, "%.*s.safetensors", (int)n, base);
    *path = arena_printf(a, "%.*s%s", (int)(base - cnn_path), cnn_path, *name);
}

/* The weights' arrays for st_write, from the imported file. */
static int write_weights(Ctx *ctx, OutFile *o, const StFile *w)
{
    int n = w->ntensors;
    const char **names = arena_alloc(ctx->arena, sizeof *names * (size_t)(n + 1));
    int *ranks = arena_alloc(ctx->arena, sizeof *ranks * (size_t)(n + 1));
    const long long **shapes = arena_alloc(ctx->arena, sizeof *shapes * (size_t)(n + 1));
    const float **data = arena_alloc(ctx->arena, sizeof *data * (size_t)(n + 1));
    for (int i = 0; i < n; i++) {
        const StTensor *t = &w->tensors[i];
        float *f = arena_alloc(ctx->arena, sizeof *f * (size_t)(t->numel + 1));
        st_read_f32(t, f);
        names[i] = t->name;
        ranks[i] = t->rank;
        shapes[i] = t->shape;
        data[i] = f;
    }
    char err[512];
    if (st_write(o->fp, n, names, ranks, shapes, data, err, sizeof err) != 0) {
        diag_file_error(ctx, o->path, "%s", err);
        return -1;
    }
    return 0;
}

/* An output that would land on the input (or on the other output, through
 * a symlink) is refused before anything is written. */
static int check_clobber(Ctx *ctx, const char *in, const OutFile *out, int n)
{
    FileId iid, oid;
    int have_in = file_id(in, &iid) == 0;
    for (int i = 0; i < n; i++) {
        if (have_in && file_id(out[i].path, &oid) == 0 && file_id_same(&iid, &oid)) {
            diag_file_error(ctx, out[i].path, "output file is the input '%s'; nothing written", in);
            return -1;
        }
        if (i && out[0].target && out[i].target && strcmp(out[0].target, out[i].target) == 0) {
            diag_file_error(ctx, out[i].path, "output file is also the output '%s'; nothing written",
                            out[0].path);
            return -1;
        }
    }
    return 0;
}

/* Writes the .cnn text and (with parameters) the weights: both or none. */
static int write_import(Ctx *ctx, const char *onnx_path, const char *cnn_path,
                        const char *wpath, const OnnxImport *imp)
{
    OutFile out[2];
    char err[512];
    int n = imp->nparams ? 2 : 1, opened = 0, rc = -1;
    const char *paths[2] = { cnn_path, wpath };
    for (; opened < n; opened++)
        if (out_open(&out[opened], paths[opened], err, sizeof err) != 0) {
            diag_file_error(ctx, paths[opened], "%s", err);
            break;
        }
    if (opened == n && check_clobber(ctx, onnx_path, out, n) == 0 &&
        (n == 1 || write_weights(ctx, &out[1], &imp->weights) == 0))
        rc = out_write(&out[0], imp->text, strlen(imp->text));
    if (opened == n && rc != 0 && !ctx->nerrors)
        diag_file_error(ctx, cnn_path, "write error: %s", strerror(errno));
    for (int i = n - 1; i >= 0 && rc == 0; i--)
        if (out_commit(&out[i], err, sizeof err) != 0) {
            diag_file_error(ctx, paths[i], "%s", err);
            rc = -1;
        }
    for (int i = 0; i < opened; i++)
        out_discard(&out[i]);
    return rc;
}

int onnx_import_files(Compilation *c, const char *onnx_path, const char *out_cnn_path,
                      const PassOptions *opt)
{
    OnnxImport imp;
    const char *wname, *wpath;
    weights_paths(c->arena, out_cnn_path, &wname, &wpath);
    if (load_and_translate(c, onnx_path, wname, &imp) != 0)
        return -1;
    c->ctx.weights_mem = &imp.weights;
    int rc = compilation_run_string(c, out_cnn_path, imp.text, "", opt);
    c->ctx.weights_mem = NULL;
    if (rc != 0)
        return -1;
    return write_import(&c->ctx, onnx_path, out_cnn_path, wpath, &imp);
}
