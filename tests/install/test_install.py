"""test_install: cnnc as users meet it (label `install`), one part per ctest.

  app       configure and build cnnc from source with CMAKE_INSTALL_PREFIX in
            a scratch directory, `cmake --install`; check the installed
            files; build examples/app against that prefix with
            find_package(cnnc) + cnnc_add_model; run `classify` and the
            self-test through the app's ctest; change the weights file and
            see cnnc run again; build an embedding program from cnnc.h and
            libcnnc through cnnc::libcnnc and through cnnc.pc's flags.
  firmware  examples/firmware's Makefile: freestanding -Os objects, linked
            with -nostdlib and only libm + libgcc; sizes; undefined symbols
            of the model's object all in libm or libgcc; the ELF runs (x86-64
            Linux) and returns PyTorch's class.
  selftest  --emit-test: the program built by gcc and tcc, with and without
            -DCNNC_TRACE, passes; its inputs are SplitMix64's and its
            expected outputs PyTorch's; one weight broken on purpose makes
            the trace name conv2 as the divergent layer.
  views     --summary of examples/fashion.cnn against numbers computed here
            (lecture formula, parameter shapes of the safetensors header),
            the formula text with asymmetric pads, stride and dilation;
            --emit dot through Graphviz; --emit ir; --print-after; the
            budgets and their errors.
  docs      every option of `cnnc --help` is in docs/cnnc.1 and docs/cli.md.

Every expected value comes from this file (numpy, PyTorch, arithmetic), never
from cnnc. A missing tool fails the part, never skips it.

    test_install.py --part app --source . --work /tmp/w --cnnc build/compiler/cnnc
"""

import argparse
import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    print("ok:", what)


