/* emit_c.c: the C backend driver. Consumes a planned Graph (plan.c ran);
 * produces a C99 .c/.h pair as docs/emitted-c.md describes: a file header
 * with the arena plan, weights as static const unions of IEEE-754 bit
 * patterns (or extern declarations for the JIT), one static function per op
 * (emit_ops.c and emit_kernels.c write their bodies), and the public
 * <prefix>_run_ws / <prefix>_run functions. Also the text, index-expression
 * and loop helpers those two files share.
 *
 * Output depends only on the graph and the options: no dates, no pointers,
 * no absolute paths, so the same input gives byte-identical files.
 */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

enum { HEX_PER_LINE = 8, BYTES_PER_LINE = 76 };

/* ---- text helpers shared with emit_ops.c and emit_kernels.c ---- */

void emit_line(Emitter *E, const char *fmt, ...)
{
    va_list ap;
    for (int i = 0; i < E->depth; i++)
        buf_put(E->c, "    ", 4);
    va_start(ap, fmt);
    buf_vprintf(E->c, fmt, ap);
    va_end(ap);
    buf_putc(E->c, '\n');
}

/* Comment text from user data: "*" "/" would end the comment early, "/" "*"
 * draws -Wcomment, "??" could start a trigraph, and control characters
 * would break the comment's layout. */
void emit_comment_text(Buf *b, const char *s)
{
    if (!s)
        s = "?";
    for (; *s; s++) {
        if ((unsigned char)*s < ' ' || *s == 127)
            buf_putc(b, ' ');
        else if ((*s == '*' && s[1] == '/') || (*s == '/' && s[1] == '*') ||
                 (*s == '?' && s[1] == '?'))
            buf_put(b, s, 1), buf_putc(b, ' ');
        else
            buf_putc(b, *s);
    }
}

/* A float as a C literal that reads back as exactly the same float:
 * 9 significant digits always round-trip single precision. */
void emit_float_lit(char *dst, size_t n, float f)
{
    if (isnan(f)) {
        snprintf(dst, n, "NAN");
        return;
    }
    if (isinf(f)) {
        snprintf(dst, n, f > 0 ? "INFINITY" : "(-INFINITY)");
        return;
    }
    char digits[32];
    snprintf(digits, sizeof digits, "%.9g", (double)f);
    const char *dot = strpbrk(digits, ".e") ? "" : ".0";
    snprintf(dst, n, f < 0 || signbit(f) ? "(%s%sf)" : "%s%sf", digits, dot);
}

/* "path:line:col" of a location in the model, for comments. */
void emit_loc(Buf *b, const Graph *g, Loc loc)
{
    emit_comment_text(b, g->path);
    if (loc.line > 0)
        buf_printf(b, ":%d:%d", loc.line, loc.col);
}

/* ---- index expressions and loops ---- */

Lin lin(long long k)
{
    Lin l;
    memset(&l, 0, sizeof l);
    l.k = k;
    return l;
}

Lin lin_add(Lin l, const char *var, long long coef)
{
    if (!var || coef == 0)
        return l;
    if (l.n == LIN_MAX)
        ICE("index expression too long");
    l.var[l.n] = var;
    l.coef[l.n++] = coef;
    return l;
}

/* Built in the arena alone: a malloc'ed Buf would leak when the arena's
 * memory limit ends the compilation inside (cnnc_options.memory_limit). */
const char *lin_expr(Emitter *E, Lin l)
{
    Arena *a = E->ctx->arena;
    const char *s = "";
    for (int i = 0; i < l.n; i++) {
        s = arena_printf(a, "%s%s%s", s, i ? " + " : "", l.var[i]);
        if (l.coef[i] != 1)
            s = arena_printf(a, "%s * %lld", s, l.coef[i]);
    }
    if (l.n == 0)
        s = arena_printf(a, "%lld", l.k);
    else if (l.k != 0)
        s = arena_printf(a, "%s %c %lld", s, l.k > 0 ? '+' : '-', l.k > 0 ? l.k : -l.k);
    return s;
}

const char *emit_plus(Emitter *E, const char *base, Lin l)
{
    if (l.n == 0 && l.k == 0)
        return base;
    return arena_printf(E->ctx->arena, "%s + %s", base, lin_expr(E, l));
}

const char *emit_loop_open(Emitter *E, const char *v, long long n, int force)
{
    if (n == 1 && !force)
        return NULL;
    emit_line(E, "for (int %s = 0; %s < %lld; ++%s) {", v, v, n, v);
    E->depth++;
    return v;
}

void emit_loop_close(Emitter *E, const char *v)
{
    if (!v)
        return;
    E->depth--;
    emit_line(E, "}");
}

/* A user name as a C identifier fragment: anything else becomes '_'. */
static char *c_ident(Ctx *ctx, const char *s)
{
    char *r = arena_strdup(ctx->arena, s ? s : "anon");
    for (char *p = r; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            *p = '_';
    return r;
}

/* ---- math.h: what acts.def and ops.def say needs it ---- */

/* A formula of math.h, or a parameter spelled INFINITY or NAN. */
static int act_needs_math(const Act *a)
{
    if (a->kind == ACT_NONE)
        return 0;
    if (!isfinite(a->alpha) || !isfinite(a->beta))
        return 1;
    return (act_desc(a->kind)->flags & ACTF_MATH) != 0;
}

static int graph_needs_math(const Graph *g)
{
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        if (act_needs_math(&op->act) || (op_flags(op->kind) & OPF_MATH))
            return 1;
    }
    return 0;
}

/* ---- weights ---- */

static int op_params(const Op *op, int ids[4])
{
    int n = 0;
    const int all[4] = { op->w, op->b, op->mean, op->var };
    for (int k = 0; k < 4; k++)
        if (all[k] >= 0)
            ids[n++] = all[k];
    return n;
}

typedef struct NameId {
    const char *name;
    int id;
} NameId;

static int name_id_cmp(const void *pa, const void *pb)
{
    const NameId *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    return c ? c : (a->id > b->id) - (a->id < b->id);
}

static int is_reserved(const Emitter *E, const char *name)
{
    static const char *const suffixes[] = { "_run", "_run_ws", "_run_sample", "_arena", "_trace",
                                            "_run_c", "_run_avx2", "_run_avx512", "_run_neon",
                                            "_run_int8", "_run_int8_ws", "_run_int8_c",
                                            "_run_int8_avx2", "_run_int8_avx512", "_run_int8_neon" };
    size_t n = strlen(E->opt->prefix);
    if (strncmp(name, E->opt->prefix, n) != 0)
        return 0;
    for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++)
        if (strcmp(name + n, suffixes[k]) == 0)
            return 1;
    return 0;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The weights op's emitted code reads: its packed tensor when its fast
 * kernel reads that, else its parameters. */
static int op_code_params(const Graph *g, const Op *op, int ids[4])
{
    const int n8 = emit_int8_params(op, ids);
    if (n8 >= 0)
        return n8;
    if (op_packed_weight(op) >= 0 && emit_kernel_usable(g, op)) {
        ids[0] = op->packed;
        return 1;
    }
    if (op->variant == KV_VIEW && emit_kernel_usable(g, op))
        return 0;
    return op_params(op, ids);
}

