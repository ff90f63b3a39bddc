#!/usr/bin/python3
"""bench.py: builds and runs the cnnc benchmark and prints ONE table.

Consumes the example models (examples/*.cnn: the lecture network fashion
and the VGG-style vgg first), the MLPerf Tiny models of tests/firmware,
torchvision's squeezenet1_1, resnet18, mobilenet_v2, googlenet, densenet121
and resnet50 (torchvision_nets.py, exported to ONNX and read back by cnnc
import), the built cnnc and
cnnc_bench_interp, gcc, Debian's python3-torch and, when installed, npm's
onnxruntime-node. For each model it produces, in --out: the model bound to
one weights file (trained, imported, or generated here so that every engine
reads the same numbers), a fixed input, the generated C with its harness
builds, the ONNX file, every engine's output, results.md and results.json;
on stdout the table: median microseconds per inference of the generated C
(gcc -O3 -march=native and gcc -O2), the interpreter, PyTorch and ONNX
Runtime, all but the interpreter timed in alternating rounds (--rounds);
GFLOP/s and % of the single-core FMA peak measured by peak.c; latency
ratios of both builds to ONNX Runtime (and of -O2's, round by round), and
to PyTorch; per-layer times of both builds and GFLOP/s; .text, arena and
weights bytes; gcc compile time; and whether the generated C matches the
interpreter within 1e-4. It also draws every conv and dense layer on a roofline (roofline.py:
roofline.svg) under the peak and the bandwidth that bandwidth.c measures.
Method: docs/performance.md.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

import numpy as np

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "py"))
sys.path.insert(0, HERE)

TOL = 1e-4          # max |got - ref| / max |ref|, against the interpreter
FIRST = ("fashion", "vgg")
CWARN = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow",
         "-Wstrict-prototypes", "-Wmissing-prototypes", "-Werror"]
BUILDS = {"O3": ["-O3", "-march=native"], "O2": ["-O2"]}
# --variant: which of the generated file's code variants runs (docs/targets.md).
# auto: its run-time dispatch picks one for this CPU; avx2: built without the
# AVX-512 variant, so an AVX-512 machine runs what an AVX2+FMA one would;
# portable: the portable C only.
VARIANT_DEFINES = {"auto": [], "avx2": ["-DCNNC_NO_AVX512"], "portable": ["-DCNNC_NO_SIMD"]}
# ... and in the -march=native build, what an AVX2-only CPU's -march=native
# would not enable (else the AVX2 functions get AVX-512's 32 registers).
VARIANT_NATIVE_FLAGS = {"auto": [], "avx2": ["-mno-avx512f"], "portable": []}
DOC_BEGIN, DOC_END = "<!-- bench:begin -->", "<!-- bench:end -->"
ROOFLINE_DOC = "performance-roofline.svg"   # beside the --update-doc document
HEX_MAX_BYTES = 16 << 20   # bigger weights: no --weights hex compile (a minute or more)


class StepError(Exception):
    """One step of one model failed; the table shows it, the run goes on."""


# ---------------------------------------------------------------- processes

def run(cmd, cwd=None, env=None, timeout=900):
    """Runs cmd; returns stdout. Raises StepError with its stderr."""
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                           timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise StepError("%s: %s" % (os.path.basename(cmd[0]), e))
    if p.returncode != 0:
        msg = (p.stderr or p.stdout).strip().splitlines()
        raise StepError("%s failed: %s" % (os.path.basename(cmd[0]),
                                           " | ".join(msg[-3:]) or "exit %d" % p.returncode))
    return p.stdout


def timed_run(cmd, **kw):
    t0 = time.perf_counter()
    out = run(cmd, **kw)
    return out, time.perf_counter() - t0


def parse_kv(line):
    """'run median_us=1.5 samples=3' -> {'median_us': 1.5, 'samples': 3.0}."""
    out = {}
    for k, v in re.findall(r"(\w+)=(\S+)", line):
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def run_line(stdout, tag="run"):
    for line in stdout.splitlines():
        if line.startswith(tag + " "):
            return parse_kv(line)
    raise StepError("no '%s' line in: %s" % (tag, stdout.strip()[:200]))


def timing_args(a, min_samples=None, seconds=None, cpu=True):
    """timing.c's options (ort_bench.js takes them too, but for --cpu)."""
    return (["--cpu", str(a.cpu)] if cpu else []) + [
        "--seconds", str(a.seconds if seconds is None else seconds), "--warmup", str(a.warmup),
        "--min-samples", str(a.min_samples if min_samples is None else min_samples)]


# ---------------------------------------------------------------- machine

def lscpu():
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        text = ""
    info = dict(re.findall(r"^([^:\n]+):\s*(.*)$", text, re.M))
    flags = set(info.get("Flags", "").split())
    return {"model": info.get("Model name", platform.processor() or "?"),
            "cpus": info.get("CPU(s)", str(os.cpu_count())),
            "threads_per_core": info.get("Thread(s) per core", "?"),
            "avx2": "avx2" in flags, "avx512f": "avx512f" in flags,
            "gcc": run(["gcc", "-dumpfullversion"]).strip()}


def measure_peak(a, work):
    """peak.c built for this machine, once more without AVX-512, and once
    for plain x86-64 (SSE2, no FMA: the ceiling of the -O2 build)."""
    res = {}
    variants = {"native": ["-march=native"], "avx2": ["-march=native", "-mno-avx512f"],
                "sse2": []}
    for name, flags in variants.items():
        exe = os.path.join(work, "peak_" + name)
        run(["gcc", "-O3"] + flags + CWARN + ["-I" + HERE, os.path.join(HERE, "peak.c"),
             os.path.join(HERE, "timing.c"), "-o", exe])
        secs = "0.05" if a.smoke else "0.5"
        res[name] = run_line(run([exe, "--cpu", str(a.cpu), "--seconds", secs]), "peak")
    return res


