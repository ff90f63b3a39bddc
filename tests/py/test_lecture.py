"""test_lecture: the lecture's worked examples, exact, through the whole CLI.

Each example runs three ways: `cnnc run --interp`, the emitted C built with
gcc, and the same built with tcc. Expected values come from the mathematics
(the lecture's hand-worked maps; the padded map is computed here with numpy
rather than copied from a slide). All values are small integers, so every
path must produce them exactly. Then the lecture network (examples/fashion.cnn)
is cut at each layer with `output NAME;` and the generated header must give
the sizes 26x26x32, 24x24x64, 12x12x64 and 9216.

    test_lecture.py --cnnc build/compiler/cnnc --examples examples
"""

import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cnnctest  # noqa: E402
import cnnref  # noqa: E402

IMAGE = np.array([[1, 0, 1, 0, 1],
                  [1, 0, 0, 1, 1],
                  [0, 1, 1, 0, 0],
                  [1, 0, 0, 1, 0],
                  [0, 0, 1, 1, 0]], dtype=np.float32)
KERNEL = np.array([[0, 1, 0],
                   [1, 0, -1],
                   [0, 1, 0]], dtype=np.float32)
POOL_IN = np.array([[4, 123, 1, 34],
                    [56, 99, 222, 253],
                    [45, 122, 165, 12],
                    [21, 187, 133, 124]], dtype=np.float32)

FAILS = []


def fail(what, detail, text=""):
    FAILS.append(what)
    cnnctest.report(what, "-", text, detail)


def conv_by_hand(x, k, stride=1, pad=0):
    """The lecture's definition: slide k over the zero-padded x, sum of products."""
    xp = np.pad(x.astype(np.float64), pad)
    n = (xp.shape[0] - k.shape[0]) // stride + 1
    m = (xp.shape[1] - k.shape[1]) // stride + 1
    return np.array([[np.sum(xp[i * stride:i * stride + k.shape[0],
                                j * stride:j * stride + k.shape[1]] * k)
                      for j in range(m)] for i in range(n)])


def conv_model(extra):
    return ("# the lecture's 5x5 example\nmodel lecture {\n    input image[1, 5, 5];\n"
            "    weights \"k.safetensors\";\n"
            "    conv = conv2d(filters=1, kernel=3, bias=false%s);\n}\n" % extra)


def three_ways(args, label, text, x, weights, expect):
    """Interp, gcc and tcc must each give exactly `expect`."""
    d = os.path.join(args.workdir, label)
    os.makedirs(d)
    path = os.path.join(d, "model.cnn")
    with open(path, "w") as f:
        f.write(text)
    if weights is not None:
        cnnref.write_safetensors(os.path.join(d, "k.safetensors"), weights)
    expect = np.asarray(expect, dtype=np.float32)
    try:
        outs = {"interp": cnnctest.interp(args.cnnc, path, x, d)}
        facts = cnnctest.compile_model(args.cnnc, path, d)
        if facts["output_size"] != expect.size or facts["input_size"] != x.size:
            fail(label + " header", "sizes %r, expected in %d out %d" % (facts, x.size, expect.size), text)
        for exe, cc, flags in (("run_gcc", args.gcc, cnnctest.GCC_FLAGS),
                               ("run_tcc", args.tcc, cnnctest.TCC_FLAGS)):
            warn = cnnctest.build(cc, flags, d, facts, exe)
            if warn:
                fail(label + " " + exe + " warnings", warn, text)
            outs[exe] = cnnctest.run_built(d, exe, x)
    except cnnctest.ToolError as e:
        fail(label, str(e), text)
        return
    for way, got in outs.items():
        if got.size != expect.size or not np.array_equal(got.reshape(expect.shape), expect):
            fail("%s via %s" % (label, way), "got\n%s\nexpected\n%s"
                 % (np.asarray(got).reshape(-1), expect), text)
        else:
            print("ok: %s via %s: %s" % (label, way, expect.reshape(expect.shape[-2:]).tolist()))


def test_worked_examples(args):
    w = {"conv.weight": KERNEL.reshape(1, 1, 3, 3)}
    x = IMAGE.reshape(1, 5, 5)
    by_hand = conv_by_hand(IMAGE, KERNEL)
    assert by_hand.tolist() == [[2, 1, -1], [-1, 1, 3], [2, 1, 1]]   # the lecture's map
    three_ways(args, "conv", conv_model(""), x, w, by_hand.reshape(1, 3, 3))
    by_hand = conv_by_hand(IMAGE, KERNEL, stride=2)
    assert by_hand.tolist() == [[2, -1], [2, 1]]
    three_ways(args, "conv_stride2", conv_model(", stride=2"), x, w, by_hand.reshape(1, 2, 2))
    by_hand = conv_by_hand(IMAGE, KERNEL, pad=1)
    assert by_hand.shape == (5, 5)    # n - f + 1 = 7 - 3 + 1
    three_ways(args, "conv_padding1", conv_model(", padding=1"), x, w, by_hand.reshape(1, 5, 5))
    pool = ("model lecture_pool {\n    input image[1, 4, 4];\n"
            "    maxpool(kernel=2, stride=2);\n}\n")
    three_ways(args, "maxpool", pool, POOL_IN.reshape(1, 4, 4), None,
               np.array([[[123, 253], [187, 165]]]))


