"""Writes the fuzzers' seed corpora and the weights fixtures (docs/robustness.md).

    /usr/bin/python3 fuzz/make_seeds.py        # from the repository root

fuzz/fixtures/      safetensors files a fuzzed model may name in `weights "F"`
                    (the harness confines paths to this directory); the
                    "small" model of tests/diag (conv1 2x1x3x3, fc 3x18) and
                    examples/tiny.cnn's c1.
fuzz/corpus/cnn/    examples/*.cnn, tests/diag/*.cnn and seeds/*.cnn
fuzz/corpus/pipeline/  seeds/*.cnn that are small enough to run
fuzz/corpus/safetensors/, fuzz/corpus/npy/   small valid and invalid files
fuzz/corpus/onnx/   small models from torch.onnx.export and onnx.helper, and
                    quantized ones (QDQ pairs, QLinearConv, QLinearMatMul)

The files are written by hand here (struct, json), not by the readers under
test; numpy only supplies array bytes. Seeds are (over)written; other files
in a corpus directory (inputs the fuzzers found, crash-* regressions) are
left alone. fuzz/run.sh merge minimizes the corpora afterwards.
"""
import glob
import json
import os
import shutil
import struct

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = os.path.join(ROOT, "fuzz")


def st_bytes(tensors, dtypes=None, meta=None, pad=True):
    """A safetensors file from {name: array}; dtypes overrides per name."""
    header, blobs, off = {}, [], 0
    if meta is not None:
        header["__metadata__"] = meta
    for name, arr in tensors.items():
        dt = (dtypes or {}).get(name, "F32")
        np_dt = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8",
                 "I32": "<i4", "U8": "u1", "BOOL": "u1", "BF16": "<u2"}[dt]
        data = np.ascontiguousarray(arr, dtype=np_dt).tobytes()
        header[name] = {"dtype": dt, "shape": list(np.shape(arr)),
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def raw_st(header_text, data=b""):
    h = header_text.encode()
    return struct.pack("<Q", len(h)) + h + data


def small_weights():
    rng = np.random.default_rng(0)
    return {"conv1.weight": rng.standard_normal((2, 1, 3, 3)),
            "conv1.bias": rng.standard_normal(2),
            "fc.weight": rng.standard_normal((3, 18)),
            "fc.bias": rng.standard_normal(3)}


def fixtures():
    rng = np.random.default_rng(1)
    f = {"good.safetensors": st_bytes(small_weights())}
    t = small_weights()
    del t["fc.bias"]
    f["missing.safetensors"] = st_bytes(t)
    t = small_weights()
    t["conv1.weight"] = np.zeros((2, 1, 5, 5))
    f["shape.safetensors"] = st_bytes(t)
    f["f16.safetensors"] = st_bytes(small_weights(), {"fc.weight": "F16"})
    t = small_weights()
    t["conv2.weight"] = np.zeros(4)
    f["extra.safetensors"] = st_bytes(t)
    f["truncated.safetensors"] = st_bytes(small_weights())[:100]
    f["hugeheader.safetensors"] = struct.pack("<Q", 1 << 40) + b"{}"
    f["badjson.safetensors"] = struct.pack("<Q", 16) + b'{"a" 1}         '
    f["tiny.safetensors"] = st_bytes({"c1.weight": rng.standard_normal((4, 3, 3, 3)),
                                      "c1.bias": rng.standard_normal(4)})
    return f


def st_corpus():
    rng = np.random.default_rng(2)
    c = dict(fixtures())
    c["meta.safetensors"] = st_bytes({"w": rng.standard_normal((2, 2))},
                                     meta={"format": "pt", "note": "caf\u00e9"})
    c["empty.safetensors"] = st_bytes({})
    c["dtypes.safetensors"] = st_bytes(
        {"a": np.arange(3), "b": np.arange(2), "c": np.ones(4), "d": np.zeros(5),
         "e": np.ones(2), "f": np.arange(3)},
        {"a": "I64", "b": "I32", "c": "F64", "d": "U8", "e": "BOOL", "f": "BF16"})
    c["zero-size.safetensors"] = st_bytes({"z": np.zeros((0, 3)), "y": np.ones(1)})
    c["scalar.safetensors"] = st_bytes({"s": np.float32(3.5)})
    c["rank8.safetensors"] = st_bytes({"r": np.ones((1, 2, 1, 2, 1, 1, 2, 1))})
    c["names.safetensors"] = st_bytes({"\u00e9\u4e2d\U0001f600": np.ones(1),
                                       "tab\there": np.ones(1), "q\"\\/": np.ones(1)})
    c["escapes.safetensors"] = raw_st(
        '{"\\u00e9\\ud83d\\ude00\\n":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        b"\0\0\x80\x3f")
    c["gap.safetensors"] = raw_st(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},'
        '"b":{"shape":[1],"data_offsets":[8,12],"dtype":"F32","extra":[{"x":null},true,-1.5e3]}}',
        bytes(12))
    c["overlap.safetensors"] = raw_st(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
        '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', bytes(8))
    c["duplicate.safetensors"] = raw_st(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', bytes(8))
    c["deep.safetensors"] = raw_st('{"a":{"x":' + "[" * 70 + "]" * 70 + "}}")
    c["bignum.safetensors"] = raw_st(
        '{"a":{"dtype":"F32","shape":[9007199254740993],"data_offsets":[0,4]}}', bytes(4))
    return c


def npy_bytes(arr, version=(1, 0), descr=None, fortran=False, header=None, tail=b""):
    arr = np.asarray(arr)
    if header is None:
        shape = repr(tuple(arr.shape))
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
            descr or arr.dtype.str, fortran, shape)
    width = 2 if version[0] == 1 else 4
    pre = 6 + 2 + width
    h = header + " " * (-(pre + len(header) + 1) % 64) + "\n"
    n = struct.pack("<H" if width == 2 else "<I", len(h))
    return b"\x93NUMPY" + bytes(version) + n + h.encode("latin-1") + arr.tobytes() + tail


def npy_corpus():
    f4 = np.arange(6, dtype="<f4").reshape(2, 3) / 7
    return {
        "v1-2x3.npy": npy_bytes(f4),
        "v2-vector.npy": npy_bytes(np.ones(5, "<f4"), (2, 0)),
        "v3-image.npy": npy_bytes(np.zeros((1, 4, 4), "<f4"), (3, 0)),
        "scalar.npy": npy_bytes(np.float32(2.5)),
        "empty.npy": npy_bytes(np.zeros((0, 3), "<f4")),
        "rank8.npy": npy_bytes(np.ones((1, 1, 2, 1, 1, 2, 1, 1), "<f4")),
        "specials.npy": npy_bytes(np.array([np.nan, np.inf, -0.0, 1e-45], "<f4")),
        "f8.npy": npy_bytes(np.ones(2, "<f8")),
        "big-endian.npy": npy_bytes(np.ones(2, ">f4")),
        "fortran.npy": npy_bytes(np.ones((2, 2), "<f4"), fortran=True),
        "long-suffix.npy": npy_bytes(np.ones(3, "<f4"),
                                     header="{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }"),
        "double-quotes.npy": npy_bytes(np.ones(1, "<f4"),
                                       header='{"shape": (1,), "descr": "<f4", "fortran_order": False}'),
        "trailing.npy": npy_bytes(np.ones(2, "<f4"), tail=b"xx"),
        "truncated.npy": npy_bytes(np.ones(4, "<f4"))[:-3],
    }


def onnx_corpus():
    """Small ONNX files: torch.onnx.export of every supported layer kind,
    and a few graphs built with onnx.helper."""
    import io
    import torch
    import torch.nn as nn
    import onnx
    from onnx import helper, TensorProto

    torch.manual_seed(0)

    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(4 * 4 * 4, 5)

        def forward(self, x):
            x = self.pool(torch.relu(self.bn(self.conv1(x))))
            return torch.softmax(self.fc(x.view(x.size(0), -1)), dim=1)

    class Branches(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(2, 2, 1)
            self.b = nn.Conv2d(2, 2, 3, padding=1, groups=2, bias=False)
            self.c = nn.Conv2d(4, 3, 3, stride=2, dilation=1)

        def forward(self, x):
            y = torch.sigmoid(self.a(x)) + torch.tanh(self.b(x))
            z = torch.cat([nn.functional.leaky_relu(y, 0.2), nn.functional.elu(x)], 1)
            z = nn.functional.avg_pool2d(self.c(z), 2, ceil_mode=False)
            return nn.functional.adaptive_avg_pool2d(nn.functional.selu(z), 1)

    class Mlp(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(6, 8)
            self.l2 = nn.Linear(8, 3)

        def forward(self, x):
            return self.l2(nn.functional.softplus(self.l1(x)))

    def export(model, shape):
        model.eval()
        f = io.BytesIO()
        torch.onnx.export(model, torch.zeros(shape), f, opset_version=13)
        return f.getvalue()

    c = {"seed-small.onnx": export(Small(), (1, 1, 8, 8)),
         "seed-branches.onnx": export(Branches(), (1, 2, 6, 6)),
         "seed-mlp.onnx": export(Mlp(), (1, 6))}
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "g", [x], [y])
    c["seed-relu.onnx"] = helper.make_model(g).SerializeToString()
    x4 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])
    y4 = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2, 2])
    g = helper.make_graph([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2],
                                            strides=[2, 2])], "p", [x4], [y4])
    c["seed-maxpool.onnx"] = helper.make_model(g).SerializeToString()
    return c


