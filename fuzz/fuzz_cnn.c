/* fuzz_cnn.c: harness for the .cnn front end and the C emitter.
 *
 * Input: any bytes, read as a model file. Runs parse, check, lower, bind
 * weights (random, or a fixture file), the passes and emit_c, as `cnnc
 * MODEL.cnn -o OUT.c` does. A crash, a sanitizer report, an internal error,
 * a malformed diagnostic, or an emitted file without its entry points is a
 * bug. Models with more than FUZZ_CNN_MAX_WEIGHTS parameters stop after
 * checking (binding and emitting them would only be slow).
 */
#include <string.h>

#include "fuzz.h"

enum { FUZZ_CNN_MAX_WEIGHTS = 1 << 16 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* The emitted pair must define <prefix>_run and _run_ws and declare them. */
static void check_emitted(const char *prefix, const Buf *c, const Buf *h)
{
    char want[160];
    snprintf(want, sizeof want, "void %s_run_ws(const float *input, float *output, void *arena)\n{",
             prefix);
    if (!c->data || !strstr(c->data, want))
        fuzz_fail("emitted C lacks '%s'", want);
    snprintf(want, sizeof want, "void %s_run(const float *input, float *output);", prefix);
    if (!h->data || !strstr(h->data, want))
        fuzz_fail("emitted header lacks '%s'", want);
    if (strlen(c->data) != c->len || strlen(h->data) != h->len)
        fuzz_fail("emitted C contains a NUL byte");
}

static void emit_and_check(Compilation *c)
{
    Buf cbuf, hbuf;
    buf_init(&cbuf);
    buf_init(&hbuf);
    EmitOptions eo = { c->graph->name, "fuzz.h", 0, 0 };
    emit_c(&c->ctx, c->graph, &eo, &cbuf, &hbuf);
    check_emitted(c->graph->name, &cbuf, &hbuf);
    buf_free(&cbuf);
    buf_free(&hbuf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Compilation c;
    compilation_init(&c, NULL, NULL);
    FuzzCaps caps = { FUZZ_CNN_MAX_WEIGHTS, (int)(fuzz_hash(data, size) & 1) };
    if (fuzz_compile(&c, data, size, &caps) == 0)
        emit_and_check(&c);
    compilation_free(&c);
    return 0;
}