def measure_bandwidth(a, work):
    """bandwidth.c: {"dram": {...gbs...}, "cache": {...}}, one core's STREAM
    triad from memory and from a cache-sized buffer (the roofline's slopes)."""
    exe = os.path.join(work, "bandwidth")
    run(["gcc", "-O3", "-march=native"] + CWARN + ["-I" + HERE, os.path.join(HERE, "bandwidth.c"),
         os.path.join(HERE, "timing.c"), "-o", exe])
    secs = "0.05" if a.smoke else "0.5"
    out = run([exe, "--cpu", str(a.cpu), "--seconds", secs])
    res = {kv["level"]: kv for kv in (parse_kv(line) for line in out.splitlines()
                                      if line.startswith("bandwidth "))}
    if set(res) != {"dram", "cache"}:
        raise StepError("bandwidth: unexpected output: %s" % out.strip()[:200])
    return res


# ---------------------------------------------------------------- models

MLPERF_TINY = ("resnet8", "dscnn", "mobilenet_v1", "autoencoder")
TORCHVISION = ("squeezenet1_1", "resnet18", "mobilenet_v2", "googlenet", "densenet121", "resnet50")
TV_PREFIX = "torchvision:"


def group_members(group):
    """The models of a group, in table order: "examples" (fashion and vgg
    first), "mlperf" (the MLPerf Tiny models in tests/firmware) and
    "torchvision" (built by torchvision_nets.py, imported from ONNX)."""
    if group == "examples":
        paths = sorted(glob.glob(os.path.join(ROOT, "examples", "*.cnn")))
        key = lambda p: (FIRST.index(stem(p)) if stem(p) in FIRST else len(FIRST), p)
        return sorted(paths, key=key)
    if group == "mlperf":
        return [os.path.join(ROOT, "tests", "firmware", n + ".cnn") for n in MLPERF_TINY]
    return [TV_PREFIX + n for n in TORCHVISION]


def group_of(spec):
    """The group a model belongs to (roofline.svg's marker), or "other"."""
    for group in ("examples", "mlperf", "torchvision"):
        if spec in group_members(group):
            return group
    return "other"


def resolve_model(arg):
    """A model argument: a group name, a torchvision network, a bare name
    of an example or an MLPerf Tiny model ("vgg", "dscnn"), or a path."""
    if arg in ("examples", "mlperf", "torchvision"):
        return group_members(arg)
    if arg in TORCHVISION:
        return [TV_PREFIX + arg]
    if os.sep in arg or arg.endswith(".cnn"):
        return [os.path.abspath(arg)]
    for folder in (("examples",), ("tests", "firmware")):
        path = os.path.join(ROOT, *folder, arg + ".cnn")
        if os.path.exists(path):
            return [path]
    raise SystemExit("bench: no model '%s' (an example, an MLPerf Tiny model, %s, "
                     "a group or a .cnn path)" % (arg, ", ".join(TORCHVISION)))


def model_list(a):
    """The models to run, as .cnn paths or "torchvision:NAME"."""
    if a.models:
        return [m for arg in a.models for m in resolve_model(arg)]
    if a.smoke:
        return [os.path.join(ROOT, "examples", "tiny.cnn")]
    groups = ("examples", "mlperf") + (("torchvision",) if a.torchvision else ())
    return [m for g in groups for m in group_members(g)]


def stem(path):
    if path.startswith(TV_PREFIX):
        return path[len(TV_PREFIX):]
    return os.path.splitext(os.path.basename(path))[0]


def bind_weights(cnnref, path, m, text, work):
    """(model text bound to one weights file, params as numpy arrays).
    A model's own file is kept; random(seed) weights are generated here
    (cnnref.random_weights) and written, so torch, ONNX and cnnc agree."""
    specs = cnnref.param_specs(m)
    own = os.path.join(os.path.dirname(path), m.weights[1]) \
        if m.weights and m.weights[0] == "file" else None
    if own and os.path.exists(own):
        wpath = own
        params = {k: np.array(v) for k, v in cnnref.read_safetensors(wpath).items()}
    elif specs:
        seed = m.weights[1] if m.weights and m.weights[0] == "random" else 1
        params = cnnref.random_weights(m, seed)
        wpath = os.path.join(work, "weights.safetensors")
        cnnref.write_safetensors(wpath, params)
    else:
        return text, {}
    return cnnref.set_weights(text, os.path.abspath(wpath)), params


def layer_costs(cnnref, m):
    """{statement name: (FLOPs, bytes)} of each conv2d and dense (others:
    (0, 0)). FLOPs: 2 * MACs. Bytes: what the layer must move at least,
    each float32 once: its weights and bias, its input and its output (the
    roofline's arithmetic intensity is FLOPs / bytes)."""
    shapes, out = m.shapes(), {}
    params = {}
    for name, shape, _ in cnnref.param_specs(m):
        layer = name.rsplit(".", 1)[0]
        params[layer] = params.get(layer, 0) + int(np.prod(shape))
    for st in m.stmts:
        x = shapes[st.inputs[0]]
        if st.op == "conv2d":
            win = cnnref.window(st.args, x, pool=False)
            cin = x[0] // int(st.args.get("groups", 1))
            macs = st.shape[0] * win["oh"] * win["ow"] * cin * win["kh"] * win["kw"]
        elif st.op == "dense":
            macs = st.shape[0] * x[0]
        else:
            out[st.name] = (0, 0)
            continue
        moved = params.get(st.name, 0) + int(np.prod(x)) + int(np.prod(st.shape))
        out[st.name] = (2 * macs, 4 * moved)
    return out


def import_torchvision(a, name, work):
    """torchvision_nets' network exported to ONNX (work/model.onnx, what
    ONNX Runtime runs) and imported by cnnc import (work/imported.cnn and
    .safetensors). The import keeps ONNX's batch of one ([1, 3, 224, 224]);
    the copy benched reads one sample ([3, 224, 224]), as the .cnn models
    and cnnref do: the same computation. Returns (the .cnn, the module)."""
    import torchvision_nets
    net = torchvision_nets.build(name)
    onnx = os.path.join(work, "model.onnx")
    torchvision_nets.export_onnx(net, onnx)
    cnn = os.path.join(work, "imported.cnn")
    run([a.cnnc, "import", onnx, "-o", cnn])
    with open(cnn) as f:
        text, n = re.subn(r"^(\s*input\s+\w+\s*)\[1,\s*", r"\1[", f.read(), count=1,
                          flags=re.M)
    if n != 1:
        raise StepError("%s: no input [1, ...] to make one sample" % cnn)
    with open(cnn, "w") as f:
        f.write(text)
    return cnn, net