def qdq_corpus():
    """Quantized ONNX files (onnx/qdq.c): QuantizeLinear -> DequantizeLinear
    pairs around Conv, Relu, MaxPool, Gemm, Add, Concat, AveragePool with
    INT8 weights and INT32 biases, and the QLinearConv / QLinearMatMul form
    with UINT8 activations."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    rng = np.random.default_rng(1)
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def qdq(x, s, z, tag):
        sn, zn = const("s_" + tag, np.float32(s)), const("z_" + tag, z)
        nodes.append(helper.make_node("QuantizeLinear", [x, sn, zn], ["q_" + tag]))
        nodes.append(helper.make_node("DequantizeLinear", ["q_" + tag, sn, zn], ["d_" + tag]))
        return "d_" + tag

    def weight(shape, tag, s_in, axis=0):
        n = shape[axis]
        ws = (rng.random(n) * 0.02 + 0.002).astype(np.float32)
        ins = [const("w_" + tag, rng.integers(-127, 128, size=shape).astype(np.int8)), const("ws_" + tag, ws),
               const("wz_" + tag, np.zeros(n, np.int8))]
        nodes.append(helper.make_node("DequantizeLinear", ins, ["wd_" + tag], axis=axis))
        bins = [const("b_" + tag, rng.integers(-300, 300, size=shape[0]).astype(np.int32)),
                const("bs_" + tag, (np.float32(s_in) * ws).astype(np.float32)),
                const("bz_" + tag, np.zeros(shape[0], np.int32))]
        nodes.append(helper.make_node("DequantizeLinear", bins, ["bd_" + tag], axis=0))
        return "wd_" + tag, "bd_" + tag

    def model(inp, out, in_shape, out_shape, opset=13):
        g = helper.make_graph(list(nodes), "q", [helper.make_tensor_value_info(inp, TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)], list(inits))
        nodes.clear()
        inits.clear()
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()

    c = {}
    x = qdq("x", 0.02, np.int8(3), "x")
    w, b = weight((4, 2, 3, 3), "c1", 0.02)
    nodes.append(helper.make_node("Conv", [x, w, b], ["c1"], pads=[1, 1, 1, 1]))
    y = qdq(qdq("c1", 0.03, np.int8(-5), "c1"), 0.03, np.int8(-5), "c1b")
    nodes.append(helper.make_node("Relu", [y], ["r1"]))
    y = qdq("r1", 0.02, np.int8(-128), "r1")
    nodes.append(helper.make_node("MaxPool", [y], ["p1"], kernel_shape=[2, 2], strides=[2, 2]))
    y = qdq("p1", 0.02, np.int8(-128), "p1")
    nodes.append(helper.make_node("Flatten", [y], ["f1"], axis=1))
    w, b = weight((3, 16), "g1", 0.02)
    nodes.append(helper.make_node("Gemm", ["f1", w, b], ["g1"], transB=1))
    c["seed-qdq-conv-gemm.onnx"] = model("x", qdq("g1", 0.05, np.int8(0), "g1"), [1, 2, 4, 4], [1, 3])

    x = qdq("x", 0.02, np.uint8(128), "x")
    w, b = weight((2, 2, 1, 1), "a", 0.02)
    nodes.append(helper.make_node("Conv", [x, w, b], ["a"]))
    ya = qdq("a", 0.03, np.uint8(120), "a")
    w, b = weight((2, 2, 3, 3), "b", 0.02)
    nodes.append(helper.make_node("Conv", [x, w, b], ["b"], pads=[1, 1, 1, 1]))
    yb = qdq("b", 0.04, np.uint8(130), "b")
    nodes.append(helper.make_node("Add", [ya, yb], ["s"]))
    ys = qdq("s", 0.05, np.uint8(128), "s")
    nodes.append(helper.make_node("Concat", [ys, ya], ["cat"], axis=1))
    yc = qdq("cat", 0.05, np.uint8(128), "cat")
    nodes.append(helper.make_node("AveragePool", [yc], ["ap"], kernel_shape=[2, 2], strides=[2, 2]))
    c["seed-qdq-add-concat.onnx"] = model("x", qdq("ap", 0.05, np.uint8(128), "ap"), [1, 2, 4, 4], [1, 4, 2, 2])

    xq = [const("xs", np.float32(0.02)), const("xz", np.uint8(128))]
    nodes.append(helper.make_node("QuantizeLinear", ["x"] + xq, ["xq"]))
    yq = [const("ys", np.float32(0.03)), const("yz", np.uint8(100))]
    ins = ["xq"] + xq + [const("w", rng.integers(-127, 128, size=(3, 2, 3, 3)).astype(np.int8)),
                         const("ws", np.full(3, 0.01, np.float32)), const("wz", np.zeros(3, np.int8))] + yq + \
        [const("b", np.arange(3, dtype=np.int32))]
    nodes.append(helper.make_node("QLinearConv", ins, ["cq"], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("DequantizeLinear", ["cq"] + yq, ["cd"]))
    nodes.append(helper.make_node("Flatten", ["cd"], ["fl"], axis=1))
    fq = [const("fs", np.float32(0.03)), const("fz", np.uint8(100))]
    nodes.append(helper.make_node("QuantizeLinear", ["fl"] + fq, ["flq"]))
    oq = [const("os", np.float32(0.1)), const("oz", np.uint8(128))]
    ins = ["flq"] + fq + [const("m", rng.integers(-127, 128, size=(12, 4)).astype(np.int8)),
                          const("ms", np.float32(0.01)), const("mz", np.int8(0))] + oq
    nodes.append(helper.make_node("QLinearMatMul", ins, ["mq"]))
    nodes.append(helper.make_node("DequantizeLinear", ["mq"] + oq, ["y"]))
    c["seed-qlinear.onnx"] = model("x", "y", [1, 2, 2, 2], [1, 4])
    for k, v in c.items():
        onnx.checker.check_model(onnx.load_from_string(v))
    return c


def write_dir(path, files, clean):
    """Writes files into path; clean: remove everything else first."""
    os.makedirs(path, exist_ok=True)
    if clean:
        for old in os.listdir(path):
            os.remove(os.path.join(path, old))
    for name, data in files.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())


def main():
    write_dir(os.path.join(FUZZ, "fixtures"), fixtures(), clean=True)
    write_dir(os.path.join(FUZZ, "corpus", "safetensors"), st_corpus(), clean=False)
    write_dir(os.path.join(FUZZ, "corpus", "npy"), npy_corpus(), clean=False)
    write_dir(os.path.join(FUZZ, "corpus", "onnx"), onnx_corpus(), clean=False)
    write_dir(os.path.join(FUZZ, "corpus", "onnx"), qdq_corpus(), clean=False)
    cnn = {}
    for src in glob.glob(os.path.join(ROOT, "examples", "*.cnn")):
        cnn["example-" + os.path.basename(src)] = open(src, "rb").read()
    for src in glob.glob(os.path.join(ROOT, "tests", "diag", "*.cnn")):
        cnn["diag-" + os.path.basename(src)] = open(src, "rb").read()
    seeds = {os.path.basename(p): open(p, "rb").read()
             for p in glob.glob(os.path.join(FUZZ, "seeds", "*.cnn"))}
    cnn.update({"seed-" + k: v for k, v in seeds.items()})
    write_dir(os.path.join(FUZZ, "corpus", "cnn"), cnn, clean=False)
    write_dir(os.path.join(FUZZ, "corpus", "pipeline"),
              {"seed-" + k: v for k, v in seeds.items()}, clean=False)
    shutil.rmtree(os.path.join(FUZZ, "__pycache__"), ignore_errors=True)


if __name__ == "__main__":
    main()
