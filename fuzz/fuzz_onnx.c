/* fuzz_onnx.c: harness for the ONNX reader and importer.
 *
 * Input: any bytes, read as a .onnx file. Runs what `cnnc MODEL.onnx -o
 * OUT.c` runs (compiler/onnx/import.c's compilation_run_onnx), from memory: decode
 * the protobuf, translate it into .cnn text and in-memory weights, compile
 * that text through the normal pipeline (quantized to int8 with the file's
 * scales when it is a QDQ model, onnx/qdq.c), then emit C. A crash, a sanitizer
 * report, an internal error, a malformed diagnostic (checked against the
 * generated text for located ones), a graph past docs/limits.md or an
 * emitted file without its entry points is a bug.
 */
#include "fuzz.h"
#include "onnx/onnx.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* The translated text through the normal pipeline, weights from memory. */
static void compile_translated(Compilation *c, OnnxImport *imp, int no_opt)
{
    PassOptions opt = { no_opt, NULL };
    c->ctx.weights_mem = &imp->weights;
    c->qparams = imp->qparams;       /* a quantized (QDQ) file: int8, as the CLI does */
    c->nqparams = imp->nqparams;
    int rc = compilation_run_string(c, "fuzz.onnx (imported)", imp->text, "", &opt);
    c->ctx.weights_mem = NULL;
    if (rc == 0 && c->graph) {
        fuzz_check_graph(c->graph);
        fuzz_emit_check(c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Compilation c;
    compilation_init(&c, fuzz_diag_check, &c.src);
    OnnxModel m;
    OnnxImport imp;
    if (onnx_decode(&c.ctx, "fuzz.onnx", data, size, &m) == 0 &&
        onnx_translate(&c.ctx, "fuzz.onnx", &m, "fuzz", "fuzz.safetensors", &imp) == 0)
        compile_translated(&c, &imp, (int)(fuzz_hash(data, size) & 1));
    compilation_free(&c);
    return 0;
}