def prepare(a, cnnref, spec, work):
    """Model copy, weights, input; returns a dict describing the model."""
    path, module = spec, None
    if spec.startswith(TV_PREFIX):
        path, module = import_torchvision(a, stem(spec), work)
    with open(path) as f:
        text = f.read()
    m = cnnref.parse(text, path)
    text, params = bind_weights(cnnref, path, m, text, work)
    note = None
    if m.weights and m.weights[0] == "file" and str(m.weights[1]) not in text:
        note = "%s is missing: random weights (seed 1) instead" % m.weights[1]
    model = os.path.join(work, "model.cnn")
    with open(model, "w") as f:
        f.write(text)
    n = int(np.prod(m.input_shape))
    x = np.random.default_rng(2024).uniform(-1, 1, n).astype(np.float32)
    x.tofile(os.path.join(work, "input.f32"))
    costs = layer_costs(cnnref, m)
    flops = {k: v[0] for k, v in costs.items()}
    d = {"m": m, "params": params, "model": model, "x": x, "work": work, "costs": costs,
         "flops": flops, "total_flops": sum(flops.values()), "note": note}
    if module is not None:
        d.update(torch_module=module, onnx=os.path.join(work, "model.onnx"))
    return d


def read_out(path, n=None):
    y = np.fromfile(path, dtype="<f4")
    if n is not None and y.size != n:
        raise StepError("%s: %d values, expected %d" % (path, y.size, n))
    return y


def rel_err(got, ref):
    d = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    if d.size and not np.all(np.isfinite(d)):
        return float("inf")
    return float(d.max() / max(1e-6, float(np.abs(ref).max()))) if d.size else 0.0


# ---------------------------------------------------------------- generated C

def section_sizes(obj):
    """(.text*, .rodata*, .bss + .data) bytes of an object, from size -A."""
    text = rodata = ram = 0
    for name, size in re.findall(r"^(\.\S+)\s+(\d+)", run(["size", "-A", obj]), re.M):
        size = int(size)
        if name.startswith(".text"):
            text += size
        elif name.startswith(".rodata"):
            rodata += size
        elif name.startswith((".bss", ".data")):
            ram += size
    return text, rodata, ram


def header_define(hpath, name):
    with open(hpath) as f:
        mm = re.search(r"#define\s+%s\s+(\d+)" % name, f.read())
    return int(mm.group(1)) if mm else None


def build_harness(d, src, tag, flags, defines=()):
    """Compiles src (timed) and links it with harness.c; returns (exe, obj, s)."""
    w = d["work"]
    obj = os.path.join(w, "bm_%s.o" % tag)
    _, secs = timed_run(["gcc"] + flags + ["-c", src, "-o", obj])
    exe = os.path.join(w, "harness_" + tag)
    run(["gcc"] + flags + CWARN + list(defines) + ["-I" + w, "-I" + HERE,
         os.path.join(HERE, "harness.c"), os.path.join(HERE, "timing.c"), obj,
         "-lm", "-o", exe])
    return exe, obj, secs


def gen_flags(a, tag):
    """gcc's flags for the generated C in build tag, with --variant's."""
    native = VARIANT_NATIVE_FLAGS[a.variant] if "-march=native" in BUILDS[tag] else []
    return BUILDS[tag] + VARIANT_DEFINES[a.variant] + native


def bench_generated(a, d, r):
    """Generates bm.c and builds it both ways (sizes, compile times); the
    two harnesses are timed in the rounds (bench_rounds)."""
    w = d["work"]
    src = os.path.join(w, "bm.c")
    run([a.cnnc, d["model"], "-o", src, "--name", "bm"])
    hdr = os.path.join(w, "bm.h")
    r["arena"] = header_define(hdr, "BM_ARENA_BYTES")
    for tag in BUILDS:
        exe, obj, secs = build_harness(d, src, tag, gen_flags(a, tag))
        r["compile_" + tag] = secs
        r["text_" + tag], r["weights"], ram = section_sizes(obj)
        if r["arena"] is None:
            r["arena"] = ram
        out = os.path.join(w, "out_%s.f32" % tag)
        cmd = [exe, "--input", os.path.join(w, "input.f32"), "--output", out]
        d["engines"][tag] = engine("gen", process_measure(a, cmd), out=out)
    if r["weights"] <= HEX_MAX_BYTES:
        r["compile_O2_hex"] = compile_hex(a, d)
    return src


def compile_hex(a, d):
    """gcc -O2 -c of the same model with --weights hex: what the weights as
    bytes (the default) save in compile time."""
    w = d["work"]
    src = os.path.join(w, "bm_hex.c")
    run([a.cnnc, d["model"], "-o", src, "--name", "bm", "--weights", "hex"])
    _, secs = timed_run(["gcc"] + BUILDS["O2"] + ["-c", src, "-o", os.path.join(w, "bm_hex.o")])
    return secs


# ---------------------------------------------------------------- per layer

# A definition (or declaration) of an op function: "static void opK_..(",
# possibly after attributes or macros on the same line (a SIMD variant's
# target attribute) and with its name on the next line.
OPFN_RE = re.compile(r"^[^\n;{}]*?\bstatic\b[^\n;{}]*?\bvoid\s+(op(\d+)_\w*)\s*\(", re.M)
OPCOMMENT_RE = re.compile(r"/\*\s*op (\d+):\s*\S+\s+([\w.]+)\s*=\s*(\w+)")
# A run function: bm_run, bm_run_ws, or a code variant's bm_run_<isa>
# (docs/targets.md), whose target attribute macro may come first.
RUNFN_RE = re.compile(r"^(?:CNNC_\w+_FN\s+)?(?:static\s+)?void\s+bm_run\w*\s*\(", re.M)


def find_body_end(text, start):
    """Index just past the '}' closing the first '{' after start (comments
    skipped; the emitted C has no braces in strings)."""
    depth, i = 0, text.index("{", start)
    while i < len(text):
        if text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
        if depth == 0:
            return i
    raise StepError("unbalanced braces in the generated C")


