/* fuzz_cnn.c: harness for the .cnn front end and the C emitter.
 *
 * Input: any bytes, read as a model file. Runs parse, check, lower, bind
 * weights (random, or a fixture file), the passes and emit_c, as `cnnc
 * MODEL.cnn -o OUT.c` does. A crash, a sanitizer report, an internal error,
 * a malformed diagnostic, or an emitted file without its entry points is a
 * bug. Models with more than FUZZ_CNN_MAX_WEIGHTS parameters stop after
 * checking (binding and emitting them would only be slow).
 */
#include "fuzz.h"

enum { FUZZ_CNN_MAX_WEIGHTS = 1 << 16 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Compilation c;
    compilation_init(&c, NULL, NULL);
    FuzzCaps caps = { FUZZ_CNN_MAX_WEIGHTS, (int)(fuzz_hash(data, size) & 1), NULL };
    if (fuzz_compile(&c, data, size, &caps) == 0)
        fuzz_emit_check(&c);
    compilation_free(&c);
    return 0;
}
