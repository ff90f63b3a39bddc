"""Round trip: every example network, built in PyTorch, exported with
torch.onnx.export, compiled by cnnc from the ONNX file, equals PyTorch.

For each examples/*.cnn: cnnref (tests/py, an independent .cnn reader)
parses it and gives its weights (the example's safetensors file, or seeded
random ones); this file builds the network from torch.nn modules, as a
PyTorch user would write it, and first checks it against cnnref.forward
sample by sample. Then, for a batch of 1 and a batch of 3, it exports the
module (opset 13, eval mode), compiles the .onnx with `cnnc MODEL.onnx -o
m.c`, builds and runs the C on a seeded input, and requires max |C - torch|
<= 1e-5 max |torch|. One model also goes through `cnnc import`: the
written .cnn and .safetensors must compile to the same results, and `cnnc
run --interp` on the whole batch must give them too.
"""

import argparse
import io
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import onnxtest

sys.path.insert(0, os.path.join(onnxtest.HERE, "..", "py"))
import cnnref  # noqa: E402

TOL = 1e-5
OPSET = 13
torch.set_num_threads(1)


def act_fn(name, args):
    """The .cnn activation NAME as torch functions that export to ONNX ops."""
    if name == "relu":
        return F.relu
    if name == "leaky_relu":
        alpha = float(args.get("alpha", 0.1))
        return lambda x: F.leaky_relu(x, alpha)
    if name == "sigmoid":
        return torch.sigmoid
    if name == "tanh":
        return torch.tanh
    if name == "elu":
        alpha = float(args.get("alpha", 1.0))
        return lambda x: F.elu(x, alpha)
    if name == "selu":
        return F.selu
    if name == "softplus":
        return F.softplus
    if name == "swish":
        return F.silu
    if name == "rbf":
        c, eps = float(args.get("center", 0.0)), float(args.get("epsilon", 1.0))
        return lambda x: torch.exp(-((eps * (x - c)) ** 2))
    raise cnnref.CnnError("no torch form for activation %s" % name)


def trim_pool_pads(win, h, w):
    """Pads at the end that no window reaches change nothing: drop them, so
    that more pools have the symmetric padding torch.nn accepts."""
    pt, pl, pb, pr = win["pads"]
    eh, ew = win["dh"] * (win["kh"] - 1) + 1, win["dw"] * (win["kw"] - 1) + 1
    pb = min(pb, max(0, (win["oh"] - 1) * win["sh"] + eh - h - pt))
    pr = min(pr, max(0, (win["ow"] - 1) * win["sw"] + ew - w - pl))
    return pt, pl, pb, pr


class Net(nn.Module):
    """A .cnn model as torch.nn modules; forward takes a batch [B, ...]."""

    def __init__(self, m, params):
        super().__init__()
        self.m = m
        self.layers = nn.ModuleDict()
        self.fns = {}
        shapes = m.shapes()
        for st in m.stmts:
            self.layers[st.name] = self._layer(st, shapes[st.inputs[0]], params)

    def _layer(self, st, x, p):
        a, op = st.args, st.op
        if op == "conv2d":
            return self._conv(st, x, p)
        if op in ("maxpool", "avgpool"):
            win = cnnref.window(a, x, pool=True)
            pt, pl, pb, pr = trim_pool_pads(win, x[1], x[2])
            if (pt, pl) != (pb, pr):
                raise cnnref.CnnError("%s: asymmetric pool padding has no torch.nn form" % st.name)
            k, s, d = (win["kh"], win["kw"]), (win["sh"], win["sw"]), (win["dh"], win["dw"])
            if op == "maxpool":
                return nn.MaxPool2d(k, s, (pt, pl), d)
            return nn.AvgPool2d(k, s, (pt, pl), count_include_pad=bool(a.get("count_pad", False)))
        if op == "global_avgpool":
            return nn.AdaptiveAvgPool2d(1)
        if op == "flatten":
            return nn.Flatten(1)
        if op == "dense":
            w = p[st.name + ".weight"]
            lin = nn.Linear(w.shape[1], w.shape[0], bias=st.name + ".bias" in p)
            self._load(lin, st.name, p)
            return self._with_act(lin, st)
        if op == "batchnorm":
            bn = (nn.BatchNorm2d if len(x) == 3 else nn.BatchNorm1d)(x[0], eps=float(a.get("epsilon", 1e-5)))
            self._load(bn, st.name, p)
            return bn.eval()
        if op in ("add", "concat"):
            return nn.Identity()
        if op == "softmax":
            return nn.Softmax(dim=int(a.get("axis", 0)) + 1)
        return Lambda(act_fn(op, a))

    def _conv(self, st, x, p):
        a = st.args
        win = cnnref.window(a, x, pool=False)
        pt, pl, pb, pr = win["pads"]
        w = p[st.name + ".weight"]
        conv = nn.Conv2d(x[0], w.shape[0], (win["kh"], win["kw"]), (win["sh"], win["sw"]),
                         (pt, pl) if (pt, pl) == (pb, pr) else 0, (win["dh"], win["dw"]),
                         int(a.get("groups", 1)), bias=st.name + ".bias" in p)
        self._load(conv, st.name, p)
        layer = conv if (pt, pl) == (pb, pr) else nn.Sequential(nn.ZeroPad2d((pl, pr, pt, pb)), conv)
        return self._with_act(layer, st)

    @staticmethod
    def _load(module, name, p):
        sd = {k: torch.from_numpy(np.asarray(p["%s.%s" % (name, k)], dtype=np.float32))
              for k in module.state_dict() if "%s.%s" % (name, k) in p}
        module.load_state_dict(sd, strict=False)

    @staticmethod
    def _with_act(layer, st):
        act = st.args.get("activation")
        if act is None or act == "none":
            return layer
        if act == "softmax":
            return nn.Sequential(layer, nn.Softmax(dim=1))
        return nn.Sequential(layer, Lambda(act_fn(str(act), {})))

    def forward(self, x):
        env = {self.m.input_name: x}
        for st in self.m.stmts:
            ins = [env[n] for n in st.inputs]
            if st.op == "add":
                y = ins[0]
                for t in ins[1:]:
                    y = y + t
            elif st.op == "concat":
                y = torch.cat(ins, dim=1)
            else:
                y = self.layers[st.name](ins[0])
            env[st.name] = y
        return env[self.m.output_name()]


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def load_example(path):
    with open(path) as f:
        m = cnnref.parse(f.read(), path)
    cnnref.infer_shapes(m)
    if m.weights[0] == "file":
        params = cnnref.read_safetensors(os.path.join(os.path.dirname(path), m.weights[1]))
    else:
        params = cnnref.random_weights(m, 1234)
    return m, params


