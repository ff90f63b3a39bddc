/* jit.c: the libtcc path. Consumes a planned Graph with bound weights;
 * produces machine code in memory that runs it. emit_c() writes the code
 * with every weight declared `extern const float cnnc_jit_w<id>[N]`, and
 * the weights are bound by address, so tcc parses code only, never a float
 * literal (1.2M literals cost tcc half a second). tcc compiles from a
 * string, so the header's text replaces the .c file's #include line.
 * Errors inside libtcc mean a bug in the emitted C: they become
 * internal-error diagnostics. A Jit owns its TCCState: the code and its
 * static arena die in jit_free.
 *
 * Why weights are not bound with tcc_add_symbol: Debian 12's libtcc
 * (0.9.27+git20200814) routes an R_X86_64_PC32 reference to such an
 * absolute symbol through a PLT stub, and tcc emits PC32 when it folds an
 * array element into an instruction (`subss w(%rip)`), so the code read the
 * stub's bytes instead of the weight. Instead, a macro turns each name into
 * `(*cnnc_jit_p<id>)`, a pointer to the array defined inside tcc's own
 * data, which we fill after relocation; the emitted extern declaration then
 * reads `extern const float (*cnnc_jit_p<id>)[N];`, compatible with it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "jit.h"

#ifdef CNNC_HAVE_LIBTCC

#include <libtcc.h>

#define JIT_PREFIX "cnnc_jit"
#define JIT_HEADER "cnnc_jit.h"

#ifndef CNNC_TCC_DIR
#define CNNC_TCC_DIR NULL     /* libtcc's compiled-in default */
#endif

typedef void (*JitRunFn)(const float *input, float *output);
typedef void (*AnyFn)(void);

struct Jit {
    TCCState *tcc;
    JitRunFn run;             /* cnnc_jit_run: the static arena lives in tcc's memory */
};

/* What tcc reports while one compilation runs. */
typedef struct JitLog {
    Ctx *ctx;
    int errors;
} JitLog;

/* The <math.h> functions emitted code may call, bound by address so that
 * linking needs neither libm.so nor a dlsym that finds it. */
static const struct {
    const char *name;
    AnyFn fn;
} jit_math[] = {
    { "expf", (AnyFn)expf },     { "expm1f", (AnyFn)expm1f }, { "logf", (AnyFn)logf },
    { "log1pf", (AnyFn)log1pf }, { "tanhf", (AnyFn)tanhf },   { "sqrtf", (AnyFn)sqrtf },
    { "fabsf", (AnyFn)fabsf },   { "powf", (AnyFn)powf },     { "floorf", (AnyFn)floorf },
    { "ceilf", (AnyFn)ceilf },   { "fmaxf", (AnyFn)fmaxf },   { "fminf", (AnyFn)fminf },
    { "erff", (AnyFn)erff },     { "exp", (AnyFn)exp },       { "log", (AnyFn)log },
    { "tanh", (AnyFn)tanh },     { "sqrt", (AnyFn)sqrt },     { "fabs", (AnyFn)fabs },
};

