#!/usr/bin/python3
"""The trained lecture network, compiled by cnnc, against PyTorch.

--shard K/N   runs the build's fashion_demo (examples/fashion.cnn compiled by
              cnnc, linked with examples/fashion/classify.c) on the K-th of N
              slices of the 10,000 Fashion-MNIST test images with --dump, and
              checks, for every image, that its argmax equals PyTorch's
              (examples/fashion/train.py's Fashion module, the same weights,
              float32, eval) and that every probability is within 1e-5 of
              PyTorch's; also that the demo's printed accuracy is the one the
              dumped probabilities give. Writes shard_K.json in --workdir.
--summary N   reads the N shard files: together they cover all 10,000 images
              once, and the compiled model's accuracy is >= 91%.
--int8        the same for fashion_demo_int8 (make demo-int8: the network
              quantized by cnnc --quantize int8, calibrated on the first 1000
              training images): per slice, the demo's accuracy line counts what
              its dump shows and its top class agrees with PyTorch's float
              model on >= 97% of the images; the summary requires an accuracy
              >= 92.50% on all 10,000 and int8 weights (the demo's "weights:"
              line: int8 weights, int32 biases, multipliers and shifts) of at
              most 26% of the float32 weights' bytes. No probability tolerance:
              int8 moves the logits by a few percent of their range (the int8
              C equals cnnc's int8 interpreter exactly: tests/py/test_int8.py).
The slices exist only to keep each ctest case under a minute (the generated
C takes ~10 ms an image); the summary makes the claim about all 10,000.
"""
import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch

N_TEST = 10000
PROB_TOL = 1e-5
MIN_ACCURACY = 0.91
# int8: the target of issue 15 (PyTorch's own int8 reference reached it with
# 1000 calibration images); measured 92.73% (float 92.63%), 25.05% of the bytes.
MIN_ACCURACY_INT8 = 0.925
MAX_WEIGHT_FRACTION_INT8 = 0.26
MIN_AGREE_INT8 = 0.97


