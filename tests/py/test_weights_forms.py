"""The two ways the .c stores weights (docs/emitted-c.md) compute the same.

For every example: `cnnc --weights bytes` (string literals of little-endian
bytes, the default) and `--weights=hex` (32-bit integers) give the same
header, and their C, built with gcc (and the bytes form with tcc too),
gives bit-identical outputs on a seeded input, equal to the interpreter's
within the suite's 1e-5. A byte written wrong in either form changes a
weight and so the outputs.
"""
import glob
import os
import sys

import numpy as np

import cnnref
from cnnctest import (GCC_FLAGS, TCC_FLAGS, ToolError, arg_parser, build, check_run,
                      fresh_dir, header_facts, interp, random_input, require_tools,
                      run_built, worst)


def emit(args, model, d, form):
    """Writes d/FORM.c and FORM.h; returns the header. Both spellings of
    the option are used, one per form."""
    out_c = os.path.join(d, form + ".c")
    flag = ["--weights", "bytes"] if form == "bytes" else ["--weights=" + form]
    check_run([args.cnnc, model, "-o", out_c] + flag, timeout=120)
    with open(out_c[:-2] + ".h") as f:
        return f.read()


def check_example(args, model):
    name = os.path.splitext(os.path.basename(model))[0]
    d = os.path.join(args.work, name)
    os.makedirs(d)
    hb, hh = emit(args, model, d, "bytes"), emit(args, model, d, "hex")
    if hb != hh:
        raise ToolError("%s: the headers of the two forms differ" % name)
    facts = header_facts(hb, name)
    m = cnnref.parse(open(model).read())
    x = random_input(m, 7)
    outs = {}
    for form, cc, flags in (("bytes", args.gcc, GCC_FLAGS), ("hex", args.gcc, GCC_FLAGS),
                            ("bytes_tcc", args.tcc, TCC_FLAGS)):
        base = form.split("_")[0]
        build(cc, flags, d, facts, form + ".exe", base=base)
        outs[form] = run_built(d, form + ".exe", x)
    ref = interp(args.cnnc, model, x, d).reshape(-1)
    for form, y in outs.items():
        if form != "bytes" and not np.array_equal(y, outs["bytes"]):
            raise ToolError("%s: %s differs from bytes: %s" % (name, form, worst(y, outs["bytes"])))
    err, _ = cnnref.max_rel_err(outs["bytes"], ref)
    if not err <= 1e-5:
        raise ToolError("%s: bytes vs the interpreter: %s" % (name, worst(outs["bytes"], ref)))
    return name


def main():
    args = arg_parser(__doc__.splitlines()[0]).parse_args()
    require_tools(args)
    args.work = fresh_dir(args.workdir)
    failed = passed = 0
    for model in sorted(glob.glob(os.path.join(args.examples, "*.cnn"))):
        try:
            print("PASS", check_example(args, model))
            passed += 1
        except ToolError as e:
            failed += 1
            print("FAIL", e)
    print("weights forms: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
