"""Whole torchvision classification CNNs, from ONNX, equal to PyTorch.

Each network of torchnets.py (torchvision's definitions written again in
torch.nn: torchvision is not in Debian 12) is built with seeded random
weights and BatchNorm statistics, in eval mode, exported by
torch.onnx.export at 96x96 (opset 13; a few at 17 too), then

  - run by `cnnc run NET.onnx` (the libtcc JIT), and
  - compiled by `cnnc NET.onnx -o m.c --weights file`, built with gcc -O1
    and run,

and both outputs must equal PyTorch's within 1e-4 relative to the largest
magnitude (max |got - ref| / max |ref|). A network that cnnc rejects or
that differs fails the test; nothing is skipped.

    test_nets.py --cnnc build/compiler/cnnc --gcc gcc --workdir DIR [NET[@OPSET] ...]
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import torch

import onnxtest
import torchnets

TOL = 1e-4
SIZE = 96

# (network, opset): every network at 13; at 17 the ones whose export
# changes there (HardSwish, LayerNormalization become single ops).
CASES = [(n, 13) for n in ("mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "shufflenet_v2_x0_5",
                           "mnasnet0_5", "convnext_tiny", "googlenet", "densenet121", "regnet_x_400mf",
                           "regnet_y_400mf")] + [("mobilenet_v3_small", 17), ("convnext_tiny", 17)]
# --family: the other widths and depths of the same families (onnx_nets_family).
FAMILY = [(n, 13) for n in ("mobilenet_v3_large", "mobilenet_v2_x0_5", "efficientnet_b1",
                            "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "mnasnet1_0",
                            "regnet_x_800mf", "regnet_y_800mf")]


def export(name, opset, work):
    net = torchnets.build(name, seed=13)
    x = torch.randn((1, 3, SIZE, SIZE), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        ref = net(x).numpy()
    path = os.path.join(work, name + ".onnx")
    with open(path, "wb") as f:
        torch.onnx.export(net, x, f, opset_version=opset, input_names=["input"], output_names=["output"])
    np.save(os.path.join(work, "x.npy"), x.numpy())
    return path, x.numpy(), ref


def run_jit(cnnc, path, work, ref):
    out = os.path.join(work, "jit.npy")
    rc, _, err = onnxtest.run_cnnc(cnnc, ["run", path, "--input", os.path.join(work, "x.npy"), "--output", out],
                                   timeout=600)
    if rc != 0:
        raise onnxtest.StepError("cnnc run", onnxtest.first_error(err) if rc == 1 else "exit %d: %s" % (rc, err))
    return onnxtest.rel_err(np.load(out), ref)


def run_gcc(cnnc, gcc, path, work, x, ref):
    c_path = os.path.join(work, "m.c")
    rc, _, err = onnxtest.run_cnnc(cnnc, [path, "-o", c_path, "--name", "m", "--weights", "file"], timeout=600)
    if rc != 0:
        raise onnxtest.StepError("cnnc", onnxtest.first_error(err) if rc == 1 else "exit %d: %s" % (rc, err))
    exe = os.path.join(work, "m")
    p = subprocess.run([gcc, "-std=c99", "-O1", "-ffp-contract=off", "-I", work, c_path, onnxtest.HARNESS,
                        "-o", exe, "-lm"], capture_output=True, timeout=600)
    if p.returncode != 0:
        raise onnxtest.StepError("gcc", p.stderr.decode(errors="replace")[:2000])
    data = np.ascontiguousarray(x, dtype="<f4").tobytes()
    p = subprocess.run([exe, os.path.join(work, "m.weights")], input=data, capture_output=True, timeout=600)
    if p.returncode != 0:
        raise onnxtest.StepError("run", "exit status %d" % p.returncode)
    return onnxtest.rel_err(np.frombuffer(p.stdout, dtype="<f4"), ref)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--gcc", default="gcc")
    ap.add_argument("--workdir", default="nets-work")
    ap.add_argument("--family", action="store_true",
                    help="the other widths and depths of the families instead")
    ap.add_argument("cases", nargs="*", help="NET or NET@OPSET (default: all)")
    args = ap.parse_args()
    onnxtest.require([args.cnnc, args.gcc])
    onnxtest.fresh_dir(args.workdir)
    cases = FAMILY if args.family else CASES
    if args.cases:
        cases = [(c.split("@")[0], int(c.split("@")[1]) if "@" in c else 13) for c in args.cases]
    torch.set_num_threads(1)
    failures = 0
    for name, opset in cases:
        start = time.time()
        work = onnxtest.fresh_dir(os.path.join(args.workdir, "%s_op%d" % (name, opset)))
        try:
            path, x, ref = export(name, opset, work)
            jit = run_jit(args.cnnc, path, work, ref)
            cc = run_gcc(args.cnnc, args.gcc, path, work, x, ref)
            ok = jit <= TOL and cc <= TOL
            print("%-20s opset %d: max rel error jit %.2e, gcc %.2e (max |ref| %.3g) %s  [%.1fs]"
                  % (name, opset, jit, cc, float(np.abs(ref).max()), "ok" if ok else "FAIL", time.time() - start))
        except (onnxtest.StepError, subprocess.TimeoutExpired) as e:
            ok = False
            print("%-20s opset %d: FAIL %s" % (name, opset, e))
        sys.stdout.flush()
        failures += not ok
    print("nets: %d of %d failed" % (failures, len(cases)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
