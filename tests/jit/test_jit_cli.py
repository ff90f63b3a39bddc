"""test_jit_cli: every form of `cnnc run` (docs/cli.md), with exact output.

Consumes the cnnc executable and a scratch directory. Writes two small
models with random safetensors weights, so PyTorch (tests/py/cnnref.py)
computes every expected value independently:
  - a classifier, input x[2, 5, 5] -> probs[7] (values printed), and
  - a feature map, input img[3, 6, 6] -> out[4, 3, 3] (36 values: a count).
Checks the printed values, --top, --output, .npy (shaped and flat), .f32
and `random` inputs (the SplitMix64 stream of docs/cli.md, reproduced
here), --interp, --check and --bench lines; every bad input (.npy shape,
dtype, Fortran order, truncation, header, magic; .f32 size) and usage
error with its exact stderr and exit status, and that none writes output.

    test_jit_cli.py --cnnc build/compiler/cnnc --workdir scratch
"""

import os
import re
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "py"))
import cnnctest  # noqa: E402
import cnnref  # noqa: E402

import torch  # noqa: E402

CLASSIFIER = """model cls {
    input x[2, 5, 5];
    weights "cls.safetensors";
    c = conv2d(filters=3, kernel=3, activation=relu);
    flatten;
    h = dense(units=7, activation=tanh);
    probs = softmax;
}
"""

FEATURES = """model feat {
    input img[3, 6, 6];
    weights "feat.safetensors";
    c = conv2d(filters=4, kernel=3, padding=same, activation=relu);
    out = maxpool(kernel=2);
}
"""

NUM = r"[0-9.]+(?:e[-+][0-9]+)?"
USAGE_TAIL = "\n(run 'cnnc --help' for usage)\n"


class Suite:
    def __init__(self, cnnc, d):
        self.cnnc, self.d = cnnc, d
        self.passed = self.failed = 0

    def run(self, *args):
        return cnnctest.run([self.cnnc] + list(args), cwd=self.d)

    def expect(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, (":\n  " + detail.replace("\n", "\n  ")) if detail else ""))

    def path(self, name):
        return os.path.join(self.d, name)


def make_model(s, text, name, seed):
    m = cnnref.parse(text)
    params = cnnref.random_weights(m, seed)
    cnnref.write_safetensors(s.path(name + ".safetensors"), params)
    with open(s.path(name + ".cnn"), "w") as f:
        f.write(text)
    return m, params


def torch_ref(m, params, x):
    return cnnref.forward(m, params, x, dtype=torch.float64).reshape(-1)


def close(got, ref):
    err, _ = cnnref.max_rel_err(got, ref)
    return err <= cnnctest.TOL, err


def values_line(out):
    """'probs [7] = v v ...' -> the values, or None."""
    first = out.splitlines()[0] if out else ""
    m = re.match(r"^probs \[7\] = (.*)$", first)
    return np.array([float(v) for v in m.group(1).split()], dtype=np.float32) if m else None


def splitmix_input(n, seed):
    """docs/cli.md: SplitMix64 from the seed; top 24 bits k -> k * 2^-23 - 1."""
    mask, s, out = (1 << 64) - 1, seed & ((1 << 64) - 1), []
    for _ in range(n):
        s = (s + 0x9E3779B97F4A7C15) & mask
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        out.append((z >> 40) * 2.0 ** -23 - 1.0)
    return np.array(out, dtype=np.float32)


# ------------------------------------------------------------ good forms

def test_values(s, m, params, x):
    np.save(s.path("x.npy"), x)
    ref = torch_ref(m, params, x)
    p = s.run("run", "cls.cnn", "--input", "x.npy")
    lines, err = p.stdout.splitlines(), p.stderr.splitlines()
    got = values_line(p.stdout)
    s.expect("npy: exit 0, one line on stdout", p.returncode == 0 and len(lines) == 1, p.stdout)
    s.expect("npy: values vs torch", got is not None and close(got, ref)[0],
             "%s\nvs %s" % (p.stdout, ref))
    s.expect("npy: the time line alone on stderr", len(err) == 1 and re.match(
        r"^jit: %s ms per inference \(compile %s ms\)$" % (NUM, NUM), err[0]), p.stderr)
    np.save(s.path("flat.npy"), x.reshape(-1))
    q = s.run("run", "cls.cnn", "--input", "flat.npy")
    s.expect("flat npy: same values", q.returncode == 0 and values_line(q.stdout) is not None
             and np.array_equal(values_line(q.stdout), got), q.stdout + q.stderr)
    np.save(s.path("x1.npy"), x.reshape(1, 2, 1, 5, 5))
    q = s.run("run", "cls.cnn", "--input", "x1.npy")
    s.expect("npy with extra size-1 dims: same values", q.returncode == 0 and
             values_line(q.stdout) is not None and np.array_equal(values_line(q.stdout), got),
             q.stdout + q.stderr)
    x.astype("<f4").tofile(s.path("x.f32"))
    q = s.run("run", "cls.cnn", "--input", "x.f32")
    s.expect("f32: same values", q.returncode == 0 and values_line(q.stdout) is not None
             and np.array_equal(values_line(q.stdout), got), q.stdout + q.stderr)
    return got, ref


