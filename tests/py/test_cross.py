"""test_cross: the emitted C for aarch64, cross-compiled and run under qemu-user.

The NEON variant (docs/targets.md) only compiles on aarch64, so on an x86-64
machine nothing else runs it. Consumes random models from genmodels.py
(seeds START..START+COUNT-1) and every examples/*.cnn (weights rewritten to
random safetensors, as test_differential does). Each is compiled by cnnc for
one or more targets (aarch64 and auto hold the NEON variant; cortex-m and
generic only portable code), and each .c is built with the harness of
cnnctest by the cross gcc, statically (no aarch64 sysroot at run time):

  neon     -std=c99 -O2 -ffp-contract=off -Wall -Wextra -pedantic -static
           (aarch64 and auto files: the NEON variant)
  nosimd   the same with -DCNNC_NO_SIMD (the portable code on aarch64)
  portable the same flags on a cortex-m or generic file
  gnu_o3   -O3 -Wall -Wextra -pedantic -static in GNU C (FMA contraction on)

and run under qemu-aarch64 on a seeded input; every output must match
`cnnc run --interp` (on this machine) within max-rel 1e-5, every build must
be free of warnings, and the harness's checks must pass (input untouched,
nothing written outside the output, runs independent, <prefix>_run_ws on an
arena of exactly ARENA_BYTES). So that a NEON build cannot silently run the
portable code, the header's <PREFIX>_VARIANTS must name neon exactly for the
aarch64 and auto targets, and the cross gcc's preprocessor output of each
build must hold <prefix>_run_neon exactly when the file holds the NEON
variant and the build is not -DCNNC_NO_SIMD.

    test_cross.py --cnnc build/compiler/cnnc --examples examples \\
        --cross-cc aarch64-linux-gnu-gcc --qemu qemu-aarch64 --count 60
"""

import glob
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnnctest  # noqa: E402
import cnnref  # noqa: E402
import genmodels  # noqa: E402

C99 = ["-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-pedantic", "-static"]
BUILDS = {
    "neon": C99,
    "nosimd": C99 + ["-DCNNC_NO_SIMD"],
    "portable": C99,
    "gnu_o3": ["-O3", "-Wall", "-Wextra", "-pedantic", "-static"],
}
NEON_TARGETS = ("aarch64", "auto")    # targets whose .c holds the NEON variant

# Random models, by seed % len: (target, builds). Every model runs NEON or
# portable code; a third of them both, in one binary each.
RANDOM_PLAN = [
    [("aarch64", ["neon", "nosimd"])],
    [("auto", ["neon", "gnu_o3"])],
    [("aarch64", ["neon", "gnu_o3"])],
    [("cortex-m", ["portable"])],
    [("auto", ["neon", "nosimd"])],
    [("generic", ["portable", "gnu_o3"])],
]
# Examples: every target and build.
EXAMPLE_PLAN = [("aarch64", ["neon", "nosimd", "gnu_o3"]), ("auto", ["neon"]),
                ("cortex-m", ["portable"]), ("generic", ["gnu_o3"])]


class Stats:
    def __init__(self):
        self.models = self.builds = self.fail = 0
        self.by_build = {}
        self.max_err = {}      # build kind -> (err, where)

    def saw(self, kind, err, where):
        self.builds += 1
        self.by_build[kind] = self.by_build.get(kind, 0) + 1
        if err > self.max_err.get(kind, (-1.0, ""))[0]:
            self.max_err[kind] = (err, where)


def check_variants(facts_h, target):
    """<PREFIX>_VARIANTS names neon exactly for the targets that hold it."""
    m = re.search(r'#\s*define\s+\w+_VARIANTS\s+"([^"]*)"', facts_h)
    if not m:
        return ["--target %s: no _VARIANTS macro in the header" % target]
    has = "neon" in m.group(1).split()
    if has != (target in NEON_TARGETS):
        return ["--target %s: _VARIANTS is \"%s\"" % (target, m.group(1))]
    return []


def check_preprocessed(args, d, base, facts, target, kind, flags):
    """The cross gcc's preprocessor, with the build's flags, keeps the NEON
    run function exactly when the file holds it and the build does not say
    -DCNNC_NO_SIMD: then the harness ran the NEON code."""
    cmd = [args.cross_cc, "-E", "-P"] + [f for f in flags if f != "-static"] + \
        ["-I", d, os.path.join(d, base + ".c")]
    text = cnnctest.check_run(cmd).stdout
    has = re.search(r"\b%s_run_neon\s*\(" % re.escape(facts["prefix"]), text) is not None
    if has != (target in NEON_TARGETS and kind != "nosimd"):
        return ["%s %s: the preprocessed C %s %s_run_neon" % (
            base, kind, "holds" if has else "lacks", facts["prefix"])]
    return []


