#!/usr/bin/python3
"""mcu_int8.py: instructions per multiply-accumulate of cnnc's int8 kernels
on a Cortex-M, under QEMU, against CMSIS-NN's figures (issue 15).

Consumes the built cnnc, arm-none-eabi-gcc (newlib-nano) and
qemu-system-arm. For each of the four anchor layers (a 3x3 conv 26x26x32
-> 64, a 1x1 conv 26x26x32 -> 64, a 3x3 depthwise conv 26x26x32 padded
'same', a dense 9216 -> 128) it writes in --work the one-layer .cnn model
(random weights), a calibration file (4 samples of N(0, 1), seed 1) and
an input, quantizes and builds the model with examples/firmware
(PROGRAM=int8_run, PROFILE=1) for the board, runs it in qemu-system-arm
-icount shift=0, and reads model_run_int8's time: only the layer's int8
op runs there (the input's quantize and the output's dequantize are
outside it), at 40 instructions per timer tick. Each build's outputs must
EQUAL `cnnc run --interp`'s, or the script fails. Prints one table:
instructions per MAC of the plain C loops (`--target generic`, the code
before the Cortex-M kernels), of the kernels' portable C (`--target
cortex-m -DCNNC_NO_DSP`) and of the DSP kernels (`--target cortex-m`),
next to CMSIS-NN's figure on the M4F.

    bench/mcu_int8.py --cnnc build/compiler/cnnc [--board mps2-an386|mps2-an500]
"""

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIRMWARE = os.path.join(ROOT, "examples", "firmware")
TICK_INSTRUCTIONS = 40   # 25 MHz timer, one instruction per ns (-icount shift=0)

# (name, input shape, layer statement, MACs, CMSIS-NN's instructions per
# MAC on the M4F as the author measured them)
LAYERS = [
    ("conv3x3", (32, 26, 26), "conv2d(filters=64, kernel=3)", 24 * 24 * 64 * 32 * 9, 1.86),
    ("conv1x1", (32, 26, 26), "conv2d(filters=64, kernel=1)", 26 * 26 * 64 * 32, 2.69),
    ("depthwise3x3", (32, 26, 26), "conv2d(filters=32, kernel=3, padding=same, groups=32)",
     26 * 26 * 32 * 9, 8.2),
    ("dense", (9216,), "dense(units=128)", 9216 * 128, 1.88),
]

# (column, cnnc flags, model object flags)
BUILDS = [
    ("plain C loops", ["--target", "generic"], ""),
    ("kernels, portable C", ["--target", "cortex-m"], "-DCNNC_NO_DSP"),
    ("kernels, DSP", ["--target", "cortex-m"], ""),
]


class FirmwareError(Exception):
    pass


def run(cmd, cwd=None, timeout=900):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise FirmwareError("%s: exit %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout[-3000:],
                                                   p.stderr[-3000:]))
    return p.stdout


def write_model(path, name, shape, layer, seed):
    with open(path, "w") as f:
        f.write("model %s {\n    input x[%s];\n    weights random(seed=%d);\n    y = %s;\n}\n"
                % (name, ", ".join(str(d) for d in shape), seed, layer))


def write_inputs_h(path, vectors):
    """BUILD/int8_inputs.h for examples/firmware/int8_run.c: the floats as
    their exact bit patterns."""
    lines = ["#define INT8_RUN_VECTORS %d" % len(vectors),
             "static const union { unsigned int u[%d]; float f[%d][%d]; } int8_run_bits = {{"
             % (sum(v.size for v in vectors), len(vectors), vectors[0].size)]
    words = np.concatenate([v.ravel() for v in vectors]).astype(np.float32).view(np.uint32)
    for i in range(0, len(words), 8):
        lines.append(" ".join("0x%08xu," % w for w in words[i:i + 8]))
    lines.append("}};")
    lines.append("#define int8_run_inputs (int8_run_bits.f)")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def parse_outputs(text, n_vectors, size):
    outs = []
    for v in range(n_vectors):
        m = re.search(r"^out %d:(.*?)(?=^out |^int8_run:)" % v, text, re.S | re.M)
        if not m:
            raise FirmwareError("no output %d in:\n%s" % (v, text[-2000:]))
        words = [int(w, 16) for w in m.group(1).split()]
        if len(words) != size:
            raise FirmwareError("output %d: %d values, want %d" % (v, len(words), size))
        outs.append(np.array(words, dtype=np.uint32).view(np.float32))
    return outs