/* WEIGHTS_FILE: off[t] (floats) for every weight the code reads, in the
 * order ops first read them, 16 floats (64 bytes) apart at least; -1 for
 * the rest. Returns the blob's size in floats. */
static long long layout_weights(Ctx *ctx, const Graph *g, long long **off_out)
{
    long long *off = arena_alloc(ctx->arena, sizeof *off * (size_t)(g->nt + 1)), at = 0;
    for (int t = 0; t < g->nt; t++)
        off[t] = -1;
    for (int i = 0; i < g->nops; i++) {
        int ids[4], n = op_code_params(g, &g->ops[i], ids);
        for (int k = 0; k < n; k++)
            if (off[ids[k]] < 0) {
                off[ids[k]] = at;
                at += (g->t[ids[k]].numel + 15) / 16 * 16;
            }
    }
    *off_out = off;
    return at;
}

/* Appends tensor t's floats at offset off (floats) of the blob at start. */
static void put_blob_tensor(Buf *out, size_t start, const Tensor *t, long long off)
{
    while (out->len - start < (size_t)off * 4)   /* zeros up to the alignment */
        buf_putc(out, '\0');
    for (long long i = 0; i < t->numel; i++) {
        uint32_t u = float_bits(t->data[i]);
        char le[4] = { (char)(u & 255u), (char)((u >> 8) & 255u), (char)((u >> 16) & 255u),
                       (char)(u >> 24) };
        buf_put(out, le, 4);
    }
}

void emit_weights_file(Ctx *ctx, const Graph *g, Buf *out)
{
    long long *off, n = layout_weights(ctx, g, &off);
    char *done = arena_alloc(ctx->arena, (size_t)g->nt + 1);
    size_t start = out->len;
    for (int i = 0; i < g->nops; i++) {   /* layout_weights' order: rising offsets */
        int ids[4], k = op_code_params(g, &g->ops[i], ids);
        for (int j = 0; j < k; j++)
            if (!done[ids[j]]) {
                done[ids[j]] = 1;
                put_blob_tensor(out, start, &g->t[ids[j]], off[ids[j]]);
            }
    }
    while (out->len - start < (size_t)n * 4)
        buf_putc(out, '\0');
}

/* WEIGHTS_FILE: each weight is "(weights + OFFSET)" in the blob. */
static void name_blob_weights(Emitter *E)
{
    long long *off;
    E->blob_floats = layout_weights(E->ctx, E->g, &off);
    for (int t = 0; t < E->g->nt; t++)
        if (off[t] >= 0) {
            E->wname[t] = E->g->t[t].name;
            E->wexpr[t] = arena_printf(E->ctx->arena, "(weights + %lld)", off[t]);
        }
}

/* Names each weight w_<tensor name, non-identifier characters as '_'>, or
 * "<prefix>_w<id>" when the weights are extern. A name taken by a lower id
 * or by a public function becomes w<id>_<...> instead: unique, since the id
 * ends at the first '_' and a "w_" name has no digit there. Sorting keeps
 * this O(n log n) for models with thousands of weights. */
static void name_weights(Emitter *E)
{
    const Graph *g = E->g;
    if (E->opt->weights == WEIGHTS_FILE && !E->opt->weights_extern) {
        name_blob_weights(E);
        return;
    }
    NameId *v = arena_alloc(E->ctx->arena, (size_t)(g->nt ? g->nt : 1) * sizeof *v);
    int n = 0;
    for (int t = 0; t < g->nt; t++) {
        if (g->t[t].role != TR_WEIGHT)
            continue;
        if (E->opt->weights_extern)
            E->wname[t] = arena_printf(E->ctx->arena, "%s_w%d", E->opt->prefix, t);
        else
            E->wname[t] = arena_printf(E->ctx->arena, "w_%s", c_ident(E->ctx, g->t[t].name));
        v[n++] = (NameId){ E->wname[t], t };
    }
    qsort(v, (size_t)n, sizeof *v, name_id_cmp);
    for (int k = 0; k < n && !E->opt->weights_extern; k++) {
        const char *name = v[k].name;
        if ((k > 0 && strcmp(v[k - 1].name, name) == 0) || is_reserved(E, name))
            E->wname[v[k].id] = arena_printf(E->ctx->arena, "w%d%s", v[k].id, name + 1);
    }
    for (int t = 0; t < g->nt; t++)
        if (E->wname[t])
            E->wexpr[t] = E->opt->weights_extern
                              ? E->wname[t]
                              : arena_printf(E->ctx->arena, "%s.%s", E->wname[t],
                                             g->t[t].dtype == DT_I8 ? "q" : g->t[t].dtype == DT_I32 ? "i" : "f");
}

static void emit_bytes(Buf *b, const void *data, long long numel, DType dt);

/* Appends the values' little-endian bytes as string literals of about
 * BYTES_PER_LINE characters each (concatenated by the compiler): a printable
 * byte as itself, any other, '?' (trigraphs), '"' and '\\' as a 3-digit
 * octal escape, which no following digit can extend. About 2.9 characters
 * per byte, as dense as hex integers, and gcc and clang parse it about 10x
 * faster (docs/emitted-c.md). Formatted by hand: printf per byte would
 * dominate a big model's compile. */
static void emit_byte_string(Buf *b, const float *v, long long n)
{
    emit_bytes(b, v, n, 0);
}

/* The element i of a weight's values as 4 little-endian bytes: a float's
 * bit pattern, an int32, or 4 int8 (i counts groups of 4; past the end 0). */
static uint32_t le_word(const void *data, DType dt, long long i, long long numel)
{
    if (dt == DT_F32)
        return float_bits(((const float *)data)[i]);
    if (dt == DT_I32)
        return (uint32_t)((const int32_t *)data)[i];
    uint32_t u = 0;
    for (int k = 3; k >= 0; k--)
        u = (u << 8) | (4 * i + k < numel ? (uint8_t)((const int8_t *)data)[4 * i + k] : 0u);
    return u;
}

/* emit_byte_string for any element type: numel values of dt (int8: the
 * string holds exactly numel bytes). */
static void emit_bytes(Buf *b, const void *data, long long numel, DType dt)
{
    /* A line ends once it holds BYTES_PER_LINE characters or more: at most
     * BYTES_PER_LINE - 1 + one float's 4 escapes of 4 + the closing quote
     * and newline. */
    char line[BYTES_PER_LINE + 4 * 4 + 2];
    size_t len = 0;
    const long long n = dt == DT_I8 ? (numel + 3) / 4 : numel;
    line[len++] = '"';
    for (long long i = 0; i < n; i++) {
        uint32_t u = le_word(data, dt, i, numel);
        const int nb = dt == DT_I8 && 4 * i + 4 > numel ? (int)(numel - 4 * i) : 4;
        for (int k = 0; k < nb; k++, u >>= 8) {
            unsigned c = u & 255u;
            if (c >= 32 && c < 127 && c != '"' && c != '\\' && c != '?') {
                line[len++] = (char)c;
            } else {
                line[len++] = '\\';
                line[len++] = (char)('0' + (c >> 6));
                line[len++] = (char)('0' + ((c >> 3) & 7u));
                line[len++] = (char)('0' + (c & 7u));
            }
        }
        if (len >= BYTES_PER_LINE || i == n - 1) {
            line[len++] = '"';
            line[len++] = '\n';
            buf_put(b, line, len);
            len = 0;
            line[len++] = '"';
        }
    }
}

