/* api.c: the public API of cnnc.h over the internal pipeline. Consumes a
 * model file or string and the embedder's options; produces a cnnc_model
 * (one Compilation: arena, diagnostics, planned Graph), emitted C in
 * malloc'd buffers, interpreter runs and JIT handles (jit.c).
 *
 * Every diagnostic passes through model_on_diag, which keeps a copy on the
 * model (in its arena) and forwards it to the embedder's callback. Entry
 * points check their arguments and the model's state and return -1 or NULL
 * instead of failing: internal invariants still end in ICE(). Running out
 * of memory is the user's model's problem, not a bug: each entry point that
 * allocates sets m->oom with setjmp, the arena and the output Bufs jump
 * there (arena_on_oom), and the entry point reports "out of memory" and
 * returns its error, as Lua's API does.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "driver.h"
#include "jit.h"
#include "onnx/onnx.h"

struct cnnc_model {
    Compilation c;
    int usable;                  /* the front end and passes succeeded */
    int load_errors;             /* errors while loading, suppressed ones too */
    cnnc_diag_fn user_fn;
    void *user;
    const char *tcc_dir;
    cnnc_diag *diags;            /* arena array */
    size_t ndiags, cap;
    const char *print_after;     /* options.print_after (arena copy) */
    Buf pass_dump;               /* the IR after that pass (api_views.c) */
    jmp_buf oom;                 /* where running out of memory jumps */
    size_t memory_limit;         /* options.memory_limit */
    Buf out[2];                  /* text being made for the caller */
};

struct cnnc_jit {
    Jit *jit;
};

/* ---- diagnostics ---- */

static const char *arena_strdup_or_null(Arena *a, const char *s)
{
    return s ? arena_strdup(a, s) : NULL;
}

/* Allocates first and counts last: running out of memory half-way leaves
 * the kept list as it was. */
static void model_keep_diag(cnnc_model *m, const cnnc_diag *d)
{
    Arena *a = m->c.arena;
    cnnc_diag k = *d;
    k.file = arena_strdup_or_null(a, d->file);
    k.message = arena_strdup_or_null(a, d->message);
    k.text = arena_strdup_or_null(a, d->text);
    if (m->ndiags == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 8;
        cnnc_diag *grown = arena_alloc(a, cap * sizeof *grown);
        if (m->ndiags)
            memcpy(grown, m->diags, m->ndiags * sizeof *grown);
        m->diags = grown;
        m->cap = cap;
    }
    m->diags[m->ndiags++] = k;
}

static void model_on_diag(void *user, const cnnc_diag *d)
{
    cnnc_model *m = user;
    model_keep_diag(m, d);
    if (m->user_fn)
        m->user_fn(m->user, d);
}

/* Errors past LIMIT_ERRORS are counted, not shown: say how many, once. */
static void model_report_suppressed(cnnc_model *m)
{
    int n = m->c.ctx.suppressed;
    const char *msg = arena_printf(m->c.arena, "%d more errors not shown", n);
    const char *text = arena_printf(m->c.arena, "cnnc: %s\n", msg);
    cnnc_diag d = { CNNC_NOTE, NULL, 0, 0, msg, text };
    model_on_diag(m, &d);
}

/* ---- out of memory ---- */

jmp_buf *api_guard(cnnc_model *m)
{
    arena_on_oom(m->c.arena, &m->oom);
    m->c.ctx.on_oom = &m->oom;
    for (int i = 0; i < 2; i++) {
        buf_free(&m->out[i]);
        m->out[i].on_oom = &m->oom;
    }
    return &m->oom;
}

void api_unguard(cnnc_model *m)
{
    arena_on_oom(m->c.arena, NULL);
    m->c.ctx.on_oom = NULL;
    for (int i = 0; i < 2; i++)
        buf_free(&m->out[i]);
}

Buf *api_out(cnnc_model *m, int i)
{
    return &m->out[i];
}