def test_engines(s, got):
    p = s.run("run", "cls.cnn", "--input", "x.npy", "--interp")
    lines, err = p.stdout.splitlines(), p.stderr.splitlines()
    s.expect("interp: values within 1e-5 of jit", p.returncode == 0 and len(lines) == 1 and
             values_line(p.stdout) is not None and close(values_line(p.stdout), got)[0], p.stdout)
    s.expect("interp: time line on stderr", len(err) == 1 and re.match(
        r"^interp: %s ms per inference$" % NUM, err[0]), p.stderr)
    p = s.run("run", "cls.cnn", "--input", "x.npy", "--check")
    lines, err = p.stdout.splitlines(), p.stderr.splitlines()
    s.expect("check: exit 0, values and check on stdout", p.returncode == 0 and len(lines) == 2,
             p.stdout + p.stderr)
    s.expect("check: lines", len(lines) == 2 and len(err) == 2 and err[0].startswith("jit: ") and
             err[1].startswith("interp: ") and re.match(
                 r"^check: max abs error %s, max rel error %s \(tolerance 1e-05\): ok$"
                 % (NUM, NUM), lines[1]), p.stdout + p.stderr)
    p = s.run("run", "cls.cnn", "--input", "x.npy", "--bench", "5")
    err = p.stderr.splitlines()
    mm = re.match(r"^jit: median (%s) ms, min (%s) ms per inference over 5 runs "
                  r"\(compile %s ms\)$" % (NUM, NUM, NUM), err[0] if len(err) == 1 else "")
    s.expect("bench: line", p.returncode == 0 and mm is not None and
             len(p.stdout.splitlines()) == 1, p.stdout + p.stderr)
    s.expect("bench: min <= median", mm is not None and float(mm.group(2)) <= float(mm.group(1)))
    p = s.run("run", "cls.cnn", "--input", "x.npy", "--check", "--bench", "3")
    lines, err = p.stdout.splitlines(), p.stderr.splitlines()
    s.expect("check+bench: both engines benched", p.returncode == 0 and len(lines) == 2 and
             len(err) == 2 and "over 3 runs" in err[0] and err[1].startswith("interp: median") and
             lines[1].endswith(": ok"), p.stdout + p.stderr)


def test_top(s, ref):
    order = sorted(range(len(ref)), key=lambda i: (-ref[i], i))
    p = s.run("run", "cls.cnn", "--input", "x.npy", "--top", "3")
    lines = p.stdout.splitlines()
    s.expect("top: header", lines[:1] == ["probs [7], top 3:"], p.stdout)
    rows = [ln.split() for ln in lines[1:4]]
    s.expect("top: indices", [int(r[0]) for r in rows] == order[:3], "%s vs %s" % (rows, order))
    s.expect("top: values", all(close(np.float32(r[1]), ref[int(r[0])])[0] for r in rows), p.stdout)
    s.expect("top: row format", all(re.match(r"^  \d+ \S+$", ln) for ln in lines[1:4]), p.stdout)
    s.expect("top: the rows only; the time on stderr", len(lines) == 4 and
             p.stderr.startswith("jit: "), p.stdout + p.stderr)
    p = s.run("run", "cls.cnn", "--input", "x.npy", "--top", "100")
    lines = p.stdout.splitlines()
    s.expect("top K > n: all 7", lines[:1] == ["probs [7], top 7:"] and
             [int(ln.split()[0]) for ln in lines[1:8]] == order, p.stdout)