/* --weights=hex: "0x3e1a2b3c, " for each value, HEX_PER_LINE to a line,
 * formatted by hand as above. Lines are not indented, to keep such a file
 * near 12 bytes per parameter. Portable to any byte order. */
static void emit_hex_values(Buf *b, const float *v, long long n)
{
    static const char hex[16] = "0123456789abcdef";
    char line[HEX_PER_LINE * 12 + 1];
    for (long long i = 0; i < n; i += HEX_PER_LINE) {
        size_t len = 0;
        for (long long k = i; k < n && k < i + HEX_PER_LINE; k++) {
            uint32_t u = float_bits(v[k]);
            line[len++] = '0';
            line[len++] = 'x';
            for (int sh = 28; sh >= 0; sh -= 4)
                line[len++] = hex[(u >> sh) & 15u];
            line[len++] = ',';
            line[len++] = ' ';
        }
        line[len - 1] = '\n';
        buf_put(b, line, len);
    }
}

static void emit_weight(Emitter *E, int id)
{
    const Tensor *t = &E->g->t[id];
    Buf *b = E->c;
    if (!t->data && !t->qdata && !E->opt->weights_extern)
        ICE("weight tensor '%s' has no data", t->name ? t->name : "?");
    buf_puts(b, "/* ");
    emit_comment_text(b, t->name);
    buf_printf(b, " %s */\n", shape_str(E->ctx->arena, &t->shape));
    if (E->opt->weights_extern) {
        buf_printf(b, "extern const %s %s[%lld];\n", emit_ctype(t), E->wname[id], t->numel);
        return;
    }
    if (t->dtype != DT_F32) {            /* quantized: bytes only (api.c checks) */
        const int i8 = t->dtype == DT_I8;
        buf_printf(b, "CNNC_WEIGHTS_SECTION static const union { unsigned char b[%lld]; %s %s[%lld]; } %s = {\n",
                   t->numel * (i8 ? 1 : 4), emit_ctype(t), i8 ? "q" : "i", t->numel, E->wname[id]);
        emit_bytes(b, t->qdata, t->numel, t->dtype);
        buf_puts(b, "};\n");
        return;
    }
    if (E->opt->weights == WEIGHTS_HEX) {
        buf_printf(b, "CNNC_WEIGHTS_SECTION static const union { unsigned int u[%lld]; float f[%lld]; } %s = {{\n",
                   t->numel, t->numel, E->wname[id]);
        emit_hex_values(b, t->data, t->numel);
        buf_puts(b, "}};\n");
        return;
    }
    /* Exactly 4n bytes: the literal's NUL is not stored (C99 6.7.8p14),
     * and the union needs no padding. */
    buf_printf(b, "CNNC_WEIGHTS_SECTION static const union { unsigned char b[%lld]; float f[%lld]; } %s = {\n",
               4 * t->numel, t->numel, E->wname[id]);
    emit_byte_string(b, t->data, t->numel);
    buf_puts(b, "};\n");
}

/* Writes, before an op's function, the weights it is the first to use. */
static void emit_op_weights(Emitter *E, const Op *op)
{
    if (E->opt->weights == WEIGHTS_FILE && !E->opt->weights_extern)
        return;                          /* in the blob, at E->wexpr's offset */
    int ids[4], n = op_code_params(E->g, op, ids);
    for (int k = 0; k < n; k++) {
        if (E->wdone[ids[k]])
            continue;
        E->wdone[ids[k]] = 1;
        emit_weight(E, ids[k]);
        buf_putc(E->c, '\n');
    }
}

/* ---- the op functions ---- */

/* "conv3x3s2", "maxpool2x2", "add3", ... plus "_relu" for a fused act. */
static const char *op_what(Ctx *ctx, const Op *op)
{
    const Window *w = &op->win;
    const char *what;
    switch (op->kind) {
    case OP_CONV: {
        char s[64] = "", d[64] = "", gr[32] = "";
        if (w->sh != 1 || w->sw != 1)
            snprintf(s, sizeof s, w->sh == w->sw ? "s%d" : "s%dx%d", w->sh, w->sw);
        if (w->dh != 1 || w->dw != 1)
            snprintf(d, sizeof d, w->dh == w->dw ? "d%d" : "d%dx%d", w->dh, w->dw);
        if (op->groups > 1)
            snprintf(gr, sizeof gr, "g%d", op->groups);
        what = arena_printf(ctx->arena, "conv%dx%d%s%s%s%s", w->kh, w->kw, s, d, gr,
                            op_residual(op) >= 0 ? "_add" : "");
        break;
    }
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        what = arena_printf(ctx->arena, "%s%dx%d", op_kind_name(op->kind), w->kh, w->kw);
        break;
    case OP_ADD:
    case OP_CONCAT:
        what = arena_printf(ctx->arena, "%s%d", op_kind_name(op->kind), op->nin);
        break;
    case OP_ACT:
        return act_kind_name(op->act.kind);
    default:
        what = op_kind_name(op->kind);
        break;
    }
    if (op->act.kind != ACT_NONE)
        what = arena_printf(ctx->arena, "%s_%s", what, act_kind_name(op->act.kind));
    return what;
}

/* " *   kernel: ..." for the fast kernels and in-place ops. */
static void emit_kernel_comment(Emitter *E, const Op *op)
{
    Buf *b = E->c;
    if (emit_kernel_usable(E->g, op)) {
        static const char *const what[] = {
            [KV_CONV_BLOCKED] = "16 output channels (vector lanes) x 8 pixels of a row",
            [KV_CONV_PIXELS] = "a row of pixels (vector lanes) x 16 output channels",
            [KV_CONV_ROWS] = "vectorized along output rows",
            [KV_DENSE_BLOCKED] = "blocks of units, weights packed transposed",
            [KV_VIEW] = "a view of its input: no code",
            [KV_CONV_WINOGRAD] = "Winograd F(2x2, 3x3): 16 products per 2x2 pixels "
                                 "instead of 36, output channels in the vector lanes",
        };
        buf_printf(b, " *   kernel: %s", emit_kernel_channels_in_lanes(E, op)
                                             ? "depthwise, a group of channels in the vector lanes "
                                               "(planes transposed)"
                                             : what[op->variant]);
        if (op_packed_weight(op) >= 0) {
            buf_puts(b, " (");
            emit_comment_text(b, E->g->t[op->packed].name);
            buf_printf(b, " %s)", shape_str(E->ctx->arena, &E->g->t[op->packed].shape));
        }
        buf_putc(b, '\n');
    }
    if (op_residual(op) >= 0)
        buf_puts(b, " *   residual: res, input 1, added to each result before the activation\n");
    if (op->inplace > 0 && op->variant != KV_VIEW)
        buf_printf(b, " *   in place: the output overwrites input %d\n", op->inplace - 1);
    if (emit_concat_is_view(E->g, op))
        buf_puts(b, " *   kernel: a view: its inputs' producers wrote them into it: no code\n");
    if (E->g->t[op->out].slice_of > 0)
        buf_printf(b, " *   writes its output into its slice of t%d, at element %lld\n",
                   E->g->t[op->out].slice_of - 1, E->g->t[op->out].slice_at);
}

