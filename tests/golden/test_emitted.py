"""Every example's (and tests/golden/mobile.cnn's, strided.cnn's,
residuals.cnn's, bigmaps.cnn's and winograd.cnn's) emitted C compiles without a warning
under the strict flags users build with, and runs clean under ASan+UBSan,
matching the interpreter (the models of tests/golden also with
-DCNNC_NO_AVX512 and -DCNNC_NO_SIMD: the next variant down, and the
portable code).

usage: test_emitted.py CNNC TCC WORKDIR [--cnnc-only]

--cnnc-only (the sanitizer tree): cnnc compiles each model to C and its
interpreter runs it; the C itself is not built (`make test` does that).
"""
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "examples"))

GCC_STRICT = ["gcc", "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Wconversion",
              "-Wshadow", "-Werror", "-c"]
# clang -Weverything with no exception: the emitted C needs none.
CLANG_EVERYTHING = ["clang", "-std=c99", "-Weverything", "-Werror", "-c"]
HARNESS = r"""
#include <stdio.h>
#include "model.h"
int main(int argc, char **argv) {
    static float in[MODEL_INPUT_SIZE], out[MODEL_OUTPUT_SIZE];
    FILE *f = fopen(argv[1], "rb");
    if (argc < 3 || !f || fread(in, sizeof(float), MODEL_INPUT_SIZE, f) != MODEL_INPUT_SIZE) return 2;
    fclose(f);
    model_run(in, out);
    f = fopen(argv[2], "wb");
    if (!f || fwrite(out, sizeof(float), MODEL_OUTPUT_SIZE, f) != MODEL_OUTPUT_SIZE) return 2;
    return fclose(f) != 0;
}
"""


def run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return f"{' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
    return None


def run_sanitized(d, name, defines):
    """The model's C under ASan + UBSan (with -D defines) against the interpreter."""
    exe = "san" + "".join(x.replace("-D", "_").lower() for x in defines)
    err = run(["gcc", "-std=c99", "-O1", "-g", "-ffp-contract=off", "-fsanitize=address,undefined",
               "-fno-sanitize-recover=all"] + defines + ["harness.c", "model.c", "-o", exe, "-lm"], d)
    if err:
        return err
    err = run(["./" + exe, "x.f32", "y.f32"], d)
    if err:
        return err
    got = np.fromfile(os.path.join(d, "y.f32"), dtype="<f4")
    ref = np.load(os.path.join(d, "ref.npy")).reshape(-1)
    rel = np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-30)
    if not rel <= 1e-5:
        return f"{name} {' '.join(defines)}: sanitized build differs from the interpreter, max rel err {rel}"
    return None


def check_example(cnnc, tcc, work, model, variants, cnnc_only=False):
    name = os.path.basename(model)[:-4]
    d = os.path.join(work, name)
    os.makedirs(d)
    errors = []
    err = run([cnnc, model, "-o", "model.c", "--name", "model"], d)
    if err:
        return [err]
    for cmd in () if cnnc_only else (GCC_STRICT + ["model.c", "-o", "gcc.o"],
                CLANG_EVERYTHING + ["model.c", "-o", "clang.o"],
                [tcc, "-Wall", "-Werror", "-c", "model.c", "-o", "tcc.o"]):
        err = run(cmd, d)
        if err:
            errors.append(err)
    with open(os.path.join(d, "harness.c"), "w") as f:
        f.write(HARNESS)
    x = np.random.default_rng(1).uniform(-1, 1, int(open(os.path.join(d, "model.h")).read()
                                                    .split("MODEL_INPUT_SIZE ")[1].split()[0]))
    x.astype("<f4").tofile(os.path.join(d, "x.f32"))
    np.save(os.path.join(d, "x.npy"), x.astype(np.float32))
    err = run([cnnc, "run", model, "--interp", "--input", "x.npy", "--output", "ref.npy"], d)
    if err:
        return errors + [err]
    for defines in [] if cnnc_only else variants:
        err = run_sanitized(d, name, defines)
        if err:
            errors.append(err)
    return errors


def main():
    cnnc, tcc, work = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    if sys.argv[4:] not in ([], ["--cnnc-only"]):
        print(__doc__, file=sys.stderr)
        return 2
    cnnc_only = sys.argv[4:] == ["--cnnc-only"]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    models = sorted(os.path.join(EXAMPLES, f) for f in os.listdir(EXAMPLES) if f.endswith(".cnn"))
    models.append(os.path.join(HERE, "mobile.cnn"))   # the mobile-CNN ops and blocks
    models.append(os.path.join(HERE, "strided.cnn"))  # the SIMD kernels' row ends
    models.append(os.path.join(HERE, "residuals.cnn"))  # adds fused into convs
    models.append(os.path.join(HERE, "bigmaps.cnn"))  # rows outside blocks of channels
    models.append(os.path.join(HERE, "winograd.cnn"))  # 3x3 convs as Winograd F(2x2, 3x3)
    failed = 0
    for model in models:
        # The machine's best variant; for the kernel tests also the next one
        # down (AVX2 where this machine has AVX-512) and the portable code.
        variants = [[]]
        if model.startswith(HERE):
            variants += [["-DCNNC_NO_AVX512"], ["-DCNNC_NO_SIMD"]]
        errors = check_example(cnnc, tcc, work, model, variants, cnnc_only)
        for e in errors:
            print("FAIL", os.path.basename(model), e)
        failed += bool(errors)
    print(f"emitted: {len(models) - failed} passed, {failed} failed")
    return 1 if failed or not models else 0


if __name__ == "__main__":
    sys.exit(main())
