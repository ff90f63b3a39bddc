"""test_qdq: ONNX models a quantization tool already quantized (QDQ).

Builds small QDQ models with python3-onnx's helper, in the form
onnxruntime's quantize_static writes: activations as QuantizeLinear ->
DequantizeLinear pairs with one scale and zero point, weights as INT8
initializers with a DequantizeLinear (per output channel along axis 0, or
per tensor, zero point 0), biases as INT32 with scale input scale * weight
scale; and the operator forms QLinearConv and QLinearMatMul. Each model is
compiled WITHOUT --calibrate (the file's scales are the quantization):

- `cnnc M.onnx -o m.c` built with gcc, `cnnc run` (the JIT) and `cnnc run
  --interp` (the int8 interpreter) must EQUAL each other (max |diff| 0);
- all three must equal reference(), written here from the ONNX operator
  specs (QuantizeLinear: x / scale rounded half to even, + zero point,
  saturated; DequantizeLinear: (q - zero point) * scale; the float ops on
  the dequantized values) within ONE step of the output's scale, and at
  least 90% of the outputs exactly. Why one step: cnnc requantizes with a
  Q31 fixed-point multiplier rounding ties away from zero (TFLite's
  arithmetic) where the reference rounds the float result half to even;
  it quantizes its input by truncating x / s +- 0.5 in float; it fuses a
  Relu into the Conv before it (one rounding where the file has two); its
  add rescales in TFLite's 2^20 fixed point. Each differs from the exact
  value by at most half a step, so the results differ by at most one.

Two models come from PyTorch itself: eager-mode static quantization
(qnnpack, per-tensor and per-channel weights) exported by torch.onnx.export
(which writes QuantizeLinear -> Cast -> DequantizeLinear); there the
reference is PyTorch's quantized model, with the same one-step bound.

Then every refused form: exit status 1, the exact message, no output file.

    test_qdq.py --cnnc build/compiler/cnnc --gcc gcc --workdir work
"""

import argparse
import os
import sys

import numpy as np

import onnxtest

try:
    import onnx
    from onnx import TensorProto as TP
    from onnx import helper as oh
    from onnx import numpy_helper as nh
except ImportError:
    print("FAIL: python3-onnx is missing (apt-get install python3-onnx)")
    sys.exit(1)


# ---------------------------------------------------------------- the reference (ONNX spec)

def q_linear(x, s, z, dtype):
    """QuantizeLinear: saturate(round_half_even(x / s) + z)."""
    lo, hi = (0, 255) if dtype == np.uint8 else (-128, 127)
    return np.clip(np.rint(np.float32(x) / np.float32(s)) + z, lo, hi).astype(dtype)


def dq_linear(q, s, z, axis=None):
    """DequantizeLinear: (q - z) * s, per tensor or along axis."""
    s = np.asarray(s, np.float32)
    z = np.asarray(z, np.int64)
    if s.size > 1:
        shape = [1] * q.ndim
        shape[axis] = s.size
        s, z = s.reshape(shape), z.reshape(shape)
    return ((q.astype(np.int64) - z).astype(np.float32) * s).astype(np.float32)


def conv2d(x, w, b, pad, stride=1, group=1):
    """NCHW convolution in float64."""
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh_, ow_ = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, f, oh_, ow_))
    fg = f // group
    for o in range(f):
        g = o // fg
        for i in range(oh_):
            for j in range(ow_):
                patch = xp[:, g * cg:(g + 1) * cg, i * stride:i * stride + kh, j * stride:j * stride + kw]
                y[:, o, i, j] = np.sum(patch * w[o], axis=(1, 2, 3))
    return y + (0 if b is None else b.reshape(1, -1, 1, 1))