/* After the jump: frees what was being made and reports, as an error that
 * needs no memory to deliver. Keeping its copy on the model may pass
 * options.memory_limit (a policy) and is skipped if malloc itself fails. */
int api_out_of_memory(cnnc_model *m)
{
    cnnc_diag d = { CNNC_ERROR, NULL, 0, 0, "out of memory", "cnnc: error: out of memory\n" };
    jmp_buf again;
    api_unguard(m);
    m->c.ctx.nerrors++;
    arena_on_oom(m->c.arena, &again);
    arena_set_limit(m->c.arena, 0);
    if (setjmp(again) == 0)
        model_keep_diag(m, &d);
    arena_set_limit(m->c.arena, m->memory_limit);
    arena_on_oom(m->c.arena, NULL);
    if (m->user_fn)
        m->user_fn(m->user, &d);
    return -1;
}

/* ---- loading ---- */

/* Ctx.after_pass: keeps the IR after options.print_after's pass. */
static void model_after_pass(void *user, const char *pass, const Graph *g)
{
    cnnc_model *m = user;
    if (m->print_after && strcmp(m->print_after, pass) == 0)
        ir_print(g, &m->pass_dump);
}

/* quantize and calibration: both or neither, and "int8" the only kind. */
static void model_quantize_options(cnnc_model *m, const cnnc_options *opt)
{
    Ctx *ctx = &m->c.ctx;
    if (opt->quantize && strcmp(opt->quantize, "int8") != 0)
        diag_file_error(ctx, NULL, "unknown quantization '%s' (int8 is the only one)", opt->quantize);
    else if (opt->quantize && !opt->calibration)
        diag_file_error(ctx, NULL, "quantize int8 needs calibration data (a .npy file of input samples)");
    else if (!opt->quantize && opt->calibration)
        diag_file_error(ctx, NULL, "calibration data given without quantize");
    else if (opt->quantize)
        m->c.calibration = arena_strdup(m->c.arena, opt->calibration);
}

static cnnc_model *model_new(const cnnc_options *opt, PassOptions *po)
{
    cnnc_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (compilation_init(&m->c, model_on_diag, m) != 0) {
        free(m);
        return NULL;
    }
    buf_init(&m->out[0]);
    buf_init(&m->out[1]);
    if (opt) {
        m->user_fn = opt->diag_fn;
        m->user = opt->diag_user;
        m->tcc_dir = arena_strdup_or_null(m->c.arena, opt->tcc_dir);
        po->no_opt = opt->no_opt;
        m->print_after = arena_strdup_or_null(m->c.arena, opt->print_after);
        m->memory_limit = opt->memory_limit;
        arena_set_limit(m->c.arena, m->memory_limit);
        if (opt->target && !(m->c.ctx.target = target_find(opt->target)))
            diag_file_error(&m->c.ctx, NULL, "unknown target '%s' (cnnc --print-targets "
                            "lists them)", opt->target);
        model_quantize_options(m, opt);
    }
    m->c.ctx.after_pass = model_after_pass;
    m->c.ctx.after_pass_user = m;
    return m;
}

static cnnc_model *model_loaded(cnnc_model *m, int rc)
{
    api_unguard(m);
    if (m->c.ctx.suppressed)
        model_report_suppressed(m);
    m->load_errors = m->c.ctx.nerrors;
    m->usable = rc == 0 && m->load_errors == 0 && m->c.graph;
    return m;
}

cnnc_model *cnnc_model_from_file(const char *path, const cnnc_options *opt)
{
    PassOptions po = { 0 };
    if (!path)
        return NULL;
    cnnc_model *m = model_new(opt, &po);
    if (!m)
        return NULL;
    size_t n = strlen(path);
    int onnx = n > 5 && strcmp(path + n - 5, ".onnx") == 0;   /* docs/onnx.md */
    if (setjmp(*api_guard(m)) != 0)
        return model_loaded(m, api_out_of_memory(m));
    if (m->c.ctx.nerrors)
        return model_loaded(m, -1);   /* a bad option */
    int rc = onnx ? compilation_run_onnx(&m->c, path, &po) : compilation_run_file(&m->c, path, &po);
    return model_loaded(m, rc);
}

