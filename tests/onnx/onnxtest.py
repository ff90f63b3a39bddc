"""onnxtest: what the ONNX suites share (conformance, round trip, hostile).

Consumes the path of cnnc and gcc and .onnx models; produces, in a scratch
directory, the C that `cnnc MODEL.onnx -o m.c --name m` emits, a program
built from it with gcc (tests/onnx/harness.c: raw float32 on stdin, raw
float32 on stdout), and its outputs. Test data is read with python3-onnx;
the expected values always come from the ONNX test data or from PyTorch,
never from cnnc.
"""

import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.join(HERE, "harness.c")


class StepError(Exception):
    """cnnc rejected the model (unsupported), or a later step failed."""

    def __init__(self, step, message):
        super().__init__("%s: %s" % (step, message))
        self.step = step
        self.message = message


def require(paths):
    """Fails (never skips) when a tool is missing."""
    missing = [p for p in paths if not p or not (os.access(p, os.X_OK) or shutil.which(p))]
    if missing:
        print("FAIL: required tools missing: %s" % ", ".join(str(m) for m in missing))
        sys.exit(1)


def fresh_dir(path):
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return os.path.abspath(path)


def run_cnnc(cnnc, args, cwd=None, timeout=120):
    """(exit status, stdout, stderr) of cnnc ARGS."""
    p = subprocess.run([cnnc] + list(args), cwd=cwd, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def first_error(stderr):
    """The message of the first error line, without the file name."""
    for line in stderr.splitlines():
        if ": error: " in line:
            return line.split(": error: ", 1)[1]
    return stderr.strip().splitlines()[0] if stderr.strip() else "(no message)"


def compile_onnx(cnnc, gcc, model_path, workdir):
    """cnnc MODEL.onnx -> m.c, gcc -> ./m. Raises StepError('cnnc', msg)
    when cnnc rejects the model, StepError('gcc'/...) for later failures."""
    c_path = os.path.join(workdir, "m.c")
    rc, _, err = run_cnnc(cnnc, [model_path, "-o", c_path, "--name", "m"])
    if rc != 0:
        raise StepError("cnnc", first_error(err) if rc == 1 else "exit %d: %s" % (rc, err.strip()))
    exe = os.path.join(workdir, "m")
    p = subprocess.run([gcc, "-std=c99", "-O1", "-ffp-contract=off", "-I", workdir, c_path, HARNESS,
                        "-o", exe, "-lm"], capture_output=True, timeout=300)
    if p.returncode != 0:
        raise StepError("gcc", p.stderr.decode(errors="replace")[:2000])
    return exe


def run_exe(exe, x, n_out):
    """Runs the harness on x (float32, any shape); returns n_out floats."""
    data = np.ascontiguousarray(x, dtype="<f4").tobytes()
    p = subprocess.run([exe], input=data, capture_output=True, timeout=300)
    if p.returncode != 0:
        raise StepError("run", "exit status %d" % p.returncode)
    y = np.frombuffer(p.stdout, dtype="<f4")
    if y.size != n_out:
        raise StepError("run", "%d output values, expected %d" % (y.size, n_out))
    return y


def header_size(workdir, what):
    """M_INPUT_SIZE or M_OUTPUT_SIZE from m.h."""
    with open(os.path.join(workdir, "m.h")) as f:
        for line in f:
            if line.startswith("#define M_%s_SIZE " % what):
                return int(line.split()[2])
    raise StepError("header", "M_%s_SIZE missing from m.h" % what)


def rel_err(got, ref):
    """max |got - ref| / max(1e-6, max |ref|); inf on a shape mismatch."""
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    if got.shape != ref.shape:
        return float("inf")
    if ref.size == 0:
        return 0.0
    d = np.abs(got - ref)
    d[np.isnan(d)] = np.inf
    return float(np.max(d)) / max(1e-6, float(np.max(np.abs(ref))))
