"""cnnctest: what the Python suites share for driving cnnc and C compilers.

Consumes the paths of cnnc, gcc and tcc (command line), a work directory
that each suite empties first (nothing is cached between runs), and model
texts. Produces files in that directory, outputs of the interpreter and of
the emitted C built by gcc and tcc, and failure reports that carry the model
text, the seed and the worst element, so a failure can be reproduced by hand.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

import numpy as np

import cnnref

TOL = 1e-5     # max |a-b| / max(1e-6, max |ref|), docs/numerics.md


class ToolError(Exception):
    """A step (cnnc, a compiler, a harness run) failed; str() says which."""


def arg_parser(desc):
    ap = argparse.ArgumentParser(description=desc)
    ap.add_argument("--cnnc", required=True, help="path of the cnnc executable")
    ap.add_argument("--tcc", default=shutil.which("tcc"), help="path of tcc")
    ap.add_argument("--gcc", default=shutil.which("gcc") or "gcc", help="path of gcc")
    ap.add_argument("--workdir", default="pywork", help="scratch directory (emptied first)")
    ap.add_argument("--examples", default=None, help="directory of example .cnn files")
    ap.add_argument("--keep", action="store_true", help="keep passing cases' files")
    return ap


def require_tools(args, need_c=True):
    """Fails (never skips) when a tool the suite needs is missing."""
    missing = []
    if not (args.cnnc and os.access(args.cnnc, os.X_OK)):
        missing.append("cnnc (%s)" % args.cnnc)
    if need_c:
        for name in ("gcc", "tcc"):
            path = getattr(args, name)
            if not path or not (os.access(path, os.X_OK) or shutil.which(path)):
                missing.append("%s (%s)" % (name, path))
    if missing:
        print("FAIL: required tools missing: " + ", ".join(missing))
        sys.exit(1)


def run_cases(doc, title, cases, workdir_attr="work"):
    """main() of a suite of case functions taking args: parses the usual
    arguments, gives each case a fresh scratch directory (args.<workdir_attr>),
    prints PASS/FAIL per case and "TITLE: N passed, N failed"; returns the
    exit status."""
    args = arg_parser(doc.splitlines()[0]).parse_args()
    require_tools(args, need_c=False)
    setattr(args, workdir_attr, fresh_dir(args.workdir))
    failed = 0
    for case in cases:
        try:
            case(args)
            print("PASS", case.__name__)
        except ToolError as e:
            failed += 1
            print("FAIL", case.__name__ + ":", e)
    print("%s: %d passed, %d failed" % (title, len(cases) - failed, failed))
    return 1 if failed else 0


def fresh_dir(path):
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return os.path.abspath(path)


def run(cmd, timeout=120, cwd=None):
    """Runs cmd; returns the CompletedProcess (text), never raises on status."""
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, cwd=cwd, universal_newlines=True)
    except subprocess.TimeoutExpired:
        raise ToolError("timed out after %ds: %s" % (timeout, " ".join(cmd)))


def describe(cmd, p):
    status = ("killed by signal %d" % -p.returncode) if p.returncode < 0 \
        else "exit %d" % p.returncode
    return "%s: %s\n--- stderr ---\n%s" % (" ".join(cmd), status, p.stderr[-3000:])


def check_run(cmd, timeout=120, cwd=None):
    p = run(cmd, timeout, cwd)
    if p.returncode != 0:
        raise ToolError(describe(cmd, p))
    return p


def shard_of(spec):
    """'i/n' -> (i, n)."""
    i, n = spec.split("/")
    i, n = int(i), int(n)
    if not 0 <= i < n:
        raise SystemExit("bad --shard %s" % spec)
    return i, n


# ------------------------------------------------------------ models

def prepare(text, d, weight_seed, weights_file="w.safetensors", force_file=True):
    """Writes model.cnn (and its weights) into d. A `weights "..."` line, or
    any weights line when force_file, is pointed at weights_file next to the
    model, filled by cnnref.random_weights. Returns (path, Model, params);
    params is None when the model keeps `weights random(...)`."""
    m = cnnref.parse(text)
    params = None
    if force_file or (m.weights and m.weights[0] == "file"):
        params = cnnref.random_weights(m, weight_seed)
        text = cnnref.set_weights(text, weights_file)
        cnnref.write_safetensors(os.path.join(d, weights_file), params)
        m = cnnref.parse(text)
    path = os.path.join(d, "model.cnn")
    with open(path, "w") as f:
        f.write(text)
    m.path = path
    return path, m, params


def random_input(m, seed, flat=False):
    x = np.random.default_rng(seed).standard_normal(m.input_shape).astype(np.float32)
    return x.reshape(-1) if flat else x


def interp(cnnc, model_path, x, d, tag="interp"):
    """cnnc run --interp on x; returns the output array (as written)."""
    xin = os.path.join(d, "%s_in.npy" % tag)
    yout = os.path.join(d, "%s_out.npy" % tag)
    cnnref.write_npy(xin, x)
    check_run([cnnc, "run", model_path, "--interp", "--input", xin, "--output", yout])
    return cnnref.read_npy(yout)


def jit(cnnc, model_path, x, d, extra=()):
    """`cnnc run` without --interp (the libtcc JIT); returns the output."""
    xin = os.path.join(d, "jit_in.npy")
    yout = os.path.join(d, "jit_out.npy")
    cnnref.write_npy(xin, x)
    check_run([cnnc, "run", model_path, "--input", xin, "--output", yout] + list(extra))
    return cnnref.read_npy(yout)


def input_scale(seed):
    """Most inputs are N(0, 1); some are larger, to reach the saturating
    and thresholded parts of the activations (softplus > 20, sigmoid tails)."""
    return (1.0, 1.0, 1.0, 5.0, 40.0)[seed % 5]


# ------------------------------------------------------------ emitted C

def compile_model(cnnc, model_path, d, name=None, base="model", extra=()):
    """cnnc MODEL -o d/base.c [--name name] [extra...]; returns the header facts."""
    out_c = os.path.join(d, base + ".c")
    cmd = [cnnc, model_path, "-o", out_c] + (["--name", name] if name else []) + list(extra)
    check_run(cmd)
    out_h = out_c[:-2] + ".h"
    for f in (out_c, out_h):
        if not os.path.exists(f):
            raise ToolError("%s did not write %s" % (" ".join(cmd), f))
    with open(out_h) as f:
        return header_facts(f.read(), out_h)


def header_facts(h, where):
    """{'prefix', 'PREFIX', 'input_size', 'output_size', 'arena_bytes'} from a header."""
    m = re.search(r"\bvoid\s+(\w+)_run\s*\(\s*const\s+float\s*\*\s*\w*\s*,\s*float\s*\*", h)
    if not m:
        raise ToolError("%s: no `void PREFIX_run(const float *, float *)`" % where)
    facts = {"prefix": m.group(1), "PREFIX": m.group(1).upper()}
    facts["run_ws"] = re.search(r"\bvoid\s+%s_run_ws\s*\(" % re.escape(facts["prefix"]), h) \
        is not None
    for key in ("INPUT_SIZE", "OUTPUT_SIZE", "ARENA_BYTES"):
        mm = re.search(r"#\s*define\s+%s_%s\s+\(?\s*(\d+)[uUlL]*\s*\)?"
                       % (re.escape(facts["PREFIX"]), key), h)
        if not mm:
            raise ToolError("%s: no #define %s_%s" % (where, facts["PREFIX"], key))
        facts[key.lower()] = int(mm.group(1))
    return facts


HARNESS = r"""/* harness: load raw float32 input, run the model, write raw output.
 * Also checks what a caller relies on: the input is not written, nothing is
 * written outside the output, and a run does not depend on earlier runs;
 * with <prefix>_run_ws, that the caller's arena of exactly ARENA_BYTES
 * suffices and that nothing is read from it before it is written. */