def run_functions(text):
    """[(start, end)] of each bm_run* definition (prototypes skipped)."""
    spans = []
    for mm in RUNFN_RE.finditer(text):
        head_end = text.index(")", mm.end())
        if text[head_end + 1:].lstrip().startswith("{"):
            spans.append((mm.start(), find_body_end(text, mm.start())))
    return spans


def wrap_calls(body, fns):
    """body with, before it, a function-like macro per op function it
    calls ((bench_layer_begin(), f(args), bench_layer_end(K))) and, after
    it, their #undefs: the definitions elsewhere are not touched."""
    called = [(k, fn) for k, names in sorted(fns.items()) for fn in names
              if re.search(r"\b%s\s*\(" % fn, body)]
    if not called:
        return body, set()
    defs = ["void bench_layer_begin(void);", "void bench_layer_end(int k);"]
    defs += ["#define %s(...) (bench_layer_begin(), %s(__VA_ARGS__), bench_layer_end(%d))"
             % (fn, fn, k) for k, fn in called]
    undefs = ["#undef %s" % fn for _, fn in called]
    return "\n".join(defs) + "\n" + body + "\n" + "\n".join(undefs) + "\n", \
        {k for k, _ in called}


def instrument(text):
    """The emitted C with each op function's call in the run functions
    (bm_run_ws, bm_run, and any other bm_run*) wrapped by
    bench_layer_begin()/bench_layer_end(K). An op function is a static void
    opK_...() that a run function calls (opK_..._tile8 helpers, called by
    op functions, are not); every function called for op K is credited to
    K, so when the code holds one variant of op K per ISA (opK_..._avx2,
    opK_..._avx512) and the run function picks one, the one that runs is
    counted. Returns (text, {K: [function names]})."""
    spans = run_functions(text)
    if not spans:
        raise StepError("no run function found to instrument")
    fns = {}
    for name, k in OPFN_RE.findall(text):
        if name not in fns.setdefault(int(k), []):
            fns[int(k)].append(name)
    out, pos, used = [], 0, set()
    for start, end in spans:
        body, ks = wrap_calls(text[start:end], fns)
        out += [text[pos:start], body]
        pos, used = end, used | ks
    if not used:
        raise StepError("the run function calls no opK_ function")
    return "".join(out) + text[pos:], {k: sorted(fns[k], key=len) for k in used}


def layer_names(text, fns, costs):
    """{K: (statement name, FLOPs, bytes)}. The op comments name each op's
    source statement and kind; only a conv2d or dense op is credited its
    statement's costs (a dense with activation=softmax is two ops, one
    statement). Without the comments: the longest statement name that
    starts the function's name, credited to its first conv/dense function."""
    named = {int(k): (name, kind) for k, name, kind in OPCOMMENT_RE.findall(text)}
    out, credited = {}, set()
    for k, names in sorted(fns.items()):
        if k in named:
            name, kind = named[k]
            out[k] = (name,) + (costs.get(name, (0, 0)) if kind in ("conv2d", "dense")
                                else (0, 0))
            continue
        fn = names[0]
        rest = fn.split("_", 1)[1] if "_" in fn else fn
        cands = [st for st in costs if rest == st or rest.startswith(st + "_")]
        name = max(cands, key=len) if cands else fn
        computes = re.search(r"conv|dense", rest[len(name):]) is not None
        out[k] = (name,) + (costs.get(name, (0, 0)) if computes and name not in credited
                            else (0, 0))
        if computes:
            credited.add(name)
    return out


def time_layers(a, d, src, tag):
    """{K: median µs} of the instrumented src built with BUILDS[tag]."""
    exe, _, _ = build_harness(d, src, "layers_" + tag, gen_flags(a, tag), ["-DBENCH_LAYERS"])
    out = run([exe, "--input", os.path.join(d["work"], "input.f32")] + timing_args(a))
    return {int(k): parse_kv(kv)["median_us"]
            for k, kv in re.findall(r"^layer (\d+) (.*)$", out, re.M)}


def bench_layers(a, d, src, r):
    """Per-op time of both builds (see "Per layer" in docs/performance.md)."""
    with open(src) as f:
        text = f.read()
    itext, fns = instrument(text)
    lsrc = os.path.join(d["work"], "bm_layers.c")
    with open(lsrc, "w") as f:
        f.write(itext)
    times = {tag: time_layers(a, d, lsrc, tag) for tag in BUILDS}
    names = layer_names(text, fns, d["costs"])
    layers = []
    for k in sorted(set(fns) & set(times["O3"])):
        name, flops, moved = names.get(k, ("op%d" % k, 0, 0))
        layers.append({"op": k, "name": name, "fn": fns[k][0], "variants": fns[k],
                       "us": times["O3"][k], "us_O2": times["O2"].get(k),
                       "flops": flops, "bytes": moved})
    r["layers"] = layers


# ---------------------------------------------------------------- other engines