static void emit_op_comment(Emitter *E, int i)
{
    const Op *op = &E->g->ops[i];
    Buf *b = E->c;
    Arena *a = E->ctx->arena;
    buf_printf(b, "/* op %d: ", i);
    emit_loc(b, E->g, op->loc);
    buf_puts(b, "  ");
    emit_comment_text(b, op->name);
    buf_printf(b, " = %s, ", op->kind == OP_ACT ? act_kind_name(op->act.kind)
                                                : op_kind_name(op->kind));
    for (int k = 0; k < op->nin; k++)
        buf_printf(b, "%s%s", k ? " + " : "", shape_str(a, &E->g->t[op->in[k]].shape));
    buf_printf(b, " -> %s\n", shape_str(a, &E->g->t[op->out].shape));
    int ids[4], n = op_params(op, ids);
    for (int k = 0; k < n; k++) {
        buf_puts(b, k ? ", " : " *   weights: ");
        emit_comment_text(b, E->g->t[ids[k]].name);
        buf_printf(b, " %s%s", shape_str(a, &E->g->t[ids[k]].shape), k == n - 1 ? "\n" : "");
    }
    emit_op_params_comment(E, op);
    emit_kernel_comment(E, op);
    for (int k = 0; k < op->nfused && k < MAX_FUSED; k++) {
        buf_puts(b, " *   fused: ");
        emit_loc(b, E->g, op->fused[k].loc);
        buf_puts(b, "  ");
        emit_comment_text(b, op->fused[k].name);
        buf_putc(b, '\n');
    }
    buf_puts(b, " */\n");
}

/* WEIGHTS_FILE: whether op's function takes the blob (it reads weights). */
static int takes_blob(const Emitter *E, const Op *op)
{
    int ids[4];
    return E->opt->weights == WEIGHTS_FILE && !E->opt->weights_extern &&
           op_code_params(E->g, op, ids) > 0;
}

/* A SIMD variant's functions: "CNNC_AVX2_FN ", its target attribute. */
const char *emit_fn_attr(Emitter *E)
{
    return E->isa && E->isa->guard ? arena_printf(E->ctx->arena, "%s_FN ", E->isa->guard) : "";
}

/* static void opN_layer_what(const float *restrict in, float *restrict out) */
static void emit_op_signature(Emitter *E, int i)
{
    const Op *op = &E->g->ops[i];
    Buf *b = E->c;
    Arena *a = E->ctx->arena;
    /* In place, out is one of the inputs: no restrict. */
    const char *rs = op->inplace > 0 ? "" : "restrict ";
    const char *attr = emit_fn_attr(E);
    int col = (int)(strlen(attr) + strlen("static void (") + strlen(E->fname[i]));
    buf_printf(b, "%sstatic void %s(", attr, E->fname[i]);
    if (takes_blob(E, op))
        buf_printf(b, "const float *restrict weights, /* the weights file's floats */\n%*s",
                   col, "");
    for (int k = 0; k < op->nin; k++) {
        if (k)
            buf_printf(b, "%*s", col, "");
        const char *ty = emit_ctype(&E->g->t[op->in[k]]);
        if (op_residual(op) >= 0)
            buf_printf(b, "const %s *%s%s, ", ty, rs, k ? "res" : "in");
        else if (op->nin > 1)
            buf_printf(b, "const %s *%sin%d, ", ty, rs, k);
        else
            buf_printf(b, "const %s *%sin, ", ty, rs);
        buf_printf(b, "/* %s */\n", shape_str(a, &E->g->t[op->in[k]].shape));
    }
    if (op->work > 0 && emit_kernel_usable(E->g, op))
        buf_printf(b, "%*sfloat *restrict work, /* %s: the kernel's own */\n", op->nin ? col : 0, "",
                   shape_str(a, &E->g->t[op->work - 1].shape));
    buf_printf(b, "%*s%s *%sout) /* %s */\n", op->nin || op->work ? col : 0, "",
               emit_ctype(&E->g->t[op->out]), rs, shape_str(a, &E->g->t[op->out].shape));
}

static int is_view(const Emitter *E, const Op *op)
{
    return (op->variant == KV_VIEW && emit_kernel_usable(E->g, op)) ||
           emit_concat_is_view(E->g, op);
}

static void emit_op_function(Emitter *E, int i)
{
    emit_op_weights(E, &E->g->ops[i]);
    if (is_view(E, &E->g->ops[i])) {
        emit_op_comment(E, i);
        buf_putc(E->c, '\n');
        return;
    }
    E->residual = op_residual(&E->g->ops[i]) >= 0;
    emit_kernel_helpers(E, &E->g->ops[i]);
    emit_op_comment(E, i);
    emit_op_signature(E, i);
    buf_puts(E->c, "{\n");
    E->depth = 1;
    emit_op_body(E, &E->g->ops[i]);
    E->depth = 0;
    E->residual = 0;
    buf_puts(E->c, "}\n\n");
}

/* opN_layer_what, plus the variant's suffix. */
static void name_ops(Emitter *E)
{
    for (int i = 0; i < E->g->nops; i++) {
        const Op *op = &E->g->ops[i];
        E->fname[i] = arena_printf(E->ctx->arena, "op%d_%s_%s%s", i, c_ident(E->ctx, op->name),
                                   op_what(E->ctx, op), E->sfx);
    }
}

/* ---- file header, run functions ---- */

static const char *tensor_label(const Tensor *t)
{
    return t->name ? t->name : "?";
}

/* The arena plan as a table; the variable-width columns come last. */
static void emit_plan_comment(Emitter *E)
{
    const Graph *g = E->g;
    Buf *b = E->c;
    buf_printf(b, " * Arena plan: %lld bytes (%lld floats, offsets in floats); liveness\n"
                  " * optimum %lld bytes:\n",
               g->arena_floats * 4, g->arena_floats, plan_lower_bound(E->ctx, g) * 4);
    buf_puts(b, " *       offset      bytes  live ops  tensor\n");
    for (int t = 0; t < g->nt; t++) {
        const Tensor *x = &g->t[t];
        if (x->role != TR_ACT || x->offset < 0)
            continue;
        buf_printf(b, " *   %10lld %10lld  %4d..%-4d t%d ", x->offset, x->numel * 4,
                   x->first_op, x->last_op, t);
        emit_comment_text(b, tensor_label(x));
        buf_printf(b, " %s\n", shape_str(E->ctx->arena, &x->shape));
    }
}

static void emit_file_header(Emitter *E, Buf *b)
{
    const Graph *g = E->g;
    const Tensor *in = &g->t[g->input], *out = &g->t[g->output];
    buf_puts(b, "/* Generated by cnnc from ");
    emit_comment_text(b, g->path);
    buf_puts(b, ". Do not edit.\n * Model \"");
    emit_comment_text(b, g->name);
    buf_puts(b, "\": ");
    emit_comment_text(b, tensor_label(in));
    buf_printf(b, " %s -> ", shape_str(E->ctx->arena, &in->shape));
    emit_comment_text(b, tensor_label(out));
    buf_printf(b, " %s, float32, C,H,W order.\n", shape_str(E->ctx->arena, &out->shape));
    if (g->batch)
        buf_printf(b, " * A run takes a batch of %d sample%s, one after another.\n", g->batch,
                   g->batch == 1 ? "" : "s");
}

