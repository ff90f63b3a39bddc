"""test_differential: emitted C (gcc and tcc) vs the reference interpreter.

Consumes random models from genmodels.py (seeds 0..N-1, this shard's share)
and every examples/*.cnn (weights rewritten to random safetensors). For each:
cnnc compiles it to C for one target (by seed: auto, auto, cortex-m,
x86-64-v3; docs/targets.md); the C and a generated harness are built once
with `gcc -std=c99 -O2 -ffp-contract=off -Wall -Wextra -pedantic` (the best
code variant this CPU runs), for auto models once more with that and
-DCNNC_NO_AVX512 or -DCNNC_NO_SIMD (the next variant down: AVX2 where the
CPU has it, the portable code), and once with `tcc -Wall`; all run on a
seeded input and must match `cnnc run --interp` within max-rel 1e-5, as
must `cnnc run` (the libtcc JIT, with the same --target). Also checked: the header's sizes against the model's
shapes (computed by cnnref), no compiler warnings, and the harness's checks
(input untouched, nothing written outside the output, runs independent,
<prefix>_run_ws fine on an arena of exactly ARENA_BYTES filled with NaN
bytes). Every 10th model is also built with -fsanitize=address,undefined.
The run fails if no model's C writes a concat input straight into its slice
of the concat's output (concat_view.c), or none has a conv with a fused
residual add (fuse.c): genmodels.py's op_branches and op_join make such
concats and adds, and this suite is what checks them on every target.

    test_differential.py --cnnc build/compiler/cnnc --count 300 --shard 0/4
"""

import glob
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnnctest  # noqa: E402
import cnnref  # noqa: E402
import genmodels  # noqa: E402


class Stats:
    def __init__(self):
        self.models = self.builds = self.fail = 0
        self.views = 0      # models whose C writes a concat input into its slice
        self.residuals = 0  # models whose C has a conv with a fused residual add
        self.max_err = 0.0
        self.worst = "-"    # where max_err was seen

    def saw(self, err, where):
        if err > self.max_err:
            self.max_err, self.worst = err, where


def check_header(facts, m, name):
    want_in = int(np.prod(m.input_shape))
    want_out = int(np.prod(m.output_shape()))
    problems = []
    if facts["input_size"] != want_in:
        problems.append("%s_INPUT_SIZE %d, expected %d (input %r)"
                        % (facts["PREFIX"], facts["input_size"], want_in, m.input_shape))
    if facts["output_size"] != want_out:
        problems.append("%s_OUTPUT_SIZE %d, expected %d (output %s %r)"
                        % (facts["PREFIX"], facts["output_size"], want_out,
                           m.output_name(), m.output_shape()))
    expect_prefix = name or m.name
    if facts["prefix"] != expect_prefix:
        problems.append("run function %s_run, expected %s_run" % (facts["prefix"], expect_prefix))
    return problems


def check_build(args, d, facts, compiler, flags, exe, x, ref, stats):
    """Builds and runs one way; returns a list of problems."""
    warnings = cnnctest.build(compiler, flags, d, facts, exe)
    got = cnnctest.run_built(d, exe, x)
    stats.builds += 1
    problems = []
    if warnings:
        problems.append("%s warnings on the emitted C:\n%s" % (exe, warnings[:3000]))
    err, _ = cnnref.max_rel_err(got, ref)
    stats.saw(err, "%s %s" % (os.path.basename(d), exe))
    if not err <= cnnctest.TOL:
        problems.append("%s vs interp: %s" % (exe, cnnctest.worst(got, ref)))
    return problems


# Per seed % 4: the target, and the extra gcc build's macros (docs/targets.md).
TARGETS = [("auto", ["-DCNNC_NO_AVX512"]), ("auto", ["-DCNNC_NO_SIMD"]),
           ("cortex-m", None), ("x86-64-v3", None)]


def check_jit(args, path, x, d, ref, stats, target):
    """`cnnc run` without --interp: the same C, compiled in memory by libtcc."""
    got = cnnctest.jit(args.cnnc, path, x, d, ["--target", target]).reshape(-1)
    stats.builds += 1
    err, _ = cnnref.max_rel_err(got, ref)
    stats.saw(err, "%s jit" % os.path.basename(d))
    if not err <= cnnctest.TOL:
        return ["cnnc run (JIT) vs interp: %s" % cnnctest.worst(got, ref)]
    return []


def attempt(fn, *a):
    """fn's problems, or the failed step's message: one broken path (say
    the JIT) does not hide the others."""
    try:
        return fn(*a)
    except cnnctest.ToolError as e:
        return [str(e)]


def count_comments(c_path, text):
    """How often the emitted C's op comments say text."""
    with open(c_path) as f:
        return f.read().count(text)


