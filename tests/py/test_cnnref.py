"""test_cnnref: checks the test reference (cnnref.py) itself, without cnnc.

Every op of cnnref is compared with (a) values worked out by hand from the
lecture, (b) a literal float64 loop nest written from docs/numerics.md in
plain numpy, and (c) torch.nn modules where PyTorch has the same op. If the
reference were wrong, the other suites would blame the wrong code.
"""

import itertools
import math
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import warnings

warnings.filterwarnings("ignore", message=".*padding=.same.*")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnnref  # noqa: E402

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def close(a, b, tol, what):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        check(False, "%s: shape %r vs %r" % (what, a.shape, b.shape))
        return
    err, i = cnnref.max_rel_err(a, b)
    check(err <= tol, "%s: max rel err %.3g at %d (%r vs %r)"
          % (what, err, i, a.reshape(-1)[i], b.reshape(-1)[i]))


# ------------------------------------------------ literal loop references

def loop_window(x, win, fn_init, fn_tap, fn_end):
    c, h, w = x.shape
    pt, pl = win["pads"][0], win["pads"][1]
    out = np.zeros((c, win["oh"], win["ow"]))
    for ch, oy, ox in itertools.product(range(c), range(win["oh"]), range(win["ow"])):
        acc, n = fn_init(), 0
        for ky, kx in itertools.product(range(win["kh"]), range(win["kw"])):
            iy = oy * win["sh"] - pt + ky * win["dh"]
            ix = ox * win["sw"] - pl + kx * win["dw"]
            if 0 <= iy < h and 0 <= ix < w:
                acc = fn_tap(acc, x[ch, iy, ix])
                n += 1
        out[ch, oy, ox] = fn_end(acc, n)
    return out


def loop_maxpool(x, win):
    return loop_window(x, win, lambda: -np.inf, max, lambda m, n: m if n else 0.0)


def loop_avgpool(x, win, count_pad):
    k = win["kh"] * win["kw"]
    return loop_window(x, win, lambda: 0.0, lambda s, v: s + v,
                       lambda s, n: (s / (k if count_pad else n)) if (n or count_pad) else 0.0)


def loop_conv(x, wt, b, win, groups):
    c, h, w = x.shape
    f = wt.shape[0]
    cg, fg = c // groups, f // groups
    pt, pl = win["pads"][0], win["pads"][1]
    out = np.zeros((f, win["oh"], win["ow"]))
    for oc, oy, ox in itertools.product(range(f), range(win["oh"]), range(win["ow"])):
        g = oc // fg
        acc = b[oc] if b is not None else 0.0
        for ic, ky, kx in itertools.product(range(cg), range(win["kh"]), range(win["kw"])):
            iy = oy * win["sh"] - pt + ky * win["dh"]
            ix = ox * win["sw"] - pl + kx * win["dw"]
            if 0 <= iy < h and 0 <= ix < w:
                acc += wt[oc, ic, ky, kx] * x[g * cg + ic, iy, ix]
        out[oc, oy, ox] = acc
    return out


def np_act(x, name, params=()):
    x = np.asarray(x, dtype=np.float64)
    if name == "relu":
        return np.where(x > 0, x, 0)
    if name == "leaky_relu":
        a = params[0] if params else 0.1
        return np.where(x >= 0, x, a * x)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    if name == "elu":
        a = params[0] if params else 1.0
        return np.where(x > 0, x, a * np.expm1(x))
    if name == "selu":
        return cnnref.SELU_LAMBDA * np.where(x > 0, x, cnnref.SELU_ALPHA * np.expm1(x))
    if name == "softplus":
        return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))
    if name == "swish":
        return x / (1 + np.exp(-x))
    if name == "rbf":
        c, e = params if params else (0.0, 1.0)
        return np.exp(-(e * (x - c)) ** 2)
    if name == "relu6":
        return np.minimum(np.maximum(x, 0.0), 6.0)
    if name == "clip":
        lo, hi = params if params else (-np.inf, np.inf)
        return np.minimum(np.maximum(x, lo), hi)
    if name == "hard_sigmoid":
        return np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0
    if name == "hard_swish":
        return x * np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0
    if name == "gelu" and params in ((), ("none",)):
        return x * 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    if name in ("gelu", "gelu_tanh"):
        k = math.sqrt(2.0 / math.pi)
        return 0.5 * x * (1.0 + np.tanh(k * (x + 0.044715 * x ** 3)))
    raise ValueError(name)


# ------------------------------------------------ tests

LECTURE_X = np.array([[1, 0, 1, 0, 1], [1, 0, 0, 1, 1], [0, 1, 1, 0, 0],
                      [1, 0, 0, 1, 0], [0, 0, 1, 1, 0]], dtype=np.float32)
