#!/usr/bin/python3
"""int8_kernels: the Cortex-M int8 kernels (--target cortex-m --quantize
int8; docs/quantization.md) EQUAL the int8 interpreter, on the M4F with
the DSP extension and in portable C.

Consumes the built cnnc, gcc and tcc (the host's portable path),
arm-none-eabi-gcc with newlib-nano and qemu-system-arm (the firmware's,
through examples/firmware's PROGRAM=int8_run and bench/mcu_int8.py's
driver). Models: MODELS below, written here with random weights, each
with a seeded calibration file (8 samples) and two seeded inputs; they
cover every kernel and its edges: convs 3x3 padded, strided, dilated,
asymmetric, grouped, an odd number of channels and of pixels, taps not a
multiple of 4, no bias; depthwise 3x3 dilated, 5x5 strided, padded;
1x1 convs; dense layers whose inputs and units are not multiples of 4;
relu, relu6 and clip clamps. For each model, every output bit pattern of
`model_run` must equal `cnnc run --interp`'s, built as
  - firmware for mps2-an386 (Cortex-M4F, DSP: ACLE SXTB16/SMLAD), run in
    QEMU;
  - the same with -DCNNC_NO_DSP (the kernels' portable C on the M4F);
  - the host: gcc -std=c99 -O2 and tcc (portable C).
Each cortex-m file must hold the kernels (CNNC_SMLAD), so the test cannot
pass on the plain loops. Also: the kernels' requantization
cnnc_q_mul_fast equals cnnc_q_mul on edge and random inputs (host gcc).

    int8_kernels.py --cnnc build/compiler/cnnc [--work DIR]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import mcu_int8  # noqa: E402

MODELS = {
    "convs": ("[5, 11, 9]", """
    c1 = conv2d(filters=7, kernel=3, padding=same, activation=relu);
    c2 = conv2d(filters=6, kernel=[2, 3], stride=[1, 2], padding=1);
    c3 = conv2d(filters=9, kernel=3, dilation=2, padding=2, activation=relu6);
    c4 = conv2d(filters=6, kernel=3, stride=2, groups=3, bias=false);
    c5 = conv2d(filters=5, kernel=1);
"""),
    "mobile": ("[3, 17, 15]", """
    c1 = conv2d(filters=8, kernel=3, stride=2, padding=1, activation=relu);
    d1 = conv2d(filters=8, kernel=3, padding=2, dilation=2, groups=8, activation=relu6);
    p1 = conv2d(filters=12, kernel=1, activation=relu);
    d2 = conv2d(filters=12, kernel=5, stride=2, padding=2, groups=12);
    d3 = conv2d(filters=12, kernel=3, groups=12, bias=false);
    p2 = conv2d(filters=16, kernel=1, activation=relu);
    flatten;
    fc = dense(units=10);
"""),
    "mlp": ("[77]", """
    f1 = dense(units=33, activation=relu);
    f2 = dense(units=12, bias=false);
    f3 = dense(units=7);
    clip(min=-0.5, max=0.5);
