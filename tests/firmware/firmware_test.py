"""firmware_test: every model that fits, as real firmware on two emulated
Cortex-M boards, in float and int8 (`make firmware-test`; docs/firmware.md).

For each model, board (QEMU's mps2-an386, a Cortex-M4F, and mps2-an500, a
Cortex-M7) and precision (float; int8: cnnc --quantize int8, calibrated on
8 seeded samples uniform in [-1, 1), or for fashion the first 100 training
images of Debian's dataset-fashion-mnist) it builds examples/firmware with
BOARD=... PROGRAM=selftest PROFILE=1: cnnc writes model.c and the
--emit-test program, which arm-none-eabi-gcc -O2 links with startup.c, the
board's linker script, semihost.c, profile.c and newlib-nano's libm and
libc. On the Cortex-M4F board the model's arena goes to .noinit
(-DCNNC_ARENA_SECTION). It checks the ELF (an entry point at
Reset_Handler, a vector table whose first words are the stack top and
Reset_Handler, model_run in it, no double-precision helper called by the
self-test or the model on the single-precision M4F), runs it in
qemu-system-arm -icount shift=0 with a timeout, and requires exit status
0, "all 3 vectors passed", every max |diff| printed and within 1e-5 of the
largest expected output (0 for an int8 model whose self-test is exact: its
output is the dequantized int8 result, which must equal the host's int8
interpreter), model_run's measured stack <= model.h's MODEL_STACK_BYTES,
and a stack high-water mark below the stack's size. It prints, per model,
board and precision: flash (code, weights and .data's initial values), RAM
(.data, .bss, .noinit; the stack is apart), the stack from gcc
-fcallgraph-info (the deepest call chain below model_run, with the library
functions it calls, whose frames gcc cannot see), measured for model_run
(profile.c) and for the whole program, the header's bound, instructions
per inference (QEMU's icount through the board's 25 MHz timer: 40
instructions per tick, so +-40), instructions per multiply-accumulate
(cnnc --summary's MACs) and the largest |diff|.

A model listed in NOT_FITTING[precision] must fail to fit, with cnnc's
budget error or ld's region overflow, and is reported as such; any other
failure to fit is an error. Ends with "N passed, M failed"; exits 1 when
M > 0.

    firmware_test.py --cnnc build/compiler/cnnc --work /tmp/fw [--models a,b] [--boards b]
                     [--precisions float,int8] [--fashion-data DIR]
"""

import argparse
import concurrent.futures
import gzip
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time

SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIRMWARE = os.path.join(SOURCE, "examples", "firmware")

MODELS = {
    "tiny": "examples/tiny.cnn",
    "mlp": "examples/mlp.cnn",
    "resnet": "examples/resnet.cnn",
    "inception": "examples/inception.cnn",
    "vgg": "examples/vgg.cnn",
    "resnet8": "tests/firmware/resnet8.cnn",
    "dscnn": "tests/firmware/dscnn.cnn",
    "mobilenet_v1": "tests/firmware/mobilenet_v1.cnn",
    "autoencoder": "tests/firmware/autoencoder.cnn",
    "fashion": "examples/fashion.cnn",
}
# 4.8 MB of float weights in 4 MB of flash; its int8 weights (1.2 MB) fit.
NOT_FITTING = {"float": {"fashion"}, "int8": set()}
PRECISIONS = ["float", "int8"]
# int8 calibration (docs/quantization.md): CAL_RANDOM deterministic samples
# uniform in [-1, 1), the range of the self-test's inputs, for the models
# with random weights; the first CAL_FASHION training images of Debian's
# dataset-fashion-mnist for the trained fashion network (as the demo).
CAL_RANDOM = 8
CAL_FASHION = 100
FASHION_DATA = "/usr/share/datasets/fashion-mnist"