/* The pointer an op passes for tensor id: the caller's buffers, or t<id>. */
static const char *tensor_ptr(Emitter *E, int id)
{
    if (id == E->io_in)
        return "input";
    if (id == E->io_out)
        return "output";
    if (E->g->t[id].role != TR_ACT || E->g->t[id].offset < 0)
        ICE("op operand '%s' is neither an io tensor nor a planned activation",
            tensor_label(&E->g->t[id]));
    return arena_printf(E->ctx->arena, "t%d", id);
}

static void emit_arena_pointers(Emitter *E)
{
    const Graph *g = E->g;
    int any = 0;
    for (int t = 0; t < g->nt; t++) {
        const Tensor *x = &g->t[t];
        if (x->role != TR_ACT || x->offset < 0 || t == E->io_in || t == E->io_out)
            continue;   /* an unmarked output still goes to the caller's buffer */
        if (!any)
            buf_puts(E->c, "    float *act = arena;\n");
        any = 1;
        if (x->dtype == DT_F32)
            buf_printf(E->c, "    float *t%d = act + %lld; /* ", t, x->offset);
        else
            buf_printf(E->c, "    %s *t%d = (%s *)(void *)(act + %lld); /* ", emit_ctype(x), t,
                       emit_ctype(x), x->offset);
        emit_comment_text(E->c, tensor_label(x));
        buf_printf(E->c, " %s @%lld */\n", shape_str(E->ctx->arena, &x->shape), x->offset);
    }
    if (!any)
        buf_puts(E->c, "    (void)arena;\n");
    if (graph_readers(g, E->io_in) == 0 && g->nops > 0)
        buf_puts(E->c, "    (void)input;\n");
}

static void emit_op_call(Emitter *E, int i)
{
    const Op *op = &E->g->ops[i];
    if (is_view(E, op) && op->kind == OP_CONCAT) {
        buf_printf(E->c, "    (void)%s; /* op %d: its inputs' producers wrote them into it */\n",
                   tensor_ptr(E, op->out), i);
        return;
    }
    if (is_view(E, op)) {
        buf_printf(E->c, "    /* op %d: t%d is t%d, seen as %s */\n", i, op->out, op->in[0],
                   shape_str(E->ctx->arena, &E->g->t[op->out].shape));
        return;
    }
    buf_printf(E->c, "    %s(%s", E->fname[i], takes_blob(E, op) ? "weights, " : "");
    for (int k = 0; k < op->nin; k++)
        buf_printf(E->c, "%s, ", tensor_ptr(E, op->in[k]));
    if (op->work > 0 && emit_kernel_usable(E->g, op))
        buf_printf(E->c, "%s, ", tensor_ptr(E, op->work - 1));
    buf_printf(E->c, "%s);\n", tensor_ptr(E, op->out));
}

/* A graph with no ops still has to copy its input to its output. */
static void emit_identity(Emitter *E)
{
    long long n = E->g->t[E->g->output].numel;
    buf_printf(E->c, "    for (int i = 0; i < %lld; ++i)\n        output[i] = input[i];\n", n);
}

/* WEIGHTS_FILE: the run functions' first parameter and argument. */
static int blob_mode(const Emitter *E)
{
    return E->opt->weights == WEIGHTS_FILE && !E->opt->weights_extern;
}

static const char *blob_param(const Emitter *E)
{
    return blob_mode(E) ? "const float *weights, " : "";
}

static const char *blob_arg(const Emitter *E)
{
    return blob_mode(E) ? "weights, " : "";
}

/* With a batch, _run_ws runs _run_sample on each sample in turn. */
static void emit_batch_loop(Emitter *E)
{
    const Graph *g = E->g;
    const char *p = E->opt->prefix;
    buf_printf(E->c, "void %s_run_ws(%sconst float *input, float *output, void *arena)\n{\n", p,
               blob_param(E));
    buf_printf(E->c, "    for (int n = 0; n < %d; ++n) /* samples, one after another */\n", g->batch);
    buf_printf(E->c, "        %s_run_sample(%sinput + n * %lld, output + n * %lld, arena);\n}\n\n", p,
               blob_arg(E), g->t[g->input].numel, g->t[g->output].numel);
}

/* EmitOptions.trace: <prefix>_trace(op, layer, out, n) after each op.
 * Built with -DCNNC_TRACE the program defines it (cnnc --emit-test writes
 * one that checks each layer); otherwise it is an empty static function,
 * which the compiler removes. */
static void emit_trace_hook(Emitter *E)
{
    const char *p = E->opt->prefix;
    buf_printf(E->c, "/* The trace hook: with -DCNNC_TRACE, the program defines %s_trace(),\n"
                     " * called after each op with its output (docs/cli.md, --emit-test). */\n", p);
    buf_printf(E->c, "#ifdef CNNC_TRACE\n"
                     "void %s_trace(int op, const char *layer, const float *out, long n);\n"
                     "#else\n"
                     "static void %s_trace(int op, const char *layer, const float *out, long n)\n"
                     "{\n    (void)op;\n    (void)layer;\n    (void)out;\n    (void)n;\n}\n"
                     "#endif\n\n", p, p);
}

static void emit_trace_call(Emitter *E, int i)
{
    const Op *op = &E->g->ops[i];
    if (E->g->t[op->out].dtype != DT_F32)
        return;                     /* the self-test checks float layers */
    buf_printf(E->c, "    %s_trace(%d, \"%s\", %s, %lldL);\n", E->opt->prefix, i,
               c_ident(E->ctx, op->name), tensor_ptr(E, op->out), E->g->t[op->out].numel);
}

/* A quantized graph's int8 entry point runs the ops between the input's
 * quantize (op 0) and the final dequantize, if any, with the int8 image of
 * the input bound to `input` and the int8 result (or the float output of a
 * float last op) to `output` (quantize.c pins them). */
static int last_is_dequantize(const Graph *g)
{
    const Op *op = &g->ops[g->nops - 1];
    return op->kind == OP_DEQUANTIZE && g->t[op->in[0]].pinned;
}

static void set_entry(Emitter *E, int int8)
{
    const Graph *g = E->g;
    E->int8_entry = int8;
    E->io_in = int8 ? g->ops[0].out : g->input;
    E->io_out = int8 && last_is_dequantize(g) ? g->ops[g->nops - 1].in[0] : g->output;
}

/* "const float *input, float *output", or the int8 entry's types */
static const char *entry_params(Emitter *E)
{
    if (!E->int8_entry)
        return "const float *input, float *output";
    return arena_printf(E->ctx->arena, "const int8_t *input, %s *output",
                        last_is_dequantize(E->g) ? "int8_t" : "float");
}

/* "_run" or "_run_int8", and a suffix */
static const char *entry_name(Emitter *E, const char *sfx)
{
    return arena_printf(E->ctx->arena, "%s%s", E->int8_entry ? "_run_int8" : "_run", sfx);
}

/* [attr ]STORAGE void <prefix>NAME(input, output, arena): the model's ops
 * in order, on the arena's tensors. */
static void emit_run_body(Emitter *E, const char *storage, const char *name)
{
    Buf *b = E->c;
    const int first = E->int8_entry, end = E->g->nops - (E->int8_entry && last_is_dequantize(E->g));
    buf_printf(b, "%s%svoid %s%s(%s%s, void *arena)\n{\n", emit_fn_attr(E), storage,
               E->opt->prefix, name, blob_param(E), entry_params(E));
    emit_arena_pointers(E);
    if (blob_mode(E))
        buf_puts(b, "    (void)weights;\n");   /* after the declarations: C90-clean */
    if (E->g->nops)
        buf_putc(b, '\n');
    for (int i = first; i < end; i++) {
        emit_op_call(E, i);
        if (E->opt->trace)
            emit_trace_call(E, i);
    }
    if (E->g->nops == 0)
        emit_identity(E);
    buf_puts(b, "}\n\n");
}

