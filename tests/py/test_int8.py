"""test_int8: --quantize int8: the emitted C and the JIT equal the int8 interpreter.

Consumes random models from genmodels.py (seeds 0..N-1, restricted to ops
with an int8 form: conv2d, dense, the pools, add, concat, flatten,
relu/relu6/clip, plus softmax, batchnorm, sigmoid, tanh that stay float
between dequantize and quantize; every 4th model also gets the mobile ops,
all float fallbacks) and every examples/*.cnn. For each: 8 calibration
samples (N(0,1) times the seed's scale, [N, ...input shape]; every 3rd
model flat [N, size]); `cnnc MODEL -o model.c --quantize int8 --calibrate
CAL.npy`, built with gcc -std=c99 -O2 and with tcc into cnnctest's harness
(input untouched, no writes outside the output, runs independent, run_ws
on an arena of exactly ARENA_BYTES) and into an int8 harness that feeds
<prefix>_run_int8 the input quantized with the header's INPUT_SCALE and
INPUT_ZERO_POINT and checks it against <prefix>_run; all outputs must EQUAL
`cnnc run --interp --quantize int8 --calibrate CAL.npy` (max |diff| 0, not
a tolerance), and so must `cnnc run` (the JIT). The examples and every 4th
random model also get `--emit-test`: the self-test program, built with gcc
(and -DCNNC_TRACE, the float layers' checksums), must pass its 3 vectors
with max |diff| 0 when the model ends in a dequantize (the int8 results
equal; a float tail such as softmax keeps the float self-test's 1e-4), and
must FAIL, naming tolerance 0, when one expected output is moved by one
float step. Also: the int8 Fashion-MNIST
network against its float self on 300 test images (calibrated on 100
training images), and every bad --quantize / --calibrate input: exit status,
exact message, no output file.

    test_int8.py --cnnc build/compiler/cnnc --count 40
"""

import gzip
import os
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnnctest  # noqa: E402
import cnnref  # noqa: E402
import genmodels  # noqa: E402

from cnnctest import ToolError  # noqa: E402

CAL_SAMPLES = 8
# Fashion-MNIST, int8 vs float on the same 300 test images: the top class
# must agree on at least 97% of them and the accuracy on the labels may not
# drop by more than 1.5 points. Why these bounds: per-tensor int8 keeps
# 255 steps of each activation's calibrated range, so the logits move by a
# few percent of their range; only images whose two best classes are that
# close can flip (measured: 299/300 agree, 0.3 points). A broken requant
# (wrong shift, zero point, bias scale) flips most images.
MIN_ARGMAX_AGREE = 0.97
MAX_ACCURACY_DROP = 0.015

INT8_HARNESS = r"""/* int8 harness: <prefix>_run_int8 on the input quantized as the header
 * says, against <prefix>_run. */
#include <stdio.h>
#include <string.h>
#include "%(header)s"

static float in[%(P)s_INPUT_SIZE], yf[%(P)s_OUTPUT_SIZE], yd[%(P)s_OUTPUT_SIZE];
static int8_t xq[%(P)s_INPUT_SIZE];
#if %(P)s_INT8_OUTPUT
static int8_t yq[%(P)s_OUTPUT_SIZE];
#endif

int main(int argc, char **argv)
{
    FILE *f;
    int i;
    if (argc != 2) return 2;
    f = fopen(argv[1], "rb");
    if (!f || fread(in, sizeof(float), %(P)s_INPUT_SIZE, f) != (size_t)%(P)s_INPUT_SIZE) return 2;
    fclose(f);
    %(p)s_run(in, yf);
    for (i = 0; i < %(P)s_INPUT_SIZE; i++) {   /* the quantize op's arithmetic */
        float v = in[i] / %(P)s_INPUT_SCALE;
        int q;
        v = v < 0.0f ? v - 0.5f : v + 0.5f;
        if (!(v > -256.0f)) v = -256.0f;
        if (v > 256.0f) v = 256.0f;
        q = (int)v + %(P)s_INPUT_ZERO_POINT;
        xq[i] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
    }
#if %(P)s_INT8_OUTPUT
    %(p)s_run_int8(xq, yq);
    for (i = 0; i < %(P)s_OUTPUT_SIZE; i++)
        yd[i] = (float)(yq[i] - %(P)s_OUTPUT_ZERO_POINT) * %(P)s_OUTPUT_SCALE;
#else
    %(p)s_run_int8(xq, yd);
#endif
    if (memcmp(yf, yd, sizeof yf) != 0) {
        fprintf(stderr, "run_int8 differs from run\n");
        return 8;
    }
    return 0;
}
"""