LECTURE_K = np.array([[0, 1, 0], [1, 0, -1], [0, 1, 0]], dtype=np.float32)


def lecture_model(extra):
    return cnnref.parse("model lec { input image[1, 5, 5]; weights \"w.safetensors\";\n"
                        "  c = conv2d(filters=1, kernel=3, bias=false%s); }" % extra)


def test_lecture():
    w = {"c.weight": LECTURE_K.reshape(1, 1, 3, 3)}
    y = cnnref.forward(lecture_model(""), w, LECTURE_X)
    check(np.array_equal(y[0], [[2, 1, -1], [-1, 1, 3], [2, 1, 1]]), "lecture conv %r" % y)
    y = cnnref.forward(lecture_model(", stride=2"), w, LECTURE_X)
    check(np.array_equal(y[0], [[2, -1], [2, 1]]), "lecture stride 2 %r" % y)
    y = cnnref.forward(lecture_model(", padding=1"), w, LECTURE_X)
    xp = np.pad(LECTURE_X, 1)
    want = [[np.sum(xp[i:i + 3, j:j + 3] * LECTURE_K) for j in range(5)] for i in range(5)]
    check(np.array_equal(y[0], want), "lecture padding 1 %r" % y)
    m = cnnref.parse("model p { input x[1, 4, 4]; maxpool(kernel=2, stride=2); }")
    x = np.array([[4, 123, 1, 34], [56, 99, 222, 253], [45, 122, 165, 12],
                  [21, 187, 133, 124]], dtype=np.float32)
    y = cnnref.forward(m, {}, x)
    check(np.array_equal(y[0], [[123, 253], [187, 165]]), "lecture maxpool %r" % y)


def rand_window(rng, h, w, pool):
    while True:
        kh, kw = rng.integers(1, 5, size=2)
        args = {"kernel": [int(kh), int(kw)],
                "stride": [int(v) for v in rng.integers(1, 4, size=2)],
                "dilation": [int(v) for v in rng.integers(1, 4, size=2)]}
        form = rng.integers(0, 4)
        if form == 0:
            args["padding"] = cnnref.Ident("same")
        elif form == 1:
            args["padding"] = [int(v) for v in rng.integers(0, 3, size=2)]
        else:
            args["padding"] = [int(v) for v in rng.integers(0, 3, size=4)]
        try:
            win = cnnref.window(args, (1, h, w), pool)
        except cnnref.CnnError:
            continue
        if pool and (max(win["pads"][0::2]) >= kh or max(win["pads"][1::2]) >= kw):
            continue
        return args, win