def check_model(args, label, seed, text, stats):
    d = os.path.join(args.workdir, label)
    os.makedirs(d, exist_ok=True)
    stats.models += 1
    name = "p%d_net" % seed if seed % 4 == 1 else None
    problems = []
    try:
        path, m, _ = cnnctest.prepare(text, d, seed, force_file=False)
        x = cnnctest.random_input(m, seed) * cnnctest.input_scale(seed)
        ref = cnnctest.interp(args.cnnc, path, x, d).reshape(-1)
        target, variant = TARGETS[seed % len(TARGETS)]
        if not args.no_jit:
            problems += attempt(check_jit, args, path, x, d, ref, stats, target)
        facts = cnnctest.compile_model(args.cnnc, path, d, name=name, extra=["--target", target])
        header = check_header(facts, m, name)
        # the comment over a producer writing into its concat slice
        # (concat_view.c), and over a conv with a fused add (fuse.c)
        stats.views += count_comments(os.path.join(d, "model.c"), "writes its output into its slice of t") > 0
        stats.residuals += count_comments(os.path.join(d, "model.c"), " *   residual: ") > 0
        problems += header
        builds = [(args.gcc, cnnctest.GCC_FLAGS, "run_gcc"), (args.tcc, cnnctest.TCC_FLAGS, "run_tcc")]
        if variant:
            builds.append((args.gcc, cnnctest.GCC_FLAGS + variant, "run_gcc_variant"))
        if args.sanitize_every and seed % args.sanitize_every == 0:
            builds.append((args.gcc, cnnctest.SAN_FLAGS, "run_asan"))
        for cc, flags, exe in builds if not header else []:   # a wrong header breaks the harness
            problems += attempt(check_build, args, d, facts, cc, flags, exe, x, ref, stats)
    except (cnnctest.ToolError, cnnref.CnnError) as e:
        problems.append(str(e))
    if problems:
        stats.fail += 1
        cnnctest.report("differential " + label + " --target " + TARGETS[seed % len(TARGETS)][0] +
                        (" --name " + name if name else ""),
                        seed, text, "\n".join(problems))
    elif not args.keep:
        cnnctest.shutil.rmtree(d, ignore_errors=True)


def main():
    ap = cnnctest.arg_parser(__doc__)
    ap.add_argument("--count", type=int, default=300, help="random models (seeds 0..count-1)")
    ap.add_argument("--start", type=int, default=0, help="first seed")
    ap.add_argument("--no-jit", action="store_true", help="skip `cnnc run` (libtcc JIT)")
    ap.add_argument("--big", action="store_true", help="larger models (for bug hunts)")
    ap.add_argument("--tiny", action="store_true", help="mostly 1..3-element tensors (bug hunts)")
    ap.add_argument("--sanitize-every", type=int, default=10,
                    help="also build every K-th model with ASan+UBSan (0: never)")
    ap.add_argument("--shard", default="0/1", help="i/n: this run takes seeds with seed %% n == i")
    args = ap.parse_args()
    cnnctest.require_tools(args)
    args.workdir = cnnctest.fresh_dir(args.workdir)
    shard, nshards = cnnctest.shard_of(args.shard)
    t0 = time.time()
    stats = Stats()
    opts = genmodels.big_options() if args.big else genmodels.Options()
    if args.tiny:
        opts.tiny = 0.8
    for seed in range(args.start, args.start + args.count):
        if seed % nshards == shard:
            check_model(args, "seed%d" % seed, seed, genmodels.generate(seed, opts), stats)
    if args.examples:
        files = sorted(glob.glob(os.path.join(args.examples, "*.cnn")))
        if not files and shard == 0:
            stats.fail += 1
            print("FAIL: no examples/*.cnn in %s" % args.examples)
        for i, f in enumerate(files):
            if i % nshards == shard:
                with open(f) as fh:
                    text = fh.read()
                check_model(args, "example_" + os.path.basename(f)[:-4], 1000 + i, text, stats)
    print("differential: %d models, %d builds (gcc, tcc, JIT, ASan), %d failed, max rel err %.3g "
          "(%s), %d with concat inputs written into their slices, %d with adds fused into convs "
          "(shard %s, %.1fs)"
          % (stats.models, stats.builds, stats.fail, stats.max_err, stats.worst, stats.views,
             stats.residuals, args.shard, time.time() - t0))
    if stats.models >= 50 and stats.views == 0:
        stats.fail += 1
        print("FAIL: no model wrote a concat input into its slice: the generator no longer "
              "exercises concat_view.c")
    if stats.models >= 50 and stats.residuals == 0:
        stats.fail += 1
        print("FAIL: no model fused an add into a conv: the generator no longer exercises "
              "fuse.c's residuals")
    return 1 if stats.fail else 0


if __name__ == "__main__":
    sys.exit(main())