BOARDS = ["mps2-an386", "mps2-an500"]
FLASH_BYTES = 4 << 20
RAM_BYTES = 4 << 20
STACK_BYTES = 64 << 10          # boards/mps2.ld's default _stack_size
INSTRUCTIONS_PER_TICK = 40      # -icount shift=0: 1 ns each; the timer: 25 MHz
ARENA_SECTION = {"mps2-an386": ".noinit"}
QEMU_TIMEOUT = 300
TOLERANCE = 1e-5


class Failure(Exception):
    pass


def run(cmd, timeout=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout


def check(cond, what):
    if not cond:
        raise Failure(what)


def expected_outputs(selftest_c):
    """The interpreter's outputs, from the self-test's `expected` table."""
    text = open(selftest_c).read()
    m = re.search(r"\} expected = \{\{\n(.*?)\}\};", text, re.S)
    check(m, "selftest.c has an expected-outputs table")
    words = [int(v, 16) for v in re.findall(r"0x([0-9a-f]{8})", m.group(1))]
    return list(struct.unpack("<%df" % len(words), struct.pack("<%dI" % len(words), *words)))


def sections(elf):
    _, out = run(["arm-none-eabi-size", "-A", elf])
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)\s+\d+$", out, re.M)}


def symbols(elf):
    _, out = run(["arm-none-eabi-nm", elf])
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    return syms


def check_elf(elf, syms):
    """Not empty: an entry point, a vector table the core boots from."""
    _, out = run(["arm-none-eabi-readelf", "-h", elf])
    m = re.search(r"Entry point address:\s+0x([0-9a-f]+)", out)
    check(m and "Reset_Handler" in syms, "%s has an entry point and a Reset_Handler" % elf)
    entry = int(m.group(1), 16)
    check(entry & ~1 == syms["Reset_Handler"] & ~1, "the entry point is Reset_Handler")
    check("model_run" in syms and "main" in syms, "model_run and main are linked in")
    _, out = run(["arm-none-eabi-objdump", "-s", "-j", ".isr_vector", elf])
    words = re.search(r"^ 0000 ([0-9a-f]{8}) ([0-9a-f]{8})", out, re.M)
    check(words, "%s has a vector table at address 0" % elf)
    sp, reset = (struct.unpack("<I", bytes.fromhex(w))[0] for w in words.groups())
    check(sp == syms["_estack"] and reset == syms["Reset_Handler"] | 1,
          "vector table: initial SP 0x%x (_estack 0x%x), reset 0x%x" % (sp, syms["_estack"], reset))


def check_no_double(obj):
    """No software double-precision call in an object built for the M4F."""
    _, out = run(["arm-none-eabi-objdump", "-dr", obj])
    calls = sorted(set(re.findall(r"\b(__aeabi_d\w+|__aeabi_[fi]2d|__aeabi_[ul]?[il]2d)\b", out)))
    check(not calls, "%s calls no double-precision helper (found: %s)" % (os.path.basename(obj),
                                                                        " ".join(calls)))