def load_train(path):
    """examples/fashion/train.py as a module: Fashion, load_weights, load_split."""
    spec = importlib.util.spec_from_file_location("fashion_train", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def shard_range(k, n):
    first = k * N_TEST // n
    return first, (k + 1) * N_TEST // n - first


def run_demo(args, first, count, dump):
    cmd = [args.demo, os.path.join(args.data, "t10k-images-idx3-ubyte.gz"),
           os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"),
           "--first", str(first), "--count", str(count), "--dump", dump]
    if args.int8:
        cmd += ["--weights", args.weights]
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        raise SystemExit("FAIL: %s exited %d: %s" % (" ".join(cmd), r.returncode, r.stderr))
    probs = np.fromfile(dump, dtype=np.float32)
    if probs.size != count * 10:
        raise SystemExit("FAIL: %s holds %d floats, expected %d" % (dump, probs.size, count * 10))
    return r.stdout, probs.reshape(count, 10)


def torch_probs(train, weights, x):
    """softmax of the PyTorch model's logits, float32, eval mode, 500 at a time."""
    torch.set_num_threads(1)
    model = train.load_weights(train.Fashion(), weights).eval()
    with torch.no_grad():
        out = [torch.softmax(model(x[i:i + 500]), dim=1) for i in range(0, len(x), 500)]
    return torch.cat(out).numpy()


def check_agreement(got, ref, first):
    """Number of failures: argmax differences and probabilities beyond PROB_TOL."""
    fails = 0
    pg, pr = got.argmax(1), ref.argmax(1)
    for i in np.nonzero(pg != pr)[0]:
        top2 = np.sort(ref[i])[-2:]
        print("FAIL: image %d: cnnc says %d, torch says %d (torch top-2 margin %.3g)\n"
              "  cnnc  %s\n  torch %s" % (first + i, pg[i], pr[i], top2[1] - top2[0], got[i], ref[i]))
        fails += 1
    diff = np.abs(got.astype(np.float64) - ref)
    worst = np.unravel_index(diff.argmax(), diff.shape)
    print("probabilities: max |cnnc - torch| = %.3g (image %d, class %d); argmax agrees on %d/%d"
          % (diff.max(), first + worst[0], worst[1], int((pg == pr).sum()), len(pg)))
    if not diff.max() <= PROB_TOL:
        print("FAIL: probability difference %.3g > %g" % (diff.max(), PROB_TOL))
        fails += 1
    return fails


def check_report(stdout, correct, count):
    """The demo's own 'accuracy:' line must count what its dump shows."""
    want = "(%d of %d correct)" % (correct, count)
    if want not in stdout:
        print("FAIL: the demo's report lacks %r (from its dumped probabilities)" % want)
        return 1
    return 0


def run_shard(args):
    k, n = (int(v) for v in args.shard.split("/"))
    first, count = shard_range(k, n)
    result = os.path.join(args.workdir, "shard_%d.json" % k)
    if os.path.exists(result):
        os.remove(result)
    t0 = time.time()
    stdout, got = run_demo(args, first, count, os.path.join(args.workdir, "probs_%d.f32" % k))
    t1 = time.time()
    train = load_train(args.train)
    x, y = train.load_split("t10k")
    ref = torch_probs(train, args.weights, x[first:first + count])
    labels = y[first:first + count].numpy()
    correct = int((got.argmax(1) == labels).sum())
    print("images %d..%d: cnnc %d correct, torch %d correct; demo %.1f s, torch %.1f s"
          % (first, first + count - 1, correct, int((ref.argmax(1) == labels).sum()),
             t1 - t0, time.time() - t1))
    if args.int8:
        fails, extra = check_int8_shard(args, stdout, got, ref)
    else:
        fails, extra = check_agreement(got, ref, first), {}
    fails += check_report(stdout, correct, count)
    if fails == 0:
        with open(result, "w") as f:
            json.dump(dict(first=first, count=count, correct=correct, **extra), f)
    return fails


def float_weight_bytes(path):
    """The float32 tensor bytes of a safetensors file: what `make demo`
    prints as its weights (the file less its length and JSON header)."""
    with open(path, "rb") as f:
        head = int.from_bytes(f.read(8), "little")
    return os.path.getsize(path) - 8 - head


def check_int8_shard(args, stdout, got, ref):
    """int8: the top class agrees with PyTorch's float model; the weight
    bytes the demo prints, against the float32 weights' bytes."""
    agree = float((got.argmax(1) == ref.argmax(1)).mean())
    m = re.search(r"^weights: +(\d+) bytes", stdout, re.M)
    fbytes = float_weight_bytes(args.weights)
    print("int8: top class agrees with PyTorch's float model on %.2f%%; weights %s of %d "
          "float bytes" % (100 * agree, m.group(1) if m else "?", fbytes))
    fails = 0
    if not agree >= MIN_AGREE_INT8:
        print("FAIL: int8 and float agree on %.4f < %.2f" % (agree, MIN_AGREE_INT8))
        fails += 1
    if not m:
        print("FAIL: the demo printed no 'weights: N bytes' line")
        return fails + 1, {}
    return fails, {"weight_bytes": int(m.group(1)), "float_bytes": fbytes}


def run_summary(args):
    seen, correct = np.zeros(N_TEST, dtype=int), 0
    for k in range(args.summary):
        path = os.path.join(args.workdir, "shard_%d.json" % k)
        if not os.path.exists(path):
            print("FAIL: %s missing: shard %d/%d did not pass" % (path, k, args.summary))
            return 1
        with open(path) as f:
            s = json.load(f)
        seen[s["first"]:s["first"] + s["count"]] += 1
        correct += s["correct"]
    if not (seen == 1).all():
        print("FAIL: the shards do not cover the %d test images exactly once" % N_TEST)
        return 1
    acc = correct / N_TEST
    if args.int8:
        return int8_summary(acc, correct, s)
    print("compiled model: %d/%d correct = %.2f%% on the Fashion-MNIST test set "
          "(predictions equal PyTorch's on every image)" % (correct, N_TEST, 100 * acc))
    if not acc >= MIN_ACCURACY:
        print("FAIL: accuracy %.4f < %.2f" % (acc, MIN_ACCURACY))
        return 1
    return 0


def int8_summary(acc, correct, shard):
    frac = shard["weight_bytes"] / shard["float_bytes"]
    print("int8 model: %d/%d correct = %.2f%% on the Fashion-MNIST test set; weights %d bytes, "
          "%.2f%% of the float32 %d" % (correct, N_TEST, 100 * acc, shard["weight_bytes"],
                                       100 * frac, shard["float_bytes"]))
    fails = 0
    if not acc >= MIN_ACCURACY_INT8:
        print("FAIL: int8 accuracy %.4f < %.4f" % (acc, MIN_ACCURACY_INT8))
        fails += 1
    if not frac <= MAX_WEIGHT_FRACTION_INT8:
        print("FAIL: int8 weights are %.4f of the float bytes, over %.2f" % (frac, MAX_WEIGHT_FRACTION_INT8))
        fails += 1
    return fails


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", help="the built fashion_demo")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--weights", help="examples/fashion/fashion.safetensors")
    ap.add_argument("--train", help="examples/fashion/train.py")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--shard", help="K/N")
    ap.add_argument("--summary", type=int, help="N: the number of shards")
    ap.add_argument("--int8", action="store_true", help="the int8 demo (fashion_demo_int8)")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    fails = run_shard(args) if args.shard else run_summary(args)
    print("fashion: %s" % ("ok" if fails == 0 else "%d failures" % fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