def int8_options(seed):
    o = genmodels.Options()
    o.fused = ["relu", "relu6", "relu", "clip", "sigmoid", "softmax"]
    o.acts = ("relu", "relu6", "clip", "relu", "tanh")
    o.mobile = seed % 4 == 0
    return o


def calibration(m, seed, flat):
    rng = np.random.default_rng(1000 + seed)
    scale = cnnctest.input_scale(seed)
    cal = (rng.standard_normal((CAL_SAMPLES,) + tuple(m.input_shape)) * scale).astype(np.float32)
    x = (rng.standard_normal(tuple(m.input_shape)) * scale).astype(np.float32)
    return (cal.reshape(CAL_SAMPLES, -1) if flat else cal), x


class Stats:
    def __init__(self):
        self.models = self.builds = self.int8_ops = self.selftests = self.exact_selftests = 0
        self.max_diff = 0.0


def quant_args(cal_path):
    return ["--quantize", "int8", "--calibrate", cal_path]


def check_int8_entry(d, facts, x):
    path = os.path.join(d, "int8_main.c")
    with open(path, "w") as f:
        f.write(INT8_HARNESS % {"header": "model.h", "P": facts["PREFIX"], "p": facts["prefix"]})
    exe = os.path.join(d, "int8_main")
    p = cnnctest.check_run(["gcc", "-std=c99", "-O1", "-ffp-contract=off", "-Wall", "-Wextra",
                            "-I", d, path, os.path.join(d, "model.c"), "-o", exe, "-lm"], timeout=300)
    if p.stderr.strip():
        raise ToolError("int8 harness warnings:\n" + p.stderr[:2000])
    xin = os.path.join(d, "int8.in")
    np.ascontiguousarray(x, dtype="<f4").tofile(xin)
    cnnctest.check_run([exe, xin])


def check_selftest(args, d, model_path, q, negative=False):
    """--emit-test on the quantized model: built with gcc (traced), it passes
    exactly; with one expected value moved by an ulp it fails (negative)."""
    out_c, test_c = os.path.join(d, "st.c"), os.path.join(d, "st_test.c")
    cnnctest.check_run([args.cnnc, model_path, "-o", out_c, "--name", "st", "--emit-test", test_c] + q)
    text = open(test_c).read()
    exact = "#define TOLERANCE 0.0f" in text
    exe = os.path.join(d, "st_test")
    cnnctest.check_run([args.gcc, "-std=c99", "-O1", "-ffp-contract=off", "-DCNNC_TRACE", "-Wall",
                        "-Wextra", "-I", d, test_c, out_c, "-o", exe, "-lm"], timeout=300)
    p = cnnctest.check_run([exe])
    diffs = re.findall(r"^vector \d: ok \(max \|diff\| (\S+)\)$", p.stdout, re.M)
    if len(diffs) != 3 or "st: all 3 vectors passed" not in p.stdout:
        raise ToolError("self-test did not pass:\n" + p.stdout[:2000])
    if exact and diffs != ["0", "0", "0"]:
        raise ToolError("exact self-test with max |diff| %s" % diffs)
    if not negative:
        return exact
    for flags in ([], ["-DCNNC_TRACE"]):     # warning-free, as the float self-test
        cnnctest.check_run(["clang", "-std=c99", "-Weverything", "-Werror", "-c", test_c, "-o",
                            os.path.join(d, "st_test.o")] + flags)
    if not exact:
        raise ToolError("%s: expected an exact (int8-output) self-test" % model_path)
    m = re.search(r"\} expected = \{\{\n0x([0-9a-f]{8})", text)
    bad = text[:m.start(1)] + "%08x" % (int(m.group(1), 16) ^ 1) + text[m.end(1):]
    with open(test_c, "w") as f:
        f.write(bad)
    cnnctest.check_run([args.gcc, "-std=c99", "-O1", "-ffp-contract=off", "-I", d, test_c, out_c,
                        "-o", exe, "-lm"], timeout=300)
    p = cnnctest.run([exe])
    if p.returncode != 1 or not re.search(r"^vector 0: FAILED: output\[0\] = \S+, expected \S+ "
                                          r"\(tolerance 0, int8\)$", p.stdout, re.M):
        raise ToolError("a one-ulp change did not fail the exact self-test:\n" + p.stdout[:2000])
    return exact