/* The SIMD variants this file holds (IsaBit), beside portable C. */
static unsigned file_isas(const Emitter *E)
{
    return E->opt->portable_only ? 0 : E->target->isas;
}

/* The file's SIMD variants in order of preference; NULL past them. */
static const Isa *file_isa(const Emitter *E, int *i)
{
    const Isa *isa;
    while ((isa = isa_at((*i)++)) != NULL)
        if (file_isas(E) & isa->bit)
            return isa;
    return NULL;
}

/* "!CNNC_NEON": where the portable code is compiled (not where a variant
 * every CPU of its architecture has replaces it); NULL: everywhere. */
static const char *portable_guard(Emitter *E)
{
    const char *cond = NULL;
    int i = 0;
    for (const Isa *isa; (isa = file_isa(E, &i)) != NULL; )
        if (!isa->cpu_test)
            cond = arena_printf(E->ctx->arena, "%s%s!%s", cond ? cond : "", cond ? " && " : "",
                                isa->guard);
    return cond;
}

/* <prefix>_run_<name>(...) (or _run_int8_<name>): one variant's run call. */
static void emit_variant_call(Emitter *E, const char *indent, const char *name)
{
    buf_printf(E->c, "%s%s%s_%s(%sinput, output, arena);\n", indent, E->opt->prefix,
               entry_name(E, ""), name, blob_arg(E));
}

static void emit_dispatch(Emitter *E, const char *storage, const char *name)
{
    buf_printf(E->c, "/* Runs the fastest variant this CPU has (docs/targets.md). */\n"
                     "%svoid %s%s(%s%s, void *arena)\n{\n",
               storage, E->opt->prefix, name, blob_param(E), entry_params(E));
    int i = 0, always = 0;
    for (const Isa *isa; (isa = file_isa(E, &i)) != NULL; ) {
        if (isa->cpu_test) {
            buf_printf(E->c, "#if %s\n    if (%s) {\n", isa->guard, isa->cpu_test);
            emit_variant_call(E, "        ", isa->name);
            buf_puts(E->c, "        return;\n    }\n#endif\n");
        } else {
            buf_printf(E->c, "#%s %s\n", always++ ? "elif" : "if", isa->guard);
            emit_variant_call(E, "    ", isa->name);
        }
    }
    if (always)
        buf_puts(E->c, "#else\n");
    emit_variant_call(E, "    ", "c");
    buf_puts(E->c, always ? "#endif\n}\n\n" : "}\n\n");
}

/* <prefix>_run_int8_ws and <prefix>_run_int8 (int8 input, int8 output
 * or the float output of a float last op). */
static void emit_int8_run_functions(Emitter *E)
{
    const char *p = E->opt->prefix;
    set_entry(E, 1);
    buf_putc(E->c, '\n');
    if (file_isas(E))
        emit_dispatch(E, "", "_run_int8_ws");
    else
        emit_run_body(E, "", "_run_int8_ws");
    buf_printf(E->c, "void %s_run_int8(%s)\n{\n", p, entry_params(E));
    buf_printf(E->c, "    %s_run_int8_ws(input, output, %s_arena);\n}\n", p, p);
    set_entry(E, 0);
}

static void emit_run_functions(Emitter *E)
{
    const char *p = E->opt->prefix;
    Buf *b = E->c;
    const int batched = E->g->batch > 1;
    const char *storage = batched ? "static " : "", *name = batched ? "_run_sample" : "_run_ws";
    if (file_isas(E))
        emit_dispatch(E, storage, name);
    else
        emit_run_body(E, storage, name);
    if (batched)
        emit_batch_loop(E);
    long long n = E->g->arena_floats > 0 ? E->g->arena_floats : 1;
    buf_printf(b, "/* The arena behind %s_run(): the file's only mutable state. */\n", p);
    buf_printf(b, "CNNC_ARENA_SECTION static float %s_arena[%lld];\n\n", p, n);
    buf_printf(b, "void %s_run(%sconst float *input, float *output)\n{\n", p, blob_param(E));
    buf_printf(b, "    %s_run_ws(%sinput, output, %s_arena);\n}\n", p, blob_arg(E), p);
    if (E->g->quantized)
        emit_int8_run_functions(E);
}

static int graph_has_weights(const Graph *g)
{
    for (int t = 0; t < g->nt; t++)
        if (g->t[t].role == TR_WEIGHT)
            return 1;
    return 0;
}

/* What the stored weights assume, checked where the compiler can. */
static void emit_weights_preamble(Emitter *E)
{
    Buf *b = E->c;
    if (E->opt->weights == WEIGHTS_HEX) {
        buf_puts(b, "/* Weights are stored as the bit patterns of 32-bit floats. */\n"
                    "typedef char cnnc_uint_is_32_bits[sizeof(unsigned int) == 4 ? 1 : -1];\n\n");
        return;
    }
    int file = E->opt->weights == WEIGHTS_FILE;
    buf_puts(b, file ? "/* Weights are read from the weights file as little-endian IEEE-754\n"
                       " * floats. */\n"
                     : "/* Weights are stored as the bytes of little-endian IEEE-754 floats, in\n"
                       " * string literals (cnnc --weights=hex writes byte-order-free integers). */\n");
    buf_puts(b, "typedef char cnnc_float_is_32_bits[sizeof(float) == 4 ? 1 : -1];\n"
                "#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \\\n"
                "    __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__\n");
    buf_printf(b, "#error \"%s_run: weights are little-endian; %s\"\n", E->opt->prefix,
               file ? "this target is not" : "regenerate with cnnc --weights=hex");
    buf_puts(b, "#endif\n");
    if (!file)
        buf_puts(b, "#if defined(__GNUC__)\n"
                    "#pragma GCC diagnostic ignored \"-Woverlength-strings\" /* longer than C99's 4095 */\n"
                    "#endif\n");
    buf_putc(b, '\n');
}

/* Where the weights and the arena go: a build may define either macro to
 * an attribute (-DCNNC_WEIGHTS_SECTION='__attribute__((section(".qspi")))')
 * to place them in a named section of its linker script. */
static void emit_section_macros(Emitter *E)
{
    Buf *b = E->c;
    buf_puts(b, "/* Where the weights and the arena go: empty, the compiler's default\n"
                " * sections; define to e.g. __attribute__((section(\".qspi\"))). */\n");
    if (graph_has_weights(E->g) && !E->opt->weights_extern && !blob_mode(E))
        buf_puts(b, "#ifndef CNNC_WEIGHTS_SECTION\n#define CNNC_WEIGHTS_SECTION\n#endif\n");
    buf_puts(b, "#ifndef CNNC_ARENA_SECTION\n#define CNNC_ARENA_SECTION\n#endif\n\n");
}

/* cnnc_f<n> and cnnc_i<n>, once, where any variant compiles: each
 * variant's width and the narrower ones down to VEC_MIN_LANES (row tails). */
