"""torchnet: a .cnn model as a batch-1 torch.nn.Module, for timing.

Consumes a model parsed by tests/py/cnnref.py (the independent .cnn
reference: shapes, windows, parameters) and its parameters as numpy arrays;
produces a module that takes [1, *input shape] and runs each statement
with the fastest plain torch op that computes what docs/numerics.md says
(F.conv2d with its own padding, F.max_pool2d, F.avg_pool2d, ...), so that
PyTorch's time, and ONNX Runtime's time on the ONNX file exported from this
module, are fair. Windows torch cannot express (asymmetric or over-wide
padding) fall back to cnnref's own formulation of the op.
"""

import warnings

import numpy as np
import torch
import torch.nn.functional as F

import cnnref


def _symmetric(win):
    pt, pl, pb, pr = win["pads"]
    return pt == pb and pl == pr


def _pool_native(win):
    """torch's pools pad at most half the (dilated) window."""
    pt, pl, _, _ = win["pads"]
    eh = win["dh"] * (win["kh"] - 1) + 1
    ew = win["dw"] * (win["kw"] - 1) + 1
    return _symmetric(win) and 2 * pt <= eh and 2 * pl <= ew


def activation(x, name, args=None):
    """An elementwise op of the language on a batched tensor."""
    a = args or {}
    if name == "relu":
        return F.relu(x)
    if name == "leaky_relu":
        return F.leaky_relu(x, float(a.get("alpha", 0.1)))
    if name == "swish":
        return F.silu(x)
    if name == "softmax":
        return F.softmax(x, dim=1)
    return cnnref.activation(x, name, cnnref._act_params(name, a))


class Net(torch.nn.Module):
    """Runs m's statements in order; parameters are buffers named like
    the weights file's tensors ('.' becomes '__')."""

    def __init__(self, m, params):
        super().__init__()
        self.m = m
        for name, v in params.items():
            self.register_buffer(name.replace(".", "__"),
                                 torch.from_numpy(np.array(v, dtype=np.float32)))

    def param(self, name):
        return getattr(self, name.replace(".", "__"), None)

    def forward(self, x):
        env = {self.m.input_name: x}
        for st in self.m.stmts:
            env[st.name] = self.statement(st, [env[n] for n in st.inputs])
        return env[self.m.output_name()]

    def statement(self, st, ins):
        x, a = ins[0], st.args
        shape = tuple(x.shape[1:])
        if st.op == "conv2d":
            return self.fused(self.conv2d(st, x, cnnref.window(a, shape, pool=False)), st)
        if st.op == "dense":
            y = F.linear(x, self.param(st.name + ".weight"), self.param(st.name + ".bias"))
            return self.fused(y, st)
        if st.op in ("maxpool", "avgpool"):
            return self.pool(st, x, cnnref.window(a, shape, pool=True))
        if st.op == "global_avgpool":
            return F.adaptive_avg_pool2d(x, 1)
        if st.op == "flatten":
            return torch.flatten(x, 1)
        if st.op == "batchnorm":
            p = lambda s: self.param(st.name + "." + s)
            return F.batch_norm(x, p("running_mean"), p("running_var"), p("weight"), p("bias"),
                                False, 0.0, float(a.get("epsilon", 1e-5)))
        if st.op == "add":
            y = ins[0]
            for t in ins[1:]:
                y = y + t
            return y
        if st.op == "concat":
            return torch.cat(ins, dim=1)
        if st.op == "softmax":
            return F.softmax(x, dim=int(a.get("axis", 0)) + 1)
        return activation(x, st.op, a)

    def conv2d(self, st, x, win):
        pt, pl, pb, pr = win["pads"]
        pad = (pt, pl)
        if not _symmetric(win):
            x, pad = F.pad(x, (pl, pr, pt, pb)), (0, 0)
        return F.conv2d(x, self.param(st.name + ".weight"), self.param(st.name + ".bias"),
                        stride=(win["sh"], win["sw"]), padding=pad,
                        dilation=(win["dh"], win["dw"]), groups=int(st.args.get("groups", 1)))

    def pool(self, st, x, win):
        k, s = (win["kh"], win["kw"]), (win["sh"], win["sw"])
        pad = win["pads"][:2]
        if st.op == "maxpool" and _pool_native(win):
            return F.max_pool2d(x, k, s, pad, dilation=(win["dh"], win["dw"]))
        count_pad = bool(st.args.get("count_pad", False))
        if st.op == "avgpool" and _pool_native(win) and (win["dh"], win["dw"]) == (1, 1):
            return F.avg_pool2d(x, k, s, pad, count_include_pad=count_pad)
        if st.op == "maxpool":
            return cnnref.maxpool(x[0], win)[None]
        return cnnref.avgpool(x[0], win, count_pad)[None]

    @staticmethod
    def fused(y, st):
        act = st.args.get("activation")
        if act is None or act == "none":
            return y
        return activation(y, str(act))


def example_input(m, x):
    """x (flat numpy float32) as the module's batch-1 input tensor."""
    return torch.from_numpy(np.asarray(x, dtype=np.float32).reshape((1,) + tuple(m.input_shape)))


def frozen(net, example, optimize=False):
    """torch.jit.trace + torch.jit.freeze of net in eval mode; optimize:
    then torch.jit.optimize_for_inference (oneDNN convolutions)."""
    net = net.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        fz = torch.jit.freeze(torch.jit.trace(net, example))
        return torch.jit.optimize_for_inference(fz) if optimize else fz


def export_onnx(net, example, path):
    """The eager module to ONNX (opset 17: the newest torch 1.13 writes)."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), example, path, opset_version=17,
                          input_names=["input"], output_names=["output"],
                          do_constant_folding=True)