def check_model(args, d, model_path, m, seed, stats, flat=False, opt_flags=("-O2",), selftest=False):
    """One model: compile quantized, build gcc and tcc, run, compare exactly."""
    cal, x = calibration(m, seed, flat)
    cal_path = os.path.join(d, "cal.npy")
    cnnref.write_npy(cal_path, cal)
    q = quant_args(cal_path)
    xin = os.path.join(d, "x.npy")
    cnnref.write_npy(xin, x)
    yref = os.path.join(d, "interp.npy")
    cnnctest.check_run([args.cnnc, "run", model_path, "--interp", "--input", xin, "--output", yref] + q)
    ref = cnnref.read_npy(yref).reshape(-1)
    facts = cnnctest.compile_model(args.cnnc, model_path, d, extra=q)
    with open(os.path.join(d, "model.h")) as f:
        if "_QUANTIZED 1" not in f.read():
            raise ToolError("model.h does not say _QUANTIZED 1")
    with open(os.path.join(d, "model.c")) as f:
        stats.int8_ops += len(re.findall(r"^static void op\d+_\w*_q(?:conv|dense|maxpool|avgpool|"
                                         r"global_avgpool|add|concat|flatten|clamp)", f.read(), re.M))
    problems = []
    got = {"jit": cnnctest.jit(args.cnnc, model_path, x, d, extra=q).reshape(-1)}
    for exe, cc, flags in (("gcc", args.gcc, ["-std=c99", "-ffp-contract=off", "-Wall", "-Wextra",
                                              "-pedantic"] + list(opt_flags)),
                           ("tcc", args.tcc, cnnctest.TCC_FLAGS)):
        warnings = cnnctest.build(cc, flags, d, facts, exe)
        if warnings:
            problems.append("%s warnings:\n%s" % (exe, warnings[:2000]))
        got[exe] = cnnctest.run_built(d, exe, x)
        stats.builds += 1
    for name, y in got.items():
        if y.shape != ref.shape or not np.array_equal(y, ref):
            diff = np.max(np.abs(y - ref)) if y.shape == ref.shape else float("inf")
            problems.append("%s differs from the int8 interpreter: max |diff| %g" % (name, diff))
        else:
            stats.max_diff = max(stats.max_diff, float(np.max(np.abs(y - ref))) if y.size else 0.0)
    check_int8_entry(d, facts, x)
    if selftest:
        stats.selftests += 1
        stats.exact_selftests += check_selftest(args, d, model_path, q,
                                                negative=os.path.basename(model_path) == "tiny.cnn")
    stats.models += 1
    if problems:
        raise ToolError("\n".join(problems))


def case_random(args, stats):
    failed = 0
    for seed in range(args.count):
        d = cnnctest.fresh_dir(os.path.join(args.work, "g%d" % seed))
        text = genmodels.generate(seed, int8_options(seed))
        try:
            path, m, _ = cnnctest.prepare(text, d, seed)
            check_model(args, d, path, m, seed, stats, flat=seed % 3 == 2, selftest=seed % 4 == 1)
        except ToolError as e:
            failed += 1
            print("FAIL seed %d:\n%s\n--- model ---\n%s" % (seed, e, text))
    return failed


def case_examples(args, stats):
    failed = 0
    for i, path in enumerate(sorted(os.listdir(args.examples))):
        if not path.endswith(".cnn"):
            continue
        d = cnnctest.fresh_dir(os.path.join(args.work, "ex_" + path[:-4]))
        model_path = os.path.join(args.examples, path)
        try:
            m = cnnref.parse(open(model_path).read())
            check_model(args, d, model_path, m, 100 + i, stats, opt_flags=("-O1",), selftest=True)
            print("PASS example %s" % path)
        except ToolError as e:
            failed += 1
            print("FAIL example %s: %s" % (path, e))
    return failed


# ------------------------------------------------------------ Fashion-MNIST

FASHION_MAIN = r"""#include <stdio.h>
#include "fq.h"
#include "ff.h"
static float x[FQ_INPUT_SIZE], yq[FQ_OUTPUT_SIZE], yf[FF_OUTPUT_SIZE];
int main(int argc, char **argv)
{
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
    (void)argc;
    while (fread(x, sizeof x, 1, in) == 1) {
        fq_run(x, yq);
        ff_run(x, yf);
        fwrite(yq, sizeof yq, 1, out);
        fwrite(yf, sizeof yf, 1, out);
    }
    return fclose(out) != 0;
}
"""