def test_random(s, m, params):
    x = splitmix_input(50, 7)
    s.expect("random: values in [-1, 1)", bool(np.all(x >= -1) and np.all(x < 1)))
    p = s.run("run", "cls.cnn", "--input", "random", "--seed", "7", "--output", "r7.npy")
    ok = p.returncode == 0 and os.path.exists(s.path("r7.npy"))
    s.expect("random --seed 7: exit 0", ok, p.stderr)
    if ok:
        got = np.load(s.path("r7.npy"))
        s.expect("random --seed 7 vs torch on SplitMix64 input",
                 close(got, torch_ref(m, params, x))[0], str(got))
    p0 = s.run("run", "cls.cnn", "--input", "random")
    p0s = s.run("run", "cls.cnn", "--input", "random", "--seed", "0")
    s.expect("random: default seed is 0", p0.stdout.splitlines()[:1] == p0s.stdout.splitlines()[:1]
             and values_line(p0.stdout) is not None, p0.stdout)
    s.expect("random seed 0 vs torch", values_line(p0.stdout) is not None and close(
        values_line(p0.stdout), torch_ref(m, params, splitmix_input(50, 0)))[0], p0.stdout)


def test_features(s):
    m, params = make_model(s, FEATURES, "feat", 11)
    x = np.random.default_rng(5).standard_normal((3, 6, 6)).astype(np.float32)
    np.save(s.path("img.npy"), x)
    p = s.run("run", "feat.cnn", "--input", "img.npy")
    s.expect("36 values: a count", p.stdout.splitlines()[:1] == [
        "out [4, 3, 3]: 36 values (--top K prints the largest, --output Y.npy saves them)"],
        p.stdout + p.stderr)
    p = s.run("run", "feat.cnn", "--input", "img.npy", "--output", "feat_out.npy")
    ok = p.returncode == 0 and os.path.exists(s.path("feat_out.npy"))
    s.expect("--output: written", ok, p.stderr)
    if ok:
        y = np.load(s.path("feat_out.npy"))
        s.expect("--output: shape [4, 3, 3], float32", y.shape == (4, 3, 3) and y.dtype == np.float32)
        s.expect("--output: values vs torch", close(y, torch_ref(m, params, x))[0])


def test_model_error(s):
    with open(s.path("broken.cnn"), "w") as f:
        f.write("model broken {\n    input x[1, 4, 4];\n    weights random(seed=1);\n"
                "    conv2d(filters=2, kernel=9);\n}\n")
    c = s.run("broken.cnn", "-o", "broken.c")
    r = s.run("run", "broken.cnn", "--input", "random")
    s.expect("model error: run's stderr equals the compile path's",
             r.returncode == 1 and c.returncode == 1 and r.stderr == c.stderr and r.stdout == ""
             and r.stderr.startswith("broken.cnn:4:"), "run:\n%s\ncompile:\n%s" % (r.stderr, c.stderr))


# ------------------------------------------------------------ bad inputs

def npy_bytes(header, data=b"", version=1):
    """A .npy file with the given header dict text, padded as numpy does."""
    h = header + " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H", len(h)) + h.encode() + data


def bad_input_cases(s):
    good = np.zeros((2, 5, 5), np.float32)
    np.save(s.path("good.npy"), good)
    body = open(s.path("good.npy"), "rb").read()
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5, 5), }"
    files = {
        "shape.npy": np.zeros((5, 5, 2), np.float32),
        "count.npy": np.zeros((2, 5, 6), np.float32),
        "flat49.npy": np.zeros(49, np.float32),
        "f8.npy": np.zeros((2, 5, 5), np.float64),
        "be.npy": np.zeros((2, 5, 5), ">f4"),
        "fortran.npy": np.asfortranarray(np.zeros((2, 5, 5), np.float32)),
    }
    for name, arr in files.items():
        np.save(s.path(name), arr)
    raw = {
        "truncated.npy": body[:-8],
        "cuthdr.npy": body[:40],
        "badhdr.npy": npy_bytes(hdr.replace("(2, 5, 5)", "[2, 5, 5]"), b"\0" * 200),
        "nokey.npy": npy_bytes("{'descr': '<f4', 'shape': (2, 5, 5), }", b"\0" * 200),
        "notnpy.npy": b"P5\n5 5\n255\n" + b"\0" * 50,
        "empty.npy": b"",
        "short.f32": b"\0" * 196,
        "long.f32": b"\0" * 204,
        "odd.f32": b"\0" * 201,
        "empty.f32": b"",
    }
    for name, data in raw.items():
        with open(s.path(name), "wb") as f:
            f.write(data)
    want = "the input 'x' [2, 5, 5] (or flat [50])"
    f32 = "the input 'x' [2, 5, 5] needs 50 float32 values (200 bytes)"
    return [
        ("shape.npy", "array shape [5, 5, 2] does not match " + want),
        ("count.npy", "array shape [2, 5, 6] does not match " + want),
        ("flat49.npy", "array shape [49] does not match " + want),
        ("f8.npy", "dtype '<f8' is not float32 ('<f4')"),
        ("be.npy", "dtype '>f4' is not float32 ('<f4')"),
        ("fortran.npy", "Fortran-order arrays are not supported"),
        ("truncated.npy", "truncated data: expected 200 bytes, found 192"),
        ("cuthdr.npy", "truncated header"),
        ("badhdr.npy", "malformed header: expected '(' at byte 50"),
        ("nokey.npy", "malformed header: missing key 'fortran_order'"),
        ("notnpy.npy", "not a .npy file (bad magic)"),
        ("empty.npy", "not a .npy file (bad magic)"),
        ("missing.npy", "cannot open: No such file or directory"),
        ("short.f32", "file has 196 bytes; " + f32),
        ("long.f32", "file has 204 bytes; " + f32),
        ("odd.f32", "file has 201 bytes; " + f32),
        ("empty.f32", "file has 0 bytes; " + f32),
        ("missing.f32", "cannot open: No such file or directory"),
    ]