def check_against_cnnref(m, params, net, x):
    with torch.no_grad():
        y = net(torch.from_numpy(x)).numpy()
    for b in range(x.shape[0]):
        ref = cnnref.forward(m, params, x[b])
        err = cnnref.max_rel_err(y[b], ref)[0]
        if err > TOL:
            raise AssertionError("the torch.nn build differs from cnnref by %.3g" % err)


def export(net, x, path):
    with open(path, "wb") as f:
        torch.onnx.export(net, torch.from_numpy(x), f, opset_version=OPSET,
                          input_names=["input"], output_names=["output"])


def run_case(args, name, m, params, net, batch):
    work = onnxtest.fresh_dir(os.path.join(args.workdir, "%s_b%d" % (name, batch)))
    rng = np.random.default_rng(batch * 1000 + len(name))
    x = rng.uniform(-1, 1, size=(batch,) + tuple(m.input_shape)).astype(np.float32)
    check_against_cnnref(m, params, net, x)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    path = os.path.join(work, "%s.onnx" % name)
    export(net, x, path)
    exe = onnxtest.compile_onnx(args.cnnc, args.gcc, path, work)
    got = onnxtest.run_exe(exe, x, ref.size)
    return onnxtest.rel_err(got, ref), path, x, ref


def check_import(args, onnx_path, x, ref):
    """cnnc import writes .cnn + .safetensors that compile to the same, and
    that `cnnc run --interp` evaluates to the same."""
    work = os.path.dirname(onnx_path)
    cnn = os.path.join(work, "imported.cnn")
    rc, _, err = onnxtest.run_cnnc(args.cnnc, ["import", onnx_path, "-o", cnn])
    if rc != 0:
        raise AssertionError("cnnc import failed: %s" % err)
    text = open(cnn).read()
    if not text.startswith("# Imported by cnnc from ") or 'weights "imported.safetensors";' not in text:
        raise AssertionError("imported.cnn lacks its header or weights statement:\n" + text[:500])
    sub = onnxtest.fresh_dir(os.path.join(work, "from_cnn"))
    exe = onnxtest.compile_onnx(args.cnnc, args.gcc, cnn, sub)
    err = onnxtest.rel_err(onnxtest.run_exe(exe, x, ref.size), ref)
    # the interpreter takes the whole batch too
    xin, yout = os.path.join(sub, "x.npy"), os.path.join(sub, "y.npy")
    np.save(xin, np.ascontiguousarray(x, dtype="<f4"))
    rc, _, err_text = onnxtest.run_cnnc(args.cnnc, ["run", cnn, "--interp", "--input", xin, "--output", yout])
    if rc != 0:
        raise AssertionError("cnnc run --interp failed: %s" % err_text)
    return max(err, onnxtest.rel_err(np.load(yout), ref))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--gcc", default="gcc")
    ap.add_argument("--examples", required=True)
    ap.add_argument("--workdir", default="roundtrip-work")
    args = ap.parse_args()
    onnxtest.require([args.cnnc, args.gcc])
    onnxtest.fresh_dir(args.workdir)
    failures = 0
    for fname in sorted(os.listdir(args.examples)):
        if not fname.endswith(".cnn"):
            continue
        name = fname[:-4]
        m, params = load_example(os.path.join(args.examples, fname))
        net = Net(m, params).eval()
        for batch in (1, 3):
            try:
                err, path, x, ref = run_case(args, name, m, params, net, batch)
                ok = err <= TOL
                print("%-10s batch %d: max error %.2e %s" % (name, batch, err, "ok" if ok else "FAIL"))
                if ok and name == "resnet" and batch == 3:
                    ierr = check_import(args, path, x, ref)
                    ok = ierr <= TOL
                    print("%-10s batch %d via cnnc import: max error %.2e %s" % (name, batch, ierr,
                                                                                "ok" if ok else "FAIL"))
            except (onnxtest.StepError, AssertionError, cnnref.CnnError) as e:
                ok = False
                print("%-10s batch %d: FAIL %s" % (name, batch, e))
            failures += not ok
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