def bench_interp(a, d, r):
    """The interpreter, in-process (cnnc_model_interp); its output is the
    reference every other engine is checked against. It takes a third of
    the samples the others take (at least 3): at 224x224 one run is seconds."""
    out = os.path.join(d["work"], "out_interp.f32")
    few = max(3, a.min_samples // 3)
    res = run_line(run([a.interp_bench, d["model"], "--input", os.path.join(d["work"], "input.f32"),
                        "--output", out] + timing_args(a, few)))
    d["ref"] = read_out(out)
    r["interp"] = res


def time_python(fn, a, seconds, min_samples):
    """timing.c's method in Python: warm-up, batch to >= 100 us, then
    samples for seconds; returns ({samples, batch}, [us per inference])."""
    t0 = time.perf_counter_ns()
    n = 0
    while n < 2 or time.perf_counter_ns() - t0 < a.warmup * 1e9:
        fn()
        n += 1
    per = (time.perf_counter_ns() - t0) / n
    batch = 1 if per >= 100e3 else int(100e3 / per) + 1
    v, start = [], time.perf_counter_ns()
    while len(v) < min_samples or time.perf_counter_ns() - start < seconds * 1e9:
        s = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        v.append((time.perf_counter_ns() - s) / batch)
    return {"samples": len(v), "batch": batch}, [x * 1e-3 for x in v]


TORCH_VARIANTS = ("freeze", "optimized")


def torch_measure(a, fz, x):
    """An engine's measure() for a frozen module, timed in-process; writes
    the samples as the C harness does."""
    import torch

    def measure(seconds, min_samples, samples_path):
        with torch.no_grad():
            res, v = time_python(lambda: fz(x), a, seconds, min_samples)
        with open(samples_path, "w") as f:
            f.write("".join("%.4f\n" % us for us in v))
        return res, v
    return measure


def bench_torch(a, d, r):
    """PyTorch: trace + freeze, and the same + optimize_for_inference, two
    engines of the rounds; the table shows the faster (see
    docs/performance.md: with Debian's netlib BLAS, freeze alone sends
    small batch-1 convs to a slow path). A .cnn model runs as torchnet's
    module, whose ONNX export ONNX Runtime then runs; a torchvision network
    as its own module (its ONNX file exists)."""
    import torch
    import torchnet
    net = d.get("torch_module") or torchnet.Net(d["m"], d["params"])
    x = torchnet.example_input(d["m"], d["x"])
    for name in TORCH_VARIANTS:
        fz = torchnet.frozen(net, x, optimize=name == "optimized")
        with torch.no_grad():
            y = fz(x).numpy().reshape(-1)
        d["engines"]["torch_" + name] = engine("torch", torch_measure(a, fz, x),
                                               err=rel_err(y, d["ref"]))
    if not d.get("onnx"):
        onnx = os.path.join(d["work"], "model.onnx")
        torchnet.export_onnx(net, x, onnx)
        d["onnx"] = onnx


def bench_ort(a, d):
    """ONNX Runtime (ort_bench.js) on the ONNX file, an engine of the rounds."""
    if not d.get("onnx"):
        raise StepError("no ONNX file (the PyTorch step failed)")
    out = os.path.join(d["work"], "out_ort.f32")
    dims = json.dumps([1] + list(d["m"].input_shape))
    env = dict(os.environ, NODE_PATH=os.path.join(a.ort_dir, "node_modules"))
    cmd = ["node", os.path.join(HERE, "ort_bench.js"), d["onnx"],
           os.path.join(d["work"], "input.f32"), dims, out]
    d["engines"]["ort"] = engine("ort", process_measure(a, cmd, env=env, cpu=False), out=out)


def ort_installed(a):
    return bool(shutil.which("node")) and os.path.isdir(
        os.path.join(a.ort_dir, "node_modules", "onnxruntime-node"))


def ort_missing(a):
    """Why ONNX Runtime cannot be measured, or None."""
    if not a.ort:
        return "--no-ort"
    if not a.torch:
        return "it runs the ONNX file exported in the PyTorch step: --no-torch"
    if not ort_installed(a):
        return ("not installed: npm install --ignore-scripts onnxruntime-node --prefix %s, "
                "or make bench" % a.ort_dir)
    return None


def install_ort(a):
    """npm install --ignore-scripts onnxruntime-node into a.ort_dir (its
    install script would fetch GPU files; the CPU library is in the package)."""
    if ort_installed(a) or not shutil.which("npm"):
        return
    os.makedirs(a.ort_dir, exist_ok=True)
    print("installing onnxruntime-node into %s ..." % a.ort_dir, file=sys.stderr)
    try:
        run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund",
             "--prefix", a.ort_dir, "onnxruntime-node"], timeout=120)
    except StepError as e:
        print("bench: npm install failed, ONNX Runtime not measured: %s" % e, file=sys.stderr)


# ---------------------------------------------------------------- rounds

# An engine of the rounds: the step a failure is recorded under; measure
# (seconds, min_samples, samples_path) -> (its run line as a dict, [us per
# inference, one per sample]); the output file to check after the rounds,
# or the error already known (PyTorch's, checked in-process).
def engine(step, measure, out=None, err=None):
    return {"step": step, "measure": measure, "out": out, "err": err}


def process_measure(a, cmd, env=None, cpu=True):
    """measure() of a program taking timing.c's options and --samples."""
    def measure(seconds, min_samples, samples_path):
        args = timing_args(a, min_samples, seconds, cpu) + ["--samples", samples_path]
        res = run_line(run(cmd + args, env=env))
        with open(samples_path) as f:
            v = [float(x) for x in f.read().split()]
        if len(v) != int(res["samples"]):
            raise StepError("%s: %d samples, the run line says %d"
                            % (samples_path, len(v), int(res["samples"])))
        return res, v
    return measure


def rotated(keys, i):
    """Round i's order: keys rotated by i, so each engine takes each place."""
    j = i % len(keys)
    return keys[j:] + keys[:j]