def test_bad_inputs(s):
    for name, msg in bad_input_cases(s):
        out = s.path("never.npy")
        for flags in ([], ["--interp"], ["--check"]):
            p = s.run("run", "cls.cnn", "--input", name, "--output", "never.npy", *flags)
            want = "%s: error: %s\n" % (name, msg)
            s.expect("bad input %s %s" % (name, " ".join(flags)),
                     p.returncode == 1 and p.stderr == want and p.stdout == ""
                     and not os.path.exists(out),
                     "exit %d\n--- expected\n%s--- got\n%s--- stdout\n%s"
                     % (p.returncode, want, p.stderr, p.stdout))


def test_bad_output(s):
    p = s.run("run", "cls.cnn", "--input", "x.npy", "--output", "no/such/dir/y.npy")
    want = "no/such/dir/y.npy: error: cannot create: No such file or directory\n"
    s.expect("unwritable --output", p.returncode == 1 and p.stderr == want,
             "exit %d, stderr %r" % (p.returncode, p.stderr))


def test_usage(s):
    cases = [
        (["run", "cls.cnn", "--input", "x.npy", "--interp", "--check"],
         "--interp and --check exclude each other"),
        (["run", "cls.cnn"], "run needs --input X.npy, X.f32 or random"),
        (["run", "cls.cnn", "--input"], "option '--input' needs a value"),
        (["run", "cls.cnn", "--input", "x.npy", "--top", "0"],
         "--top needs a positive integer, not '0'"),
        (["run", "cls.cnn", "--input", "x.npy", "--top", "3x"],
         "--top needs a positive integer, not '3x'"),
        (["run", "cls.cnn", "--input", "x.npy", "--bench", "-2"],
         "--bench needs a positive integer, not '-2'"),
        (["run", "cls.cnn", "--input", "random", "--seed", "-1"],
         "--seed needs a non-negative integer, not '-1'"),
        (["run", "cls.cnn", "--input", "x.npy", "--bench"], "option '--bench' needs a value"),
        (["run", "cls.cnn", "--input", "x.npy", "-o", "cls.c"],
         "'cnnc run' writes no C; use --output Y.npy for the result"),
        (["cls.cnn", "-o", "cls.c", "--input", "x.npy"], "option '--input' is only for 'cnnc run'"),
        (["cls.cnn", "-o", "cls.c", "--check"], "option '--check' is only for 'cnnc run'"),
        (["run", "cls.cnn", "--input", "x.npy", "--fast"], "unknown option '--fast'"),
    ]
    for argv, msg in cases:
        p = s.run(*argv)
        want = "cnnc: " + msg + USAGE_TAIL
        s.expect("usage: " + " ".join(argv), p.returncode == 2 and p.stderr == want and
                 p.stdout == "", "exit %d\n--- expected\n%s--- got\n%s" % (p.returncode, want, p.stderr))
    s.expect("no C written by usage errors", not os.path.exists(s.path("cls.c")))


def main():
    ap = cnnctest.arg_parser(__doc__)
    args = ap.parse_args()
    cnnctest.require_tools(args, need_c=False)
    s = Suite(os.path.abspath(args.cnnc), cnnctest.fresh_dir(args.workdir))
    m, params = make_model(s, CLASSIFIER, "cls", 3)
    x = np.random.default_rng(1).standard_normal((2, 5, 5)).astype(np.float32)
    got, ref = test_values(s, m, params, x)
    if got is not None:
        test_engines(s, got)
    test_top(s, ref)
    test_random(s, m, params)
    test_features(s)
    test_model_error(s)
    test_bad_inputs(s)
    test_bad_output(s)
    test_usage(s)
    print("jit cli: %d checks passed, %d failed" % (s.passed, s.failed))
    return 1 if s.failed or not s.passed else 0


if __name__ == "__main__":
    sys.exit(main())