int cnnc_import_onnx(const char *onnx_path, const char *cnn_path, const cnnc_options *opt)
{
    PassOptions po = { 0 };
    if (!onnx_path || !cnn_path)
        return -1;
    cnnc_model *m = model_new(opt, &po);
    if (!m)
        return -1;
    int rc;
    if (setjmp(*api_guard(m)) != 0)
        rc = api_out_of_memory(m);
    else if (m->c.ctx.nerrors)
        rc = -1;   /* a bad option */
    else
        rc = onnx_import_files(&m->c, onnx_path, cnn_path, &po);
    model_loaded(m, rc);
    cnnc_model_free(m);
    return rc;
}

cnnc_model *cnnc_model_from_string(const char *name, const char *text, const char *base_dir,
                                   const cnnc_options *opt)
{
    PassOptions po = { 0 };
    if (!name || !text)
        return NULL;
    cnnc_model *m = model_new(opt, &po);
    if (!m)
        return NULL;
    if (setjmp(*api_guard(m)) != 0)
        return model_loaded(m, api_out_of_memory(m));
    if (m->c.ctx.nerrors)
        return model_loaded(m, -1);   /* a bad option */
    return model_loaded(m, compilation_run_string(&m->c, name, text, base_dir, &po));
}

void cnnc_model_free(cnnc_model *m)
{
    if (!m)
        return;
    compilation_free(&m->c);
    buf_free(&m->pass_dump);
    buf_free(&m->out[0]);
    buf_free(&m->out[1]);
    free(m);
}

const char *cnnc_model_weights_file(const cnnc_model *m)
{
    return m ? m->c.ctx.weights_file : NULL;
}

int cnnc_model_errors(const cnnc_model *m)
{
    if (!m)
        return 1;
    return m->usable ? 0 : (m->load_errors > 0 ? m->load_errors : 1);
}

size_t cnnc_model_diag_count(const cnnc_model *m)
{
    return m ? m->ndiags : 0;
}

const cnnc_diag *cnnc_model_diag(const cnnc_model *m, size_t i)
{
    return m && i < m->ndiags ? &m->diags[i] : NULL;
}

/* ---- queries ---- */

static const Tensor *model_tensor(const cnnc_model *m, int output)
{
    if (!m || !m->usable)
        return NULL;
    const Graph *g = m->c.graph;
    return &g->t[output ? g->output : g->input];
}

/* With a batch ([B, C, H, W] or [B, N] input), a run reads and writes B
 * samples: the sizes and dims are the whole batch's. */
static int model_batch(const cnnc_model *m)
{
    return m && m->usable ? m->c.graph->batch : 0;
}

static int tensor_info(const Tensor *t, int batch, cnnc_tensor_info *info)
{
    if (!t || !info)
        return -1;
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->rank = t->shape.rank + (batch > 0);
    if (batch > 0)
        info->dims[0] = batch;
    for (int i = 0; i < t->shape.rank && i + (batch > 0) < CNNC_MAX_RANK; i++)
        info->dims[i + (batch > 0)] = t->shape.dim[i];
    info->size = (size_t)t->numel * (size_t)(batch > 0 ? batch : 1);
    return 0;
}

const char *cnnc_model_name(const cnnc_model *m)
{
    return m && m->usable ? m->c.graph->name : NULL;
}

int cnnc_model_input(const cnnc_model *m, cnnc_tensor_info *info)
{
    return tensor_info(model_tensor(m, 0), model_batch(m), info);
}