#include <stdio.h>
#include <string.h>
#include "%(header)s"

#define IN_N %(P)s_INPUT_SIZE
#define OUT_N %(P)s_OUTPUT_SIZE
#define GUARD 64

static float in_buf[IN_N + 2 * GUARD], in_copy[IN_N], other[IN_N];
static float out1[OUT_N + 2 * GUARD], out2[OUT_N + 2 * GUARD];

static void fill_guard(float *buf, int n)
{
    int i;
    for (i = 0; i < GUARD; i++) {
        buf[i] = 1234.5f + (float)i;
        buf[GUARD + n + i] = -4321.5f - (float)i;
    }
}

static int guard_ok(const float *buf, int n)
{
    int i;
    for (i = 0; i < GUARD; i++)
        if (buf[i] != 1234.5f + (float)i || buf[GUARD + n + i] != -4321.5f - (float)i)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    float *in = in_buf + GUARD;
    FILE *f;
    int i;
    if (argc != 3) return 2;
    f = fopen(argv[1], "rb");
    if (!f || fread(in, sizeof(float), IN_N, f) != (size_t)IN_N) return 2;
    fclose(f);
    memcpy(in_copy, in, sizeof in_copy);
    for (i = 0; i < IN_N; i++) other[i] = (float)(i %% 7) - 3.0f;
    fill_guard(in_buf, IN_N);
    fill_guard(out1, OUT_N);
    fill_guard(out2, OUT_N);
    %(p)s_run(in, out1 + GUARD);
    if (memcmp(in, in_copy, sizeof in_copy) != 0) { fprintf(stderr, "input modified\n"); return 5; }
    %(p)s_run(other, out2 + GUARD);
    %(p)s_run(in, out2 + GUARD);
    if (!guard_ok(in_buf, IN_N) || !guard_ok(out1, OUT_N) || !guard_ok(out2, OUT_N)) {
        fprintf(stderr, "write outside the output buffer\n");
        return 3;
    }
    if (memcmp(out1, out2, sizeof out1) != 0) {
        fprintf(stderr, "second run differs from the first\n");
        return 4;
    }
%(ws)s
    f = fopen(argv[2], "wb");
    if (!f || fwrite(out1 + GUARD, sizeof(float), OUT_N, f) != (size_t)OUT_N) return 2;
    return fclose(f) == 0 ? 0 : 2;
}
"""

# With <prefix>_run_ws: run on a caller arena of exactly ARENA_BYTES whose
# bytes are all 0xFF (a NaN pattern, so a read before a write shows in the
# output) between guard bytes, and compare with <prefix>_run.
HARNESS_WS = r"""    {
        enum { GB = 256, AB = %(P)s_ARENA_BYTES };
        static union { double align; unsigned char c[AB + 2 * GB]; } ar;
        memset(ar.c, 0xA5, sizeof ar.c);
        memset(ar.c + GB, 0xFF, (size_t)AB);
        fill_guard(out2, OUT_N);
        %(p)s_run_ws(in, out2 + GUARD, ar.c + GB);
        for (i = 0; i < GB; i++)
            if (ar.c[i] != 0xA5 || ar.c[GB + AB + i] != 0xA5) {
                fprintf(stderr, "run_ws wrote outside its %%d-byte arena\n", (int)AB);
                return 6;
            }
        if (!guard_ok(out2, OUT_N) || memcmp(out1, out2, sizeof out1) != 0) {
            fprintf(stderr, "run_ws on a 0xFF-filled arena differs from run\n");
            return 7;
        }
    }
