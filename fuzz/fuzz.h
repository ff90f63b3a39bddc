/* fuzz.h: what the fuzz harnesses share (docs/robustness.md).
 *
 * Every harness defines LLVMFuzzerTestOneInput and LLVMFuzzerInitialize.
 * Built with -fsanitize=fuzzer they are libFuzzer targets; built with
 * fuzz_replay.c they are plain programs that feed saved inputs through the
 * same code, for ctest. A harness reports a bug by calling fuzz_fail(),
 * which aborts: libFuzzer and the replay driver both count that as a crash.
 */
#ifndef CNNC_FUZZ_H
#define CNNC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "driver.h"
#include "jit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A bug found: prints "fuzz: <message>" to stderr and aborts. */
_Noreturn void fuzz_fail(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* ---- fuzz_front.c: the CLI's compilation, made safe to fuzz ---- */

/* What a harness lets one input cost; inputs over a cap are skipped, not
 * failed: the caps keep runs fast, the limits themselves are cnnc's. */
typedef struct FuzzCaps {
    long long max_weights;     /* parameters to bind (floats) */
    int no_opt;                /* -O0: skip fusion */
    const QuantRequest *quant; /* quantize to int8 with these samples; NULL: float */
} FuzzCaps;

/* Compiles data (size bytes, any bytes) as a .cnn file, exactly as
 * compilation_run_file() does, except that a weights path is confined to
 * the fixtures directory (a plain file name, else a missing file) so no
 * input can make the harness open /dev/stdin or a host file. Diagnostics
 * are checked for well-formedness, and an accepted graph against
 * docs/limits.md (dimensions, elements, window arguments): fuzz_fail
 * otherwise. Returns 0 when c->graph is planned, -1 when the passes refused
 * it, FUZZ_REFUSED_EARLY when it was refused or skipped before the passes
 * (the same at any optimization level). */
enum { FUZZ_REFUSED_EARLY = -2 };
int fuzz_compile(Compilation *c, const uint8_t *data, size_t size, const FuzzCaps *caps);

/* The diagnostics callback fuzz_compile installs; user is the Source the
 * locations refer to. fuzz_fail on a malformed diagnostic. */
void fuzz_diag_check(void *user, const cnnc_diag *d);

/* Checks an accepted graph against docs/limits.md: ranks, dimensions,
 * elements, parameters, window arguments (fuzz_compile calls it). */
void fuzz_check_graph(const Graph *g);

/* Emits c->graph as C (prefix: the model's name) and checks that the pair
 * defines and declares <prefix>_run and _run_ws and holds no NUL byte. */
void fuzz_emit_check(Compilation *c);

/* Total parameters (floats) of a graph. */
long long fuzz_graph_weights(const Graph *g);

/* A deterministic 64-bit hash of the input, to seed random test data. */
unsigned long long fuzz_hash(const uint8_t *data, size_t size);

#endif
