"""Every example's (and tests/golden/mobile.cnn's, strided.cnn's,
residuals.cnn's, bigmaps.cnn's, winograd.cnn's and winograd_odd.cnn's)
emitted C compiles without a warning under the strict flags users build
with, and runs clean under ASan+UBSan, matching the interpreter (the models
of tests/golden also with -DCNNC_NO_AVX512 and -DCNNC_NO_SIMD: the next
variant down, and the portable code). The Winograd models' convs take the
kernel and read inside their inputs (check_winograd_windows).

usage: test_emitted.py CNNC TCC WORKDIR [--cnnc-only]

--cnnc-only (the sanitizer tree): cnnc compiles each model to C and its
interpreter runs it; the C itself is not built (`make test` does that).
"""
import os
import re
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


# The tests/golden models written for the Winograd kernel: how many of
# their convs must take it (their comments say which), and whether some of
# those have an odd output height and an odd output width.
WINOGRAD_MODELS = {"winograd.cnn": (4, False), "winograd_odd.cnn": (5, True)}
IR_TENSOR = re.compile(r"^\s+t(\d+)\s+\w+\s+\S+ \[([\d, ]+)\]", re.M)
IR_WINOGRAD = re.compile(r"^\s+op\d+\s+(\S+) = conv2d t(\d+)[^>]*-> t(\d+) .*variant=conv_winograd",
                         re.M)


def check_winograd_windows(cnnc, model, d):
    """Each Winograd conv (--emit ir) reads 4x4 windows, one per 2x2 tile of
    outputs, tiles over the map's edge included: they must lie inside the
    tensor it reads (pad.c gives an odd size's copy one more row or column).
    ASan cannot tell: a window past a padded copy reads other activations of
    the arena, and only ones past the arena's end are caught."""
    want, odd = WINOGRAD_MODELS[os.path.basename(model)]
    proc = subprocess.run([cnnc, model, "--emit", "ir"], cwd=d, capture_output=True, text=True,
                          timeout=600)
    shapes = {int(t): [int(v) for v in dims.split(",")]
              for t, dims in IR_TENSOR.findall(proc.stdout)}
    convs = IR_WINOGRAD.findall(proc.stdout)
    errors = [] if len(convs) == want else [
        f"{model}: {len(convs)} convs take the Winograd kernel, not {want}"]
    odd_h = odd_w = False
    for name, tin, tout in convs:
        (_, h, w), (_, oh, ow) = shapes[int(tin)], shapes[int(tout)]
        odd_h, odd_w = odd_h or oh % 2, odd_w or ow % 2
        if h < 2 * ((oh + 1) // 2) + 2 or w < 2 * ((ow + 1) // 2) + 2:
            errors.append(f"{model}: conv {name}'s {oh}x{ow} outputs read 4x4 windows "
                          f"past its {h}x{w} input")
    if odd and not (odd_h and odd_w):
        errors.append(f"{model}: no Winograd conv of odd output height and one of odd width")
    return errors


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
    if os.path.basename(model) in WINOGRAD_MODELS and model.startswith(HERE):
        errors += check_winograd_windows(cnnc, model, d)
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
    models.append(os.path.join(HERE, "winograd_odd.cnn"))  # ... of odd output sizes
    models.append(os.path.join(HERE, "depthwise.cnn"))  # depthwise, channels in the lanes
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