def fashion_cuts(text):
    """[(statement name, expected element count)] for the lecture network,
    from the lecture's arithmetic: 28-3+1 = 26, 26-3+1 = 24, 24/2 = 12."""
    m = cnnref.parse(text)
    convs = [s.name for s in m.stmts if s.op == "conv2d"]
    pools = [s.name for s in m.stmts if s.op == "maxpool"]
    flats = [s.name for s in m.stmts if s.op == "flatten"]
    return [(convs[0], 32 * 26 * 26), (convs[1], 64 * 24 * 24), (pools[0], 64 * 12 * 12),
            (flats[0], 9216)]


def with_output(text, name):
    body = cnnref.re.sub(r"(?<![A-Za-z0-9_])output\s+\w+\s*;", "", text)
    i = body.rstrip().rfind("}")
    return body[:i] + "    output %s;\n}\n" % name


def test_fashion(args):
    path = os.path.join(args.examples or "", "fashion.cnn")
    if not os.path.exists(path):
        fail("fashion", "missing " + path)
        return
    with open(path) as f:
        text = f.read()
    d = os.path.join(args.workdir, "fashion")
    os.makedirs(d)
    m = cnnref.parse(text)
    if m.input_shape != (1, 28, 28):
        fail("fashion input", "input %r, expected [1, 28, 28]" % (m.input_shape,), text)
    params = cnnref.random_weights(m, 5)
    cnnref.write_safetensors(os.path.join(d, "w.safetensors"), params)
    text = cnnref.set_weights(text, "w.safetensors")
    x = cnnctest.random_input(m, 5)
    for name, size in fashion_cuts(text):
        cut = with_output(text, name)
        p = os.path.join(d, "cut_%s.cnn" % name)
        with open(p, "w") as f:
            f.write(cut)
        try:
            facts = cnnctest.compile_model(args.cnnc, p, d, base="cut_" + name)
            y = cnnctest.interp(args.cnnc, p, x, d, tag=name)
        except cnnctest.ToolError as e:
            fail("fashion cut at " + name, str(e), cut)
            continue
        if facts["output_size"] != size or y.size != size or facts["input_size"] != 784:
            fail("fashion cut at " + name, "header OUTPUT_SIZE %d, interp output %r, "
                 "expected %d elements (INPUT_SIZE %d)" % (facts["output_size"], y.shape, size,
                                                          facts["input_size"]), cut)
        else:
            print("ok: fashion %s: %s_OUTPUT_SIZE = %d, interp shape %r"
                  % (name, facts["PREFIX"], size, y.shape))
    run_fashion_full(args, d, text, params, x)


def run_fashion_full(args, d, text, params, x):
    """The whole network, three ways, against torch (float64)."""
    p = os.path.join(d, "full.cnn")
    with open(p, "w") as f:
        f.write(text)
    m = cnnref.parse(text)
    ref = cnnref.forward(m, params, x, dtype=torch.float64).reshape(-1)
    try:
        outs = {"interp": cnnctest.interp(args.cnnc, p, x, d, tag="full")}
        facts = cnnctest.compile_model(args.cnnc, p, d, base="full")
        for exe, cc, flags in (("run_gcc", args.gcc, cnnctest.GCC_FLAGS),
                               ("run_tcc", args.tcc, cnnctest.TCC_FLAGS)):
            cnnctest.build(cc, flags, d, facts, exe, base="full")
            outs[exe] = cnnctest.run_built(d, exe, x)
    except cnnctest.ToolError as e:
        fail("fashion full", str(e), text)
        return
    for way, got in outs.items():
        err, _ = cnnref.max_rel_err(got, ref)
        if not err <= cnnctest.TOL:
            fail("fashion full via " + way, cnnctest.worst(got, ref), text)
        else:
            print("ok: fashion full network via %s, rel err %.3g vs torch" % (way, err))


def main():
    ap = cnnctest.arg_parser(__doc__)
    args = ap.parse_args()
    cnnctest.require_tools(args)
    args.workdir = cnnctest.fresh_dir(args.workdir)
    t0 = time.time()
    test_worked_examples(args)
    test_fashion(args)
    print("lecture: %d failures, %.1fs" % (len(FAILS), time.time() - t0))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
