"""test_jit_models: `cnnc run` (the libtcc JIT) against three other ways of
computing the same model.

Consumes every examples/*.cnn and random models from tests/py/genmodels.py
(seeds START..START+COUNT-1, this shard's share). Even seeds and examples get
random safetensors weights written here (so PyTorch can run them too); odd
seeds keep `weights random(seed=S)`, which tests the JIT on arena-generated
weights. For each model and a seeded input:
  - `cnnc run MODEL --input x.npy --check --output jit.npy` exits 0, prints
    nothing on stderr (no tcc warnings), and reports `check: ... ok`;
    printed values (<= 20) equal jit.npy exactly (%.9g round-trips float32);
  - jit.npy matches `cnnc run --interp` and the emitted C built by gcc
    (-O2 -ffp-contract=off) within max-rel 1e-5, and PyTorch float64
    (cnnref) within 1e-5 or the float32-cancellation bound of test_torch_ops.

    test_jit_models.py --cnnc build/compiler/cnnc --count 120 --shard 0/2
"""

import glob
import os
import re
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "py"))
import cnnctest  # noqa: E402
import cnnref  # noqa: E402
import genmodels  # noqa: E402

import torch  # noqa: E402

RELAX = 50        # as test_torch_ops: tolerance vs float64 when float32 itself cancels
CHECK_RE = re.compile(r"^check: max abs error (\S+), max rel error (\S+) "
                      r"\(tolerance 1e-05\): ok$")


class Stats:
    def __init__(self):
        self.models = self.fail = self.exact = self.torch = 0
        self.err = {"interp": 0.0, "gcc": 0.0, "torch": 0.0}
        self.jit_ms = []


def printed_values(stdout, n):
    """The values of the 'NAME [dims] = v v v' line, or None when n > 20."""
    first = stdout.splitlines()[0] if stdout else ""
    if n > 20:
        return None
    if " = " not in first:
        raise cnnctest.ToolError("no values line in stdout:\n" + stdout)
    return np.array([float(v) for v in first.split(" = ", 1)[1].split()], dtype=np.float32)


def run_jit(args, path, x, d, stats):
    """cnnc run --check on x; returns the JIT's output, checked as above."""
    xin, yout = os.path.join(d, "x.npy"), os.path.join(d, "jit.npy")
    cnnref.write_npy(xin, x)
    cmd = [args.cnnc, "run", path, "--input", xin, "--check", "--output", yout]
    p = cnnctest.run(cmd)
    # The model's own warnings (dead statements) may appear; nothing from tcc.
    if p.returncode != 0 or re.search(r"internal|libtcc|error", p.stderr):
        raise cnnctest.ToolError(cnnctest.describe(cmd, p) + "\n--- stdout ---\n" + p.stdout)
    lines = p.stdout.splitlines()
    if not lines or not CHECK_RE.match(lines[-1]):
        raise cnnctest.ToolError("%s: no 'check: ... ok' line:\n%s" % (" ".join(cmd), p.stdout))
    m = re.search(r"^jit: (\S+) ms per inference", p.stderr, re.M)
    if m:
        stats.jit_ms.append(float(m.group(1)))
    y = cnnref.read_npy(yout)
    shown = printed_values(p.stdout, y.size)
    if shown is not None and not np.array_equal(shown, y.reshape(-1), equal_nan=True):
        raise cnnctest.ToolError("printed values %r differ from --output %r" % (shown, y))
    return y


def compare(name, got, ref, tol, stats, problems):
    err, _ = cnnref.max_rel_err(got, ref)
    stats.err[name] = max(stats.err[name], err)
    if not err <= tol:
        problems.append("jit vs %s: %s (tolerance %.3g)" % (name, cnnctest.worst(got, ref), tol))


def check_torch(m, params, x, got, stats, problems):
    ref32 = cnnref.forward(m, params, x)
    ref64 = cnnref.forward(m, params, x, dtype=torch.float64)
    e32, _ = cnnref.max_rel_err(ref32, ref64)
    stats.torch += 1
    compare("torch", got, ref64, max(cnnctest.TOL, RELAX * e32), stats, problems)


def check_model(args, label, seed, text, stats, force_file):
    d = os.path.join(args.workdir, label)
    os.makedirs(d, exist_ok=True)
    stats.models += 1
    problems = []
    try:
        path, m, params = cnnctest.prepare(text, d, seed, force_file=force_file)
        x = cnnctest.random_input(m, seed)
        got = run_jit(args, path, x, d, stats)
        if tuple(got.shape) != tuple(m.output_shape()):
            problems.append("--output shape %r, expected %r" % (got.shape, m.output_shape()))
        got = got.reshape(-1)
        ref = cnnctest.interp(args.cnnc, path, x, d).reshape(-1)
        compare("interp", got, ref, cnnctest.TOL, stats, problems)
        stats.exact += int(np.array_equal(got, ref, equal_nan=True))
        facts = cnnctest.compile_model(args.cnnc, path, d)
        cnnctest.build(args.gcc, cnnctest.GCC_FLAGS, d, facts, "run_gcc")
        compare("gcc", got, cnnctest.run_built(d, "run_gcc", x), cnnctest.TOL, stats, problems)
        if params is not None:
            check_torch(m, params, x, got, stats, problems)
    except (cnnctest.ToolError, cnnref.CnnError) as e:
        problems.append(str(e))
    if problems:
        stats.fail += 1
        cnnctest.report("jit " + label, seed, text, "\n".join(problems))
    elif not args.keep:
        cnnctest.shutil.rmtree(d, ignore_errors=True)


def example_files(args, shard, nshards, stats):
    if not args.examples:
        return []
    files = sorted(glob.glob(os.path.join(args.examples, "*.cnn")))
    if not files and shard == 0:
        stats.fail += 1
        print("FAIL: no examples/*.cnn in %s" % args.examples)
    return [(i, f) for i, f in enumerate(files) if i % nshards == shard]


def main():
    ap = cnnctest.arg_parser(__doc__)
    ap.add_argument("--count", type=int, default=120, help="random models")
    ap.add_argument("--start", type=int, default=0, help="first seed")
    ap.add_argument("--shard", default="0/1", help="i/n: seeds with seed %% n == i")
    args = ap.parse_args()
    cnnctest.require_tools(args, need_c=False)
    if not cnnctest.shutil.which(args.gcc):
        print("FAIL: gcc not found (%s)" % args.gcc)
        return 1
    args.workdir = cnnctest.fresh_dir(args.workdir)
    shard, nshards = cnnctest.shard_of(args.shard)
    t0, stats = time.time(), Stats()
    for seed in range(args.start, args.start + args.count):
        if seed % nshards == shard:
            check_model(args, "seed%d" % seed, seed, genmodels.generate(seed), stats,
                        force_file=seed % 2 == 0)
    for i, f in example_files(args, shard, nshards, stats):
        with open(f) as fh:
            check_model(args, "example_" + os.path.basename(f)[:-4], 2000 + i, fh.read(),
                        stats, force_file=True)
    ms = sorted(stats.jit_ms)
    print("jit: %d models (%d also vs torch), %d failed, %d bit-identical to interp; "
          "max rel err vs interp %.3g, gcc %.3g, torch %.3g; median run %.3g ms (shard %s, %.1fs)"
          % (stats.models, stats.torch, stats.fail, stats.exact, stats.err["interp"],
             stats.err["gcc"], stats.err["torch"], ms[len(ms) // 2] if ms else 0.0,
             args.shard, time.time() - t0))
    return 1 if stats.fail or stats.models == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