def test_windows_vs_loops():
    rng = np.random.default_rng(1)
    for i in range(120):
        c, h, w = int(rng.integers(1, 5)), int(rng.integers(1, 9)), int(rng.integers(1, 9))
        x = rng.standard_normal((c, h, w)).astype(np.float32)
        args, win = rand_window(rng, h, w, pool=True)
        xt = torch.from_numpy(x)
        close(cnnref.maxpool(xt, win), loop_maxpool(x.astype(np.float64), win), 0,
              "maxpool %r on %r" % (args, x.shape))
        for cp in (False, True):
            close(cnnref.avgpool(xt, win, cp), loop_avgpool(x.astype(np.float64), win, cp),
                  1e-6, "avgpool count_pad=%s %r on %r" % (cp, args, x.shape))
        args, win = rand_window(rng, h, w, pool=False)
        groups = int(rng.choice([g for g in (1, 2, 3, 4) if c % g == 0]))
        f = groups * int(rng.integers(1, 4))
        wt = rng.standard_normal((f, c // groups, win["kh"], win["kw"])).astype(np.float32)
        b = rng.standard_normal(f).astype(np.float32) if i % 2 else None
        got = cnnref.conv2d(xt, torch.from_numpy(wt), None if b is None else torch.from_numpy(b),
                            win, groups)
        close(got, loop_conv(x.astype(np.float64), wt.astype(np.float64), b, win, groups),
              1e-5, "conv %r groups %d on %r" % (args, groups, x.shape))


def test_vs_torch_modules():
    rng = np.random.default_rng(2)
    torch.manual_seed(2)
    for i in range(60):
        c, h, w = int(rng.integers(1, 6)), int(rng.integers(5, 12)), int(rng.integers(5, 12))
        x = rng.standard_normal((c, h, w)).astype(np.float32)
        xt = torch.from_numpy(x)
        k, s, p, d = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 2)), \
            int(rng.integers(1, 3))
        conv = nn.Conv2d(c, 3, k, stride=s, padding=p, dilation=d)
        args = {"kernel": k, "stride": s, "padding": p, "dilation": d}
        win = cnnref.window(args, x.shape, pool=False)
        close(cnnref.conv2d(xt, conv.weight.data, conv.bias.data, win, 1),
              conv(xt[None])[0].detach(), 1e-6, "nn.Conv2d %r" % args)
        same = nn.Conv2d(c, 2, (k, k + 1), padding="same", dilation=d)
        win = cnnref.window({"kernel": [k, k + 1], "padding": cnnref.Ident("same"),
                             "dilation": d}, x.shape, pool=False)
        close(cnnref.conv2d(xt, same.weight.data, same.bias.data, win, 1),
              same(xt[None])[0].detach(), 1e-6, "nn.Conv2d same k=%d d=%d" % (k, d))
        pk = int(rng.integers(1, 4))
        pp = int(rng.integers(0, pk // 2 + 1))
        args = {"kernel": pk, "stride": s, "padding": pp, "dilation": d}
        win = cnnref.window(args, x.shape, pool=True)
        close(cnnref.maxpool(xt, win),
              nn.MaxPool2d(pk, s, pp, dilation=d)(xt[None])[0], 0, "nn.MaxPool2d %r" % args)
        args["dilation"] = 1
        win = cnnref.window(args, x.shape, pool=True)
        for cp in (False, True):
            close(cnnref.avgpool(xt, win, cp),
                  nn.AvgPool2d(pk, s, pp, count_include_pad=cp)(xt[None])[0], 1e-6,
                  "nn.AvgPool2d %r count_pad %s" % (args, cp))


def test_activations():
    x = np.concatenate([np.linspace(-30, 30, 601), [0.0, -0.0, 20.0, 19.99, 20.01]]) \
        .astype(np.float32)
    xt = torch.from_numpy(x)
    for name in cnnref.ACTIVATIONS:
        close(cnnref.activation(xt, name), np_act(x, name), 2e-6, name)
    close(cnnref.activation(xt, "leaky_relu", (0.3,)), np_act(x, "leaky_relu", (0.3,)), 1e-7,
          "leaky 0.3")
    close(cnnref.activation(xt, "leaky_relu", (2.0,)), np.where(x >= 0, x, 2 * x), 0,
          "leaky alpha 2: x>=0?x:alpha*x, not max")
    close(cnnref.activation(xt, "elu", (0.5,)), np_act(x, "elu", (0.5,)), 2e-6, "elu 0.5")
    close(cnnref.activation(xt, "rbf", (1.5, 0.25)), np_act(x, "rbf", (1.5, 0.25)), 2e-6, "rbf")
    check(float(cnnref.activation(torch.tensor([0.0]), "rbf")[0]) == 1.0, "rbf(0) = 1")
    check(float(cnnref.activation(torch.tensor([-1.0]), "leaky_relu")[0]) == np.float32(-0.1),
          "leaky default alpha 0.1")


def test_whole_model_vs_nn():
    text = """
    # lecture network, smaller
    model fash {
        input image[1, 12, 12];   // C, H, W
        weights "fash.safetensors";
        conv1 = conv2d(filters=4, kernel=3);
        relu;
        conv2 = conv2d(filters=6, kernel=3, activation=relu);
        maxpool(kernel=2, stride=2);
        bn = batchnorm(epsilon=1e-3);
        flatten;
        fc1 = dense(units=7, activation=relu);
        fc2 = dense(units=5);
        softmax;
    }"""
    m = cnnref.parse(text)
    check([s.name for s in m.stmts] == ["conv1", "relu_0", "conv2", "maxpool_0", "bn",
                                        "flatten_0", "fc1", "fc2", "softmax_0"],
          "auto names %r" % [s.name for s in m.stmts])
    check(m.shapes()["flatten_0"] == (6 * 4 * 4,), "flatten shape")
    p = cnnref.random_weights(m, 3)
    check([k for k in p] == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                             "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                             "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], "param names")
    net = nn.Module()
    net.conv1, net.conv2 = nn.Conv2d(1, 4, 3), nn.Conv2d(4, 6, 3)
    net.bn = nn.BatchNorm2d(6, eps=1e-3)
    net.fc1, net.fc2 = nn.Linear(96, 7), nn.Linear(7, 5)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in p.items()}, strict=False)
    net.eval()
    x = np.random.default_rng(4).standard_normal((1, 12, 12)).astype(np.float32)
    with torch.no_grad():
        t = torch.relu(net.conv1(torch.from_numpy(x)[None]))
        t = nn.functional.max_pool2d(torch.relu(net.conv2(t)), 2)
        t = torch.relu(net.fc1(net.bn(t).flatten()))
        want = torch.softmax(net.fc2(t), 0)
    close(cnnref.forward(m, p, x), want, 1e-6, "whole model vs nn")


