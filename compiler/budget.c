/* budget.c: what a planned Graph costs on a device, and the checks behind
 * `cnnc --ram-budget BYTES` / `--flash-budget BYTES`.
 *
 * Consumes a planned Graph (plan.c ran); produces a Footprint: parameters,
 * the bytes of weights the generated C embeds (packed copies where the
 * optimizer chose them, pack.c), arena and I/O bytes, MACs, and the layers
 * that dominate RAM and flash. budget_check adds what only the emitted C
 * shows: the stack (budget_stack_bound, the header's <PREFIX>_STACK_BYTES)
 * and an estimate of the code (budget_code_estimate); RAM is the arena, the
 * caller's input and output buffers and the stack, flash the weights and
 * the code. It reports one error per exceeded budget, at the largest
 * layer's statement, so the user sees what to shrink.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* Parameters of an op as the model defines them: w, b, mean, var (an int8
 * op's mean and var are its multipliers and shifts, not parameters). */
long long op_param_count(const Graph *g, const Op *op)
{
    const int ids[] = { op->w, op->b, op->mean, op->var };
    long long n = 0;
    for (int k = 0; k < (op->kind >= OP_QUANTIZE ? 2 : 4); k++)
        if (ids[k] >= 0)
            n += g->t[ids[k]].numel;
    return n;
}

/* The bytes of weights op's C code reads: the packed tensor (bias
 * included) instead of w and b when the optimizer packed them. Tensors an
 * earlier op already counted (seen) are not counted again. */
static long long op_emitted_bytes(const Graph *g, const Op *op, char *seen)
{
    int ids[5], n = 0, packed = op_packed_weight(op);
    if (packed >= 0)
        ids[n++] = packed;
    else {
        ids[n++] = op->w;
        ids[n++] = op->b;
    }
    ids[n++] = op->mean;
    ids[n++] = op->var;
    long long floats = 0;
    for (int k = 0; k < n; k++)
        if (ids[k] >= 0 && !seen[ids[k]]) {
            seen[ids[k]] = 1;
            floats += g->t[ids[k]].numel * tensor_elem_bytes(&g->t[ids[k]]);
        }
    return floats;
}

