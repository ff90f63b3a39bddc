"""genmodels: a seeded generator of random VALID .cnn models.

generate(seed) returns the text of a model that the language accepts:
random op chains and DAGs (add/concat over earlier statements, and
Inception-style branches joined by concat: op_branches), every
argument form (kernels, strides, the five padding forms, dilation, groups,
count_pad, softmax axis, fused activation=), named and unnamed statements,
flat [N] inputs for MLPs, and an occasional explicit `output NAME;`.
Every shape is checked while generating (window fits, outputs >= 1, pool
pads smaller than the kernel) and every tensor stays at or under MAX_ELEMS,
so hundreds of models compile and run in a few minutes. The same seed gives
the same text on every run and platform (random.Random, integers only).

    python3 genmodels.py SEED [COUNT]    # print models, for eyeballing
"""

import random
import sys

import cnnref

MAX_ELEMS = 20000          # per activation tensor
MAX_WEIGHTS = 20000        # per layer
WEIGHTS_PLACEHOLDER = "WEIGHTS.safetensors"

# Names that a C backend could trip over (C keywords, libc names, likely
# local variable names of emitted code). All are valid .cnn identifiers.
HOSTILE_NAMES = ["x", "y", "in", "out", "act", "acc", "arena", "w", "b", "i",
                 "oc", "ky", "sum", "m", "s", "p", "e", "int", "float", "double",
                 "if", "for", "return", "static", "const", "restrict", "inline",
                 "auto", "char", "void", "sizeof", "main", "expf", "tanhf", "memcpy",
                 "sqrtf", "NULL", "INFINITY", "_t", "__x", "Conv1", "conv1",
                 "relu", "dense", "softmax", "data", "weight", "bias"]
PLAIN_NAMES = ["c", "conv", "pool", "bn", "fc", "h", "z", "branch", "skip", "feat",
               "head", "block", "t", "u", "v", "res"]
INPUT_NAMES = ["image", "x", "data", "img", "inp", "features"]
HOSTILE_INPUTS = ["in", "float", "input0", "out", "arena", "y"]
MODEL_NAMES_HOSTILE = ["main", "float", "net", "run", "x", "Model", "_m"]


class Options:
    """Which argument forms to generate (all that cnnc accepts by default;
    list strides/dilations are used by examples/inception.cnn)."""
    def __init__(self):
        self.list_stride = True         # stride=[SH, SW]
        self.list_dilation = True       # dilation=[DH, DW]
        self.pool_dilation = True       # dilation= on maxpool/avgpool
        self.fused = list(cnnref.ACTIVATIONS) + ["softmax"]  # activation= values
        self.acts = cnnref.ACTIVATIONS  # activation statements
        self.hostile_names = True
        self.random_weights = True      # sometimes `weights random(seed=S)`
        self.max_elems = MAX_ELEMS      # per activation tensor
        self.max_weights = MAX_WEIGHTS  # per layer
        self.max_stmts = 10
        self.mobile = True              # mul/sub, mean, scale, layernorm, shuffle, upsample, pad
        self.tiny = 0.12                # share of models on 1..3-element inputs


def big_options():
    """Longer models on larger tensors, for bug hunts outside ctest."""
    o = Options()
    o.max_elems, o.max_weights, o.max_stmts = 200000, 200000, 24
    return o


