/* api_views.c: the public API of cnnc.h's "views, budgets and the
 * self-test" section, over summary.c, ir_print.c, emit_dot.c, budget.c and
 * emit_test.c. Consumes a loaded cnnc_model (api.c); produces text in
 * malloc'd buffers the caller frees with cnnc_free, or diagnostics through
 * the model's callback. Like the rest of the API it never prints.
 */
#include <string.h>

#include "backend.h"
#include "driver.h"
#include "jit.h"


static int views_after_pass(Compilation *c, cnnc_model *m, Buf *b)
{
    const Buf *dump = api_pass_dump(m);
    if (!dump || dump->len == 0) {
        diag_file_error(&c->ctx, NULL, "no pass named by print_after ran (-O0 skips the optimizing passes)");
        return -1;
    }
    buf_put(b, dump->data, dump->len);
    return 0;
}

int cnnc_model_view(cnnc_model *m, cnnc_view_kind kind, char **text, size_t *len)
{
    if (!m || !text)
        return -1;
    *text = NULL;
    Compilation *c = api_usable(m, "print the model");
    if (!c)
        return -1;
    if (setjmp(*api_guard(m)) != 0)
        return api_out_of_memory(m);
    Buf *b = api_out(m, 0);
    int rc = 0;
    switch (kind) {
    case CNNC_VIEW_SUMMARY: summary_print(&c->ctx, c->graph, b); break;
    case CNNC_VIEW_IR: ir_print(c->graph, b); break;
    case CNNC_VIEW_DOT: emit_dot(c->graph, b); break;
    case CNNC_VIEW_AFTER_PASS: rc = views_after_pass(c, m, b); break;
    default: rc = -1; break;
    }
    if (rc == 0)
        api_give(b, text, len);
    api_unguard(m);
    return rc;
}

/* Budgets beyond LLONG_MAX bytes are no limit at all. */
static long long views_limit(unsigned long long bytes)
{
    return bytes > (unsigned long long)(~0ULL >> 1) ? 0 : (long long)bytes;
}

int cnnc_model_check_budget(cnnc_model *m, unsigned long long ram_bytes,
                            unsigned long long flash_bytes)
{
    if (!m)
        return -1;
    if (setjmp(*api_guard(m)) != 0)
        return api_out_of_memory(m);
    Compilation *c = api_usable(m, "check the budgets");
    int rc = c ? budget_check(&c->ctx, c->graph, views_limit(ram_bytes), views_limit(flash_bytes))
               : -1;
    api_unguard(m);
    return rc;
}

const char *cnnc_pass_name(int i)
{
    return pass_name(i);
}

const char *cnnc_target_name(int i, const char **summary)
{
    const Target *t = target_at(i);
    if (summary)
        *summary = t ? t->summary : NULL;
    return t ? t->name : NULL;
}

/* The names cnnc_emit_c uses for the same options. */
static int views_test_options(cnnc_model *m, const cnnc_emit_options *eo,
                              const cnnc_test_options *to, TestOptions *t)
{
    memset(t, 0, sizeof *t);
    if (api_emit_names(m, eo, &t->prefix, &t->header_name) != 0)
        return -1;
    t->vectors = to && to->vectors > 0 ? to->vectors : 3;
    t->seed = to ? to->seed : 0;
    t->model_c = to ? to->model_c : NULL;
    t->test_c = to ? to->test_c : NULL;
    return 0;
}

int cnnc_emit_test(cnnc_model *m, const cnnc_emit_options *eo, const cnnc_test_options *to,
                   char **text, size_t *len)
{
    if (!m || !text)
        return -1;
    *text = NULL;
    Compilation *c = api_usable(m, "write a self-test");
    TestOptions t;
    if (!c || views_test_options(m, eo, to, &t) != 0)
        return -1;
    if (setjmp(*api_guard(m)) != 0)
        return api_out_of_memory(m);
    Buf *b = api_out(m, 0);
    int rc = emit_test(&c->ctx, c->graph, &t, b);
    if (rc == 0)
        api_give(b, text, len);
    api_unguard(m);
    return rc;
}