def run(cmd, cwd=None, expect=0, env=None):
    """Runs cmd; returns (stdout, stderr); fails unless the status is expect."""
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if expect is not None and p.returncode != expect:
        raise Failure("%s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(cmd), p.returncode, expect, p.stdout[-4000:], p.stderr[-4000:]))
    return p.stdout, p.stderr, p.returncode


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


# ---- the reference: examples/fashion.cnn in PyTorch ----

def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    header, data, off = {}, b"", 0
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        data += raw
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def fashion_forward(w, x):
    """examples/fashion.cnn on x [N, 784] float32, in float64 PyTorch."""
    t = {k: torch.from_numpy(v).double() for k, v in w.items()}
    h = torch.from_numpy(np.asarray(x, dtype=np.float32)).double().reshape(-1, 1, 28, 28)
    h = F.relu(F.conv2d(h, t["conv1.weight"], t["conv1.bias"]))
    h = F.relu(F.conv2d(h, t["conv2.weight"], t["conv2.bias"]))
    h = F.max_pool2d(h, 2, 2).flatten(1)
    h = F.relu(F.linear(h, t["fc1.weight"], t["fc1.bias"]))
    return F.softmax(F.linear(h, t["fc2.weight"], t["fc2.bias"]), dim=1).numpy()


def splitmix_inputs(seed, n):
    """`cnnc run --input random --seed N` (docs/cli.md), in Python ints."""
    mask, state, out = (1 << 64) - 1, seed, []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        out.append((z >> 40) * 2.0 ** -23 - 1.0)
    return np.array(out, dtype=np.float32)


def test_image(source):
    """The first Fashion-MNIST test image as bytes (a synthetic one without
    the dataset package), and its float32 pixels scaled by 1/255."""
    path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
    if os.path.exists(path):
        with gzip.open(path, "rb") as f:
            pixels = f.read(16 + 784)[16:]
    else:
        pixels = bytes((i * 37 + (i // 28) * 11) % 256 for i in range(784))
    x = np.frombuffer(pixels, dtype=np.uint8).astype(np.float32) / np.float32(255.0)
    return pixels, x


def parse_classify(out):
    """'8 Bag 0.123456' lines -> [(index, prob)]."""
    rows = []
    for line in out.splitlines():
        m = re.match(r"^(\d+) (.+?) +([0-9.e+-]+)$", line)
        if not m:
            raise Failure("unexpected classify line: %r" % line)
        check(CLASSES[int(m.group(1))] == m.group(2).strip(), "class name of %s" % m.group(1))
        rows.append((int(m.group(1)), float(m.group(3))))
    return rows


def check_classify(out, probs, what):
    rows = parse_classify(out)
    order = list(np.argsort(-probs, kind="stable")[:3])
    check([r[0] for r in rows] == order, "%s: top 3 classes %s as PyTorch's" % (what, order))
    for i, p in rows:
        check(abs(p - probs[i]) <= 2e-6, "%s: p[%d] %.6f vs PyTorch %.6f" % (what, i, p, probs[i]))


# ---- part app: install, then an outside project ----

INSTALLED = ["bin/cnnc", "include/cnnc.h", "lib/libcnnc.a", "lib/libcnnc_runtime.a",
             "share/man/man1/cnnc.1", "lib/cmake/cnnc/cnncConfig.cmake",
             "lib/cmake/cnnc/cnncConfigVersion.cmake", "lib/cmake/cnnc/cnncFunctions.cmake",
             "lib/pkgconfig/cnnc.pc"]

API_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include "cnnc.h"
int main(int argc, char **argv)
{
    cnnc_model *m = cnnc_model_from_file(argv[1], NULL);
    char *text = NULL;
    size_t len = 0;
    int rc = 1;
    (void)argc;
    if (m && cnnc_model_errors(m) == 0 && cnnc_model_view(m, CNNC_VIEW_SUMMARY, &text, &len) == 0) {
        fwrite(text, 1, len, stdout);
        printf("output size %zu\n", cnnc_model_output_size(m));
        rc = 0;
    }
    cnnc_free(text);
    cnnc_model_free(m);
    return rc;
}
"""


def install_cnnc(args, work):
    build, prefix = os.path.join(work, "cnnc-build"), os.path.join(work, "prefix")
    # Warnings are the main build's business (-Werror there); this build
    # checks the install, so they do not stop it.
    run(["cmake", "-S", args.source, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
         "-DCNNC_WERROR=OFF", "-DCMAKE_INSTALL_PREFIX=" + prefix, "-DCMAKE_INSTALL_LIBDIR=lib"])
    run(["cmake", "--build", build, "--target", "cnnc", "-j2"])
    run(["cmake", "--install", build])
    for f in INSTALLED:
        check(os.path.isfile(os.path.join(prefix, f)), "installed " + f)
    out, _, _ = run([os.path.join(prefix, "bin/cnnc"), "--version"])
    check(out.startswith("cnnc "), "installed cnnc runs: " + out.strip())
    return prefix


def app_model(args, work, bump):
    """A copy of fashion.cnn and its weights, with bump added to the bias of
    class 3 (Dress), so that new weights change the answer."""
    d = os.path.join(work, "model")
    os.makedirs(d, exist_ok=True)
    w = read_safetensors(os.path.join(args.source, "examples/fashion/fashion.safetensors"))
    w["fc2.bias"][3] += np.float32(bump)
    write_safetensors(os.path.join(d, "fashion.safetensors"), w)
    with open(os.path.join(args.source, "examples/fashion.cnn")) as f:
        text = f.read().replace('"fashion/fashion.safetensors"', '"fashion.safetensors"')
    with open(os.path.join(d, "fashion.cnn"), "w") as f:
        f.write(text)
    return os.path.join(d, "fashion.cnn"), w


def build_app(args, work, prefix):
    model, w = app_model(args, work, 0.0)
    app = os.path.join(work, "app")
    run(["cmake", "-S", os.path.join(args.source, "examples/app"), "-B", app,
         "-DCMAKE_PREFIX_PATH=" + prefix, "-DCNNC_APP_MODEL=" + model])
    out, _, _ = run(["cmake", "--build", app])
    check("cnnc " in out, "the app's build ran cnnc")
    return model, w, app


def check_app(args, work, prefix):
    model, w, app = build_app(args, work, prefix)
    pixels, x = test_image(args.source)
    pgm = os.path.join(work, "image.pgm")
    with open(pgm, "wb") as f:
        f.write(b"P5\n28 28\n255\n" + pixels)
    out, _, _ = run([os.path.join(app, "classify"), pgm])
    check_classify(out, fashion_forward(w, x[None])[0], "classify image.pgm")
    out, _, _ = run(["ctest", "--output-on-failure"], cwd=app)
    check("100% tests passed" in out, "the app's ctest runs fashion_selftest")
    # New weights, same names: only the weights file changed.
    _, w2 = app_model(args, work, 40.0)
    out, _, _ = run(["cmake", "--build", app])
    check("cnnc " in out, "changed weights made cnnc run again")
    out, _, _ = run([os.path.join(app, "classify"), pgm])
    probs2 = fashion_forward(w2, x[None])[0]
    check(int(np.argmax(probs2)) == 3, "the new weights make Dress the answer")
    check_classify(out, probs2, "classify after the weights changed")
    out, _, _ = run(["cmake", "--build", app])
    check("cnnc " not in out, "nothing changed: cnnc did not run")


def check_api(args, work, prefix):
    d = fresh(os.path.join(work, "api"))
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write(API_PROGRAM)
    with open(os.path.join(d, "CMakeLists.txt"), "w") as f:
        f.write("cmake_minimum_required(VERSION 3.20)\nproject(api C)\nfind_package(cnnc 0.1 REQUIRED)\n"
                "add_executable(api main.c)\ntarget_link_libraries(api PRIVATE cnnc::libcnnc)\n")
    run(["cmake", "-S", d, "-B", os.path.join(d, "b"), "-DCMAKE_PREFIX_PATH=" + prefix])
    run(["cmake", "--build", os.path.join(d, "b")])
    model = os.path.join(args.source, "examples/fashion.cnn")
    out, _, _ = run([os.path.join(d, "b", "api"), model])
    check("Total params: 1,199,882" in out and "output size 10" in out,
          "a program on cnnc::libcnnc loads a model and prints its summary")
    # cnnc.pc, read by hand (pkg-config may not be installed): its flags link.
    pc = open(os.path.join(prefix, "lib/pkgconfig/cnnc.pc")).read()
    pcdir = os.path.join(prefix, "lib/pkgconfig")
    vars_ = {"pcfiledir": pcdir}
    flags = {}
    for line in pc.splitlines():
        m = re.match(r"^(\w+)=(.*)$", line) or re.match(r"^(\w+): (.*)$", line)
        if m:
            val = re.sub(r"\$\{(\w+)\}", lambda v: vars_[v.group(1)], m.group(2))
            (vars_ if "=" in line.split(":")[0] else flags)[m.group(1)] = val
    exe = os.path.join(d, "api_pc")
    run(["gcc", "-std=c99", os.path.join(d, "main.c"), "-o", exe] + flags["Cflags"].split() +
        flags["Libs"].split())
    out, _, _ = run([exe, model])
    check("Total params: 1,199,882" in out, "a program built with cnnc.pc's Cflags and Libs runs")


def part_app(args):
    work = fresh(args.work)
    prefix = install_cnnc(args, work)
    check_app(args, work, prefix)
    check_api(args, work, prefix)


# ---- part firmware ----

def libm_symbols():
    """Functions glibc's libm exports, and what libgcc defines."""
    out, _, _ = run(["gcc", "-print-file-name=libm.so.6"])
    libm = out.strip()
    if not os.path.isabs(libm):
        libm = "/lib/x86_64-linux-gnu/libm.so.6"
    syms = set()
    out, _, _ = run(["nm", "-D", "--defined-only", libm])
    for line in out.splitlines():
        parts = line.split()
        if parts:
            syms.add(parts[-1].split("@")[0])
    out, _, _ = run(["gcc", "-print-libgcc-file-name"])
    gcc_out, _, _ = run(["nm", "--defined-only", out.strip()])
    libgcc = {line.split()[-1] for line in gcc_out.splitlines() if len(line.split()) == 3}
    return syms, libgcc


def firmware_input():
    """examples/firmware/main.c's sensor pattern: (37 i mod 256) / 255."""
    return (np.array([(i * 37) % 256 for i in range(784)], dtype=np.float32) / np.float32(255.0))


def part_firmware(args):
    work = fresh(args.work)
    fw = os.path.join(args.source, "examples/firmware")
    out, _, _ = run(["make", "-C", fw, "CNNC=" + args.cnnc, "BUILD=" + work])
    sizes = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\w+) +(\d+) bytes$", out, re.M)}
    print("firmware sizes: " + ", ".join("%s %d" % kv for kv in sorted(sizes.items())))
    w = read_safetensors(os.path.join(args.source, "examples/fashion/fashion.safetensors"))
    params = sum(a.size for a in w.values())
    check(params == 1199882, "fashion has 1,199,882 parameters")
    check(params * 4 <= sizes[".rodata"] <= params * 4 * 1.01 + 4096,
          ".rodata %d holds the %d bytes of weights" % (sizes[".rodata"], params * 4))
    acts = [32 * 26 * 26, 64 * 24 * 24, 64 * 12 * 12, 9216, 128, 10]
    io = (784 + 10) * 4
    check(io + 4 * 64 * 24 * 24 <= sizes[".bss"] <= io + 4 * sum(acts) + 4096,
          ".bss %d holds the I/O buffers and the arena" % sizes[".bss"])
    check(sizes[".text"] < 64 * 1024, ".text %d is small" % sizes[".text"])
    out, _, _ = run(["make", "-s", "-C", fw, "CNNC=" + args.cnnc, "BUILD=" + work, "symbols"])
    undefined = out.split()[1::2]
    libm, libgcc = libm_symbols()
    check(undefined and all(s in libm or s in libgcc for s in undefined),
          "model.o needs only libm/libgcc: %s" % " ".join(undefined))
    elf = os.path.join(work, "firmware.elf")
    out, _, _ = run(["nm", "-u", elf])
    check(out.strip() == "", "firmware.elf has no undefined symbol")
    taken = set(re.findall(r"libc\.a\((\w+)\.l?o\)", open(os.path.join(work, "firmware.map")).read()))
    check(all(t in libm or t.startswith("__math_") or t.endswith("_data") for t in taken),
          "only math objects come from the C library: %s" % " ".join(sorted(taken)))
    if os.uname().machine == "x86_64":
        _, _, status = run([elf], expect=None)
        want = int(np.argmax(fashion_forward(w, firmware_input()[None])[0]))
        check(status == want, "firmware.elf returns class %d, PyTorch's" % want)


# ---- part selftest ----

def hex_floats(text, name):
    m = re.search(r"\} %s = \{\{\n(.*?)\}\};" % name, text, re.S)
    vals = [int(v, 16) for v in re.findall(r"0x([0-9a-f]{8})", m.group(1))]
    return np.array(vals, dtype=np.uint32).view(np.float32)


def build_selftest(cc, d, test_c, model_c, trace, exe):
    flags = ["-DCNNC_TRACE"] if trace else []
    if cc == "gcc":
        cmd = ["gcc", "-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror"]
    else:
        cmd = ["tcc", "-Wall", "-Werror"]
    run(cmd + flags + ["-I" + d, test_c, model_c, "-o", exe, "-lm"])
    return exe


def break_weight(model_c, broken_c):
    """conv2's first weight array in the generated C: its first value ->
    100.0f, whose little-endian bytes are 00 00 c8 42. The array is string
    literals of bytes, each a character or a 3-digit octal escape."""
    text = open(model_c).read()
    m = re.search(r'/\* conv2\.\w+ \[[^\]]*\] \*/\n(?:CNNC_WEIGHTS_SECTION )?static const union[^\n]*\n"'
                  r'((?:\\[0-7]{3}|[^"\\]){4})', text)
    text = text[:m.start(1)] + "\\000\\000\\310B" + text[m.end(1):]
    with open(broken_c, "w") as f:
        f.write(text)


def part_selftest(args):
    d = fresh(args.work)
    model = os.path.join(args.source, "examples/fashion.cnn")
    model_c, test_c = os.path.join(d, "model.c"), os.path.join(d, "model_test.c")
    run([args.cnnc, model, "-o", model_c, "--emit-test", test_c])
    text = open(test_c).read()
    x = hex_floats(text, "inputs").reshape(3, 784)
    for k in range(3):
        check(np.array_equal(x[k], splitmix_inputs(k, 784)), "input vector %d is --seed %d's" % (k, k))
    w = read_safetensors(os.path.join(args.source, "examples/fashion/fashion.safetensors"))
    want = fashion_forward(w, x)
    got = hex_floats(text, "expected").reshape(3, 10)
    check(np.abs(got - want).max() <= 1e-6, "expected outputs are PyTorch's (max diff %.2g)" %
          np.abs(got - want).max())
    for cc in ("gcc", "tcc"):
        for trace in (False, True):
            exe = build_selftest(cc, d, test_c, model_c, trace, os.path.join(d, "t_%s_%d" % (cc, trace)))
            out, _, _ = run([exe])
            check("fashion: all 3 vectors passed" in out, "%s%s self-test passes" % (cc, " trace" if trace else ""))
    broken_c = os.path.join(d, "broken.c")
    break_weight(model_c, broken_c)
    for cc in ("gcc", "tcc"):
        exe = build_selftest(cc, d, test_c, broken_c, True, os.path.join(d, "b_%s" % cc))
        out, _, _ = run([exe], expect=1)
        check("vector 0: first divergent layer: op 1 conv2 (conv2d+relu" in out,
              "%s: a broken conv2 weight is named: %s" % (cc, out.splitlines()[0]))
        exe = build_selftest(cc, d, test_c, broken_c, False, os.path.join(d, "n_%s" % cc))
        out, _, _ = run([exe], expect=1)
        check("vector 0: FAILED" in out, "%s: without the trace the output check fails" % cc)


# ---- part views ----

def conv_out(n, k, s=1, p0=0, p1=0, d=1):
    return (n + p0 + p1 - d * (k - 1) - 1) // s + 1


def summary_rows(out):
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(\d+)  (\w+) +(\S+) +(\[[\d, ]+\]) +([\d,]+) +([\d,]+) +([\d,]+)(?:  (.*))?$", line)
        if m:
            num = lambda s: int(s.replace(",", ""))
            rows[m.group(2)] = dict(op=m.group(3), shape=m.group(4), params=num(m.group(5)),
                                    macs=num(m.group(6)), bytes=num(m.group(7)), size=m.group(8) or "")
    return rows


def total(out, label):
    m = re.search(r"^%s: +([\d,]+)" % label, out, re.M)
    return int(m.group(1).replace(",", ""))


def check_summary(args):
    model = os.path.join(args.source, "examples/fashion.cnn")
    out, _, _ = run([args.cnnc, "--summary", model])
    print(out)
    rows = summary_rows(out)
    w = read_safetensors(os.path.join(args.source, "examples/fashion/fashion.safetensors"))
    h1, h2 = conv_out(28, 3), conv_out(conv_out(28, 3), 3)
    h3 = conv_out(h2, 2, 2)
    want = {
        "conv1": ("[32, %d, %d]" % (h1, h1), w["conv1.weight"].size + w["conv1.bias"].size,
                  32 * h1 * h1 * 1 * 9, "(28 + 2*0 - 3)/1 + 1 = %d" % h1),
        "conv2": ("[64, %d, %d]" % (h2, h2), w["conv2.weight"].size + w["conv2.bias"].size,
                  64 * h2 * h2 * 32 * 9, "(%d + 2*0 - 3)/1 + 1 = %d" % (h1, h2)),
        "maxpool_0": ("[64, %d, %d]" % (h3, h3), 0, 0, "(%d + 2*0 - 2)/2 + 1 = %d" % (h2, h3)),
        "fc1": ("[128]", w["fc1.weight"].size + w["fc1.bias"].size, 64 * h3 * h3 * 128, ""),
        "fc2": ("[10]", w["fc2.weight"].size + w["fc2.bias"].size, 128 * 10, ""),
    }
    for name, (shape, params, macs, size) in want.items():
        r = rows[name]
        check((r["shape"], r["params"], r["macs"], r["size"]) == (shape, params, macs, size),
              "summary row %s: %s %d params %d MACs '%s'" % (name, shape, params, macs, size))
        n = np.prod([int(v) for v in shape[1:-1].split(",")])
        check(r["bytes"] == 4 * n, "summary row %s: %d bytes" % (name, 4 * n))
    params = sum(a.size for a in w.values())
    check(params == 320 + 18496 + 1179776 + 1290 == 1199882, "1,199,882 parameters")
    check(total(out, "Total params") == params, "total params")
    check(total(out, "Weights") == 4 * params, "weights bytes 4 * params")
    check(total(out, "Total MACs") == sum(v[2] for v in want.values()), "total MACs")
    check(total(out, "I/O buffers") == 4 * (784 + 10), "I/O bytes")
    # A chain: some op reads conv1's output while writing conv2's, so no plan
    # is below their sum; none needs more than every activation at once.
    pair = 4 * (32 * h1 * h1 + 64 * h2 * h2)
    arena = total(out, "Arena")
    check(pair <= arena <= pair + 3 * 64, "arena %d is the planned peak (>= %d)" % (arena, pair))
    check(total(out, "RAM") == arena + 4 * (784 + 10), "RAM = arena + I/O")


FORMULA_MODEL = """model shapes {
    input x[3, 28, 30];
    weights random(seed=1);
    a = conv2d(filters=4, kernel=3, padding=[1, 2, 2, 1]);
    b = conv2d(filters=4, kernel=[3, 5], stride=2, dilation=2);
    c = maxpool(kernel=2, padding=1);
}
"""


def check_formulas(args, d):
    path = os.path.join(d, "shapes.cnn")
    with open(path, "w") as f:
        f.write(FORMULA_MODEL)
    out, _, _ = run([args.cnnc, "--summary", "-O0", path])
    rows = summary_rows(out)
    ah, aw = conv_out(28, 3, 1, 1, 2), conv_out(30, 3, 1, 2, 1)
    want_a = "H (28 + 1 + 2 - 3)/1 + 1 = %d; W (30 + 2 + 1 - 3)/1 + 1 = %d" % (ah, aw)
    check(rows["a"]["size"] == want_a, "asymmetric pads: " + want_a)
    bh, bw = conv_out(ah, 3, 2, 0, 0, 2), conv_out(aw, 5, 2, 0, 0, 2)
    want_b = "H (%d + 2*0 - 2*(3-1) - 1)/2 + 1 = %d; W (%d + 2*0 - 2*(5-1) - 1)/2 + 1 = %d" % (ah, bh, aw, bw)
    check(rows["b"]["size"] == want_b, "stride and dilation: " + want_b)
    ch, cw = conv_out(bh, 2, 2, 1, 1), conv_out(bw, 2, 2, 1, 1)
    want_c = "(%d + 2*1 - 2)/2 + 1 = %d" % (bh, ch) if bh == bw else \
        "H (%d + 2*1 - 2)/2 + 1 = %d; W (%d + 2*1 - 2)/2 + 1 = %d" % (bh, ch, bw, cw)
    check(rows["c"]["size"] == want_c, "pooling with padding: " + want_c)
    check(rows["c"]["shape"] == "[4, %d, %d]" % (ch, cw), "shape [4, %d, %d]" % (ch, cw))


def check_dot(args, d):
    model = os.path.join(args.source, "examples/fashion.cnn")
    out, _, _ = run([args.cnnc, model, "--emit", "dot", "-o", os.path.join(d, "f.dot")])
    text = open(os.path.join(d, "f.dot")).read()
    run(["dot", "-Tsvg", os.path.join(d, "f.dot"), "-o", os.path.join(d, "f.svg")])
    check(os.path.getsize(os.path.join(d, "f.svg")) > 1000, "Graphviz draws fashion.dot")
    edges = re.findall(r'^\s*(\w+) -> (\w+) \[label="(\[[\d, ]+\])"\];$', text, re.M)
    shapes = [e[2] for e in edges]
    check(shapes == ["[1, 28, 28]", "[32, 26, 26]", "[64, 24, 24]", "[64, 12, 12]", "[9216]",
                     "[128]", "[10]", "[10]"], "dot edges carry the shapes: %s" % shapes)
    check(re.search(r'label="\{conv1: conv2d 3x3 \+relu\|[^"]*\|relu_0 \(fused\)\}"', text) is not None,
          "the fused relu is a row of conv1's record")
    src = os.path.join(args.source, "examples/resnet.cnn")
    out, _, _ = run([args.cnnc, src, "--emit", "dot"])
    with open(os.path.join(d, "r.dot"), "w") as f:
        f.write(out)
    run(["dot", "-Tsvg", os.path.join(d, "r.dot"), "-o", os.path.join(d, "r.svg")])
    check(out.count(" -> ") > out.count("[fillcolor="), "resnet's dot has joins (add) and draws")


def check_ir(args):
    model = os.path.join(args.source, "examples/fashion.cnn")
    out, _, _ = run([args.cnnc, model, "--emit", "ir"])
    check(re.search(r"^ops 7:$", out, re.M) and "  op0   conv1 = conv2d t0 -> " in out,
          "--emit ir lists 7 ops, conv1 first")
    check(re.search(r"^arena \d+ floats \(\d+ bytes\)$", out, re.M) is not None, "--emit ir shows the arena")
    out2, _, _ = run([args.cnnc, model, "--emit", "ir"])
    check(out == out2, "--emit ir is deterministic")
    lower, _, _ = run([args.cnnc, model, "--print-after", "lower"])
    check(re.search(r"relu_0 = relu t\d+ -> t\d+", lower) and "fused" not in lower,
          "--print-after lower: relu is its own op")
    fused, _, _ = run([args.cnnc, model, "--print-after", "fuse"])
    check(re.search(r"^ +fused relu_0  # 9:5$", fused, re.M) is not None, "--print-after fuse: relu fused")
    _, err, _ = run([args.cnnc, model, "--print-after", "nosuch"], expect=2)
    check("unknown pass 'nosuch'" in err and " fuse " in err, "unknown pass: usage error listing passes")
    _, err, _ = run([args.cnnc, model, "-O0", "--print-after", "fuse"], expect=1)
    check("-O0" in err, "-O0 --print-after fuse: the pass did not run")


def check_budgets(args, d):
    model = os.path.join(args.source, "examples/fashion.cnn")
    out_c = os.path.join(d, "b.c")
    arena = 4 * (32 * 26 * 26 + 64 * 24 * 24)
    run([args.cnnc, model, "-o", out_c])
    with open(out_c[:-2] + ".h") as f:      # the stack bound counts too
        stack = int(re.search(r"^#define FASHION_STACK_BYTES (\d+) ", f.read(), re.M).group(1))
    os.remove(out_c)
    os.remove(out_c[:-2] + ".h")
    ram = arena + 4 * (784 + 10) + stack
    _, err, _ = run([args.cnnc, model, "-o", out_c, "--ram-budget", str(ram - 1)], expect=1)
    check("needs %d bytes of RAM" % ram in err and "largest layer is 'conv2'" in err
          and "fashion.cnn:10:5: error:" in err, "RAM over budget names conv2: " + err.splitlines()[0])
    check(not os.path.exists(out_c), "no output after a budget error")
    run([args.cnnc, model, "-o", out_c, "--ram-budget", str(ram)])
    check(os.path.exists(out_c), "a budget that fits compiles")
    _, err, _ = run([args.cnnc, model, "-o", out_c + "2", "--flash-budget", "4M"], expect=1)
    check("flash (weights 4802624 + code about " in err and "largest layer is 'fc1'" in err
          and "1179776 parameters" in err,
          "flash over budget names fc1: " + err.splitlines()[0])
    run([args.cnnc, model, "-o", out_c + "3", "--flash-budget", "5M"])
    _, err, _ = run([args.cnnc, model, "-o", out_c, "--ram-budget", "12Q"], expect=2)
    check("--ram-budget needs a size in bytes" in err, "a bad size is a usage error")


def part_views(args):
    d = fresh(args.work)
    check_summary(args)
    check_formulas(args, d)
    check_dot(args, d)
    check_ir(args)
    check_budgets(args, d)


# ---- part docs ----

def part_docs(args):
    out, _, _ = run([args.cnnc, "--help"])
    options = sorted(set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", out)))
    man = open(os.path.join(args.source, "docs/cnnc.1")).read().replace("\\-", "-").replace("\\f[BIR]", "")
    cli = open(os.path.join(args.source, "docs/cli.md")).read()
    for o in options:
        check(o in man, "docs/cnnc.1 documents " + o)
        check(o in cli, "docs/cli.md documents " + o)
    man_opts = set(re.findall(r"^\.B[IR]? (-[\w-]+)", man, re.M))
    for o in man_opts:
        check(o in options, "cnnc --help shows %s from the man page" % o)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", required=True, choices=["app", "firmware", "selftest", "views", "docs"])
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cnnc", required=True)
    args = ap.parse_args()
    args.source = os.path.abspath(args.source)
    args.work = os.path.abspath(args.work)
    try:
        globals()["part_" + args.part](args)
    except Failure as e:
        print("FAIL:", e)
        return 1
    print("install %s: all checks passed" % args.part)
    return 0


if __name__ == "__main__":
    sys.exit(main())