class Gen:
    def __init__(self, seed, opts):
        self.r = random.Random(seed)
        self.seed = seed
        self.o = opts
        self.lines = []
        self.shapes = {}        # name -> shape
        self.order = []         # statement names in file order
        self.counters = {}
        self.used_names = set()
        self.consumed = set()   # tensors some statement reads
        self.has_params = False
        self.hostile = opts.hostile_names and self.r.random() < 0.25

    # ---------------------------------------------------------- helpers

    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def fresh_name(self):
        pool = HOSTILE_NAMES if self.hostile and self.chance(0.5) else PLAIN_NAMES
        for _ in range(20):
            base = self.pick(pool)
            name = base if self.chance(0.4) else "%s%d" % (base, self.r.randrange(10))
            if name not in self.used_names and name not in cnnref.KEYWORDS:
                return name
        return "n%d_%d" % (self.seed, len(self.order))

    def prev(self):
        return self.order[-1] if self.order else self.input_name

    def tensors(self, pred):
        return [n for n in [self.input_name] + self.order if pred(self.shapes[n])]

    def emit(self, op, srcs, args, explicit_src=False, force_name=None):
        """Appends a statement; srcs=[] reads the previous statement."""
        named = force_name is not None or self.chance(0.5)
        k = self.counters.get(op, 0)     # OP_K counts all of this op's statements
        self.counters[op] = k + 1
        name = (force_name or self.fresh_name()) if named else "%s_%d" % (op, k)
        if not srcs and explicit_src:
            srcs = [self.prev()]
        items = list(srcs) + ["%s=%s" % kv for kv in self.shuffled(args)]
        text = op + ("(%s)" % ", ".join(items) if items or self.chance(0.1) else "")
        if named:
            text = "%s = %s" % (name, text)
        self.lines.append(text + ";")
        shape = self.shape_of(op, srcs or [self.prev()], args)
        self.consumed.update(srcs or [self.prev()])
        self.used_names.add(name)
        self.shapes[name] = shape
        self.order.append(name)
        return name

    def shuffled(self, args):
        items = list(args.items())
        if self.chance(0.3):
            self.r.shuffle(items)
        return items

    def shape_of(self, op, srcs, args):
        st = cnnref.Stmt("?", op, srcs, _parse_args(args), 0, True)
        st.inputs = srcs
        return tuple(cnnref._shape_of(st, self.shapes))

    # ---------------------------------------------------------- values

    def kernel_arg(self, kmax):
        if self.chance(0.3):
            return [self.r.randint(1, kmax), self.r.randint(1, kmax)]
        return self.r.randint(1, kmax)

    def pair_arg(self, lo, hi, allow_list):
        if allow_list and self.chance(0.3):
            return [self.r.randint(lo, hi), self.r.randint(lo, hi)]
        return self.r.randint(lo, hi)

    def padding_arg(self, limit):
        form = self.r.randrange(6)
        if form == 0:
            return None
        if form == 1:
            return self.r.randint(0, limit)
        if form == 2:
            return [self.r.randint(0, limit), self.r.randint(0, limit)]
        if form == 3:
            return [self.r.randint(0, limit) for _ in range(4)]
        return self.pick(["valid", "same"])

    def real(self, choices):
        return self.pick(choices)

    # ---------------------------------------------------------- windows

    def window_args(self, shape, pool):
        """Random kernel/stride/padding/dilation that fit shape, or None."""
        for _ in range(30):
            args = {}
            kmax = 4 if pool else 5
            args["kernel"] = self.kernel_arg(kmax)
            if not pool or self.chance(0.6):
                if self.chance(0.7 if pool else 0.5):
                    args["stride"] = self.pair_arg(1, 3, self.o.list_stride)
            if (not pool or self.o.pool_dilation) and self.chance(0.3):
                args["dilation"] = self.pair_arg(1, 3 if not pool else 2, self.o.list_dilation)
            pad = self.padding_arg(2 if not pool else 1)
            if pad is not None:
                args["padding"] = pad
            if self.fits(args, shape, pool):
                return args
        return None

    def fits(self, args, shape, pool):
        try:
            win = cnnref.window(_parse_args(args), shape, pool)
        except cnnref.CnnError:
            return False
        pt, pl, pb, pr = win["pads"]
        if pool and (max(pt, pb) >= win["kh"] or max(pl, pr) >= win["kw"]):
            return False
        return shape[0] * win["oh"] * win["ow"] <= self.o.max_elems

    # ---------------------------------------------------------- ops

    def op_conv(self, src, shape, same_size=False, filters=None):
        c, h, w = shape
        groups = self.pick([g for g in range(1, c + 1) if c % g == 0]) if self.chance(0.3) else 1
        if filters is None:
            filters = groups * self.r.randint(1, max(1, 12 // groups))
        elif filters % groups:
            groups = 1
        if same_size:
            args = {"kernel": self.kernel_arg(5), "padding": "same"}
            if self.chance(0.3):
                args["dilation"] = self.r.randint(1, 2)
        else:
            args = self.window_args(shape, pool=False)
            if args is None:
                args = {"kernel": 1}
        args = dict([("filters", filters)] + list(args.items()))
        if groups > 1 or self.chance(0.1):
            args["groups"] = groups
        kh, kw = cnnref._pair(args["kernel"], None)
        if filters * (c // groups) * kh * kw > self.o.max_weights:
            return None
        if not self.fits({k: v for k, v in args.items() if k not in ("filters", "groups")},
                         (filters, h, w), pool=False):
            return None
        self.bias_and_act(args)
        self.has_params = True
        return self.emit("conv2d", src, args, explicit_src=self.chance(0.1))

    def bias_and_act(self, args):
        if self.chance(0.25):
            args["bias"] = self.pick(["true", "false"])
        if self.o.fused and self.chance(0.4):
            args["activation"] = self.pick(self.o.fused)

    def op_pool(self, src, shape, same_size=False):
        op = self.pick(["maxpool", "avgpool"])
        if same_size:
            args = {"kernel": self.kernel_arg(3), "stride": 1, "padding": "same"}
        else:
            args = self.window_args(shape, pool=True)
            if args is None:
                return None
        if op == "avgpool" and self.chance(0.5):
            args["count_pad"] = self.pick(["true", "false"])
        return self.emit(op, src, args, explicit_src=self.chance(0.1))

    def op_dense(self, src, shape, units=None):
        n = shape[0]
        umax = max(1, min(24, self.o.max_weights // n))
        args = {"units": units or (1 if self.chance(self.o.tiny) else self.r.randint(1, umax))}
        if args["units"] * n > self.o.max_weights:
            return None
        self.bias_and_act(args)
        self.has_params = True
        return self.emit("dense", src, args, explicit_src=self.chance(0.1))

    def op_act(self, src):
        op = self.pick(self.o.acts)
        args = {}
        if op == "leaky_relu" and self.chance(0.6):
            args["alpha"] = self.real(["0.01", "0.2", "0.3", "0.5", "1.5", "1e-1"])
        elif op == "elu" and self.chance(0.6):
            args["alpha"] = self.real(["0.5", "1.0", "2", "0.25"])
        elif op == "rbf":
            if self.chance(0.5):
                args["center"] = self.real(["0.5", "-0.25", "1", "0.0", "-1e-1"])
            if self.chance(0.5):
                args["epsilon"] = self.real(["0.5", "2.0", "1", "0.3"])
        elif op == "clip":
            lo = self.real(["-1", "-0.5", "0", "0.25"])
            hi = self.real(["0.5", "1", "6", "1e1"])
            if self.chance(0.8):
                args["min"] = lo
            if self.chance(0.8):
                args["max"] = hi
        elif op == "gelu" and self.chance(0.5):
            args["approximate"] = self.pick(["none", "tanh"])
        return self.emit(op, src, args, explicit_src=self.chance(0.1))

    def op_softmax(self, src, shape):
        args = {}
        if self.chance(0.6):
            args["axis"] = self.r.randrange(len(shape))
        return self.emit("softmax", src, args, explicit_src=self.chance(0.1))

    def op_batchnorm(self, src):
        args = {}
        if self.chance(0.3):
            args["epsilon"] = self.real(["1e-3", "0.001", "1e-5", "0.1"])
        self.has_params = True
        return self.emit("batchnorm", src, args, explicit_src=self.chance(0.1))

    # ------------------------------------------------ mobile-CNN ops

    def op_binary(self, shape):
        """mul or sub of the previous tensor and an equal one, or a per-channel
        one (a mean of it: squeeze-and-excitation's form)."""
        first = self.prev()
        if len(shape) == 3 and self.chance(0.6):
            args = {"keepdims": "false"} if self.chance(0.3) else {}
            other = self.emit("mean", [], args)
        else:
            other = self.pick(self.tensors(lambda s: s == shape))
        srcs = [first, other]
        self.r.shuffle(srcs)
        return self.emit(self.pick(cnnref.BINARY), srcs, {})

    def op_shuffle(self, src, shape):
        groups = self.pick([g for g in range(1, shape[0] + 1) if shape[0] % g == 0])
        return self.emit("channel_shuffle", src, {"groups": groups}, explicit_src=self.chance(0.1))

    def op_norm_scale(self, src):
        self.has_params = True
        if self.chance(0.5):
            args = {"epsilon": self.real(["1e-6", "0.01"])} if self.chance(0.3) else {}
            return self.emit("layernorm", src, args, explicit_src=self.chance(0.1))
        args = {"bias": self.pick(["true", "false"])} if self.chance(0.6) else {}
        return self.emit("scale", src, args, explicit_src=self.chance(0.1))

    def op_upsample(self, src, shape):
        sh, sw = self.r.randint(1, 3), self.r.randint(1, 3)
        if shape[0] * shape[1] * sh * shape[2] * sw > self.o.max_elems:
            return None
        args = {"scale": self.pick([[sh, sw], sh])}
        if self.chance(0.7):
            args["mode"] = self.pick(["nearest", "bilinear"])
        return self.emit("upsample", src, args, explicit_src=self.chance(0.1))

    def op_pad(self, src, shape):
        reflect = self.chance(0.4)
        lim = [min(2, shape[1] - 1), min(2, shape[2] - 1)] if reflect else [2, 2]
        t, b = self.r.randint(0, lim[0]), self.r.randint(0, lim[0])
        l, r = self.r.randint(0, lim[1]), self.r.randint(0, lim[1])
        if shape[0] * (shape[1] + t + b) * (shape[2] + l + r) > self.o.max_elems:
            return None
        if self.chance(0.5):
            args = {"padding": [t, l, b, r]}
        else:
            args = {k: v for k, v in (("top", t), ("left", l), ("bottom", b), ("right", r)) if v}
        if reflect:
            args["mode"] = "reflect"
        elif self.chance(0.4):
            args["value"] = self.real(["0.5", "-1", "0"])
        return self.emit("pad", src, args, explicit_src=self.chance(0.1))

    def step_mobile(self, src, shape):
        op = self.pick(["binary", "binary", "shuffle", "norm", "upsample", "pad", "mean"])
        if op == "binary":
            return None if src else self.op_binary(shape)
        if op == "shuffle":
            return self.op_shuffle(src, shape)
        if op == "norm":
            return self.op_norm_scale(src)
        if op == "upsample":
            return self.op_upsample(src, shape)
        if op == "pad":
            return self.op_pad(src, shape)
        return self.emit("mean", src, {"keepdims": "false"} if self.chance(0.3) else {})

    def side_branch(self, shape, keep_channels):
        """A shape-preserving (or, for concat, H,W-preserving) statement on
        the previous one, to join with it."""
        src = [] if self.chance(0.7) else [self.prev()]
        if len(shape) == 1:
            kind = self.r.randrange(3)
            if kind == 0 and keep_channels:
                return self.op_dense(src, shape, units=shape[0])
            if kind == 0:
                return self.op_dense(src, shape)
            return self.op_act(src) if kind == 1 else self.op_softmax(src, shape)
        kind = self.r.randrange(5)
        if kind == 0:
            return self.op_conv(src, shape, same_size=True,
                                filters=shape[0] if keep_channels else None)
        if kind == 1:
            return self.op_pool(src, shape, same_size=True)
        if kind == 2:
            return self.op_batchnorm(src)
        return self.op_act(src) if kind == 3 else self.op_softmax(src, shape)

    def op_join(self, kind):
        shape = self.shapes[self.prev()]
        if kind == "add":
            match = self.tensors(lambda s: s == shape)
        else:
            match = self.tensors(lambda s: len(s) == len(shape) and s[1:] == shape[1:])
        others = [n for n in match if n != self.prev()]
        leaves = [n for n in others if n not in self.consumed]
        if leaves and self.chance(0.8):
            others = leaves
        if not others or self.chance(0.4):
            first = self.prev()
            b = self.side_branch(shape, keep_channels=(kind == "add"))
            if b is None:
                return None
            others = [first]
        srcs = [self.prev(), self.pick(others)]
        if self.chance(0.3):
            srcs.append(self.pick(others + [self.prev()]))
        self.r.shuffle(srcs)
        if kind == "concat":
            if sum(self.shapes[s][0] for s in srcs) * _prod(shape[1:]) > self.o.max_elems:
                return None
        joined = self.emit(kind, srcs, {})
        if kind == "concat" and self.chance(0.25):   # DenseNet's concat + batchnorm (fuse.c)
            return self.op_batchnorm([])
        return joined

    def branch(self, x, shape):
        """One branch of op_branches on map x: a same-size conv, pool or
        activation, an add of a conv with x, or a concat of two branches."""
        kind = self.pick(["conv", "conv", "pool", "act", "add", "concat"])
        if kind == "conv":
            return self.op_conv([x], shape, same_size=True)
        if kind == "pool":
            return self.op_pool([x], shape, same_size=True)
        if kind == "act":
            return self.op_act([x])
        if kind == "add":
            p = self.op_conv([x], shape, same_size=True, filters=shape[0])
            return None if p is None or self.shapes[p] != shape else self.emit("add", [p, x], {})
        p = self.op_pool([x], shape, same_size=True)
        q = self.op_conv([x], shape, same_size=True)
        return None if p is None or q is None else self.emit("concat", [p, q], {})

    def op_branches(self, shape):
        """Parallel branches on the previous map joined by concat, whose
        inputs the optimizer writes straight into their slices of its output
        (concat_view.c): convs, pools, activations, adds, a nested concat; at
        times one branch twice, the block's input as a branch, a concat of
        the concat and a branch (a tensor read by two concats, DenseNet's
        form) and an activation after the concat (fused: the inputs copy)."""
        x = self.prev()
        branches = [b for b in (self.branch(x, shape) for _ in range(self.r.randint(2, 4))) if b]
        if not branches:
            return None
        if self.chance(0.2):
            branches.append(self.pick(branches))
        if len(branches) < 2 or self.chance(0.2):
            branches.append(x)
        self.r.shuffle(branches)
        plane = _prod(shape[1:])
        if sum(self.shapes[b][0] for b in branches) * plane > self.o.max_elems:
            return None
        cat = self.emit("concat", branches, {})
        if self.chance(0.3):
            more = [cat, self.pick(branches)]
            if sum(self.shapes[b][0] for b in more) * plane <= self.o.max_elems:
                cat = self.emit("concat", more, {})
        if self.chance(0.2):
            cat = self.op_act([])
        return cat

    def step(self, remaining):
        shape = self.shapes[self.prev()]
        src = []
        if self.chance(0.07):
            cand = self.tensors(lambda s: len(s) == len(shape))
            src = [self.pick(cand)]
            shape = self.shapes[src[0]]
        if len(shape) == 3:
            return self.step_map(src, shape, remaining)
        return self.step_vector(src, shape)

    def step_map(self, src, shape, remaining):
        ops = ["conv2d"] * 5 + ["pool"] * 3 + ["act"] * 2 + ["batchnorm", "softmax", "add",
                                                             "add", "concat", "concat", "branches",
                                                             "branches"]
        if remaining <= 3:
            ops += ["flatten", "global_avgpool"]
        if self.o.mobile:
            ops += ["mobile"] * 4
        op = self.pick(ops)
        if op == "mobile":
            return self.step_mobile(src, shape)
        if op == "conv2d":
            return self.op_conv(src, shape)
        if op == "pool":
            return self.op_pool(src, shape)
        if op == "act":
            return self.op_act(src)
        if op == "batchnorm":
            return self.op_batchnorm(src)
        if op == "softmax":
            return self.op_softmax(src, shape)
        if op in ("add", "concat"):
            return None if src else self.op_join(op)
        if op == "branches":
            return None if src else self.op_branches(shape)
        return self.emit(op, src, {}, explicit_src=self.chance(0.1))

    def step_vector(self, src, shape):
        op = self.pick(["dense"] * 4 + ["act"] * 2 + ["softmax", "add", "concat"] +
                       (["norm", "mul"] if self.o.mobile else []))
        if op == "norm":
            return self.op_norm_scale(src)
        if op == "mul":
            return None if src else self.op_binary(shape)
        if op == "dense":
            return self.op_dense(src, shape)
        if op == "act":
            return self.op_act(src)
        if op == "softmax":
            return self.op_softmax(src, shape)
        return None if src else self.op_join(op)

    # ---------------------------------------------------------- model

    def header(self):
        self.input_name = self.pick(HOSTILE_INPUTS if self.hostile and self.chance(0.5)
                                    else INPUT_NAMES)
        self.used_names.add(self.input_name)
        tiny = self.chance(self.o.tiny)   # 1-element maps and vectors elide loops in emitted C
        if self.chance(0.2):
            self.input_shape = (self.r.randint(1, 3 if tiny else 64),)
        elif tiny:
            self.input_shape = (self.r.randint(1, 3), self.r.randint(1, 2), self.r.randint(1, 2))
        else:
            big = self.o.max_elems > MAX_ELEMS
            self.input_shape = (self.r.randint(1, 16 if big else 8), self.r.randint(1, 48 if big else 20),
                                self.r.randint(1, 48 if big else 20))
        self.shapes[self.input_name] = self.input_shape
        hostile_model = self.hostile and self.chance(0.3)
        self.model_name = self.pick(MODEL_NAMES_HOSTILE) if hostile_model else "g%d" % self.seed

    def body(self):
        n = self.r.choice([1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8, 10])
        if self.o.max_stmts > 10:
            n = self.r.randint(1, self.o.max_stmts)
        tries = 0
        while len(self.order) < n and tries < 200:
            tries += 1
            self.step(n - len(self.order))
        if not self.order:
            self.emit("relu", [], {})
        if len(self.shapes[self.prev()]) == 3 and self.chance(0.3):
            self.emit("flatten", [], {})
            self.op_dense([], self.shapes[self.prev()])
            if self.chance(0.5):
                self.op_softmax([], self.shapes[self.prev()])

    def output_stmt(self):
        if not self.chance(0.15):
            return None
        if self.chance(0.5):
            return self.prev()
        return self.pick(self.order)

    def text(self):
        self.header()
        self.body()
        out = self.output_stmt()
        weights = self.weights_stmt()
        dims = ", ".join(str(d) for d in self.input_shape)
        head = ["# generated by genmodels.py, seed %d" % self.seed,
                "model %s {" % self.model_name,
                "    input %s[%s];" % (self.input_name, dims)]
        if weights:
            head.append("    " + weights)
        body = ["    " + self.decorate(line) for line in self.lines]
        tail = ["    output %s;" % out] if out else []
        return "\n".join(head + body + tail + ["}", ""])

    def weights_stmt(self):
        if not self.has_params and self.chance(0.5):
            return None
        if self.o.random_weights and self.chance(0.25):
            return "weights random(seed=%d);" % self.r.randrange(1 << 31)
        return 'weights "%s";' % WEIGHTS_PLACEHOLDER

    def decorate(self, line):
        if self.chance(0.08):
            return line + "  # " + self.pick(["note", "x = y;", "// nested", "model {"])
        if self.chance(0.05):
            return line + " // trailing"
        if self.chance(0.05):
            return line.replace(", ", ",\n        ")
        return line


def _prod(seq):
    p = 1
    for v in seq:
        p *= v
    return p


def _parse_args(args):
    """Generator-side arg dict (strings for idents/reals) -> cnnref values."""
    text = "model q { input x[1]; relu(%s); }" % ", ".join(
        "%s=%s" % (k, _fmt(v)) for k, v in args.items())
    return cnnref._Parser(text).model().stmts[0].args


def _fmt(v):
    if isinstance(v, list):
        return "[%s]" % ", ".join(str(x) for x in v)
    return str(v)


def generate(seed, opts=None):
    """The model text for seed. Raises if the result is not valid (a bug
    in this generator)."""
    g = Gen(seed, opts or Options())
    text = g.text()
    m = cnnref.parse(text)
    if m.output_shape() != g.shapes[m.output_name()]:
        raise AssertionError("generator/cnnref shape mismatch for seed %d" % seed)
    return text


def main(argv):
    seed = int(argv[1]) if len(argv) > 1 else 0
    count = int(argv[2]) if len(argv) > 2 else 1
    for s in range(seed, seed + count):
        print(generate(s))


if __name__ == "__main__":
    main(sys.argv)