"""

GCC_FLAGS = ["-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-pedantic"]
TCC_FLAGS = ["-Wall"]
SAN_FLAGS = ["-std=c99", "-O1", "-g", "-ffp-contract=off", "-fsanitize=address,undefined",
             "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]


def write_harness(d, facts, base="model"):
    path = os.path.join(d, base + "_main.c")
    with open(path, "w") as f:
        keys = {"header": base + ".h", "P": facts["PREFIX"], "p": facts["prefix"]}
        keys["ws"] = HARNESS_WS % keys if facts["run_ws"] else ""
        f.write(HARNESS % keys)
    return path


def build(compiler, flags, d, facts, exe, base="model"):
    """Builds the harness and the emitted C in one compiler invocation
    (any gcc-like compiler: gcc, tcc, a cross gcc with -static in flags).
    Returns the compiler's warnings (stderr text; '' when clean)."""
    main_c = write_harness(d, facts, base)
    cmd = [compiler] + flags + ["-I", d, main_c, os.path.join(d, base + ".c"),
                                "-o", os.path.join(d, exe), "-lm"]
    p = check_run(cmd, timeout=300)
    return p.stderr.strip()


def run_built(d, exe, x, runner=(), timeout=60):
    """Runs a harness built by build() on x; returns its output. runner is
    a command prefix, e.g. ("qemu-aarch64",) for a cross-compiled harness."""
    xin = os.path.join(d, exe + ".in")
    yout = os.path.join(d, exe + ".out")
    np.ascontiguousarray(x, dtype="<f4").tofile(xin)
    check_run(list(runner) + [os.path.join(d, exe), xin, yout], timeout=timeout)
    return np.fromfile(yout, dtype="<f4")


# ------------------------------------------------------------ reporting

def worst(got, ref):
    """A one-line description of the largest difference."""
    err, i = cnnref.max_rel_err(got, ref)
    g = np.asarray(got).reshape(-1)
    r = np.asarray(ref).reshape(-1)
    if i < 0:
        return "rel err %s (shape %r vs %r)" % (err, np.shape(got), np.shape(ref))
    return "rel err %.3g at flat index %d: got %.9g, expected %.9g (max |ref| %.6g)" % (
        err, i, g[i], r[i], float(np.max(np.abs(r))) if r.size else 0.0)


def report(kind, seed, text, detail):
    print("=" * 72)
    print("FAIL [%s] seed %s" % (kind, seed))
    print(detail.rstrip())
    print("--- model ---")
    print(text.rstrip())
    print("=" * 72, flush=True)