def idx_images(path, first, count):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, h, w = (int.from_bytes(data[k:k + 4], "big") for k in (4, 8, 12))
    img = np.frombuffer(data, np.uint8, count * h * w, 16 + first * h * w)
    return (img.reshape(count, 1, h, w).astype(np.float32) / 255.0)


def idx_labels(path, first, count):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, np.uint8, count, 8 + first)


def case_fashion(args, stats):
    d = cnnctest.fresh_dir(os.path.join(args.work, "fashion"))
    model = os.path.join(args.examples, "fashion.cnn")
    cal = idx_images(os.path.join(args.fashion_data, "train-images-idx3-ubyte.gz"), 0, 100)
    x = idx_images(os.path.join(args.fashion_data, "t10k-images-idx3-ubyte.gz"), 0, 300)
    labels = idx_labels(os.path.join(args.fashion_data, "t10k-labels-idx1-ubyte.gz"), 0, 300)
    cal_path = os.path.join(d, "cal.npy")
    cnnref.write_npy(cal_path, cal)
    cnnctest.check_run([args.cnnc, model, "-o", os.path.join(d, "fq.c"), "--name", "fq"] +
                       quant_args(cal_path))
    cnnctest.check_run([args.cnnc, model, "-o", os.path.join(d, "ff.c"), "--name", "ff"])
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write(FASHION_MAIN)
    exe = os.path.join(d, "fashion")
    cnnctest.check_run([args.gcc, "-std=c99", "-O1", "-ffp-contract=off", "-I", d,
                        os.path.join(d, "main.c"), os.path.join(d, "fq.c"),
                        os.path.join(d, "ff.c"), "-o", exe, "-lm"], timeout=300)
    xin = os.path.join(d, "x.f32")
    np.ascontiguousarray(x, dtype="<f4").tofile(xin)
    cnnctest.check_run([exe, xin, os.path.join(d, "y.f32")])
    y = np.fromfile(os.path.join(d, "y.f32"), dtype="<f4").reshape(len(x), 2, 10)
    pq, pf = y[:, 0].argmax(1), y[:, 1].argmax(1)
    agree = float(np.mean(pq == pf))
    acc_q, acc_f = float(np.mean(pq == labels)), float(np.mean(pf == labels))
    print("fashion int8 vs float on %d test images: top class agrees on %.1f%%, accuracy "
          "int8 %.2f%% float %.2f%%, max |prob diff| %.4f"
          % (len(x), 100 * agree, 100 * acc_q, 100 * acc_f, float(np.max(np.abs(y[:, 0] - y[:, 1])))))
    if agree < MIN_ARGMAX_AGREE or acc_q < acc_f - MAX_ACCURACY_DROP:
        raise ToolError("int8 fashion strays from float: agree %.3f (min %.2f), accuracy %.4f "
                        "vs %.4f" % (agree, MIN_ARGMAX_AGREE, acc_q, acc_f))
    return 0


# ------------------------------------------------------------ errors

def expect_error(args, d, argv, status, message):
    out_c = os.path.join(d, "bad.c")
    p = cnnctest.run([args.cnnc] + argv)
    if p.returncode != status or message not in p.stderr:
        raise ToolError("%s: exit %d, stderr %r; expected exit %d and %r"
                        % (" ".join(argv), p.returncode, p.stderr, status, message))
    for f in (out_c, out_c[:-2] + ".h", os.path.join(d, "bad_test.c")):
        if os.path.exists(f):
            raise ToolError("%s left %s behind" % (" ".join(argv), f))