"""),
}

HOST_HARNESS = r"""#include <stdio.h>
#include "model.h"
static float x[MODEL_INPUT_SIZE], y[MODEL_OUTPUT_SIZE];
int main(void)
{
    while (fread(x, sizeof x, 1, stdin) == 1) {
        model_run(x, y);
        if (fwrite(y, sizeof y, 1, stdout) != 1)
            return 2;
    }
    return 0;
}
"""

REQUANT_CHECK = r"""#include <stdio.h>
#include "model.c"
/* cnnc_q_mul_fast against cnnc_q_mul: every shift, edge and random x, m. */
int main(void)
{
    static const int32_t xs[] = { INT32_MIN, INT32_MIN + 1, -1073741824, -65536, -3, -2, -1, 0, 1, 2,
                                  3, 65535, 1073741823, INT32_MAX - 1, INT32_MAX };
    static const int32_t ms[] = { 0, 1, 1073741824, 1073741825, 1518500250, 2147483646, INT32_MAX };
    unsigned long long r = 88172645463325252ULL, n = 0;
    for (int32_t s = -31; s <= 3; s++)
        for (int k = 0; k < 20000; k++) {
            int32_t x, m;
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            x = k < 15 * 7 ? xs[k % 15] : (int32_t)(uint32_t)r;
            m = k < 15 * 7 ? ms[k / 15] : (int32_t)(1073741824u + (uint32_t)(r >> 33) % 1073741824u);
            if (cnnc_q_mul_fast(x, m, s) != cnnc_q_mul(x, m, s)) {
                printf("differs at x=%ld m=%ld s=%ld\n", (long)x, (long)m, (long)s);
                return 1;
            }
            n++;
        }
    printf("requant: %llu cases equal\n", n);
    return 0;
}
"""


class TestError(Exception):
    pass


def run(cmd, stdin=None, cwd=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, cwd=cwd, timeout=600)
    if p.returncode != 0:
        raise TestError("%s: exit %d\n%s" % (" ".join(cmd), p.returncode,
                                               (p.stdout + p.stderr).decode(errors="replace")[-3000:]))
    return p.stdout


def write_model(path, name, shape, body):
    with open(path, "w") as f:
        f.write("model %s {\n    input x%s;\n    weights random(seed=5);\n%s}\n" % (name, shape, body))


def host_outputs(cc, work, model_c, inputs, out_size):
    exe = os.path.join(work, "host_" + os.path.basename(cc))
    harness = os.path.join(work, "host.c")
    with open(harness, "w") as f:
        f.write(HOST_HARNESS)
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"] if cc == "gcc" else []
    run([cc] + flags + ["-I", work, "-o", exe, harness, model_c, "-lm"])
    raw = run([exe], stdin=b"".join(x.astype(np.float32).tobytes() for x in inputs))
    y = np.frombuffer(raw, dtype=np.float32)
    if y.size != out_size * len(inputs):
        raise TestError("%s: %d output values, want %d" % (exe, y.size, out_size * len(inputs)))
    return [y[k * out_size:(k + 1) * out_size] for k in range(len(inputs))]


def check_model(cnnc, work, name, shape, body, seed):
    os.makedirs(work)
    model, cal = os.path.join(work, name + ".cnn"), os.path.join(work, "cal.npy")
    write_model(model, name, shape, body)
    dims = tuple(int(d) for d in shape.strip("[]").split(","))
    rng = np.random.default_rng(seed)
    np.save(cal, (rng.standard_normal((8,) + dims) * 2).astype(np.float32))
    inputs = [(rng.standard_normal(dims) * 2).astype(np.float32) for _ in range(2)]
    want = mcu_int8.interp_outputs(cnnc, model, cal, inputs, work)
    model_c = os.path.join(work, "model.c")
    run([cnnc, model, "-o", model_c, "--name", "model", "--target", "cortex-m", "--quantize", "int8",
         "--calibrate", cal])
    if "CNNC_SMLAD" not in open(model_c).read():
        raise TestError("%s: the cortex-m file holds no int8 kernel" % name)
    for cc in ("gcc", "tcc"):
        mcu_int8.require_equal(host_outputs(cc, work, model_c, inputs, want[0].size), want,
                               "%s, host %s" % (name, cc))
    for what, cflags in (("M4F DSP", ""), ("M4F portable", "-DCNNC_NO_DSP")):
        build = os.path.join(work, "fw" + ("_nodsp" if cflags else ""))
        outs, _ = mcu_int8.firmware_run(cnnc, model, cal, inputs, build, "mps2-an386",
                                        ["--target", "cortex-m"], cflags, profile=False)
        mcu_int8.require_equal(outs, want, "%s, %s" % (name, what))
    print("%-8s equal: host gcc, tcc; M4F DSP, portable (%d outputs x %d vectors)"
          % (name, want[0].size, len(inputs)))
    return model_c


def check_requant(work, model_c):
    exe = os.path.join(work, "requant")
    src = os.path.join(work, "requant.c")
    with open(src, "w") as f:
        f.write(REQUANT_CHECK)
    run(["gcc", "-std=c99", "-O2", "-I", os.path.dirname(model_c), "-o", exe, src, "-lm"])
    print(run([exe]).decode().strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--work", help="keep the files here (default: a temporary directory)")
    args = ap.parse_args()
    cnnc = os.path.abspath(args.cnnc)
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="int8_kernels_")
    try:
        if os.path.isdir(work) and args.work:
            shutil.rmtree(work)
        model_c = None
        for k, (name, (shape, body)) in enumerate(MODELS.items()):
            model_c = check_model(cnnc, os.path.join(work, name), name, shape, body, 100 + k)
        check_requant(os.path.join(work, "convs"), os.path.join(work, "convs", "model.c"))
    except (TestError, mcu_int8.FirmwareError) as e:
        print("int8_kernels: FAIL: %s" % e, file=sys.stderr)
        return 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print("int8_kernels: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