static void jit_report(Ctx *ctx, cnnc_severity sev, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void jit_report(Ctx *ctx, cnnc_severity sev, const char *fmt, ...)
{
    Loc none = { 0, 0, 0, 0 };
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(ctx, sev, NULL, none, fmt, ap);
    va_end(ap);
}

/* tcc_set_error_func callback: tcc's own "file:line: error: ..." text. */
static void jit_on_tcc_message(void *opaque, const char *msg)
{
    JitLog *jlog = opaque;
    if (strstr(msg, "warning: ")) {
        jit_report(jlog->ctx, CNNC_WARNING, "internal warning: libtcc: %s", msg);
        return;
    }
    jlog->errors++;
    jit_report(jlog->ctx, CNNC_ERROR, "internal error: libtcc: %s", msg);
}

static void jit_ignore_message(void *opaque, const char *msg)
{
    (void)opaque;
    (void)msg;
}

/* An object pointer as tcc_add_symbol wants it, from a function pointer:
 * ISO C has no cast between the two, but POSIX guarantees they agree. */
static const void *fn_address(AnyFn fn)
{
    const void *p;
    _Static_assert(sizeof p == sizeof fn, "function and object pointers differ in size");
    memcpy(&p, &fn, sizeof p);
    return p;
}

static JitRunFn run_fn_of(void *sym)
{
    JitRunFn fn;
    memcpy(&fn, &sym, sizeof fn);
    return fn;
}

/* The .c text with its #include "cnnc_jit.h" line replaced by the .h text. */
static int splice_header(Ctx *ctx, const Buf *c, const Buf *h, Buf *src)
{
    const char *line = "#include \"" JIT_HEADER "\"\n";
    const char *at = c->data ? strstr(c->data, line) : NULL;
    if (!at || !h->data) {
        jit_report(ctx, CNNC_ERROR, "internal error: the generated C does not include %s",
                   JIT_HEADER);
        return -1;
    }
    size_t head = (size_t)(at - c->data), skip = strlen(line);
    buf_put(src, c->data, head);
    buf_put(src, h->data, h->len);
    buf_put(src, at + skip, c->len - head - skip);
    return 0;
}

/* Emits the model's C with extern weights; 0 ok, -1 after a diagnostic. */
static int jit_source(Ctx *ctx, const Graph *g, Buf *src)
{
    /* tcc compiles portable C only: no SIMD variants to parse. */
    EmitOptions eo = { .prefix = JIT_PREFIX, .header_name = JIT_HEADER, .weights_extern = 1,
                       .target = ctx->target, .portable_only = 1 };
    Buf c, h;
    buf_init(&c);
    buf_init(&h);
    c.on_oom = h.on_oom = ctx->on_oom;   /* the model's C: it can be large */
    emit_c(ctx, g, &eo, &c, &h);
    int rc = splice_header(ctx, &c, &h, src);
    buf_free(&c);
    buf_free(&h);
    return rc;
}

static void jit_configure(TCCState *s, const char *tcc_dir, JitLog *jlog)
{
    tcc_set_error_func(s, jlog, jit_on_tcc_message);
    if (!tcc_dir)
        tcc_dir = CNNC_TCC_DIR;
    if (tcc_dir) {
        char inc[4096];
        tcc_set_lib_path(s, tcc_dir);
        snprintf(inc, sizeof inc, "%s/include", tcc_dir);
        tcc_add_sysinclude_path(s, inc);
    }
    tcc_set_options(s, "-Wall");
    tcc_set_output_type(s, TCC_OUTPUT_MEMORY);
}

static int is_bound_weight(const Tensor *t)
{
    return t->role == TR_WEIGHT && (t->data || t->qdata);
}

/* The element type of a weight as tcc sees it (int8_t, int32_t). */
static const char *jit_ctype(const Tensor *t)
{
    return t->dtype == DT_I8 ? "signed char" : t->dtype == DT_I32 ? "int" : "float";
}

/* Before compiling: cnnc_jit_w<id> means (*cnnc_jit_p<id>) (see above). */
static void jit_define_weights(Ctx *ctx, TCCState *s, const Graph *g)
{
    for (int t = 0; t < g->nt; t++)
        if (is_bound_weight(&g->t[t]))
            tcc_define_symbol(s, arena_printf(ctx->arena, JIT_PREFIX "_w%d", t),
                              arena_printf(ctx->arena, "(*" JIT_PREFIX "_p%d)", t));
}

/* A second translation unit defining the pointers, null until bound. */
static int jit_compile_pointers(TCCState *s, const Graph *g)
{
    Buf b;
    buf_init(&b);
    buf_puts(&b, "/* cnnc: weight pointers, set after relocation */\n");
    for (int t = 0; t < g->nt; t++)
        if (is_bound_weight(&g->t[t]))
            buf_printf(&b, "const %s (*" JIT_PREFIX "_p%d)[%lld] = 0;\n", jit_ctype(&g->t[t]), t,
                       g->t[t].numel);
    int rc = tcc_compile_string(s, b.data);
    buf_free(&b);
    return rc;
}

/* After relocation: each pointer gets its tensor's data in the arena. */
static int jit_bind_weights(Ctx *ctx, TCCState *s, const Graph *g)
{
    for (int t = 0; t < g->nt; t++) {
        if (!is_bound_weight(&g->t[t]))
            continue;
        void *slot = tcc_get_symbol(s, arena_printf(ctx->arena, JIT_PREFIX "_p%d", t));
        if (!slot)
            return -1;
        const void *data = g->t[t].dtype == DT_F32 ? (const void *)g->t[t].data : g->t[t].qdata;
        memcpy(slot, &data, sizeof data);
    }
    return 0;
}

static int jit_add_math(TCCState *s)
{
    for (size_t i = 0; i < sizeof jit_math / sizeof jit_math[0]; i++)
        if (tcc_add_symbol(s, jit_math[i].name, fn_address(jit_math[i].fn)) < 0)
            return -1;
    return 0;
}

static int jit_relocate(TCCState *s)
{
#ifdef TCC_RELOCATE_AUTO
    return tcc_relocate(s, TCC_RELOCATE_AUTO);   /* tcc 0.9.27 and Debian 12's snapshot */
#else
    return tcc_relocate(s);                      /* newer tcc: one argument */
#endif
}

/* Compile, bind, relocate, look up; 0 ok, -1 (tcc's messages reported). */
static int jit_build(JitLog *jlog, TCCState *s, const Graph *g, const char *src, Jit *j)
{
    Ctx *ctx = jlog->ctx;
    const char *step = "compile the generated C";
    jit_define_weights(ctx, s, g);
    int rc = tcc_compile_string(s, src);
    if (rc >= 0 && (rc = jit_compile_pointers(s, g)) < 0)
        step = "compile the weight pointers";
    else if (rc >= 0 && (rc = jit_add_math(s)) < 0)
        step = "bind the math functions";
    else if (rc >= 0 && (rc = jit_relocate(s)) < 0)
        step = "link the generated C";
    else if (rc >= 0 && (rc = jit_bind_weights(ctx, s, g)) < 0)
        step = "bind the weights";
    if (rc >= 0) {
        void *sym = tcc_get_symbol(s, JIT_PREFIX "_run");
        if (!sym) {
            step = "find " JIT_PREFIX "_run";
            rc = -1;
        }
        j->run = sym ? run_fn_of(sym) : NULL;
    }
    if (rc < 0 && jlog->errors == 0)   /* else tcc said why */
        jit_report(ctx, CNNC_ERROR, "internal error: libtcc could not %s", step);
    return rc < 0 ? -1 : 0;
}

int jit_available(void)
{
    return 1;
}

Jit *jit_compile(Ctx *ctx, const Graph *g, const char *tcc_dir)
{
    Buf src;
    buf_init(&src);
    src.on_oom = ctx->on_oom;
    if (jit_source(ctx, g, &src) != 0) {
        buf_free(&src);
        return NULL;
    }
    Jit *j = calloc(1, sizeof *j);
    JitLog jlog = { ctx, 0 };
    if (j)
        j->tcc = tcc_new();
    if (!j || !j->tcc)
        jit_report(ctx, CNNC_ERROR, "internal error: cannot create a libtcc state");
    if (j && j->tcc) {
        jit_configure(j->tcc, tcc_dir, &jlog);
        int rc = jit_build(&jlog, j->tcc, g, src.data, j);
        tcc_set_error_func(j->tcc, NULL, jit_ignore_message);   /* jlog dies here */
        if (rc != 0)
            j->run = NULL;
    }
    buf_free(&src);
    if (j && !j->run) {
        jit_free(j);
        j = NULL;
    }
    return j;
}

void jit_run(const Jit *j, const float *input, float *output)
{
    j->run(input, output);
}

void jit_free(Jit *j)
{
    if (!j)
        return;
    if (j->tcc)
        tcc_delete(j->tcc);
    free(j);
}

#else /* !CNNC_HAVE_LIBTCC: a build without the JIT reports so */

struct Jit {
    int unused;
};

int jit_available(void)
{
    return 0;
}

Jit *jit_compile(Ctx *ctx, const Graph *g, const char *tcc_dir)
{
    (void)g;
    (void)tcc_dir;
    diag_file_error(ctx, NULL, "this cnnc was built without the libtcc JIT (CNNC_JIT=OFF); "
                               "use the interpreter or compile to C");
    return NULL;
}

void jit_run(const Jit *j, const float *input, float *output)
{
    (void)j;
    (void)input;
    (void)output;
}

void jit_free(Jit *j)
{
    (void)j;
}

#endif
