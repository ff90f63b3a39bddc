"""Hostile files and paths at the CLI (docs/robustness.md, findings F7-F10).

Each case is a scaling or file-kind problem a review found; the cases
assert the result (exit status, message, files left) and run under a
generous time limit that only a quadratic algorithm would exceed (the
fixed code takes well under a second for each; the old one took minutes).

  bind-many       9,999 one-unit dense layers bound from a file of their
                  19,998 tensors, then from one with 200,000 unused tensors
  many-strings    a safetensors header of 100,000 tensors (8 MB of JSON)
  weights-device  weights "/dev/zero", a directory, a FIFO, and a FIFO as the
                  .onnx model: refused, no hang
  out-device      -o FIFO: written in place, the FIFO stays what it was, no
                  OUT.h or temporary left beside it (a FIFO plays the device:
                  tests never write into the machine's /dev; test_outputs.py
                  has the symlink, stdout and stdin cases)
"""
import json
import os
import stat
import struct
import sys
import threading

from cnnctest import ToolError, run, run_cases

LIMIT_SECONDS = 20      # a hang guard, not a benchmark: each run takes about 1 s


def safetensors(names_shapes):
    """A file of one-float F32 tensors (all zero), written by hand."""
    header, off = {}, 0
    for name, shape in names_shapes:
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + 4]}
        off += 4
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + bytes(off)


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def many_dense_model(n, weights):
    body = "".join("    d%d = dense(units=1);\n" % i for i in range(n))
    return 'model many {\n    input x[1];\n    weights "%s";\n%s}\n' % (weights, body)


def cnnc(args, cmd):
    return run([args.cnnc] + cmd, timeout=LIMIT_SECONDS, cwd=args.work)


def expect(cond, what, p=None):
    if not cond:
        raise ToolError(what + ("" if p is None else "\n--- stderr ---\n" + p.stderr[-2000:]))


def case_bind_many(args):
    n = 9999
    tensors = [("d%d.%s" % (i, k), [1, 1] if k == "weight" else [1])
               for i in range(n) for k in ("weight", "bias")]
    write(os.path.join(args.work, "exact.safetensors"), safetensors(tensors))
    write(os.path.join(args.work, "many.cnn"), many_dense_model(n, "exact.safetensors"))
    p = cnnc(args, ["many.cnn", "-o", "many.c"])
    expect(p.returncode == 0, "many.cnn with its exact weights: exit %d" % p.returncode, p)
    extra = tensors + [("unused%d" % i, [1]) for i in range(200000)]
    write(os.path.join(args.work, "extra.safetensors"), safetensors(extra))
    write(os.path.join(args.work, "extra.cnn"), many_dense_model(n, "extra.safetensors"))
    p = cnnc(args, ["extra.cnn", "-o", "extra.c"])
    expect(p.returncode == 1, "extra.cnn: exit %d, expected 1" % p.returncode, p)
    expect("tensor 'unused0' in 'extra.safetensors' is not used by the model" in p.stderr,
           "extra.cnn: no 'not used' error for unused0", p)
    expect("cnnc: 199980 more errors not shown" in p.stderr,
           "extra.cnn: expected 200,000 errors, 20 of them shown", p)
    expect(not os.path.exists(os.path.join(args.work, "extra.c")), "extra.c was written")


def case_many_strings(args):
    tensors = [("t%06d" % i, [1]) for i in range(100000)]
    write(os.path.join(args.work, "strings.safetensors"), safetensors(tensors))
    write(os.path.join(args.work, "strings.cnn"),
          'model s {\n    input x[1];\n    weights "strings.safetensors";\n'
          '    d = dense(units=1);\n}\n')
    p = cnnc(args, ["strings.cnn", "-o", "strings.c"])
    expect(p.returncode == 1, "strings.cnn: exit %d, expected 1" % p.returncode, p)
    expect("tensor 'd.weight' (F32 [1, 1]) is missing from 'strings.safetensors'" in p.stderr,
           "strings.cnn: the header was not read to the end", p)


def case_weights_device(args):
    fifo = os.path.join(args.work, "weights.fifo")
    os.mkfifo(fifo)
    os.makedirs(os.path.join(args.work, "dir.safetensors"), exist_ok=True)
    for path in ("/dev/zero", "dir.safetensors", "weights.fifo"):
        name = "dev%d" % len(path)
        write(os.path.join(args.work, name + ".cnn"),
              'model m {\n    input x[1];\n    weights "%s";\n    d = dense(units=1);\n}\n'
              % path)
        p = cnnc(args, [name + ".cnn", "-o", name + ".c"])
        want = "%s.cnn:3:13: error: weights file '%s': not a regular file\n" % (name, path)
        expect(p.returncode == 1 and p.stderr.startswith(want),
               "weights \"%s\": expected exit 1 and %r" % (path, want), p)
    os.mkfifo(os.path.join(args.work, "model.onnx"))
    p = cnnc(args, ["model.onnx", "-o", "model.c"])
    want = "model.onnx: error: not a regular file\n"
    expect(p.returncode == 1 and p.stderr == want, "FIFO model.onnx: expected %r" % want, p)


def read_fifo(path, into):
    with open(path, "rb") as f:
        into.append(f.read())


def case_out_device(args):
    model = os.path.join(args.examples, "tiny.cnn")
    fifo = os.path.join(args.work, "out.fifo")
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=read_fifo, args=(fifo, got))
    reader.start()
    p = cnnc(args, [model, "-o", fifo])
    reader.join(LIMIT_SECONDS)
    expect(p.returncode == 0, "-o FIFO: exit %d" % p.returncode, p)
    expect(stat.S_ISFIFO(os.stat(fifo).st_mode), "-o FIFO replaced the FIFO")
    text = got[0].decode() if got else ""
    expect(text.find("void tiny_run(const float *input, float *output);") <
           text.find("void tiny_run_ws(const float *input, float *output, void *arena)\n{")
           and "tiny_run(" in text, "-o FIFO: expected the header, then the C")
    left = sorted(f for f in os.listdir(args.work) if f.startswith("out.fifo"))
    expect(left == ["out.fifo"], "-o FIFO left files beside it: %s" % left)


CASES = [case_bind_many, case_many_strings, case_weights_device, case_out_device]


def main():
    return run_cases(__doc__, "hostile files", CASES)


if __name__ == "__main__":
    sys.exit(main())