static void emit_vector_types(Emitter *E)
{
    unsigned widths = 0;
    const char *guards = NULL;
    int i = 0;
    for (const Isa *isa; (isa = file_isa(E, &i)) != NULL; ) {
        for (int n = isa->lanes; n >= VEC_MIN_LANES; n /= 2)
            widths |= 1u << n;
        guards = guards ? arena_printf(E->ctx->arena, "%s || %s", guards, isa->guard) : isa->guard;
    }
    if (!guards || !widths)
        return;
    buf_printf(E->c, "#if %s\n", guards);
    for (int n = VEC_MIN_LANES; n < 32; n *= 2)
        if (widths & (1u << n)) {
            buf_printf(E->c, "typedef float cnnc_f%d __attribute__((vector_size(%d), aligned(4), may_alias));\n",
                       n, 4 * n);
            buf_printf(E->c, "typedef int cnnc_i%d __attribute__((vector_size(%d)));\n", n, 4 * n);
        }
    buf_puts(E->c, "#endif\n");
}

/* CNNC_<ISA>_FN, a variant's function attribute: its target features, and
 * under gcc generic tuning, whatever -mtune (or -march=native) says: gcc
 * 12's znver3 tuning ran the AVX2 kernels 1.5x slower (in its code each
 * input vector is loaded again by every multiply-add that uses it, as a
 * memory operand). Clang 14 rejects tune= in the attribute, and was not
 * slowed by -march=znver3. */
static void emit_isa_attr(Buf *b, const Isa *isa)
{
    if (!*isa->features) {
        buf_printf(b, "#define %s_FN\n", isa->guard);
        return;
    }
    buf_printf(b, "#ifdef __clang__\n#define %s_FN __attribute__((target(\"%s\")))\n", isa->guard,
               isa->features);
    buf_printf(b, "#else\n#define %s_FN __attribute__((target(\"%s,tune=generic\")))\n#endif\n",
               isa->guard, isa->features);
}

/* Each variant's macros: CNNC_<ISA> is 1 where its code compiles (gcc or
 * clang for that architecture; not tcc, not under -DCNNC_NO_SIMD or
 * -DCNNC_NO_<ISA>), CNNC_<ISA>_FN its functions' attribute; then the vector
 * types (4-byte aligned: loads from any float address). */
static void emit_isa_macros(Emitter *E)
{
    Buf *b = E->c;
    buf_puts(b, "/* Code variants (docs/targets.md): portable C99, and SIMD versions for\n"
                " * gcc and clang, chosen at run time by the CPU's features. -DCNNC_NO_SIMD\n"
                " * keeps only the portable code; -DCNNC_NO_AVX512 (etc.) drops a variant. */\n");
    int i = 0;
    for (const Isa *isa; (isa = file_isa(E, &i)) != NULL; ) {
        buf_printf(b, "#if defined(__GNUC__) && !defined(__TINYC__) && !defined(CNNC_NO_SIMD) && \\\n"
                      "    !defined(CNNC_NO_%s) && %s\n", isa->guard + strlen("CNNC_"), isa->arch);
        buf_printf(b, "#define %s 1\n", isa->guard);
        emit_isa_attr(b, isa);
        buf_printf(b, "#else\n#define %s 0\n#endif\n", isa->guard);
    }
    emit_vector_types(E);
    buf_putc(b, '\n');
}

/* One variant's op functions and its <prefix>_run_<name> (isa NULL:
 * portable C, "_run_c"), under the variant's #if. */
static void emit_variant(Emitter *E, const Isa *isa)
{
    E->isa = isa ? isa : target_portable_isa(E->target);
    E->sfx = isa ? arena_printf(E->ctx->arena, "_%s", isa->name) : "";
    name_ops(E);
    const char *guard = isa ? isa->guard : portable_guard(E);
    if (guard)
        buf_printf(E->c, "#if %s /* the %s variant */\n\n", guard, isa ? isa->name : "portable");
    for (int i = 0; i < E->g->nops; i++)
        emit_op_function(E, i);
    emit_run_body(E, "static ", isa ? arena_printf(E->ctx->arena, "_run%s", E->sfx) : "_run_c");
    if (E->g->quantized) {
        set_entry(E, 1);
        emit_run_body(E, "static ", entry_name(E, isa ? E->sfx : "_c"));
        set_entry(E, 0);
    }
    if (guard)
        buf_puts(E->c, "#endif\n\n");
    E->isa = NULL;
    E->sfx = "";
    name_ops(E);
}

/* A file of several variants: the weights first, outside every #if. */
static void emit_variants(Emitter *E)
{
    for (int i = 0; i < E->g->nops; i++)
        emit_op_weights(E, &E->g->ops[i]);
    if (E->opt->trace)
        emit_trace_hook(E);
    emit_variant(E, NULL);
    int i = 0;
    for (const Isa *isa; (isa = file_isa(E, &i)) != NULL; )
        emit_variant(E, isa);
}

static void emit_c_file(Emitter *E)
{
    Buf *b = E->c;
    emit_file_header(E, b);
    emit_plan_comment(E);
    buf_puts(b, " */\n");
    buf_printf(b, "#include \"%s\"\n", E->opt->header_name);
    if (graph_needs_math(E->g))
        buf_puts(b, "#include <math.h>\n");
    if (E->g->quantized)
        buf_puts(b, "#include <stdint.h>\n");
    buf_putc(b, '\n');
    emit_section_macros(E);
    if (file_isas(E))
        emit_isa_macros(E);
    if (graph_has_weights(E->g) && !E->opt->weights_extern)
        emit_weights_preamble(E);
    emit_int8_helpers(E);
    if (file_isas(E)) {
        emit_variants(E);
    } else {
        E->isa = target_portable_isa(E->target);
        for (int i = 0; i < E->g->nops; i++)
            emit_op_function(E, i);
        E->isa = NULL;
        if (E->opt->trace)
            emit_trace_hook(E);
    }
    emit_run_functions(E);
}

/* ---- the header ---- */

/* With a batch B the sizes and shapes are the whole batch's: [B, ...]. */
static void emit_shape_macros(Buf *b, const char *up, const char *what, const Tensor *t,
                              Arena *a, int batch)
{
    Shape s = t->shape;
    if (batch) {
        memmove(s.dim + 1, s.dim, sizeof s.dim[0] * (size_t)(MAX_RANK - 1));
        s.dim[0] = batch;
        s.rank++;
    }
    buf_printf(b, "#define %s_%s_SIZE %lld /* %s, float%s */\n", up, what, t->numel * (batch ? batch : 1),
               shape_str(a, &s), t->shape.rank == 3 ? (batch ? ", B,C,H,W order" : ", C,H,W order") : "");
    buf_printf(b, "#define %s_%s_RANK %d\n", up, what, s.rank);
    buf_printf(b, "#define %s_%s_SHAPE {", up, what);
    for (int k = 0; k < s.rank; k++)
        buf_printf(b, "%s%d", k ? ", " : "", s.dim[k]);
    buf_puts(b, "}\n");
}