int cnnc_model_output(const cnnc_model *m, cnnc_tensor_info *info)
{
    return tensor_info(model_tensor(m, 1), model_batch(m), info);
}

size_t cnnc_model_input_size(const cnnc_model *m)
{
    cnnc_tensor_info info;
    return tensor_info(model_tensor(m, 0), model_batch(m), &info) == 0 ? info.size : 0;
}

size_t cnnc_model_output_size(const cnnc_model *m)
{
    cnnc_tensor_info info;
    return tensor_info(model_tensor(m, 1), model_batch(m), &info) == 0 ? info.size : 0;
}

/* ---- C backend ---- */

/* A name that fits between the quotes of an #include line. */
static int is_header_name(const char *s)
{
    return *s && !strpbrk(s, "\"\n\r");
}

/* Weights embedded as literals take about 3 bytes of C per byte: past
 * LIMIT_EMIT_WEIGHT_BYTES the file would approach a gigabyte that no C
 * compiler builds in reasonable time, so it is refused before writing any.
 * (CNNC_WEIGHTS_FILE writes them to a file instead, and `cnnc run` binds
 * them from memory: both take up to the parameter limit.) */
static int check_emit_size(cnnc_model *m)
{
    Ctx *ctx = &m->c.ctx;
    Footprint f;
    budget_measure(ctx, m->c.graph, &f);
    if (f.weight_bytes <= LIMIT_EMIT_WEIGHT_BYTES)
        return 0;
    Loc at = m->c.model ? m->c.model->name_loc : (Loc){ 0, 0, 0, 0 };
    diag_error(ctx, at, "model '%s' embeds %lld bytes of weights, over the limit of %lld for C "
               "output (the .c file would be about %lld MB); --weights file writes them to a "
               "file beside it instead", m->c.graph->name, f.weight_bytes,
               LIMIT_EMIT_WEIGHT_BYTES, f.weight_bytes * 3 / 1000000);
    return -1;
}

int api_emit_names(cnnc_model *m, const cnnc_emit_options *opt, const char **prefix,
                   const char **header_name)
{
    Ctx *ctx = &m->c.ctx;
    *prefix = opt && opt->prefix ? opt->prefix : m->c.graph->name;
    if (!is_c_identifier(*prefix)) {
        diag_file_error(ctx, NULL, "prefix '%s' is not a C identifier", *prefix);
        return -1;
    }
    *header_name = opt && opt->header_name ? opt->header_name
                                           : arena_printf(ctx->arena, "%s.h", *prefix);
    if (!is_header_name(*header_name)) {
        diag_file_error(ctx, NULL, "header name '%s' cannot be #included", *header_name);
        return -1;
    }
    return 0;
}

static int model_emit_c(cnnc_model *m, const cnnc_emit_options *opt, char **c_text,
                        size_t *c_len, char **h_text, size_t *h_len)
{
    EmitOptions eo = { .target = m->c.ctx.target };
    int file = opt && opt->weights == CNNC_WEIGHTS_FILE;
    if (!api_usable(m, "emit C") || api_emit_names(m, opt, &eo.prefix, &eo.header_name) != 0 ||
        (!file && check_emit_size(m) != 0))
        return -1;
    if (opt && opt->weights != CNNC_WEIGHTS_BYTES && m->c.graph->quantized) {
        /* an ONNX file's own scales quantize it without --quantize */
        diag_file_error(&m->c.ctx, m->c.graph->path,
                        "a quantized model stores its weights as bytes only: not as hex or a file");
        return -1;
    }
    eo.trace = opt && opt->trace;
    eo.weights = !opt ? WEIGHTS_BYTES : opt->weights == CNNC_WEIGHTS_HEX ? WEIGHTS_HEX
               : opt->weights == CNNC_WEIGHTS_FILE ? WEIGHTS_FILE : WEIGHTS_BYTES;
    emit_c(&m->c.ctx, m->c.graph, &eo, &m->out[0], &m->out[1]);
    buf_put(&m->out[0], "", 0);   /* api_give then allocates nothing: both or neither */
    buf_put(&m->out[1], "", 0);
    api_give(&m->out[0], c_text, c_len);
    api_give(&m->out[1], h_text, h_len);
    return 0;
}