def static_stack(ci_file, root="model_run"):
    """The deepest call chain from root in gcc's -fcallgraph-info=su
    output: (bytes, the library functions called below root, whose frames
    gcc does not know and the figure leaves out)."""
    text = open(ci_file).read()
    size, label = {}, {}
    for m in re.finditer(r'node: \{ title: "([^"]+)" label: "([^"]*)"', text):
        label[m.group(1)] = m.group(2)
        b = re.search(r"\\n(\d+) bytes \(([^)]*)\)", m.group(2))
        if b:
            size[m.group(1)] = int(b.group(1))
    edges = {}
    for m in re.finditer(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', text):
        edges.setdefault(m.group(1), set()).add(m.group(2))

    def deepest(node, seen):
        if node in seen:
            raise Failure("recursion through %s in %s" % (node, ci_file))
        best, ext = 0, set()
        for callee in edges.get(node, ()):
            if callee in size:
                b, e = deepest(callee, seen | {node})
            elif callee in label:       # a library function: no frame size
                b, e = 0, {label[callee].split("\\n")[0]}
            else:   # a static op or tile function that -fipa-icf merged
                    # into an identical one: as deep as the deepest other
                b, e = max(deepest(n, seen | {node}) for n in size
                           if n not in seen | {node, root} and re.search(r"(^|:)op\d+_", n))
            best, ext = max(best, b), ext | e
        return size[node] + best, ext

    check(root in size, "%s has %s with its frame size" % (ci_file, root))
    total, ext = deepest(root, set())
    return total, sorted(ext)


def write_npy(path, shape, values):
    """A little-endian float32 .npy (format 1.0), without numpy."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % \
        "".join("%d, " % n for n in shape)
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % len(values), *values))


def fashion_images(data, count):
    """The first count training images, as train.py normalizes them."""
    path = os.path.join(data, "train-images-idx3-ubyte.gz")
    if not os.path.exists(path):
        raise Failure("%s is missing (Debian: dataset-fashion-mnist; --fashion-data DIR)" % path)
    with gzip.open(path, "rb") as f:
        raw = f.read(16 + count * 784)
    # (float)pixel / 255.0f: one correctly rounded float32 division each
    return [struct.unpack("<f", struct.pack("<f", b / 255.0))[0] for b in raw[16:]]


def model_facts(args, model):
    """The input's shape and the multiply-accumulates of one inference, from
    cnnc --summary (conv2d and dense MACs, batchnorm one per element)."""
    _, out = run([args.cnnc, os.path.join(SOURCE, MODELS[model]), "--summary"])
    shape = re.search(r"^Input: \w+ \[([\d, ]+)\]$", out, re.M)
    macs = re.search(r"^Total MACs: +([\d,]+)", out, re.M)
    check(shape and macs, "cnnc --summary of %s gives its input and MACs:\n%s" % (model, out))
    return [int(n) for n in shape.group(1).split(",")], int(macs.group(1).replace(",", ""))


def calibration(args, model, shape, path):
    """CAL.npy for --quantize int8: real images for fashion, else samples."""
    size = 1
    for n in shape:
        size *= n
    if model == "fashion":
        write_npy(path, [CAL_FASHION] + shape, fashion_images(args.fashion_data, CAL_FASHION))
        return
    rng = random.Random(model)     # deterministic: seeded by the model's name
    write_npy(path, [CAL_RANDOM] + shape, [rng.uniform(-1.0, 1.0) for _ in range(CAL_RANDOM * size)])


def make_args(args, model, board, work, prec="float"):
    quant = " --quantize int8 --calibrate %s" % os.path.join(args.work, model + "-cal.npy") \
        if prec == "int8" else ""
    cmd = ["make", "-s", "-C", FIRMWARE, "BOARD=" + board, "PROGRAM=selftest", "PROFILE=1",
           "CNNC=" + os.path.abspath(args.cnnc), "MODEL=" + os.path.join(SOURCE, MODELS[model]),
           "BUILD=" + work, "TIMEOUT=%d" % QEMU_TIMEOUT,
           "CNNC_FLAGS=--target %s --flash-budget %d --ram-budget %d%s"
           % (args.target, FLASH_BYTES, RAM_BYTES - STACK_BYTES, quant)]
    if board in ARENA_SECTION:
        cmd.append("ARENA_SECTION=" + ARENA_SECTION[board])
    return cmd


def does_not_fit(out):
    m = re.search(r"error: (model '\w+' needs .*? over the \w+ budget[^;]*)", out) or \
        re.search(r"(region `\w+' overflowed by \d+ bytes)", out)
    return m.group(1) if m else None


def build(args, model, board, work, prec):
    """Builds the ELF; returns None, or why the model does not fit."""
    code, out = run(make_args(args, model, board, work, prec) + ["%s/selftest.elf" % work])
    if code != 0:
        why = does_not_fit(out)
        if why:
            return why
        raise Failure("build failed:\n" + out)
    return None


def parse_run(out, status):
    diffs = re.findall(r"^vector \d+: ok \(max \|diff\| (\S*)\)$", out, re.M)
    prof = re.findall(r"^profile: model_run (\d+) ticks, stack (\d+) bytes$", out, re.M)
    ticks = [int(t) for t, _ in prof]
    stack = re.search(r"^startup: stack high-water mark (\d+) of (\d+) bytes", out, re.M)
    check(status == 0, "exit status %d (0 wanted)" % status)
    check(re.search(r"^model: all 3 vectors passed$", out, re.M), "the self-test passes")
    check(len(diffs) == 3 and all(diffs), "three non-empty max |diff|: %s" % diffs)
    check(len(ticks) == 3 and min(ticks) > 0, "model_run timed three times: %s" % ticks)
    check(stack and int(stack.group(1)) < int(stack.group(2)), "the stack did not overflow")
    return [float(d) for d in diffs], max(ticks), int(stack.group(1)), max(int(b) for _, b in prof)


def header_stack_bytes(header):
    m = re.search(r"^#define MODEL_STACK_BYTES (\d+)", open(header).read(), re.M)
    check(m, "%s defines MODEL_STACK_BYTES" % header)
    return int(m.group(1))


def test_one(args, model, board, prec):
    work = os.path.join(args.work, "%s-%s-%s" % (model, board, prec))
    row = {"model": model, "board": board, "prec": prec}
    why = build(args, model, board, work, prec)
    if model in NOT_FITTING[prec]:
        check(why, "%s was expected not to fit in %s (update NOT_FITTING?)" % (model, prec))
        row["fits"] = why
        return row
    check(not why, "does not fit: %s" % why)
    elf = os.path.join(work, "selftest.elf")
    syms = symbols(elf)
    check_elf(elf, syms)
    if board == "mps2-an386":
        for obj in ("selftest.o", "model.o"):
            check_no_double(os.path.join(work, obj))
    sec = sections(elf)
    if board in ARENA_SECTION:
        lo = syms.get("model_arena", -1)
        _, out = run(["arm-none-eabi-objdump", "-t", elf])
        check(re.search(r"\s%s\s+[0-9a-f]+ (?:\.hidden )?model_arena$" % re.escape(ARENA_SECTION[board]),
                        out, re.M), "model_arena is in %s (0x%x)" % (ARENA_SECTION[board], lo))
    code, out = run(make_args(args, model, board, work, prec) + ["run"], timeout=QEMU_TIMEOUT + 30)
    try:
        diffs, ticks, stack, run_stack = parse_run(out, code)
    except Failure as e:
        raise Failure("%s\n%s" % (e, out))
    selftest = os.path.join(work, "selftest.c")
    want = max(abs(v) for v in expected_outputs(selftest))
    rel = max(diffs) / max(want, 1e-30)
    exact = "#define TOLERANCE 0.0f" in open(selftest).read()
    if exact:           # int8 results: equal to the host's int8 interpreter
        check(max(diffs) == 0, "int8: max |diff| %g, not 0" % max(diffs))
    check(rel <= TOLERANCE, "max |diff| %g is %.2g of max |expected| %g, over %g" %
          (max(diffs), rel, want, TOLERANCE))
    bound = header_stack_bytes(os.path.join(work, "model.h"))
    check(run_stack <= bound, "model_run used %d bytes of stack, over model.h's "
          "MODEL_STACK_BYTES %d" % (run_stack, bound))
    row.update(
        flash=sum(sec.get(s, 0) for s in (".isr_vector", ".text", ".rodata", ".ARM.exidx", ".data")),
        ram=sum(sec.get(s, 0) for s in (".data", ".bss", ".noinit")),
        stack_static=static_stack(os.path.join(work, "model.ci")), stack=stack,
        run_stack=run_stack, bound=bound, instructions=ticks * INSTRUCTIONS_PER_TICK,
        per_mac=ticks * INSTRUCTIONS_PER_TICK / max(args.macs[model], 1), diff=max(diffs))
    return row


HEADER = "%-13s %-11s %-5s %10s %9s %7s %6s %6s %9s %13s %7s %9s" % (
    "model", "board", "prec", "flash B", "RAM B", "stack", "run hw", "bound", "stack hw",
    "instr/run", "ins/MAC", "max|diff|")


def format_row(r):
    if "fits" in r:
        return "%-13s %-11s %-5s does not fit, as expected (%s weights): %s" % (
            r["model"], r["board"], r["prec"], r["prec"], r["fits"])
    static, ext = r["stack_static"]
    return "%-13s %-11s %-5s %10d %9d %7s %6d %6d %9d %13s %7.2f %9g" % (
        r["model"], r["board"], r["prec"], r["flash"], r["ram"],
        "%d%s" % (static, "+" if ext else ""), r["run_stack"], r["bound"], r["stack"],
        "{:,}".format(r["instructions"]), r["per_mac"], r["diff"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--precisions", default=",".join(PRECISIONS))
    ap.add_argument("--fashion-data", default=FASHION_DATA,
                    help="the Fashion-MNIST idx files (calibration of fashion in int8)")
    ap.add_argument("--target", default="cortex-m",
                    help="cnnc --target for the firmware (docs/targets.md)")
    args = ap.parse_args()
    # make -C runs in examples/firmware: a relative BUILD= would land there.
    args.work = os.path.abspath(args.work)
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "make"):
        if not shutil.which(tool):
            sys.exit("firmware_test: %s is missing (make firmware-test installs it)" % tool)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            sys.exit("firmware_test: unknown model %s (known: %s)" % (m, " ".join(MODELS)))
    precs = [p for p in args.precisions.split(",") if p]
    for p in precs:
        if p not in PRECISIONS:
            sys.exit("firmware_test: unknown precision %s (known: %s)" % (p, " ".join(PRECISIONS)))
    start = time.time()
    args.macs = {}
    for m in models:
        shape, args.macs[m] = model_facts(args, m)
        if "int8" in precs:
            calibration(args, m, shape, os.path.join(args.work, m + "-cal.npy"))
    # the slowest first (fashion's int8 calibration and emulation), so that
    # two workers finish together
    jobs = [(m, b, p) for p in precs for m in models for b in args.boards.split(",")]
    order = sorted(jobs, key=lambda j: -args.macs[j[0]])
    results, failed = {}, []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(test_one, args, m, b, p): (m, b, p) for m, b, p in order}
        for f in concurrent.futures.as_completed(futures):
            m, b, p = futures[f]
            try:
                results[(m, b, p)] = f.result()
            except Exception as e:      # any error fails its model, loudly
                failed.append((m, b, p))
                print("FAILED %s on %s (%s): %s" % (m, b, p, e), flush=True)
    print(HEADER)
    externals = set()
    for key in jobs:
        if key in results:
            print(format_row(results[key]))
            externals.update(results[key].get("stack_static", (0, []))[1])
    print("flash: code + weights + .data's values; RAM: .data + .bss + .noinit (the %d KB stack "
          "apart);\nstack: gcc -fcallgraph-info, deepest chain below model_run (+: and the frames of "
          "%s);\nrun hw: measured stack of model_run (profile.c), <= bound, model.h's "
          "MODEL_STACK_BYTES;\nstack hw: measured high-water mark of the whole self-test; instr/run: "
          "QEMU icount, +-%d;\nins/MAC: instr/run over the model's multiply-accumulates (cnnc "
          "--summary); int8: max|diff| 0 wanted." % (STACK_BYTES >> 10, ", ".join(sorted(externals))
                                                    or "library calls", INSTRUCTIONS_PER_TICK))
    print("firmware-test: %.0f s" % (time.time() - start))
    print("%d passed, %d failed" % (len(results), len(failed)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