def parse_ticks(text):
    m = re.search(r"^int8_run: model_run_int8 (\d+) ticks", text, re.M)
    if not m:
        raise FirmwareError("no model_run_int8 time in:\n%s" % text[-2000:])
    return int(m.group(1))


def interp_outputs(cnnc, model, cal, inputs, work):
    """`cnnc run --interp --quantize int8` on each input."""
    outs = []
    for k, x in enumerate(inputs):
        xp, yp = os.path.join(work, "x%d.npy" % k), os.path.join(work, "y%d.npy" % k)
        np.save(xp, x)
        run([cnnc, "run", model, "--input", xp, "--quantize", "int8", "--calibrate", cal,
             "--interp", "--output", yp])
        outs.append(np.load(yp).astype(np.float32).ravel())
    return outs


def firmware_run(cnnc, model, cal, inputs, build, board, cnnc_flags, model_cflags, profile=True):
    """Builds examples/firmware's int8_run for model and runs it in QEMU:
    (outputs, ticks of model_run_int8)."""
    if os.path.isdir(build):
        shutil.rmtree(build)
    os.makedirs(build)
    write_inputs_h(os.path.join(build, "int8_inputs.h"), inputs)
    flags = " ".join(["--quantize", "int8", "--calibrate", cal] + cnnc_flags)
    make = ["make", "-s", "-C", FIRMWARE, "CNNC=" + cnnc, "BUILD=" + build, "BOARD=" + board,
            "MODEL=" + model, "PROGRAM=int8_run", "CNNC_FLAGS=" + flags,
            "MODEL_CFLAGS=" + model_cflags] + (["PROFILE=1"] if profile else [])
    run(make + ["all"])
    text = run(make + ["run"])
    size = int(re.search(r"#define MODEL_OUTPUT_SIZE (\d+)",
                         open(os.path.join(build, "model.h")).read()).group(1))
    return parse_outputs(text, len(inputs), size), parse_ticks(text)


def require_equal(got, want, what):
    for k, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape or not np.array_equal(g.view(np.uint32), w.view(np.uint32)):
            d = np.abs(g.astype(np.float64) - w.astype(np.float64)).max() if g.shape == w.shape else None
            raise FirmwareError("%s: vector %d differs from the interpreter (max |diff| %s)" % (what, k, d))


def measure(args):
    rows = []
    for name, shape, layer, macs, cmsis in LAYERS:
        work = os.path.join(args.work, name)
        os.makedirs(work, exist_ok=True)
        model, cal = os.path.join(work, name + ".cnn"), os.path.join(work, "cal.npy")
        write_model(model, name, shape, layer, seed=7)
        rng = np.random.default_rng(1)
        np.save(cal, rng.standard_normal((4,) + shape).astype(np.float32))
        inputs = [rng.standard_normal(shape).astype(np.float32)]
        want = interp_outputs(args.cnnc, model, cal, inputs, work)
        per_mac = []
        for col, flags, cflags in BUILDS:
            build = os.path.join(work, "%s-%s" % (args.board, re.sub(r"\W+", "_", col)))
            outs, ticks = firmware_run(args.cnnc, model, cal, inputs, build, args.board, flags, cflags)
            require_equal(outs, want, "%s, %s" % (name, col))
            per_mac.append(ticks * TICK_INSTRUCTIONS / macs)
        rows.append((name, macs, per_mac, cmsis))
        print("%-13s done" % name, file=sys.stderr)
    return rows


def print_table(rows, board):
    print("instructions per MAC, %s, QEMU -icount shift=0 (model_run_int8 of a one-layer model)" % board)
    print("| layer | MACs | %s | CMSIS-NN (M4F) | DSP / CMSIS-NN |" % " | ".join(c for c, _, _ in BUILDS))
    print("|---|--:|%s--:|--:|" % ("--:|" * len(BUILDS)))
    for name, macs, per_mac, cmsis in rows:
        print("| %s | %s | %s | %.2f | %.2fx |" % (name, "{:,}".format(macs),
                                                   " | ".join("%.2f" % v for v in per_mac), cmsis,
                                                   per_mac[-1] / cmsis))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--board", default="mps2-an386", choices=["mps2-an386", "mps2-an500"])
    ap.add_argument("--work", default="build/bench-mcu-int8")
    args = ap.parse_args()
    args.cnnc = os.path.abspath(args.cnnc)
    args.work = os.path.abspath(args.work)
    try:
        rows = measure(args)
    except FirmwareError as e:
        print("mcu_int8: %s" % e, file=sys.stderr)
        return 1
    print_table(rows, args.board)
    return 0


if __name__ == "__main__":
    sys.exit(main())