/* conv2d's output height or width before any fused pooling. */
static int conv_out(int n, int k, int s, int d, int p0, int p1)
{
    return (n + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

long long op_macs(const Graph *g, const Op *op)
{
    const Tensor *in = &g->t[op->in[0]], *out = &g->t[op->out];
    const Window *w = &op->win;
    switch (op->kind) {
    case OP_CONV:
    case OP_QCONV: {
        int oh = conv_out(in->shape.dim[1], w->kh, w->sh, w->dh, w->pt, w->pb);
        int ow = conv_out(in->shape.dim[2], w->kw, w->sw, w->dw, w->pl, w->pr);
        int groups = op->groups > 0 ? op->groups : 1;
        long long per_out = (long long)(in->shape.dim[0] / groups) * w->kh * w->kw;
        return per_out * out->shape.dim[0] * oh * ow;
    }
    case OP_DENSE:
    case OP_QDENSE:
        return in->numel * out->numel;
    case OP_BATCHNORM:
        return out->numel;      /* one scale-and-shift per element */
    default:
        return 0;
    }
}

static void footprint_op(const Graph *g, int i, char *seen, Footprint *f)
{
    const Op *op = &g->ops[i];
    long long act = g->t[op->out].numel * tensor_elem_bytes(&g->t[op->out]);
    long long wbytes = op_emitted_bytes(g, op, seen);
    f->params += op_param_count(g, op);
    f->weight_bytes += wbytes;
    f->macs += op_macs(g, op);
    f->act_total_bytes += act;
    if (f->largest_act_op < 0 || act > f->largest_act_bytes) {
        f->largest_act_op = i;
        f->largest_act_bytes = act;
    }
    if (wbytes > 0 && (f->largest_weight_op < 0 || wbytes > f->largest_weight_bytes)) {
        f->largest_weight_op = i;
        f->largest_weight_bytes = wbytes;
    }
}

void budget_measure(Ctx *ctx, const Graph *g, Footprint *f)
{
    char *seen = arena_alloc(ctx->arena, (size_t)g->nt + 1);
    *f = (Footprint){ 0 };
    f->largest_act_op = f->largest_weight_op = -1;
    for (int i = 0; i < g->nops; i++)
        footprint_op(g, i, seen, f);
    /* A batch runs its samples one after another on one arena. */
    long long samples = g->batch > 1 ? g->batch : 1;
    f->arena_bytes = g->arena_floats * 4;
    f->input_bytes = g->t[g->input].numel * 4 * samples;
    f->output_bytes = g->t[g->output].numel * 4 * samples;
    f->ram_bytes = f->arena_bytes + f->input_bytes + f->output_bytes;
}

static Loc op_loc(const Graph *g, int i)
{
    Loc none = { 0, 0, 0, 0 };
    return i >= 0 ? g->ops[i].loc : none;
}

static const char *op_label(const Graph *g, int i)
{
    const Op *op = &g->ops[i];
    return op->kind == OP_ACT ? act_kind_name(op->act.kind) : op_kind_name(op->kind);
}

/* What budget_check counts beyond the Footprint, from the C that emit_c
 * writes for the same graph and target (weights left out: extern). */
typedef struct Device {
    long long stack, code;
} Device;

static void device_measure(Ctx *ctx, const Graph *g, Device *d)
{
    EmitOptions eo = { .prefix = "m", .header_name = "m.h", .weights_extern = 1,
                       .target = ctx->target };
    Buf c, h;
    buf_init(&c);
    buf_init(&h);
    emit_c(ctx, g, &eo, &c, &h);
    d->stack = budget_stack_bound(c.data, c.len);
    d->code = budget_code_estimate(c.data, c.len);
    buf_free(&c);
    buf_free(&h);
}

static void report_ram(Ctx *ctx, const Graph *g, const Footprint *f, const Device *d,
                       long long budget)
{
    int i = f->largest_act_op;
    const char *name = i >= 0 && g->ops[i].name ? g->ops[i].name : "?";
    diag_error(ctx, op_loc(g, i),
               "model '%s' needs %lld bytes of RAM (arena %lld + input %lld + output %lld + "
               "stack %lld), over the RAM budget of %lld bytes; the largest layer is '%s' (%s, "
               "output %s, %lld bytes)",
               g->name, f->ram_bytes + d->stack, f->arena_bytes, f->input_bytes, f->output_bytes,
               d->stack, budget,
               name, i >= 0 ? op_label(g, i) : "?",
               i >= 0 ? shape_str(ctx->arena, &g->t[g->ops[i].out].shape) : "[]",
               f->largest_act_bytes);
}

static void report_flash(Ctx *ctx, const Graph *g, const Footprint *f, const Device *d,
                         long long budget)
{
    int i = f->largest_weight_op;
    const char *name = i >= 0 && g->ops[i].name ? g->ops[i].name : "?";
    diag_error(ctx, op_loc(g, i),
               "model '%s' needs %lld bytes of flash (weights %lld + code about %lld), over the "
               "flash budget of %lld bytes; the largest layer is '%s' (%s, %lld parameters, "
               "%lld bytes)",
               g->name, f->weight_bytes + d->code, f->weight_bytes, d->code, budget, name,
               i >= 0 ? op_label(g, i) : "?",
               i >= 0 ? op_param_count(g, &g->ops[i]) : 0, f->largest_weight_bytes);
}

int budget_check(Ctx *ctx, const Graph *g, long long ram_budget, long long flash_budget)
{
    Footprint f;
    Device d = { 0, 0 };
    if (ram_budget <= 0 && flash_budget <= 0)
        return 0;
    budget_measure(ctx, g, &f);
    device_measure(ctx, g, &d);
    int over = 0;
    if (ram_budget > 0 && f.ram_bytes + d.stack > ram_budget) {
        report_ram(ctx, g, &f, &d, ram_budget);
        over = 1;
    }
    if (flash_budget > 0 && f.weight_bytes + d.code > flash_budget) {
        report_flash(ctx, g, &f, &d, flash_budget);
        over = 1;
    }
    return over ? -1 : 0;
}

/* ---- the stack: an upper bound from the emitted C ---- */

/* What the bound allows beyond the local arrays (docs/emitted-c.md):
 * STACK_FRAMES frames on the deepest call path of <prefix>_run (run, run_ws,
 * a variant's run and its dispatch, the op function, a tile or helper
 * function) of STACK_FRAME_BYTES each: a Cortex-M's callee-saved r4-r11 and
 * lr (36 bytes) and s16-s31 (64), spill slots and alignment; and
 * STACK_LIBM_BYTES for a libm function at the bottom (expf, tanhf: newlib's
 * take under 100). */
enum { STACK_FRAMES = 6, STACK_FRAME_BYTES = 128, STACK_LIBM_BYTES = 256,
       STACK_UNKNOWN_ELEMS = 4096 };

/* Bytes of one element of a C type the emitter declares locals of; 0: not
 * a type (the line is a statement). cnnc_f8 / cnnc_i8: SIMD vectors. */
static int stack_type_bytes(const char *s, size_t n)
{
    static const struct { const char *name; int bytes; } types[] = {
        { "float", 4 }, { "double", 8 }, { "int", 4 }, { "unsigned", 4 }, { "long", 8 },
        { "short", 2 }, { "char", 1 }, { "signed", 4 }, { "int8_t", 1 }, { "uint8_t", 1 },
        { "int16_t", 2 }, { "uint16_t", 2 }, { "int32_t", 4 }, { "uint32_t", 4 },
        { "int64_t", 8 }, { "uint64_t", 8 },
    };
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
        if (strlen(types[k].name) == n && strncmp(s, types[k].name, n) == 0)
            return types[k].bytes;
    if (n > 6 && (strncmp(s, "cnnc_f", 6) == 0 || strncmp(s, "cnnc_i", 6) == 0) &&
        isdigit((unsigned char)s[6]))
        return 4 * atoi(s + 6);
    return 0;
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '*')
        p++;
    return p;
}

/* One dimension "[16]" or "[4 * 16]" at p (after '['): its value, or
 * STACK_UNKNOWN_ELEMS when it is not a product of literals. */
static long long stack_dim(const char **pp)
{
    const char *p = *pp;
    long long v = 1;
    int ok = 1;
    for (;;) {
        p = skip_space(p);
        if (!isdigit((unsigned char)*p)) {
            ok = 0;
            break;
        }
        v *= strtoll(p, (char **)&p, 10);
        p = skip_space(p);   /* skips the '*' of a product too */
        if (*p == ']' || *p == '\0')
            break;
    }
    while (*p && *p != ']')
        p++;
    *pp = *p ? p + 1 : p;
    return ok ? v : STACK_UNKNOWN_ELEMS;
}

/* The bytes of the arrays a declaration line "float a[4], b[8];" makes. */
static long long stack_line(const char *p)
{
    p = skip_space(p);
    if (strncmp(p, "const ", 6) == 0)
        p += 6;
    size_t n = 0;
    while (isalnum((unsigned char)p[n]) || p[n] == '_')
        n++;
    long long bytes = 0, elem = stack_type_bytes(p, n);
    if (elem == 0)
        return 0;
    for (p += n;;) {
        p = skip_space(p);
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        long long count = 0;
        while (*p == '[') {
            p++;
            count = (count ? count : 1) * stack_dim(&p);
        }
        bytes += count * elem;
        int depth = 0;   /* to the next declarator: past an initializer */
        while (*p && !(depth == 0 && (*p == ',' || *p == ';'))) {
            depth += *p == '{' || *p == '(';
            depth -= *p == '}' || *p == ')';
            p++;
        }
        if (*p != ',')
            return bytes;
        p++;
    }
}

long long budget_stack_bound(const char *c, size_t len)
{
    long long top[2] = { 0, 0 }, fn = 0;
    int in_body = 0;
    for (const char *p = c, *end = c + len; p < end; ) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (n >= 1 && p[0] == '{' && (n == 1 || p[1] == ' ')) {
            in_body = 1;
            fn = 0;
        } else if (n >= 1 && p[0] == '}' && in_body) {
            in_body = 0;
            if (fn > top[0]) {
                top[1] = top[0];
                top[0] = fn;
            } else if (fn > top[1]) {
                top[1] = fn;
            }
        } else if (in_body && (p[0] == ' ' || p[0] == '\t') && memchr(p, '[', n)) {
            char line[512];
            size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
            memcpy(line, p, k);
            line[k] = '\0';
            const char *s = skip_space(line);
            if (strncmp(s, "static ", 7) != 0)
                fn += stack_line(s);
        }
        p += n + 1;
    }
    return top[0] + top[1] + STACK_FRAMES * STACK_FRAME_BYTES + STACK_LIBM_BYTES;
}

/* Code: CODE_BASE_BYTES (the libm functions a model calls, newlib's expf
 * or tanhf about 1 KB each, and the run functions) plus CODE_FN_BYTES per
 * function of the C. Measured with arm-none-eabi-gcc -O2 -mthumb on the
 * firmware-test models (docs/firmware.md): 35 to 205 bytes of .text per
 * function, float and int8; an estimate, not a bound: -O3 or unrolling
 * grow it, and size(1) on the linked image is the truth. */
enum { CODE_BASE_BYTES = 4096, CODE_FN_BYTES = 256 };

long long budget_code_estimate(const char *c, size_t len)
{
    long long fns = 0;
    for (const char *p = c, *end = c + len; p < end; ) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
        fns += n >= 1 && p[0] == '{' && (n == 1 || p[1] == ' ');
        p += n + 1;
    }
    return CODE_BASE_BYTES + CODE_FN_BYTES * fns;
}