def test_parser_forms():
    text = """model t{input x[2,6,7];weights random(seed=5);
      conv2d(filters=4,kernel=[3,2],padding=[1,0,2,1],stride=[2,1]);  # unnamed: conv2d_0
      a = conv2d(filters=2, kernel=1);
      conv2d(filters=4, kernel=1, groups=2, bias=false);  // conv2d_2: a is conv2d 1
      b = add(conv2d_0, conv2d_2);
      concat(a, b, a);
      leaky_relu(alpha=-0.5);
      rbf(center=1e-1, epsilon=2.5E0);
      softmax(axis=2);
      output b;
    }"""
    m = cnnref.parse(text)
    check(m.weights == ("random", 5), "weights random")
    check([s.name for s in m.stmts] == ["conv2d_0", "a", "conv2d_2", "b", "concat_0",
                                        "leaky_relu_0", "rbf_0", "softmax_0"],
          "auto names count all of the op's statements: %r" % [s.name for s in m.stmts])
    check(m.shapes()["conv2d_0"] == (4, 4, 7), "asym pad shape %r" % (m.shapes()["conv2d_0"],))
    check(m.shapes()["concat_0"] == (8, 4, 7), "concat shape")
    check(m.output_name() == "b" and m.output_shape() == (4, 4, 7), "output")
    check(m.stmts[5].args["alpha"] == -0.5 and m.stmts[6].args["epsilon"] == 2.5, "reals")
    p = cnnref.random_weights(m, 1)
    check("conv2d_2.bias" not in p and p["conv2d_2.weight"].shape == (4, 1, 1, 1), "groups/bias")
    y = cnnref.forward(m, p, np.ones(2 * 6 * 7, dtype=np.float32), all_outputs=True)
    check(np.allclose(y["softmax_0"].sum(axis=2), 1, atol=1e-6), "softmax axis 2 sums")
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, 'we"ird.safetensors')
        cnnref.write_safetensors(f, p)
        back = cnnref.read_safetensors(f)
        check(all(np.array_equal(back[k], p[k]) for k in p) and len(back) == len(p),
              "safetensors round trip")
        t2 = cnnref.set_weights(text, f)
        m2 = cnnref.parse(t2)
        check(m2.weights == ("file", f), "set_weights %r" % (m2.weights,))
        t3 = cnnref.set_weights("model q { input x[3];\n relu; }", "w.st")
        check(cnnref.parse(t3).weights == ("file", "w.st"), "set_weights adds a statement")
        cnnref.write_npy(os.path.join(d, "a.npy"), np.arange(6).reshape(2, 3))
        a = cnnref.read_npy(os.path.join(d, "a.npy"))
        check(a.dtype == np.float32 and a.shape == (2, 3) and a[1, 2] == 5, "npy")


def test_vectors_and_misc():
    m = cnnref.parse("""model v { input x[6]; weights "w";
        d = dense(units=4, activation=tanh); e = dense(x, units=4, bias=false);
        s = add(d, e, d); c = concat(s, x); softmax; }""")
    p = cnnref.random_weights(m, 7)
    x = np.linspace(-1, 1, 6).astype(np.float32)
    xd = x.astype(np.float64)
    d = np.tanh(p["d.weight"].astype(np.float64) @ xd + p["d.bias"])
    e = p["e.weight"].astype(np.float64) @ xd
    c = np.concatenate([d + e + d, xd])
    want = np.exp(c - c.max()) / np.exp(c - c.max()).sum()
    close(cnnref.forward(m, p, x), want, 1e-6, "vector model")
    m = cnnref.parse("model g { input x[3, 4, 5]; global_avgpool; flatten; }")
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    close(cnnref.forward(m, {}, x), x.astype(np.float64).mean(axis=(1, 2)), 1e-6, "gap")
    m = cnnref.parse("model b { input x[5]; weights \"w\"; bn = batchnorm(epsilon=1e-3); }")
    p = cnnref.random_weights(m, 2)
    x = np.linspace(-2, 2, 5).astype(np.float32)
    scale = p["bn.weight"] / np.sqrt(p["bn.running_var"].astype(np.float64) + 1e-3)
    want = (x - p["bn.running_mean"]) * scale + p["bn.bias"]
    close(cnnref.forward(m, p, x), want, 1e-6, "batchnorm of a vector (channels = dim 0)")


def main():
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print("ran", name)
    if FAILURES:
        print("test_cnnref: %d failures" % len(FAILURES))
        return 1
    print("test_cnnref: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