int cnnc_emit_c(cnnc_model *m, const cnnc_emit_options *opt, char **c_text, size_t *c_len,
                char **h_text, size_t *h_len)
{
    if (!m || !c_text || !h_text)
        return -1;
    *c_text = *h_text = NULL;
    if (setjmp(*api_guard(m)) != 0)
        return api_out_of_memory(m);
    int rc = model_emit_c(m, opt, c_text, c_len, h_text, h_len);
    api_unguard(m);
    return rc;
}

int cnnc_emit_weights(cnnc_model *m, char **data, size_t *len)
{
    if (!m || !data)
        return -1;
    *data = NULL;
    if (setjmp(*api_guard(m)) != 0)
        return api_out_of_memory(m);
    int rc = -1;
    if (api_usable(m, "write the weights file")) {
        emit_weights_file(&m->c.ctx, m->c.graph, &m->out[0]);
        api_give(&m->out[0], data, len);
        rc = 0;
    }
    api_unguard(m);
    return rc;
}

void cnnc_free(void *p)
{
    free(p);
}

/* ---- shared with api_views.c ---- */

Compilation *api_usable(cnnc_model *m, const char *what)
{
    if (!m)
        return NULL;
    if (!m->usable) {
        diag_file_error(&m->c.ctx, NULL, "cannot %s: the model has errors", what);
        return NULL;
    }
    return &m->c;
}

void api_give(Buf *b, char **text, size_t *len)
{
    buf_put(b, "", 0);
    *text = b->data;
    if (len)
        *len = b->len;
    buf_init(b);
}

const Buf *api_pass_dump(const cnnc_model *m)
{
    return m ? &m->pass_dump : NULL;
}

/* ---- running ---- */

int cnnc_model_interp(const cnnc_model *m, const float *input, float *output)
{
    if (!m || !m->usable || !input || !output)
        return -1;
    return interp_run(m->c.graph, input, output);
}

int cnnc_has_jit(void)
{
    return jit_available();
}

cnnc_jit *cnnc_jit_new(cnnc_model *m)
{
    if (!api_usable(m, "JIT-compile"))
        return NULL;
    cnnc_jit *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    if (setjmp(*api_guard(m)) != 0) {
        api_out_of_memory(m);
        free(j);
        return NULL;
    }
    j->jit = jit_compile(&m->c.ctx, m->c.graph, m->tcc_dir);
    api_unguard(m);
    if (!j->jit) {
        free(j);
        return NULL;
    }
    return j;
}

int cnnc_jit_run(cnnc_jit *j, const float *input, float *output)
{
    if (!j || !input || !output)
        return -1;
    jit_run(j->jit, input, output);
    return 0;
}

void cnnc_jit_free(cnnc_jit *j)
{
    if (!j)
        return;
    jit_free(j->jit);
    free(j);
}

/* ---- dumps ---- */

/* The planned graph as ir_print writes it (--emit ir's text). */
static int dump_graph(const Graph *g, FILE *out)
{
    Buf b;
    buf_init(&b);
    ir_print(g, &b);
    int rc = fwrite(b.data, 1, b.len, out) == b.len ? 0 : -1;
    buf_free(&b);
    return rc;
}

int cnnc_model_dump(const cnnc_model *m, cnnc_dump_kind kind, FILE *out)
{
    if (!m || !out)
        return -1;
    if (kind == CNNC_DUMP_AST && m->c.model) {
        ast_dump(m->c.model, out);
        return 0;
    }
    if (kind == CNNC_DUMP_IR && m->usable)
        return dump_graph(m->c.graph, out);
    return -1;
}