def pool2d(x, k, stride, kind):
    n, c, h, w = x.shape
    oh_, ow_ = (h - k) // stride + 1, (w - k) // stride + 1
    y = np.zeros((n, c, oh_, ow_), np.float64)
    for i in range(oh_):
        for j in range(ow_):
            win = x[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            y[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.mean(axis=(2, 3))
    return y


def reference(model, x):
    """Runs model's nodes on x with numpy, by the ONNX spec."""
    env = {t.name: nh.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for n in model.graph.node:
        a = {at.name: oh.get_attribute_value(at) for at in n.attribute}
        i = [env[k] if k else None for k in n.input]
        op = n.op_type
        if op == "QuantizeLinear":
            z = i[2] if len(i) > 2 else np.uint8(0)
            y = q_linear(i[0], i[1], z.astype(np.int64), z.dtype.type)
        elif op == "DequantizeLinear":
            y = dq_linear(i[0], i[1], i[2] if len(i) > 2 else 0, a.get("axis", 1))
        elif op == "Conv":
            y = conv2d(i[0], i[1], i[2] if len(i) > 2 else None, a.get("pads", [0])[0],
                       a.get("strides", [1])[0], a.get("group", 1)).astype(np.float32)
        elif op == "QLinearConv":
            xf = dq_linear(i[0], i[1], i[2])
            wf = dq_linear(i[3], i[4], i[5], 0)
            bf = None if len(i) < 9 else i[8].astype(np.float64) * (np.float64(i[1]) * i[4].astype(np.float64))
            acc = conv2d(xf, wf, bf, a.get("pads", [0])[0], a.get("strides", [1])[0])
            y = q_linear(acc, i[6], i[7].astype(np.int64), i[7].dtype.type)
        elif op == "QLinearMatMul":
            acc = dq_linear(i[0], i[1], i[2]).astype(np.float64) @ dq_linear(i[3], i[4], i[5], 1)
            y = q_linear(acc, i[6], i[7].astype(np.int64), i[7].dtype.type)
        elif op == "Gemm":
            y = (i[0].astype(np.float64) @ (i[1].T if a.get("transB") else i[1]) + i[2]).astype(np.float32)
        elif op == "MatMul":
            y = (i[0].astype(np.float64) @ i[1]).astype(np.float32)
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "Concat":
            y = np.concatenate(i, axis=a["axis"])
        elif op == "MaxPool":
            y = pool2d(i[0], a["kernel_shape"][0], a["strides"][0], "max").astype(np.float32)
        elif op == "AveragePool":
            y = pool2d(i[0], a["kernel_shape"][0], a["strides"][0], "avg").astype(np.float32)
        elif op == "Flatten":
            y = i[0].reshape(i[0].shape[0], -1)
        else:
            raise AssertionError("reference: no " + op)
        env[n.output[0]] = y
    return env[model.graph.output[0].name]


# ---------------------------------------------------------------- building QDQ models

class Q:
    """A QDQ graph being built: nodes, initializers, a counter."""

    def __init__(self, seed, shape, act_dtype=np.int8):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.k = [], [], 0
        self.shape = shape
        self.act_dtype = act_dtype
        self.out_scale = None

    def name(self, base):
        self.k += 1
        return "%s%d" % (base, self.k)

    def const(self, arr, base="c"):
        n = self.name(base)
        self.inits.append(nh.from_array(np.asarray(arr), n))
        return n

    def node(self, op, ins, base, **attrs):
        out = self.name(base)
        self.nodes.append(oh.make_node(op, ins, [out], name=out, **attrs))
        return out

    def act_params(self, lo, hi):
        """Scale and zero point of a range, as quantize_static chooses them."""
        s = np.float32((hi - lo) / 255.0)
        if self.act_dtype == np.uint8:
            return s, np.uint8(np.clip(np.round(-lo / s), 0, 255))
        return s, np.int8(np.clip(np.round(-128 - lo / s), -128, 127))

    def qdq(self, x, lo, hi):
        """x -> QuantizeLinear -> DequantizeLinear; returns (output, scale)."""
        s, z = self.act_params(lo, hi)
        sn, zn = self.const(np.float32(s), "s"), self.const(z, "z")
        q = self.node("QuantizeLinear", [x, sn, zn], "q")
        self.out_scale = s
        return self.node("DequantizeLinear", [q, sn, zn], "dq"), s

    def weight(self, shape, per_channel=True, axis=0):
        """Random int8 weights with their DequantizeLinear; (name, scales)."""
        q = self.rng.integers(-127, 128, size=shape).astype(np.int8)
        n = shape[axis] if per_channel else 1
        s = (self.rng.random(n) * 0.02 + 0.002).astype(np.float32)
        if not per_channel:
            s = s.reshape(())
        ins = [self.const(q, "w"), self.const(s, "ws"), self.const(np.zeros(s.shape, np.int8), "wz")]
        return self.node("DequantizeLinear", ins, "wd", axis=axis), s

    def bias(self, n, s_in, s_w):
        s = (np.float32(s_in) * np.broadcast_to(s_w, (n,))).astype(np.float32)
        q = self.rng.integers(-2000, 2000, size=n).astype(np.int32)
        ins = [self.const(q, "b"), self.const(s, "bs"), self.const(np.zeros(n, np.int32), "bz")]
        return self.node("DequantizeLinear", ins, "bd", axis=0)

    def conv(self, x, s_in, c, f, k=3, pad=1, per_channel=True, relu=False, lo=-4.0, hi=4.0):
        w, s_w = self.weight((f, c, k, k), per_channel)
        y = self.node("Conv", [x, w, self.bias(f, s_in, s_w)], "conv", pads=[pad] * 4, kernel_shape=[k, k])
        if relu:
            y, _ = self.qdq(y, lo, hi)
            y = self.node("Relu", [y], "relu")
            lo = 0.0
        return self.qdq(y, lo, hi)

    def unchecked(self, x_in, out, out_shape, out_type=TP.FLOAT, opset=13):
        """The graph as a model, not run through onnx.checker (the refused forms)."""
        g = oh.make_graph(self.nodes, "qdq", [oh.make_tensor_value_info(x_in, TP.FLOAT, self.shape)],
                          [oh.make_tensor_value_info(out, out_type, out_shape)], self.inits)
        return oh.make_model(g, opset_imports=[oh.make_opsetid("", opset)])

    def model(self, x_in, out, out_shape):
        m = self.unchecked(x_in, out, out_shape)
        onnx.checker.check_model(m)
        return m


def m_conv(seed, per_channel=True, relu=False, act_dtype=np.int8):
    b = Q(seed, [1, 3, 8, 8], act_dtype)
    x, s = b.qdq("x", -3.0, 2.5)
    y, _ = b.conv(x, s, 3, 5, per_channel=per_channel, relu=relu)
    return b.model("x", y, [1, 5, 8, 8]), b.out_scale


def m_pool(seed, kind):
    b = Q(seed, [1, 3, 8, 8])
    x, s = b.qdq("x", -3.0, 2.5)
    y, s = b.conv(x, s, 3, 4)
    p = b.node(kind, [y], "pool", kernel_shape=[2, 2], strides=[2, 2])
    lo, hi = -4.0, 4.0     # the same scale: quantize_static shares it across a pool
    y, _ = b.qdq(p, lo, hi)
    return b.model("x", y, [1, 4, 4, 4]), b.out_scale


def m_add(seed):
    b = Q(seed, [1, 3, 6, 6])
    x, s = b.qdq("x", -3.0, 2.5)
    y1, s1 = b.conv(x, s, 3, 4, lo=-3.0, hi=5.0)
    y2, s2 = b.conv(x, s, 3, 4, k=1, pad=0, lo=-6.0, hi=2.0)
    y, _ = b.qdq(b.node("Add", [y1, y2], "add"), -8.0, 8.0)
    return b.model("x", y, [1, 4, 6, 6]), b.out_scale


def m_concat(seed):
    b = Q(seed, [1, 3, 6, 6])
    x, s = b.qdq("x", -3.0, 2.5)
    y1, _ = b.conv(x, s, 3, 2, lo=-3.0, hi=5.0)
    y2, _ = b.conv(x, s, 3, 3, k=1, pad=0, lo=-6.0, hi=2.0)
    y, _ = b.qdq(b.node("Concat", [y1, y2], "cat", axis=1), -6.0, 5.0)
    return b.model("x", y, [1, 5, 6, 6]), b.out_scale


def m_gemm(seed, matmul=False, act_dtype=np.int8):
    b = Q(seed, [1, 2, 4, 4], act_dtype)
    x, s = b.qdq("x", -3.0, 2.5)
    f = b.node("Flatten", [x], "flat", axis=1)
    if matmul:
        w, s_w = b.weight((32, 10), per_channel=False, axis=1)
        y = b.node("MatMul", [f, w], "mm")
    else:
        w, s_w = b.weight((10, 32))
        y = b.node("Gemm", [f, w, b.bias(10, s, s_w)], "gemm", transB=1)
    y, _ = b.qdq(y, -5.0, 5.0)
    return b.model("x", y, [1, 10]), b.out_scale


def qlinear_params(b, base, s, z):
    return [b.const(np.float32(s), base + "s"), b.const(z, base + "z")]


def m_qlinear_conv(seed):
    """QOperator form: Q -> QLinearConv -> DQ (uint8 activations, per-channel int8 weights)."""
    b = Q(seed, [1, 2, 7, 7], np.uint8)
    sx, zx = b.act_params(-2.0, 3.0)
    sy, zy = b.act_params(-4.0, 4.0)
    xin = qlinear_params(b, "x", sx, zx)
    q = b.node("QuantizeLinear", ["x"] + xin, "q")
    wq = b.rng.integers(-127, 128, size=(3, 2, 3, 3)).astype(np.int8)
    ws = (b.rng.random(3) * 0.02 + 0.002).astype(np.float32)
    bq = b.rng.integers(-2000, 2000, size=3).astype(np.int32)
    ins = [q] + xin + [b.const(wq, "w"), b.const(ws, "ws"), b.const(np.zeros(3, np.int8), "wz")] + \
        qlinear_params(b, "y", sy, zy) + [b.const(bq, "b")]
    y = b.node("QLinearConv", ins, "qconv", pads=[1, 1, 1, 1])
    out = b.node("DequantizeLinear", [y] + qlinear_params(b, "o", sy, zy), "dq")
    return b.model("x", out, [1, 3, 7, 7]), sy


def m_qlinear_matmul(seed):
    b = Q(seed, [1, 12])
    sx, zx = b.act_params(-2.0, 3.0)
    sy, zy = b.act_params(-3.0, 3.0)
    xin = qlinear_params(b, "x", sx, zx)
    q = b.node("QuantizeLinear", ["x"] + xin, "q")
    wq = b.rng.integers(-127, 128, size=(12, 6)).astype(np.int8)
    ins = [q] + xin + [b.const(wq, "w"), b.const(np.float32(0.01), "ws"), b.const(np.int8(0), "wz")] + \
        qlinear_params(b, "y", sy, zy)
    y = b.node("QLinearMatMul", ins, "qmm")
    out = b.node("DequantizeLinear", [y] + qlinear_params(b, "o", sy, zy), "dq")
    return b.model("x", out, [1, 6]), sy


def m_torch(seed, per_channel):
    """PyTorch eager-mode static quantization (qnnpack), exported by
    torch.onnx.export: Q -> Cast -> DQ pairs, int8 weights (per channel
    along axis 0, or per tensor), int32 biases. The reference here is
    PyTorch's own quantized model (its kernels' rounding), not reference()."""
    import io
    import warnings
    import torch
    import torch.nn as nn
    import torch.ao.quantization as tq

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.dq = tq.QuantStub(), tq.DeQuantStub()
            self.c1, self.r1 = nn.Conv2d(3, 6, 3, padding=1), nn.ReLU()
            self.c2, self.r2 = nn.Conv2d(6, 4, 3, padding=1, groups=2), nn.ReLU()
            self.mp, self.ap = nn.MaxPool2d(2), nn.AvgPool2d(2)
            self.fc = nn.Linear(4 * 2 * 2, 64)

        def forward(self, x):
            x = self.mp(self.r1(self.c1(self.q(x))))
            x = self.ap(self.r2(self.c2(x)))
            return self.dq(self.fc(torch.flatten(x, 1)))

    torch.manual_seed(seed)
    torch.backends.quantized.engine = "qnnpack"
    m = Net().eval()
    weight = tq.default_per_channel_weight_observer if per_channel else tq.default_weight_observer
    m.qconfig = tq.QConfig(activation=tq.MinMaxObserver.with_args(dtype=torch.quint8), weight=weight)
    tq.fuse_modules(m, [["c1", "r1"], ["c2", "r2"]], inplace=True)
    tq.prepare(m, inplace=True)
    with torch.no_grad():
        for _ in range(16):
            m(torch.randn(1, 3, 8, 8) * 1.5)
    tq.convert(m, inplace=True)
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # the exporter's notes on its own shape inference
        torch.onnx.export(m, torch.zeros(1, 3, 8, 8), f, opset_version=13)
    model = onnx.load_from_string(f.getvalue())

    def run(x):
        with torch.no_grad():
            return m(torch.from_numpy(x)).numpy()
    return model, float(m.fc.scale), run


MODELS = {
    "conv": lambda: m_conv(1),
    "conv_relu": lambda: m_conv(2, relu=True),
    "conv_per_tensor": lambda: m_conv(3, per_channel=False),
    "conv_uint8": lambda: m_conv(4, act_dtype=np.uint8),
    "conv_relu_uint8": lambda: m_conv(5, relu=True, act_dtype=np.uint8),
    "maxpool": lambda: m_pool(6, "MaxPool"),
    "avgpool": lambda: m_pool(7, "AveragePool"),
    "add": lambda: m_add(8),
    "concat": lambda: m_concat(9),
    "gemm": lambda: m_gemm(10),
    "matmul": lambda: m_gemm(11, matmul=True),
    "gemm_uint8": lambda: m_gemm(12, act_dtype=np.uint8),
    "qlinearconv": lambda: m_qlinear_conv(13),
    "qlinearmatmul": lambda: m_qlinear_matmul(14),
    "torch_per_tensor": lambda: m_torch(15, False),
    "torch_per_channel": lambda: m_torch(16, True),
}


# ---------------------------------------------------------------- running cnnc

# Beyond the one-step bound: most outputs equal the reference exactly and
# the differences do not lean one way. Measured: 75% (add, two roundings
# of TFLite's fixed point) to 100% exact; a zero point off by one would
# make every output one step off (mean 1).
MIN_EXACT = 0.6
MAX_BIAS = 0.2

def check(rc_out, what):
    rc, _, err = rc_out
    if rc != 0:
        raise AssertionError("%s: exit %d: %s" % (what, rc, err.strip()[:2000]))


def run_model(args, name, build):
    work = onnxtest.fresh_dir(os.path.join(args.workdir, name))
    model, s_out, *torch_run = build()
    path = os.path.join(work, name + ".onnx")
    onnx.save(model, path)
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = (np.random.default_rng(100).standard_normal(shape) * 1.5).astype(np.float32)
    xin = os.path.join(work, "x.npy")
    np.save(xin, x)
    got = {}
    for tag, extra in (("interp", ["--interp"]), ("jit", [])):
        y = os.path.join(work, tag + ".npy")
        check(onnxtest.run_cnnc(args.cnnc, ["run", path, "--input", xin, "--output", y] + extra), tag)
        got[tag] = np.load(y).reshape(-1)
    exe = onnxtest.compile_onnx(args.cnnc, args.gcc, path, work)
    with open(os.path.join(work, "m.h")) as f:
        if "#define M_QUANTIZED 1" not in f.read():
            raise AssertionError("m.h is not a quantized model's header")
    got["gcc"] = onnxtest.run_exe(exe, x, onnxtest.header_size(work, "OUTPUT"))
    for tag in ("jit", "gcc"):
        if not np.array_equal(got[tag], got["interp"]):
            d = np.max(np.abs(got[tag] - got["interp"]))
            raise AssertionError("%s differs from the int8 interpreter by up to %g" % (tag, d))
    ref = (torch_run[0](x) if torch_run else reference(model, x)).reshape(-1).astype(np.float64)
    signed = (got["interp"] - ref) / float(s_out)
    steps = np.abs(signed)
    exact = float(np.mean(steps < 1e-3))
    if np.max(steps) > 1.0 + 1e-3 or exact < MIN_EXACT or abs(float(np.mean(signed))) > MAX_BIAS:
        raise AssertionError("vs the spec reference: up to %.3f steps of %g apart, %.0f%% exact, mean %.3f steps"
                             % (np.max(steps), s_out, 100 * exact, float(np.mean(signed))))
    return "%d outputs: %.0f%% equal to the reference, the rest 1 step off (mean %+.3f steps)" % (
        ref.size, 100 * exact, float(np.mean(signed)))


# ---------------------------------------------------------------- refused forms

def e_per_channel_act():
    b = Q(20, [1, 3, 4, 4])
    s = b.const(np.full(3, 0.1, np.float32), "s")
    z = b.const(np.zeros(3, np.int8), "z")
    q = b.node("QuantizeLinear", ["x", s, z], "q", axis=1)
    y = b.node("DequantizeLinear", [q, s, z], "dq", axis=1)
    return b.model("x", y, [1, 3, 4, 4]), \
        "node 0 'q3' (QuantizeLinear): activation 'x' has 3 scales (per channel); cnnc's int8 activations " \
        "have one scale per tensor"


def conv_with_weight(zero=0, wdtype=np.int8, bias_scale=None, bias_dtype=np.int32):
    b = Q(21, [1, 2, 4, 4])
    x, s = b.qdq("x", -2.0, 2.0)
    wq = np.ones((3, 2, 1, 1), wdtype)
    ws = np.full(3, 0.01, np.float32)
    w = b.node("DequantizeLinear", [b.const(wq, "w"), b.const(ws, "ws"),
                                    b.const(np.full(3, zero, wdtype), "wz")], "wd", axis=0)
    bs = np.full(3, bias_scale if bias_scale is not None else np.float32(s) * np.float32(0.01), np.float32)
    bd = b.node("DequantizeLinear", [b.const(np.ones(3, bias_dtype), "b"), b.const(bs, "bs"),
                                     b.const(np.zeros(3, bias_dtype), "bz")], "bd", axis=0)
    y = b.node("Conv", [x, w, bd], "conv", kernel_shape=[1, 1])
    y, _ = b.qdq(y, -1.0, 1.0)
    return b.model("x", y, [1, 3, 4, 4])


def e_weight_zero():
    return conv_with_weight(zero=3), \
        "node 4 'conv13' (Conv): weight 'wd8' has zero point 3 (int8); cnnc's int8 weights are symmetric " \
        "(zero point 0, or 128 in UINT8)"


def e_bias_int8():
    return conv_with_weight(bias_dtype=np.int8), \
        "node 4 'conv13' (Conv): bias 'bd12' is INT8 data; cnnc's int8 path reads an INT32 bias with zero " \
        "point 0 and scale input scale * weight scale"


def e_bias_scale():
    return conv_with_weight(bias_scale=0.5), \
        "node 4 'conv13' (Conv): bias 'conv13.bias' channel 0 has scale 0.5, not input scale * weight scale " \
        "= 0.000156863: cnnc's int32 bias has the accumulator's scale"


def e_int16():
    b = Q(22, [1, 2, 4, 4])
    s, z = b.const(np.float32(0.1), "s"), b.const(np.int16(0), "z")
    q = b.node("QuantizeLinear", ["x", s, z], "q")
    y = b.node("DequantizeLinear", [q, s, z], "dq")
    return b.unchecked("x", y, b.shape, opset=21), \
        "node 0 'q3' (QuantizeLinear): input 2 'z2' (zero point) has dtype INT16; cnnc's int8 path reads INT8 " \
        "and UINT8 data (and INT32 biases)"


def e_int8_into_float_op():
    b = Q(23, [1, 2, 4, 4])
    s, z = b.const(np.float32(0.1), "s"), b.const(np.int8(0), "z")
    q = b.node("QuantizeLinear", ["x", s, z], "q")
    r = b.node("MaxPool", [q], "pool", kernel_shape=[1, 1])
    y = b.node("DequantizeLinear", [r, s, z], "dq")
    return b.unchecked("x", y, b.shape), \
        "node 1 'pool4' (MaxPool): input 0 'q3' is int8 data (from node 0, QuantizeLinear); cnnc reads int8 " \
        "tensors only in DequantizeLinear, QLinearConv and QLinearMatMul (and a Cast to their own type)"


def e_int8_output():
    b = Q(24, [1, 2, 4, 4])
    s, z = b.const(np.float32(0.1), "s"), b.const(np.int8(0), "z")
    q = b.node("QuantizeLinear", ["x", s, z], "q")
    return b.unchecked("x", q, b.shape, out_type=TP.INT8), \
        "the graph's output is int8 data; cnnc's outputs are float (end the graph with a DequantizeLinear)"


def e_other_params():
    b = Q(25, [1, 2, 4, 4])
    s, z = b.const(np.float32(0.1), "s"), b.const(np.int8(0), "z")
    s2 = b.const(np.float32(0.2), "s")
    q = b.node("QuantizeLinear", ["x", s, z], "q")
    y = b.node("DequantizeLinear", [q, s2, z], "dq")
    return b.model("x", y, b.shape), \
        "node 1 'dq5' (DequantizeLinear): input 0 'q4' is read with scale 0.2, zero point 0 (int8), but was " \
        "quantized with scale 0.1, zero point 0"


def e_two_scales():
    b = Q(26, [1, 2, 4, 4])
    s, z, s2 = b.const(np.float32(0.1), "s"), b.const(np.int8(0), "z"), b.const(np.float32(0.2), "s")
    q1 = b.node("QuantizeLinear", ["x", s, z], "q")
    q2 = b.node("QuantizeLinear", ["x", s2, z], "q")
    d1 = b.node("DequantizeLinear", [q1, s, z], "dq")
    d2 = b.node("DequantizeLinear", [q2, s2, z], "dq")
    y = b.node("Add", [d1, d2], "add")
    return b.model("x", y, b.shape), \
        "node 1 'q5' (QuantizeLinear): input 0 'x' is quantized with scale 0.2, zero point 0 (int8) here and " \
        "with scale 0.1, zero point 0 by node 0: cnnc gives a tensor one scale"


def e_dq_float():
    b = Q(27, [1, 2, 4, 4])
    s, z = b.const(np.float32(0.1), "s"), b.const(np.int8(0), "z")
    r = b.node("Relu", ["x"], "relu")
    b.nodes.append(oh.make_node("DequantizeLinear", [r, s, z], ["y"], name="dq"))
    return b.unchecked("x", "y", b.shape), \
        "node 1 'dq' (DequantizeLinear): input 0 'relu3' is not int8 data (a QuantizeLinear's, a QLinearConv's " \
        "or an INT8 initializer)"


def e_scale_zero():
    b = Q(28, [1, 2, 4, 4])
    s, z = b.const(np.float32(0.0), "s"), b.const(np.int8(0), "z")
    q = b.node("QuantizeLinear", ["x", s, z], "q")
    y = b.node("DequantizeLinear", [q, s, z], "dq")
    return b.model("x", y, b.shape), \
        "node 0 'q3' (QuantizeLinear): input 1 's1' (scale) holds 0; a scale must be positive and finite"


def e_matmul_axis():
    b = Q(29, [1, 8])
    x, s = b.qdq("x", -1.0, 1.0)
    w, _ = b.weight((8, 4), per_channel=True, axis=0)
    y, _ = b.qdq(b.node("MatMul", [x, w], "mm"), -1.0, 1.0)
    return b.model("x", y, [1, 4]), \
        "node 3 'mm9' (MatMul): weight 'wd8' has 8 scales along axis 0; cnnc's int8 weights have one per " \
        "output channel (axis 1)"


def e_weight_only():
    b = Q(30, [1, 2, 4, 4])
    w, _ = b.weight((3, 2, 1, 1))
    y = b.node("Conv", ["x", w], "conv", kernel_shape=[1, 1])
    return b.model("x", y, [1, 3, 4, 4]), \
        "--quantize: the input 'x' has no scale: the file does not quantize it; give --quantize int8 " \
        "--calibrate CAL.npy"


def e_gemm_alpha():
    b = Q(31, [1, 8])
    x, s = b.qdq("x", -1.0, 1.0)
    w, _ = b.weight((4, 8))
    y, _ = b.qdq(b.node("Gemm", [x, w], "gemm", transB=1, alpha=0.5), -1.0, 1.0)
    return b.model("x", y, [1, 4]), \
        "node 3 'gemm9' (Gemm): alpha = 0.5, beta = 1 with quantized weights: cnnc takes the file's int8 " \
        "weights and int32 bias as they are (alpha = beta = 1)"


def e_block_size():
    b = Q(32, [1, 2, 4, 4])
    s, z = b.const(np.float32(0.1), "s"), b.const(np.int8(0), "z")
    q = b.node("QuantizeLinear", ["x", s, z], "q", block_size=2)
    y = b.node("DequantizeLinear", [q, s, z], "dq")
    return b.unchecked("x", y, b.shape, opset=21), \
        "node 0 'q3' (QuantizeLinear): attribute 'block_size' = 2: blocked quantization is not supported"


def e_batch():
    b = Q(33, [2, 2, 4, 4])
    x, s = b.qdq("x", -1.0, 1.0)
    w, s_w = b.weight((3, 2, 1, 1))
    y = b.node("Conv", [x, w, b.bias(3, s, s_w)], "conv", kernel_shape=[1, 1])
    y, _ = b.qdq(y, -1.0, 1.0)
    return b.model("x", y, [2, 3, 4, 4]), \
        "a quantized model with a batch cannot be compiled (its input is [N, ...] with N > 1)"


def e_cast():
    b = Q(34, [1, 2, 4, 4])
    s, z = b.const(np.float32(0.1), "s"), b.const(np.uint8(128), "z")
    q = b.node("QuantizeLinear", ["x", s, z], "q")
    c = b.node("Cast", [q], "cast", to=TP.INT8)
    y = b.node("DequantizeLinear", [c, b.const(np.float32(0.1), "s"), b.const(np.int8(0), "z")], "dq")
    return b.model("x", y, b.shape), \
        "node 1 'cast4' (Cast): op 'Cast' is supported only on constants (shape computations) and on int8 " \
        "data to its own type"


def e_weights_hex():
    """A file quantized by its own scales takes no --weights hex (nor file)."""
    return m_conv(1)[0], "a quantized model stores its weights as bytes only: not as hex or a file", \
        ["--weights", "hex"]


ERRORS = [e_weights_hex, e_batch, e_cast, e_per_channel_act, e_weight_zero, e_bias_int8, e_bias_scale, e_int16, e_int8_into_float_op,
          e_int8_output, e_other_params, e_two_scales, e_dq_float, e_scale_zero, e_matmul_axis, e_weight_only,
          e_gemm_alpha, e_block_size]


def run_error(args, fn):
    work = onnxtest.fresh_dir(os.path.join(args.workdir, fn.__name__))
    model, want, *extra = fn()
    path = os.path.join(work, "m.onnx")
    onnx.save(model, path)
    out_c = os.path.join(work, "m.c")
    rc, _, err = onnxtest.run_cnnc(args.cnnc, [path, "-o", out_c] + (extra[0] if extra else []))
    got = onnxtest.first_error(err)
    if rc != 1 or got != want:
        raise AssertionError("exit %d, message\n  got:  %s\n  want: %s" % (rc, got, want))
    if os.path.exists(out_c) or os.path.exists(out_c[:-2] + ".h"):
        raise AssertionError("an output file was written")
    return "refused"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--gcc", default="gcc")
    ap.add_argument("--workdir", default="qdqwork")
    args = ap.parse_args()
    onnxtest.require([args.cnnc, args.gcc])
    args.workdir = onnxtest.fresh_dir(args.workdir)
    cases = [(n, lambda n=n, b=b: run_model(args, n, b)) for n, b in MODELS.items()]
    cases += [(f.__name__, lambda f=f: run_error(args, f)) for f in ERRORS]
    failed = 0
    for name, fn in cases:
        try:
            print("PASS %-24s %s" % (name, fn()))
        except (AssertionError, onnxtest.StepError) as e:
            failed += 1
            print("FAIL %-24s %s" % (name, e))
    print("test_qdq: %d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
