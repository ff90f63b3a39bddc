"""cnnref: an independent reference for cnnc's tests.

Reads VALID .cnn models (the language of docs/language.md), infers
shapes, and runs them with PyTorch (torch.nn.functional, float32, one
thread). It shares no code with cnnc, so agreement between the two is
evidence, not tautology. Also: safetensors and .npy readers/writers (struct,
json and numpy only), random weights for a parsed model, and a helper that
points a model's `weights` statement at a given file.

Errors in a model raise CnnError; this module is not a validator, it only
has to be right on models the language accepts.
"""

import json
import math
import re
import struct

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

KEYWORDS = {"model", "input", "weights", "output", "random", "true", "false"}
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "elu", "selu",
               "softplus", "swish", "rbf", "relu6", "clip", "hard_sigmoid",
               "hard_swish", "gelu", "gelu_tanh")
OPS = ("conv2d", "maxpool", "avgpool", "global_avgpool", "flatten", "dense",
       "batchnorm", "add", "concat", "softmax", "mul", "sub", "mean", "scale",
       "channel_shuffle", "layernorm", "upsample", "pad") + ACTIVATIONS
BINARY = ("mul", "sub")
# An unnamed statement is OP_K, K counting all of that op's statements, named
# or not (docs/language.md): `c = conv2d(...); conv2d(...);` names the second
# conv2d_1.
AUTO_NAMES_COUNT_NAMED = True
SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


class CnnError(Exception):
    pass


class Ident(str):
    """A bare identifier value (padding=same, activation=relu)."""


# ---------------------------------------------------------------- lexer

_TOKEN_RE = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>(\#|//)[^\n]*)
  | (?P<num>-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>"(\\.|[^"\\\n])*")
  | (?P<punct>[{}\[\]();,=])