def case_errors(args, stats):
    d = cnnctest.fresh_dir(os.path.join(args.work, "errors"))
    model = os.path.join(args.examples, "tiny.cnn")      # input x[3, 8, 8]
    out = ["-o", os.path.join(d, "bad.c")]

    def cal(name, arr):
        p = os.path.join(d, name)
        cnnref.write_npy(p, np.asarray(arr, dtype=np.float32))
        return p

    good = cal("good.npy", np.zeros((2, 3, 8, 8)))
    nan = np.zeros((3, 3, 8, 8))
    nan[1, 0, 2, 5] = np.nan
    inf = np.zeros((3, 192))
    inf[2, 7] = -np.inf
    garbage = os.path.join(d, "garbage.npy")
    with open(garbage, "w") as f:
        f.write("not numpy\n")
    missing = os.path.join(d, "missing.npy")
    batched = os.path.join(d, "batched.cnn")
    with open(batched, "w") as f:
        f.write("model b {\n    input x[2, 3, 8, 8];\n    weights random(seed=1);\n"
                "    conv2d(filters=4, kernel=3);\n}\n")
    test_c = ["--emit-test", os.path.join(d, "bad_test.c")]
    cases = [
        ([batched] + out + quant_args(good), 1,
         batched + ": error: --quantize: a model with a batch cannot be quantized"),
        ([batched] + out + test_c + quant_args(good), 1,
         batched + ": error: --quantize: a model with a batch cannot be quantized"),
        ([model] + out + test_c + quant_args(good) + ["--weights", "file"], 2,
         "cnnc: --quantize int8 stores weights as bytes only: not with --weights hex or file"),
        ([model] + out + quant_args(missing), 1,
         missing + ": error: cannot read the calibration data: cannot open: No such file or directory"),
        ([model] + out + quant_args(garbage), 1,
         garbage + ": error: cannot read the calibration data: not a .npy file (bad magic)"),
        ([model] + out + quant_args(cal("shape.npy", np.zeros((4, 3, 8, 7)))), 1,
         "shape.npy: error: calibration data shape [4, 3, 8, 7] does not match the input 'x': "
         "want [N, 3, 8, 8] or [N, 192]"),
        ([model] + out + quant_args(cal("flat.npy", np.zeros((4, 191)))), 1,
         "flat.npy: error: calibration data shape [4, 191] does not match the input 'x'"),
        ([model] + out + quant_args(cal("one.npy", np.zeros((3, 8, 8)))), 1,
         "one.npy: error: calibration data shape [3, 8, 8] does not match the input 'x'"),
        ([model] + out + quant_args(cal("nan.npy", nan)), 1,
         "nan.npy: error: calibration sample 1 holds NaN at element 21"),
        ([model] + out + quant_args(cal("inf.npy", inf)), 1,
         "inf.npy: error: calibration sample 2 holds an infinity at element 7"),
        ([model] + out + quant_args(cal("empty.npy", np.zeros((0, 3, 8, 8)))), 1,
         "empty.npy: error: calibration data holds no samples (shape [0, 3, 8, 8])"),
        (["run", model, "--input", "random"] + quant_args(cal("empty2.npy", np.zeros((0, 192)))), 1,
         "empty2.npy: error: calibration data holds no samples (shape [0, 192])"),
        ([model] + out + ["--quantize", "int8"], 2,
         "cnnc: --quantize int8 needs --calibrate CAL.npy (input samples)"),
        (["run", model, "--input", "random", "--quantize", "int8"], 2,
         "cnnc: --quantize int8 needs --calibrate CAL.npy (input samples)"),
        ([model] + out + ["--quantize", "int4", "--calibrate", good], 2,
         "cnnc: --quantize takes int8, not 'int4'"),
        ([model] + out + ["--calibrate", good], 2, "cnnc: --calibrate needs --quantize int8"),
        ([model] + out + quant_args(good) + ["--weights", "hex"], 2,
         "cnnc: --quantize int8 stores weights as bytes only: not with --weights hex or file"),
    ]
    failed = 0
    for argv, status, message in cases:
        try:
            expect_error(args, d, argv, status, message)
        except ToolError as e:
            failed += 1
            print("FAIL", e)
    return failed


def main():
    ap = cnnctest.arg_parser(__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=40, help="random models")
    ap.add_argument("--fashion-data", default=None,
                    help="Fashion-MNIST idx directory (CMake passes it when it exists); "
                         "without it the int8-vs-float check on trained weights is not run")
    args = ap.parse_args()
    cnnctest.require_tools(args)
    args.work = cnnctest.fresh_dir(args.workdir)
    stats = Stats()
    failed = 0
    t0 = time.time()
    cases = [case_errors, case_random, case_examples]
    if args.fashion_data:
        cases.append(case_fashion)
    else:
        print("NOTE: no --fashion-data: the Fashion-MNIST agreement check was not run")
    for case in cases:
        try:
            n = case(args, stats)
        except ToolError as e:
            n = 1
            print("FAIL %s: %s" % (case.__name__, e))
        print("%s %s (%.1f s)" % ("PASS" if n == 0 else "FAIL", case.__name__, time.time() - t0))
        failed += n
    print("int8: %d models (%d int8 op functions), %d builds, max |C - interp| = %g, "
          "%d self-tests (%d exact), %d failed"
          % (stats.models, stats.int8_ops, stats.builds, stats.max_diff, stats.selftests,
             stats.exact_selftests, failed))
    return 1 if failed or stats.models == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