def check_build(args, d, base, facts, target, kind, x, ref, stats):
    flags = BUILDS[kind]
    exe = "%s_%s" % (base, kind)
    problems = check_preprocessed(args, d, base, facts, target, kind, flags)
    warnings = cnnctest.build(args.cross_cc, flags, d, facts, exe, base=base)
    if warnings:
        problems.append("%s: warnings on the emitted C:\n%s" % (exe, warnings[:3000]))
    got = cnnctest.run_built(d, exe, x, runner=[args.qemu], timeout=300)
    err, _ = cnnref.max_rel_err(got, ref)
    stats.saw(kind, err, "%s %s" % (os.path.basename(d), exe))
    if not err <= cnnctest.TOL:
        problems.append("%s vs interp: %s" % (exe, cnnctest.worst(got, ref)))
    return problems


def attempt(fn, *a):
    """fn's problems, or the failed step's message: one broken build does
    not hide the others."""
    try:
        return fn(*a)
    except cnnctest.ToolError as e:
        return [str(e)]


def check_target(args, d, path, target, kinds, x, ref, stats):
    base = "model_" + target.replace("-", "_")
    facts = cnnctest.compile_model(args.cnnc, path, d, base=base, extra=["--target", target])
    with open(os.path.join(d, base + ".h")) as f:
        problems = check_variants(f.read(), target)
    for kind in kinds:
        problems += attempt(check_build, args, d, base, facts, target, kind, x, ref, stats)
    return problems


def check_model(args, label, seed, text, plan, stats):
    d = os.path.join(args.workdir, label)
    os.makedirs(d, exist_ok=True)
    stats.models += 1
    problems = []
    try:
        path, m, _ = cnnctest.prepare(text, d, seed, force_file=False)
        x = cnnctest.random_input(m, seed) * cnnctest.input_scale(seed)
        ref = cnnctest.interp(args.cnnc, path, x, d).reshape(-1)
        for target, kinds in plan:
            problems += attempt(check_target, args, d, path, target, kinds, x, ref, stats)
    except (cnnctest.ToolError, cnnref.CnnError) as e:
        problems.append(str(e))
    if problems:
        stats.fail += 1
        cnnctest.report("cross " + label + " " + ", ".join(
            "--target %s (%s)" % (t, " ".join(k)) for t, k in plan), seed, text,
            "\n".join(problems))
    elif not args.keep:
        shutil.rmtree(d, ignore_errors=True)


def require_cross(args):
    missing = [p for p in (args.cross_cc, args.qemu)
               if not p or not (os.access(p, os.X_OK) or shutil.which(p))]
    if missing:
        print("FAIL: required tools missing: " + ", ".join(map(str, missing)))
        sys.exit(1)


def main():
    ap = cnnctest.arg_parser(__doc__)
    ap.add_argument("--cross-cc", default="aarch64-linux-gnu-gcc", help="the aarch64 cross gcc")
    ap.add_argument("--qemu", default="qemu-aarch64", help="the qemu-user for aarch64")
    ap.add_argument("--count", type=int, default=60, help="random models")
    ap.add_argument("--start", type=int, default=30000, help="first seed")
    ap.add_argument("--big", action="store_true", help="larger models (for bug hunts)")
    args = ap.parse_args()
    cnnctest.require_tools(args, need_c=False)
    require_cross(args)
    args.workdir = cnnctest.fresh_dir(args.workdir)
    t0 = time.time()
    stats = Stats()
    opts = genmodels.big_options() if args.big else genmodels.Options()
    for seed in range(args.start, args.start + args.count):
        check_model(args, "seed%d" % seed, seed, genmodels.generate(seed, opts),
                    RANDOM_PLAN[seed % len(RANDOM_PLAN)], stats)
    if args.examples:
        files = sorted(glob.glob(os.path.join(args.examples, "*.cnn")))
        if not files:
            stats.fail += 1
            print("FAIL: no examples/*.cnn in %s" % args.examples)
        for i, f in enumerate(files):
            with open(f) as fh:
                text = fh.read()
            check_model(args, "example_" + os.path.basename(f)[:-4], 1000 + i, text,
                        EXAMPLE_PLAN, stats)
    for kind in sorted(stats.by_build):
        err, where = stats.max_err[kind]
        print("  %-8s %4d runs, max rel err %.3g (%s)" % (kind, stats.by_build[kind], err, where))
    print("cross aarch64: %d models, %d qemu runs, %d failed (%.1fs)"
          % (stats.models, stats.builds, stats.fail, time.time() - t0))
    if stats.builds == 0:
        print("FAIL: nothing ran")
        return 1
    return 1 if stats.fail else 0


if __name__ == "__main__":
    sys.exit(main())