""", re.VERBOSE)


def tokenize(text):
    """Returns [(kind, value, line)], kind in num/ident/str/punct/eof."""
    toks, pos, line = [], 0, 1
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise CnnError("line %d: unexpected character %r" % (line, text[pos]))
        kind, s = m.lastgroup, m.group(0)
        if kind == "num":
            is_int = re.fullmatch(r"-?\d+", s) is not None
            toks.append(("num", int(s) if is_int else float(s), line))
        elif kind == "str":
            toks.append(("str", re.sub(r"\\(.)", r"\1", s[1:-1]), line))
        elif kind in ("ident", "punct"):
            toks.append((kind, s, line))
        line += s.count("\n")
        pos = m.end()
    toks.append(("eof", None, line))
    return toks


# ---------------------------------------------------------------- parser

class Stmt:
    def __init__(self, name, op, sources, args, line, named):
        self.name, self.op, self.sources = name, op, sources
        self.args, self.line, self.named = args, line, named
        self.shape = None       # set by infer_shapes
        self.inputs = None      # resolved source names

    def __repr__(self):
        return "Stmt(%s = %s(%s, %s))" % (self.name, self.op, self.sources, self.args)


class Model:
    def __init__(self):
        self.name = None
        self.input_name = None
        self.input_shape = None
        self.weights = None     # None | ("file", path) | ("random", seed)
        self.stmts = []
        self.output = None      # explicit `output NAME;` or None
        self.path = None

    def output_name(self):
        return self.output if self.output else self.stmts[-1].name

    def shapes(self):
        d = {self.input_name: self.input_shape}
        d.update((s.name, s.shape) for s in self.stmts)
        return d

    def output_shape(self):
        return self.shapes()[self.output_name()]


class _Parser:
    def __init__(self, text):
        self.toks = tokenize(text)
        self.i = 0

    def peek(self, k=0):
        return self.toks[self.i + k]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, kind, value=None):
        t = self.next()
        if t[0] != kind or (value is not None and t[1] != value):
            raise CnnError("line %d: expected %s, got %r" % (t[2], value or kind, t[1]))
        return t[1]

    def at(self, kind, value=None):
        t = self.peek()
        return t[0] == kind and (value is None or t[1] == value)

    def value(self):
        t = self.next()
        if t[0] in ("num", "str"):
            return t[1]
        if t[0] == "ident":
            return {"true": True, "false": False}.get(t[1], Ident(t[1]))
        if t[:2] == ("punct", "["):
            items = [self.value()]
            while self.at("punct", ","):
                self.next()
                items.append(self.value())
            self.expect("punct", "]")
            return items
        raise CnnError("line %d: bad value %r" % (t[2], t[1]))

    def arglist(self):
        """( [SOURCE {, SOURCE},] [KEY=VALUE {, KEY=VALUE}] ) -> (srcs, args)."""
        srcs, args = [], {}
        if not self.at("punct", "("):
            return srcs, args
        self.next()
        while not self.at("punct", ")"):
            name = self.expect("ident")
            if self.at("punct", "="):
                self.next()
                args[name] = self.value()
            else:
                srcs.append(name)
            if not self.at("punct", ","):
                break
            self.next()
        self.expect("punct", ")")
        return srcs, args

    def model(self):
        m = Model()
        self.expect("ident", "model")
        m.name = self.expect("ident")
        self.expect("punct", "{")
        counters = {}
        while not self.at("punct", "}"):
            self.item(m, counters)
        self.expect("punct", "}")
        self.expect("eof")
        if m.input_name is None or not m.stmts:
            raise CnnError("model needs an input and a statement")
        return m

    def item(self, m, counters):
        t = self.peek()
        if t[:2] == ("ident", "input"):
            self.next()
            m.input_name = self.expect("ident")
            m.input_shape = tuple(self.value())
        elif t[:2] == ("ident", "weights"):
            self.next()
            if self.at("str"):
                m.weights = ("file", self.next()[1])
            else:
                self.expect("ident", "random")
                _, args = self.arglist()
                m.weights = ("random", args.get("seed"))
        elif t[:2] == ("ident", "output"):
            self.next()
            m.output = self.expect("ident")
        else:
            m.stmts.append(self.statement(counters))
        self.expect("punct", ";")

    def statement(self, counters):
        line = self.peek()[2]
        name = None
        if self.peek(1)[:2] == ("punct", "="):
            name = self.expect("ident")
            self.next()
        op = self.expect("ident")
        if op not in OPS:
            raise CnnError("line %d: unknown op %s" % (line, op))
        srcs, args = self.arglist()
        named = name is not None
        k = counters.get(op, 0)
        if not named or AUTO_NAMES_COUNT_NAMED:
            counters[op] = k + 1
        return Stmt(name if named else "%s_%d" % (op, k), op, srcs, args, line, named)


def parse(text, path=None):
    """Parses a valid model; infers shapes. Returns a Model."""
    m = _Parser(text).model()
    m.path = path
    infer_shapes(m)
    return m


def parse_file(path):
    with open(path) as f:
        return parse(f.read(), path)


# ---------------------------------------------------------------- shapes

def _pair(v, default):
    if v is None:
        return (default, default)
    if isinstance(v, list):
        if len(v) != 2:
            raise CnnError("expected K or [A, B], got %r" % (v,))
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def same_pads(n, k, s, d):
    """padding=same on one axis: (begin, end), ONNX SAME_UPPER."""
    out = -(-n // s)
    total = max(0, (out - 1) * s + d * (k - 1) + 1 - n)
    return total // 2, total - total // 2


def window(args, in_shape, pool):
    """Resolves kernel/stride/padding/dilation into a dict."""
    kh, kw = _pair(args.get("kernel"), None)
    sdef = (kh, kw) if pool else (1, 1)
    sh, sw = _pair(args.get("stride"), None) if "stride" in args else sdef
    dh, dw = _pair(args.get("dilation"), 1)
    _, h, w = in_shape
    p = args.get("padding", 0)
    if p == "valid":
        pads = (0, 0, 0, 0)
    elif p == "same":
        pt, pb = same_pads(h, kh, sh, dh)
        pl, pr = same_pads(w, kw, sw, dw)
        pads = (pt, pl, pb, pr)
    elif isinstance(p, list) and len(p) == 4:
        pads = tuple(int(v) for v in p)
    elif isinstance(p, list) and len(p) == 2:
        pads = (int(p[0]), int(p[1]), int(p[0]), int(p[1]))
    elif isinstance(p, int) and not isinstance(p, bool):
        pads = (p, p, p, p)
    else:
        raise CnnError("bad padding %r" % (p,))
    pt, pl, pb, pr = pads
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1 or h + pt + pb < dh * (kh - 1) + 1 or w + pl + pr < dw * (kw - 1) + 1:
        raise CnnError("window does not fit: %r on %r" % (args, in_shape))
    return dict(kh=kh, kw=kw, sh=sh, sw=sw, dh=dh, dw=dw, pads=pads, oh=oh, ow=ow)


def _resolve_inputs(m, st, prev, known):
    if st.sources:
        for s in st.sources:
            if s not in known:
                raise CnnError("line %d: unknown source %s" % (st.line, s))
        return list(st.sources)
    return [prev]


def _shape_of(st, shapes):
    ins = [shapes[n] for n in st.inputs]
    x = ins[0]
    op, a = st.op, st.args
    if op in ("add", "concat") and len(ins) < 2:
        raise CnnError("line %d: %s needs two sources" % (st.line, op))
    if op in BINARY:
        return _binary_shape(st, ins)
    if op not in ("add", "concat") and len(ins) != 1:
        raise CnnError("line %d: %s takes one source" % (st.line, op))
    if op in ("mean", "channel_shuffle", "upsample", "pad"):
        _need_map(st, x)
    if op == "mean":
        return (x[0], 1, 1) if a.get("keepdims", True) else (x[0],)
    if op == "channel_shuffle":
        if x[0] % int(a["groups"]):
            raise CnnError("line %d: groups" % st.line)
        return x
    if op == "upsample":
        sh, sw = _pair(a["scale"], None)
        return (x[0], x[1] * sh, x[2] * sw)
    if op == "pad":
        pt, pl, pb, pr = pad_sides(a)
        if a.get("mode", "constant") == "reflect" and (max(pt, pb) >= x[1] or max(pl, pr) >= x[2]):
            raise CnnError("line %d: reflect pad" % st.line)
        return (x[0], x[1] + pt + pb, x[2] + pl + pr)
    if op == "conv2d":
        _need_map(st, x)
        win = window(a, x, pool=False)
        g = int(a.get("groups", 1))
        if x[0] % g or a["filters"] % g:
            raise CnnError("line %d: groups" % st.line)
        return (int(a["filters"]), win["oh"], win["ow"])
    if op in ("maxpool", "avgpool"):
        _need_map(st, x)
        win = window(a, x, pool=True)
        return (x[0], win["oh"], win["ow"])
    if op == "global_avgpool":
        _need_map(st, x)
        return (x[0], 1, 1)
    if op == "flatten":
        _need_map(st, x)
        return (x[0] * x[1] * x[2],)
    if op == "dense":
        if len(x) != 1:
            raise CnnError("line %d: dense needs a flat input" % st.line)
        return (int(a["units"]),)
    if op == "batchnorm":   # any rank, channels = dim 0 (the MLPerf Tiny autoencoder: [C])
        return x
    if op == "add":
        if any(s != x for s in ins):
            raise CnnError("line %d: add shapes %r" % (st.line, ins))
        return x
    if op == "concat":
        if any(len(s) != len(x) or s[1:] != x[1:] for s in ins):
            raise CnnError("line %d: concat shapes %r" % (st.line, ins))
        return (sum(s[0] for s in ins),) + tuple(x[1:])
    if op == "softmax":
        if not 0 <= int(a.get("axis", 0)) < len(x):
            raise CnnError("line %d: axis" % st.line)
        return x
    return x  # elementwise activations


def _per_channel(small, big):
    return len(big) == 3 and small[0] == big[0] and (len(small) == 1 or small[1:] == (1, 1))


def _binary_shape(st, ins):
    if len(ins) != 2:
        raise CnnError("line %d: %s takes two sources" % (st.line, st.op))
    a, b = ins
    if a == b or _per_channel(b, a):
        return a
    if _per_channel(a, b):
        return b
    raise CnnError("line %d: %s shapes %r" % (st.line, st.op, ins))


def pad_sides(a):
    """(top, left, bottom, right) of a pad statement's arguments."""
    if "padding" in a:
        p = a["padding"]
        p = list(p) if isinstance(p, list) else [p]
        if len(p) == 1:
            return (p[0],) * 4
        if len(p) == 2:
            return (p[0], p[1], p[0], p[1])
        return tuple(p)
    return tuple(int(a.get(k, 0)) for k in ("top", "left", "bottom", "right"))