def run_rounds(a, d, r):
    """{engine: [(run line, samples)] per round}: a.rounds rounds, each
    running every engine of d for a.seconds / a.rounds (and at least its
    share of a.min_samples) after its own warm-up, in an order rotated each
    round. An engine that fails is dropped, its error recorded."""
    got, r["round_order"] = {k: [] for k in d["engines"]}, []
    seconds, few = a.seconds / a.rounds, -(-a.min_samples // a.rounds)
    for i in range(a.rounds):
        r["round_order"].append(rotated(list(got), i))
        for key in r["round_order"][-1]:
            eng = d["engines"][key]
            path = os.path.join(d["work"], "samples_%s_%d.txt" % (key, i))
            try:
                got[key].append(eng["measure"](seconds, few, path))
            except Exception as e:   # a tool or torch: show, go on
                record_error(r, eng["step"], e)
                del got[key]
    return got


def pooled(runs):
    """One engine's stats over all samples of all its rounds (timing.c's
    median, min, p10, p90), each round's median under "rounds", and the
    run line's words (ONNX Runtime's version)."""
    v = sorted(x for _, xs in runs for x in xs)
    n = len(v)
    res = {k: x for k, x in runs[0][0].items() if isinstance(x, str)}
    res.update(median_us=float(np.median(v)), min_us=v[0], p10_us=v[n // 10],
               p90_us=v[n - 1 - n // 10], samples=n,
               rounds=[{"median_us": float(np.median(xs)), "samples": len(xs),
                        "batch": int(kv["batch"])} for kv, xs in runs])
    return res


# The ratios also taken round by round: (engine, engine it is divided by).
PAIRED = {"O3/ort": ("O3", "ort"), "O2/ort": ("O2", "ort"), "O3/torch": ("O3", "torch")}


def paired_ratios(r):
    """{pair: median over rounds of the ratio of the two engines' medians
    in that round}: each ratio compares engines timed within one round,
    seconds apart, not a whole model's run apart."""
    out = {}
    for name, (x, y) in PAIRED.items():
        rx, ry = (r[k]["rounds"] if r.get(k) else [] for k in (x, y))
        if rx and len(rx) == len(ry):
            out[name] = float(np.median([p["median_us"] / q["median_us"]
                                         for p, q in zip(rx, ry)]))
    return out


def bench_rounds(a, d, r):
    """Times every engine d holds in rounds; r gets each one's pooled
    stats and error, PyTorch's faster variant, and the paired ratios."""
    for key, runs in run_rounds(a, d, r).items():
        eng = d["engines"][key]
        res = pooled(runs)
        res["err"] = eng["err"] if eng["out"] is None else \
            rel_err(read_out(eng["out"], d["ref"].size), d["ref"])
        r[key] = res
    variants = {n: r.pop("torch_" + n) for n in TORCH_VARIANTS if "torch_" + n in r}
    if variants:
        best = min(variants, key=lambda k: variants[k]["median_us"])
        r["torch"] = dict(variants[best], variant=best)
        r["torch_variants"] = variants
    r["paired"] = paired_ratios(r)


# ---------------------------------------------------------------- one model

def bench_model(a, cnnref, path):
    name = stem(path)
    work = os.path.join(a.out, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    r = {"name": name, "group": group_of(path), "errors": {}}
    try:
        d = prepare(a, cnnref, path, work)
    except Exception as e:   # a tool, the parse, torch's export: show, go on
        r["errors"]["prepare"] = "%s: %s" % (type(e).__name__, str(e).strip()[-300:])
        return r
    r["flops"] = d["total_flops"]
    if d["note"]:
        r["note"] = d["note"]
    guarded(r, "interp", bench_interp, a, d, r)
    if "ref" not in d:
        return r
    d["engines"] = {}
    src = guarded(r, "gen", bench_generated, a, d, r)
    if src:
        guarded(r, "layers", bench_layers, a, d, src, r)
    if a.torch:
        guarded(r, "torch", bench_torch, a, d, r)
    if a.ort:
        guarded(r, "ort", bench_ort, a, d)
    if d["engines"]:
        guarded(r, "rounds", bench_rounds, a, d, r)
    return r


def guarded(r, step, fn, *args):
    """Runs one step; a failure is recorded for the table, not raised."""
    print("  %s: %s" % (r["name"], step), file=sys.stderr)
    try:
        return fn(*args)
    except Exception as e:   # torch, ONNX export or a tool: show, go on
        record_error(r, step, e)
        return None


def record_error(r, step, e):
    lines = str(e).strip().splitlines() or [""]
    r["errors"][step] = "%s: %s" % (type(e).__name__, lines[-1])


# ---------------------------------------------------------------- the table

COLUMNS = ["model", "MFLOP", "gcc -O3 native µs", "gcc -O2 µs", "interp µs",
           "PyTorch µs", "ORT µs", "GFLOP/s", "% peak", "×ORT O3n", "×ORT O2",
           "×ORT O2 paired", "×PyTorch",
           ".text O3/O2 B", "arena B", "weights B", "gcc O3/O2 s", "gcc O2 s hex",
           "check 1e-4"]


def fmt_us(x):
    if x is None:
        return "—"
    return "%.0f" % x if x >= 100 else ("%.1f" % x if x >= 10 else "%.2f" % x)


def fmt_mflop(flops):
    x = flops / 1e6
    return "%.1f" % x if x >= 10 else ("%.2f" % x if x >= 1 else "%.3f" % x)


def fmt_secs(s):
    return "—" if s is None else ("%.2f" % s if s < 1 else "%.1f" % s)


def fmt_int(x):
    return "—" if x is None else "{:,}".format(int(x))


def us_of(r, key):
    v = r.get(key)
    return v["median_us"] if v else None


def engine_cell(r, key):
    """Median µs; ✗ when that engine's output is off (it then computes a
    different function and its time means little)."""
    v = r.get(key)
    if not v:
        return "err" if key in r["errors"] else "—"
    bad = v.get("err", 0) > TOL
    return fmt_us(v["median_us"]) + (" ✗" if bad else "")


def ratio(x, y):
    return "—" if not x or not y else "%.2f" % (x / y)


def paired_cell(r, pair):
    x = r.get("paired", {}).get(pair)
    return "—" if x is None else "%.2f" % x


def check_cell(r):
    errs = [r[k]["err"] for k in BUILDS if r.get(k)]
    if not errs or len(errs) < len(BUILDS):
        return "✗ (failed)"
    e = max(errs)
    return ("✓" if e <= TOL else "✗") + " %.0e" % e if e else "✓ 0"


def model_row(r, peak):
    o3 = us_of(r, "O3")
    gf = r["flops"] / (o3 * 1e3) if o3 and r.get("flops") else None
    both = lambda k, f: "/".join(f(r.get(k + "_" + b)) for b in BUILDS) \
        if r.get(k + "_O3") is not None else "—"
    return ["**%s**" % r["name"], fmt_mflop(r["flops"]) if "flops" in r else "—",
            engine_cell(r, "O3"), engine_cell(r, "O2"), engine_cell(r, "interp"),
            engine_cell(r, "torch"), engine_cell(r, "ort"),
            "%.1f" % gf if gf else "—", "%.0f%%" % (100 * gf / peak) if gf else "—",
            ratio(o3, us_of(r, "ort")), ratio(us_of(r, "O2"), us_of(r, "ort")),
            paired_cell(r, "O2/ort"), ratio(o3, us_of(r, "torch")),
            both("text", fmt_int), fmt_int(r.get("arena")), fmt_int(r.get("weights")),
            both("compile", fmt_secs), fmt_secs(r.get("compile_O2_hex")), check_cell(r)]


def layer_rows(r, peak):
    rows = []
    for L in r.get("layers", []):
        gf = L["flops"] / (L["us"] * 1e3) if L["flops"] and L["us"] > 0 else None
        label = re.sub(r"^op\d+_", "", L["fn"]) or L["name"]
        o2 = L.get("us_O2")
        row = ["  ↳ op%d %s" % (L["op"], label), fmt_mflop(L["flops"]) if L["flops"] else "",
               fmt_us(L["us"]), fmt_us(o2) if o2 is not None else ""]
        row += [""] * 3 + ["%.1f" % gf if gf else "", "%.0f%%" % (100 * gf / peak) if gf else ""]
        rows.append(row + [""] * (len(COLUMNS) - len(row)))
    return rows


def markdown(rows):
    lines = ["| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join("---" if i == 0 else "--:" for i in range(len(COLUMNS))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def table(results, peak):
    rows = []
    for r in results:
        rows.append(model_row(r, peak))
        rows += layer_rows(r, peak)
    return markdown(rows)


def notes(a, results, machine, peaks, load):
    pk, bw = peaks["native"], machine["bandwidth"]
    out = ["Machine: %s, %s CPUs (%s thread(s) per core), avx2 %s, avx512f %s; gcc %s."
           % (machine["model"], machine["cpus"], machine["threads_per_core"],
              "yes" if machine["avx2"] else "no", "yes" if machine["avx512f"] else "no",
              machine["gcc"]),
           "Single-core peak (peak.c, %d-lane FMAs, %s): %.1f GFLOP/s; without AVX-512: "
           "%.1f GFLOP/s; plain x86-64 (SSE2, no FMA: the -O2 build's ceiling): %.1f GFLOP/s."
           % (int(pk["lanes"]), pk["isa"], pk["gflops"], peaks["avx2"]["gflops"],
              peaks["sse2"]["gflops"]),
           "Single-core bandwidth (bandwidth.c, STREAM triad, 12 B per element): %.1f GB/s "
           "from memory (%.0f MiB), %.1f GB/s from cache (%.0f KiB); the roofline "
           "(roofline.svg) has both as slopes." % (
               bw["dram"]["gbs"], bw["dram"]["bytes"] / 2 ** 20,
               bw["cache"]["gbs"], bw["cache"]["bytes"] / 2 ** 10),
           "Pinned to CPU %d; %.2g s per engine in %d round(s) of %.2g s, each after a %.2g s "
           "warm-up, the engines in an order rotated each round; median of all its samples "
           "(the interpreter, and the layer rows: one %.2g s measurement). "
           "Load average (1 min) before/after: %.2f / %.2f%s." % (
               a.cpu, a.seconds, a.rounds, a.seconds / a.rounds, a.warmup, a.seconds,
               load[0], load[1],
               " — the machine was busy: re-run on a quiet one" if max(load) > 0.5 else ""),
           "×ORT O3n, ×PyTorch: latency of the gcc -O3 -march=native build divided by "
           "theirs; ×ORT O2: of the plain gcc -O2 build (below 1: the generated C is "
           "faster); ×ORT O2 paired: the median over rounds of that ratio within one round. "
           "✗ after a time: that engine's output is more than 1e-4 off the "
           "interpreter's. Layer rows: the op's time in each build, GFLOP/s and % peak "
           "of the -O3 build."]
    if a.variant != "auto":
        out.append("--variant %s: the generated C built with %s%s, so every build runs its %s "
                   "code; %% peak of %.1f GFLOP/s." % (
                       a.variant, " ".join(VARIANT_DEFINES[a.variant]),
                       "".join(" (-O3 build: also %s)" % f for f in VARIANT_NATIVE_FLAGS[a.variant]),
                       "AVX2" if a.variant == "avx2" else "portable", variant_peak(a, peaks)))
    tv = [(r["name"], r["torch_variants"]) for r in results if r.get("torch_variants")]
    if tv:
        out.append("PyTorch %s: trace + freeze + optimize_for_inference (the faster); trace + "
                   "freeze alone: %s µs." % (torch_version(), ", ".join(
                       "%s %s" % (n, fmt_us(v["freeze"]["median_us"])) for n, v in tv)))
    ov = [r["ort"].get("ort") for r in results if r.get("ort")]
    if ov:
        out.append("ONNX Runtime %s (npm onnxruntime-node; 1 intra-op thread, graph "
                   "optimization level all; timed from node, binding overhead included); "
                   "ONNX file exported from the PyTorch module, opset 17 (torchvision networks: "
                   "the opset 13 file cnnc imported)." % ov[0])
    if not a.ort:
        out.append("ONNX Runtime: not measured (%s)." % a.no_ort_why)
    for r in results:
        if r.get("note"):
            out.append("%s: %s." % (r["name"], r["note"]))
        for step, msg in sorted(r["errors"].items()):
            out.append("%s, %s: %s" % (r["name"], step, msg))
    return out


def source_revision():
    """' on commit abc1234 (+ uncommitted changes)', or '' outside git.
    Read-only git plumbing: the index is not refreshed."""
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "diff-index", "--quiet", "HEAD", "--"],
                               capture_output=True).returncode != 0
    except OSError:
        return ""
    return " on commit %s%s" % (rev, " + uncommitted changes" if dirty else "") if rev else ""


def torch_version():
    import torch
    return torch.__version__


def read_doc(path):
    """The document --update-doc rewrites; checked before any work."""
    try:
        with open(path) as f:
            doc = f.read()
    except OSError as e:
        raise SystemExit("bench: --update-doc: %s" % e)
    if DOC_BEGIN not in doc or DOC_END not in doc:
        raise SystemExit("bench: %s has no %s ... %s section" % (path, DOC_BEGIN, DOC_END))
    return doc


def update_doc(path, text):
    head, rest = read_doc(path).split(DOC_BEGIN, 1)
    tail = rest.split(DOC_END, 1)[1]
    with open(path, "w") as f:
        f.write(head + DOC_BEGIN + "\n" + text + "\n" + DOC_END + tail)


def variant_peak(a, peaks):
    """The peak the layers' % peak is taken of: without AVX-512 for --variant avx2."""
    return peaks["avx2" if a.variant == "avx2" else "native"]["gflops"]


def report(a, results, machine, peaks, load):
    peak = variant_peak(a, peaks)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    md = "Run of %s%s%s%s.\n\n%s\n\n%s\n" % (
        when, source_revision(), " (--smoke)" if a.smoke else "",
        "" if a.variant == "auto" else " (--variant %s: %s)" % (
            a.variant, " ".join(VARIANT_DEFINES[a.variant])),
        table(results, peak), "\n".join("- " + n for n in notes(a, results, machine, peaks, load)))
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"machine": machine, "peak": peaks, "load": load, "models": results},
                  f, indent=1, default=str)
    print(md)
    picture = write_roofline(a, results, machine, peaks)
    if a.update_doc:
        update_doc(a.update_doc, md)
        print("(table written to %s)" % a.update_doc)
        if picture:
            doc_svg = os.path.join(os.path.dirname(os.path.abspath(a.update_doc)), ROOFLINE_DOC)
            shutil.copyfile(picture, doc_svg)
            print("(roofline copied to %s)" % doc_svg)


def write_roofline(a, results, machine, peaks):
    """results/roofline.svg (roofline.py); its path, or None without layers."""
    import roofline
    bw = machine["bandwidth"]
    title = "cnnc layers on %s, one core (%s)" % (
        machine["model"], datetime.datetime.now().strftime("%Y-%m-%d"))
    text = roofline.svg(results, variant_peak(a, peaks), bw["dram"]["gbs"],
                        bw["cache"]["gbs"], title, peak_o2=peaks["sse2"]["gflops"])
    if not text:
        return None
    path = os.path.join(a.out, "roofline.svg")
    with open(path, "w") as f:
        f.write(text)
    print("(roofline: %s)" % path)
    return path


# ---------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="CMake build directory (cnnc, cnnc_bench_interp)")
    ap.add_argument("--cnnc", help="cnnc executable (default: BUILD/compiler/cnnc)")
    ap.add_argument("--interp-bench", help="default: BUILD/bench/cnnc_bench_interp")
    ap.add_argument("--out", help="work and results directory (default: BUILD/bench/results)")
    ap.add_argument("--ort-dir", help="npm prefix holding onnxruntime-node "
                                      "(default: BUILD/bench/ort)")
    ap.add_argument("--install-ort", action="store_true",
                    help="npm install onnxruntime-node into --ort-dir when missing")
    ap.add_argument("--no-torch", dest="torch", action="store_false")
    ap.add_argument("--no-ort", dest="ort", action="store_false")
    ap.add_argument("--no-torchvision", dest="torchvision", action="store_false",
                    help="leave out the 224x224 torchvision networks (the last, slowest "
                         "third of the default run)")
    ap.add_argument("--cpu", type=int, default=-1, help="core to pin to (default: the last)")
    ap.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    ap.add_argument("--rounds", type=int, default=5,
                    help="the engines take turns in this many rounds of SECONDS/ROUNDS")
    ap.add_argument("--warmup", type=float, default=0.2)
    ap.add_argument("--min-samples", type=int, default=15)
    ap.add_argument("--smoke", action="store_true",
                    help="tiny.cnn, short timings: checks that the benchmark runs")
    ap.add_argument("--update-doc", help="rewrite the bench section of this markdown file")
    ap.add_argument("--variant", choices=sorted(VARIANT_DEFINES), default="auto",
                    help="the generated C's code variant: auto (the file's run-time "
                         "dispatch), avx2 (-DCNNC_NO_AVX512: what an AVX2+FMA machine "
                         "runs), portable (-DCNNC_NO_SIMD)")
    ap.add_argument("models", nargs="*",
                    help=".cnn files, names of examples or MLPerf Tiny models (vgg, dscnn), "
                         "torchvision networks (%s) or groups (examples, mlperf, "
                         "torchvision); default: all, in that order" % ", ".join(TORCHVISION))
    a = ap.parse_args(argv)
    a.cnnc = a.cnnc or os.path.join(a.build, "compiler", "cnnc")
    a.interp_bench = a.interp_bench or os.path.join(a.build, "bench", "cnnc_bench_interp")
    a.out = os.path.abspath(a.out or os.path.join(a.build, "bench", "results"))
    a.ort_dir = os.path.abspath(a.ort_dir or os.path.join(a.build, "bench", "ort"))
    if a.smoke:
        a.seconds, a.warmup, a.min_samples, a.rounds = 0.05, 0.01, 3, 2
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    return a


def pin(a):
    """Pins this process (and so torch, node and every child) to one core."""
    allowed = sorted(os.sched_getaffinity(0))
    if a.cpu < 0:
        a.cpu = allowed[-1]
    os.sched_setaffinity(0, {a.cpu})


def model_ok(r):
    """Every step ran and every output is within TOL of the interpreter's."""
    engines = [r[k] for k in ("torch", "ort") if r.get(k)]
    return not r["errors"] and check_cell(r).startswith("✓") and \
        all(v["err"] <= TOL for v in engines)


def main(argv):
    a = parse_args(argv)
    for tool in (a.cnnc, a.interp_bench):
        if not os.access(tool, os.X_OK):
            raise SystemExit("bench: %s not found: build first (make build)" % tool)
    # One thread everywhere, before torch (and its OpenMP and BLAS) loads.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    if a.update_doc:
        read_doc(a.update_doc)
    import cnnref   # needs torch; imported late so --help works without it
    if a.install_ort and a.ort:
        install_ort(a)
    a.no_ort_why = ort_missing(a)
    a.ort = not a.no_ort_why
    os.makedirs(a.out, exist_ok=True)
    pin(a)
    load = [os.getloadavg()[0]]
    machine = lscpu()
    peaks = measure_peak(a, a.out)
    machine["bandwidth"] = measure_bandwidth(a, a.out)
    results = [bench_model(a, cnnref, p) for p in model_list(a)]
    load.append(os.getloadavg()[0])
    report(a, results, machine, peaks, load)
    failed = [r["name"] for r in results if not model_ok(r)]
    if failed:
        print("bench: problems with %s (see the notes)" % ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
