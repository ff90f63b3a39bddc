"""The three ways to store weights (docs/emitted-c.md) compute the same.

Bad uses of --weights are usage errors (exit 2, nothing written).
For every example: `cnnc --weights bytes` (string literals of little-endian
bytes, the default) and `--weights=hex` (32-bit integers) give the same
header, and their C, built with gcc (and the bytes form with tcc too),
gives bit-identical outputs on a seeded input, equal to the interpreter's
within the suite's 1e-5. `--weights file` (the weights in OUT.weights,
passed to the run functions by a program that reads the file) gives the
same outputs too. A byte written wrong in any form changes a weight and so
the outputs.
"""
import glob
import os
import sys

import numpy as np

import cnnref
from cnnctest import (GCC_FLAGS, TCC_FLAGS, ToolError, arg_parser, build, check_run, run,
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


FILE_HARNESS = r"""/* reads the weights file, runs the model once: raw float32 in/out */
#include <stdio.h>
#include <stdlib.h>
#include "file.h"

static float *read_floats(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    float *v = malloc(n * sizeof *v + 1);
    if (!f || !v || fread(v, sizeof *v, n, f) != n)
        exit(2);
    fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    static float out[%(P)s_OUTPUT_SIZE];
    float *w = read_floats(WEIGHTS_PATH, %(P)s_WEIGHTS_BYTES / 4);
    float *in = read_floats(argv[1], %(P)s_INPUT_SIZE);
    FILE *f = fopen(argv[2], "wb");
    (void)argc;
    %(p)s_run(w, in, out);
    if (!f || fwrite(out, sizeof out[0], %(P)s_OUTPUT_SIZE, f) != %(P)s_OUTPUT_SIZE)
        return 2;
    fclose(f);
    free(w);
    free(in);
    return 0;
}
"""


def run_file_form(args, model, d, facts, x):
    """--weights file: OUT.c, OUT.h and OUT.weights, run by a program that
    reads the weights file."""
    out_c = os.path.join(d, "file.c")
    check_run([args.cnnc, model, "-o", out_c, "--weights", "file"], timeout=120)
    main_c = os.path.join(d, "file_main.c")
    with open(main_c, "w") as f:
        f.write(FILE_HARNESS % {"P": facts["PREFIX"], "p": facts["prefix"]})
    exe = os.path.join(d, "file.exe")
    check_run([args.gcc] + GCC_FLAGS + ["-Werror", "-I", d,
               '-DWEIGHTS_PATH="%s"' % os.path.join(d, "file.weights"), main_c, out_c, "-o", exe,
               "-lm"], timeout=300)
    check_run(["clang", "-std=c99", "-Weverything", "-Werror", "-c", out_c, "-o",
               os.path.join(d, "file_clang.o")], timeout=300)   # warning-free as every form
    return run_built(d, "file.exe", x)


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
    outs["file"] = run_file_form(args, model, d, facts, x)
    ref = interp(args.cnnc, model, x, d).reshape(-1)
    for form, y in outs.items():
        if form != "bytes" and not np.array_equal(y, outs["bytes"]):
            raise ToolError("%s: %s differs from bytes: %s" % (name, form, worst(y, outs["bytes"])))
    err, _ = cnnref.max_rel_err(outs["bytes"], ref)
    if not err <= 1e-5:
        raise ToolError("%s: bytes vs the interpreter: %s" % (name, worst(outs["bytes"], ref)))
    return name


USAGE_CASES = [
    (["--weights", "octal"], "cnnc: --weights takes bytes, hex or file, not 'octal'"),
    (["--weights", "file", "-o", "-"],
     "cnnc: --weights file needs -o OUT.c naming a file: OUT.weights goes beside it"),
    (["--weights=file", "-o", "x.c", "--emit-test", "t.c"],
     "cnnc: --emit-test runs OUT.c alone: not with --weights file"),
]


def check_usage(args):
    """Bad uses of --weights: exit 2, the exact message, nothing written."""
    d = os.path.join(args.work, "usage")
    os.makedirs(d)
    model = os.path.join(args.examples, "tiny.cnn")
    for extra, want in USAGE_CASES:
        p = run([args.cnnc, model] + extra, cwd=d)
        if p.returncode != 2 or not p.stderr.startswith(want + "\n") or os.listdir(d):
            raise ToolError("%s: want exit 2 and %r, got %d: %s (files: %s)"
                            % (" ".join(extra), want, p.returncode, p.stderr, os.listdir(d)))
    return "usage"


def main():
    args = arg_parser(__doc__.splitlines()[0]).parse_args()
    require_tools(args)
    args.work = fresh_dir(args.workdir)
    failed = passed = 0
    checks = [(check_usage, None)] + [(check_example, m) for m in
                                      sorted(glob.glob(os.path.join(args.examples, "*.cnn")))]
    for fn, model in checks:
        try:
            print("PASS", fn(args) if model is None else fn(args, model))
            passed += 1
        except ToolError as e:
            failed += 1
            print("FAIL", e)
    print("weights forms: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