def _need_map(st, x):
    if len(x) != 3:
        raise CnnError("line %d: %s needs a [C,H,W] input, got %r" % (st.line, st.op, x))


def infer_shapes(m):
    shapes = {m.input_name: tuple(m.input_shape)}
    prev = m.input_name
    for st in m.stmts:
        if st.name in shapes:
            raise CnnError("line %d: duplicate name %s" % (st.line, st.name))
        st.inputs = _resolve_inputs(m, st, prev, shapes)
        st.shape = tuple(_shape_of(st, shapes))
        shapes[st.name] = st.shape
        prev = st.name
    if m.output is not None and m.output not in shapes:
        raise CnnError("unknown output %s" % m.output)


# ---------------------------------------------------------------- parameters

def param_specs(m):
    """[(tensor name, shape, role)] of every parameter, in statement order.
    role: weight, bias, gamma, beta, mean, var."""
    out = []
    shapes = m.shapes()
    for st in m.stmts:
        x = shapes[st.inputs[0]]
        if st.op == "conv2d":
            win = window(st.args, x, pool=False)
            g = int(st.args.get("groups", 1))
            f = int(st.args["filters"])
            out.append((st.name + ".weight", (f, x[0] // g, win["kh"], win["kw"]), "weight"))
            if st.args.get("bias", True):
                out.append((st.name + ".bias", (f,), "bias"))
        elif st.op == "dense":
            u = int(st.args["units"])
            out.append((st.name + ".weight", (u, x[0]), "weight"))
            if st.args.get("bias", True):
                out.append((st.name + ".bias", (u,), "bias"))
        elif st.op in ("scale", "layernorm"):
            out.append((st.name + ".weight", (x[0],), "gamma"))
            if st.op == "layernorm" or st.args.get("bias", False):
                out.append((st.name + ".bias", (x[0],), "beta"))
        elif st.op == "batchnorm":
            c = x[0]
            for suffix, role in (("weight", "gamma"), ("bias", "beta"),
                                 ("running_mean", "mean"), ("running_var", "var")):
                out.append(("%s.%s" % (st.name, suffix), (c,), role))
    return out


def random_weights(m, seed):
    """Parameters for m, seeded: conv/dense uniform in +-1/sqrt(fan_in)
    (PyTorch's default scale), batchnorm statistics away from zero variance."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, role in param_specs(m):
        if role in ("weight", "bias"):
            fan_in = int(np.prod(shape[1:])) if role == "weight" else None
            if role == "bias":
                fan_in = _fan_in_of(out, name)
            bound = 1.0 / math.sqrt(fan_in)
            v = rng.uniform(-bound, bound, size=shape)
        elif role == "gamma":
            v = rng.uniform(0.5, 1.5, size=shape)
        elif role == "beta":
            v = rng.uniform(-0.5, 0.5, size=shape)
        elif role == "mean":
            v = rng.uniform(-0.5, 0.5, size=shape)
        else:
            v = rng.uniform(0.5, 2.0, size=shape)
        out[name] = np.asarray(v, dtype=np.float32)
    return out


def _fan_in_of(params, bias_name):
    w = params[bias_name[:-len(".bias")] + ".weight"]
    return int(np.prod(w.shape[1:]))


# ---------------------------------------------------------------- forward

def _act_params(name, args):
    if name == "leaky_relu":
        return (float(args.get("alpha", 0.1)),)
    if name == "elu":
        return (float(args.get("alpha", 1.0)),)
    if name == "rbf":
        return (float(args.get("center", 0.0)), float(args.get("epsilon", 1.0)))
    if name == "clip":
        return (float(args.get("min", -math.inf)), float(args.get("max", math.inf)))
    if name == "gelu":
        return (str(args.get("approximate", "none")),)
    return ()


def activation(x, name, params=()):
    """The elementwise functions of docs/numerics.md, in torch."""
    if name == "relu":
        return F.relu(x)
    if name == "leaky_relu":
        alpha = params[0] if params else 0.1
        return torch.where(x >= 0, x, x * alpha)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "elu":
        return F.elu(x, alpha=params[0] if params else 1.0)
    if name == "selu":
        return F.selu(x)
    if name == "softplus":
        return F.softplus(x, beta=1.0, threshold=20.0)
    if name == "swish":
        return x * torch.sigmoid(x)
    if name == "rbf":
        c, eps = params if params else (0.0, 1.0)
        return torch.exp(-((eps * (x - c)) ** 2))
    if name == "relu6":
        return F.relu6(x)
    if name == "clip":
        lo, hi = params if params else (-math.inf, math.inf)
        return torch.clamp(x, min=lo, max=hi)
    if name == "hard_sigmoid":
        return F.hardsigmoid(x)
    if name == "hard_swish":
        return F.hardswish(x)
    if name == "gelu":
        return F.gelu(x, approximate=params[0] if params else "none")
    if name == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    if name == "softmax":
        return F.softmax(x, dim=0)
    raise CnnError("unknown activation %s" % name)


def conv2d(x, weight, bias, win, groups):
    pt, pl, pb, pr = win["pads"]
    xp = F.pad(x[None], (pl, pr, pt, pb))
    y = F.conv2d(xp, weight, bias, stride=(win["sh"], win["sw"]),
                 dilation=(win["dh"], win["dw"]), groups=groups)
    return y[0]


def _taps(x, win):
    """x [C,H,W] -> (values [C, kh*kw, OH, OW] with 0 in padding,
    mask [1, kh*kw, OH, OW] with 1 where the tap is a real input cell)."""
    c, h, w = x.shape
    pt, pl, pb, pr = win["pads"]
    k = (win["kh"], win["kw"])
    kw = dict(dilation=(win["dh"], win["dw"]), stride=(win["sh"], win["sw"]))
    xp = F.pad(x[None], (pl, pr, pt, pb))
    mp = F.pad(torch.ones((1, 1, h, w), dtype=x.dtype), (pl, pr, pt, pb))
    shape = (win["kh"] * win["kw"], win["oh"], win["ow"])
    vals = F.unfold(xp, k, **kw).reshape((c,) + shape)
    mask = F.unfold(mp, k, **kw).reshape((1,) + shape)
    return vals, mask


def maxpool(x, win):
    vals, mask = _taps(x, win)
    vals = vals.masked_fill(mask == 0, float("-inf"))
    m = vals.amax(dim=1)
    real = mask.sum(dim=1)
    return torch.where(real > 0, m, torch.zeros_like(m))


def avgpool(x, win, count_pad):
    vals, mask = _taps(x, win)
    s = (vals * mask).sum(dim=1)
    n = mask.sum(dim=1)
    if count_pad:
        n = torch.full_like(n, float(win["kh"] * win["kw"]))
    return torch.where(n > 0, s / torch.clamp(n, min=1.0), torch.zeros_like(s))


def batchnorm(x, p, name, eps):
    g, b = p[name + ".weight"], p[name + ".bias"]
    mean, var = p[name + ".running_mean"], p[name + ".running_var"]
    return F.batch_norm(x[None], mean, var, g, b, training=False, eps=eps)[0]


def _fused(y, st):
    act = st.args.get("activation")
    if act is None or act == "none":
        return y
    return activation(y, str(act), ())


def _per_channel_view(t, other):
    """A [C] operand against a [C, H, W] one, as [C, 1, 1] for broadcasting."""
    return t.reshape(-1, 1, 1) if t.dim() == 1 and other.dim() == 3 else t


def channels_last_layernorm(x, w, b, eps):
    """LayerNorm over the channels of [C, H, W] (ConvNeXt's LayerNorm2d), or
    of a vector [C]."""
    if x.dim() == 1:
        return F.layer_norm(x, (x.shape[0],), w, b, eps)
    y = F.layer_norm(x.permute(1, 2, 0), (x.shape[0],), w, b, eps)
    return y.permute(2, 0, 1)


def run_new_op(st, ins, p):
    """mul, sub, mean, scale, channel_shuffle, layernorm, upsample, pad."""
    a, x = st.args, ins[0]
    if st.op in BINARY:
        u, v = _per_channel_view(ins[0], ins[1]), _per_channel_view(ins[1], ins[0])
        return _fused(u * v if st.op == "mul" else u - v, st)
    if st.op == "mean":
        return x.mean(dim=(1, 2), keepdim=bool(a.get("keepdims", True)))
    if st.op == "scale":
        w, b = p[st.name + ".weight"], p.get(st.name + ".bias")
        y = x * (w.reshape(-1, 1, 1) if x.dim() == 3 else w)
        return y if b is None else y + (b.reshape(-1, 1, 1) if x.dim() == 3 else b)
    if st.op == "channel_shuffle":
        return F.channel_shuffle(x[None], int(a["groups"]))[0]
    if st.op == "layernorm":
        return channels_last_layernorm(x, p[st.name + ".weight"], p[st.name + ".bias"],
                                       float(a.get("epsilon", 1e-5)))
    if st.op == "upsample":
        sh, sw = _pair(a["scale"], None)
        mode = str(a.get("mode", "nearest"))
        kw = {"align_corners": False} if mode == "bilinear" else {}
        return F.interpolate(x[None], scale_factor=(float(sh), float(sw)), mode=mode, **kw)[0]
    pt, pl, pb, pr = pad_sides(a)
    mode = str(a.get("mode", "constant"))
    if mode == "reflect":
        return F.pad(x[None], (pl, pr, pt, pb), mode="reflect")[0]
    return F.pad(x[None], (pl, pr, pt, pb), mode="constant", value=float(a.get("value", 0.0)))[0]


def run_stmt(st, env, p, dtype):
    a = st.args
    ins = [env[n] for n in st.inputs]
    x = ins[0]
    if st.op == "conv2d":
        win = window(a, tuple(x.shape), pool=False)
        y = conv2d(x, p[st.name + ".weight"], p.get(st.name + ".bias"), win,
                   int(a.get("groups", 1)))
        return _fused(y, st)
    if st.op == "maxpool":
        return maxpool(x, window(a, tuple(x.shape), pool=True))
    if st.op == "avgpool":
        return avgpool(x, window(a, tuple(x.shape), pool=True), bool(a.get("count_pad", False)))
    if st.op == "global_avgpool":
        return x.mean(dim=(1, 2), keepdim=True)
    if st.op == "flatten":
        return x.reshape(-1)
    if st.op == "dense":
        return _fused(F.linear(x, p[st.name + ".weight"], p.get(st.name + ".bias")), st)
    if st.op == "batchnorm":
        return batchnorm(x, p, st.name, float(a.get("epsilon", 1e-5)))
    if st.op == "add":
        y = ins[0]
        for t in ins[1:]:
            y = y + t
        return y
    if st.op == "concat":
        return torch.cat(ins, dim=0)
    if st.op == "softmax":
        return F.softmax(x, dim=int(a.get("axis", 0)))
    if st.op in OPS and st.op not in ACTIVATIONS:
        return run_new_op(st, ins, p)
    return activation(x, st.op, _act_params(st.op, a))


def forward(m, params, x, dtype=torch.float32, all_outputs=False):
    """Runs m on x (numpy, shaped as the input or flat). Returns the output
    as a numpy array of dtype float32 (or a dict of every tensor)."""
    p = {k: torch.from_numpy(np.asarray(v)).to(dtype) for k, v in params.items()}
    env = {m.input_name: torch.from_numpy(np.asarray(x, dtype=np.float32))
           .to(dtype).reshape(m.input_shape)}
    with torch.no_grad():
        for st in m.stmts:
            y = run_stmt(st, env, p, dtype)
            if tuple(y.shape) != st.shape:
                raise CnnError("internal: %s has shape %r, expected %r"
                               % (st.name, tuple(y.shape), st.shape))
            env[st.name] = y
    if all_outputs:
        return {k: v.numpy().astype(np.float32) for k, v in env.items()}
    return env[m.output_name()].numpy().astype(np.float32)


# ---------------------------------------------------------------- files

def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: float32 array}. Data in insertion order, 8-aligned header."""
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise CnnError("%s: dtype %s" % (name, info["dtype"]))
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + e], dtype="<f4").reshape(info["shape"])
    return out


def write_npy(path, arr):
    np.save(path, np.ascontiguousarray(arr, dtype="<f4"), allow_pickle=False)


def read_npy(path):
    a = np.load(path, allow_pickle=False)
    if a.dtype != np.dtype("<f4"):
        raise CnnError("%s: dtype %s" % (path, a.dtype))
    return a


_WEIGHTS_RE = re.compile(r'(?<![A-Za-z0-9_])weights\s*("(\\.|[^"\\\n])*"|random\s*\([^)]*\))\s*;')


def set_weights(text, path):
    """Returns text with its weights statement pointing at path (a string
    literal), adding one after the input statement when there is none."""
    lit = '"%s"' % path.replace("\\", "\\\\").replace('"', '\\"')
    if _WEIGHTS_RE.search(text):
        return _WEIGHTS_RE.sub(lambda m: "weights %s;" % lit, text, count=1)
    m = re.search(r"(?<![A-Za-z0-9_])input\s+[A-Za-z_][A-Za-z0-9_]*\s*\[[^;]*;", text)
    if not m:
        raise CnnError("no input statement to put weights after")
    return text[:m.end()] + " weights %s;" % lit + text[m.end():]


def max_rel_err(got, ref):
    """(max |a-b| / max(1e-6, max |ref|), index of the worst element)."""
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    if got.shape != ref.shape:
        return float("inf"), -1
    if ref.size == 0:
        return 0.0, -1
    d = np.abs(got - ref)
    d[np.isnan(d)] = np.inf
    i = int(np.argmax(d))
    scale = max(1e-6, float(np.max(np.abs(ref))))
    return float(d[i]) / scale, i