/* WEIGHTS_FILE: the blob's size and what the run functions expect of it. */
static void emit_blob_comment(Emitter *E, Buf *b, const char *up)
{
    buf_printf(b, "#define %s_WEIGHTS_BYTES %lld /* the weights file's size */\n\n", up,
               E->blob_floats * 4);
    buf_printf(b, "/* The weights are not in the C (cnnc --weights file): every function\n"
                  " * takes `weights`, the contents of the weights file cnnc wrote beside\n"
                  " * the .c (%s_WEIGHTS_BYTES bytes of little-endian float32) at an\n"
                  " * address aligned for float: linked in (objcopy, .incbin, a section of\n"
                  " * flash) or read into memory by the application. */\n", up);
}

/* <UP>_VARIANTS: the code variants the .c holds (cnnc --target). */
static void emit_variants_macro(Emitter *E, Buf *b, const char *up)
{
    buf_printf(b, "#define %s_VARIANTS \"portable", up);
    int i = 0;
    for (const Isa *isa; (isa = file_isa(E, &i)) != NULL; )
        buf_printf(b, " %s", isa->name);
    buf_printf(b, "\" /* --target=%s; the CPU's best is run */\n\n", E->target->name);
}

/* A quantized model's int8 interface: the scales and zero points of its
 * int8 input and output, and the int8 entry points. */
static void emit_int8_header(Emitter *E, Buf *b, const char *up)
{
    const char *p = E->opt->prefix;
    char s[48];
    set_entry(E, 1);
    const Tensor *in = &E->g->t[E->io_in], *out = &E->g->t[E->io_out];
    const int i8out = out->dtype == DT_I8;
    buf_printf(b, "/* Quantized to int8 (cnnc --quantize int8, docs/quantization.md): a\n"
                  " * value q of an int8 tensor means scale * (q - zero point). */\n");
    buf_printf(b, "#define %s_QUANTIZED 1\n", up);
    emit_float_lit(s, sizeof s, in->qscale);
    buf_printf(b, "#define %s_INPUT_SCALE %s\n#define %s_INPUT_ZERO_POINT %s%d%s\n", up, s, up,
               in->qzero < 0 ? "(" : "", in->qzero, in->qzero < 0 ? ")" : "");
    buf_printf(b, "#define %s_INT8_OUTPUT %d /* 0: the last op is float, %s_run_int8's output too */\n",
               up, i8out, p);
    Footprint f;
    budget_measure(E->ctx, E->g, &f);
    buf_printf(b, "#define %s_INT8_WEIGHT_BYTES %lld /* int8 weights, int32 biases, multipliers, shifts */\n",
               up, f.weight_bytes);
    if (i8out) {
        emit_float_lit(s, sizeof s, out->qscale);
        buf_printf(b, "#define %s_OUTPUT_SCALE %s\n#define %s_OUTPUT_ZERO_POINT %s%d%s\n", up, s,
                   up, out->qzero < 0 ? "(" : "", out->qzero, out->qzero < 0 ? ")" : "");
    }
    buf_printf(b, "\n/* The same on int8 input (%s_INPUT_SIZE values, quantized with\n"
                  " * %s_INPUT_SCALE and _ZERO_POINT) into %s output: what %s_run\n"
                  " * computes between quantizing its input and dequantizing its result. */\n",
               up, up, i8out ? "int8" : "float", p);
    buf_printf(b, "void %s_run_int8(%s);\n", p, entry_params(E));
    buf_printf(b, "void %s_run_int8_ws(%s, void *arena);\n\n", p, entry_params(E));
    set_entry(E, 0);
}

/* stack: budget_stack_bound of the .c just written. */
static void emit_h_file(Emitter *E, Buf *b, long long stack)
{
    const char *p = E->opt->prefix;
    char *up = arena_strdup(E->ctx->arena, p);
    for (char *s = up; *s; s++)
        *s = (char)toupper((unsigned char)*s);
    emit_file_header(E, b);
    buf_puts(b, " */\n");
    buf_printf(b, "#ifndef %s_H_INCLUDED\n#define %s_H_INCLUDED\n\n", up, up);
    if (E->g->quantized)
        buf_puts(b, "#include <stdint.h>\n\n");
    buf_puts(b, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    if (E->g->batch)
        buf_printf(b, "#define %s_BATCH %d /* samples per call, one after another */\n", up, E->g->batch);
    emit_shape_macros(b, up, "INPUT", &E->g->t[E->g->input], E->ctx->arena, E->g->batch);
    emit_shape_macros(b, up, "OUTPUT", &E->g->t[E->g->output], E->ctx->arena, E->g->batch);
    buf_printf(b, "#define %s_ARENA_BYTES %lld /* scratch for %s_run_ws(); may be 0 */\n",
               up, E->g->arena_floats * 4, p);
    buf_printf(b, "#define %s_STACK_BYTES %lld /* bound on %s_run()'s stack (docs/emitted-c.md) */\n",
               up, stack, p);
    emit_variants_macro(E, b, up);
    if (blob_mode(E))
        emit_blob_comment(E, b, up);
    buf_puts(b, "/* The .c places its weights with CNNC_WEIGHTS_SECTION and its static\n"
                " * arena with CNNC_ARENA_SECTION, both empty unless defined when it is\n"
                " * compiled: e.g. -DCNNC_ARENA_SECTION='__attribute__((section(\".noinit\")))'. */\n\n");
    buf_printf(b, "/* Runs the model on input (%s_INPUT_SIZE floats) into output\n"
                  " * (%s_OUTPUT_SIZE floats), which may not overlap. Uses one static\n"
                  " * arena: not reentrant, not thread-safe. */\n", up, up);
    buf_printf(b, "void %s_run(%sconst float *input, float *output);\n\n", p, blob_param(E));
    buf_printf(b, "/* The same on the caller's arena: %s_ARENA_BYTES bytes, aligned for\n"
                  " * float, overlapping neither input nor output. Calls running at the\n"
                  " * same time need one arena each. */\n", up);
    buf_printf(b, "void %s_run_ws(%sconst float *input, float *output, void *arena);\n\n", p,
               blob_param(E));
    if (E->g->quantized)
        emit_int8_header(E, b, up);
    buf_puts(b, "#ifdef __cplusplus\n}\n#endif\n\n");
    buf_printf(b, "#endif /* %s_H_INCLUDED */\n", up);
}

void emit_c(Ctx *ctx, const Graph *g, const EmitOptions *opt, Buf *c_out, Buf *h_out)
{
    if (!is_c_identifier(opt->prefix))
        ICE("emit_c: prefix '%s' is not a C identifier", opt->prefix ? opt->prefix : "");
    if (g->input < 0 || g->output < 0)
        ICE("emit_c: graph has no input or output");
    Emitter E = { .ctx = ctx, .g = g, .opt = opt, .c = c_out, .sfx = "", .io_in = g->input,
                  .io_out = g->output };
    E.target = opt->target ? opt->target : target_default();
    size_t nt = (size_t)(g->nt ? g->nt : 1), nops = (size_t)(g->nops ? g->nops : 1);
    E.wname = arena_alloc(ctx->arena, nt * sizeof *E.wname);
    E.wexpr = arena_alloc(ctx->arena, nt * sizeof *E.wexpr);
    E.wdone = arena_alloc(ctx->arena, nt);
    E.fname = arena_alloc(ctx->arena, nops * sizeof *E.fname);
    name_weights(&E);
    name_ops(&E);
    const size_t start = c_out->len;
    emit_c_file(&E);
    emit_h_file(&E, h_out, budget_stack_bound(c_out->data + start, c_out->len - start));
}
