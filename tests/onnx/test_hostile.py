"""Hostile and broken ONNX files: cnnc must reject each one cleanly.

Every case is built here byte by byte (a small protobuf encoder, no
python3-onnx), written to CASE.onnx and compiled with `cnnc CASE.onnx -o
CASE.c`. cnnc must exit with status 1, print exactly the expected
diagnostic, and write neither CASE.c nor CASE.h. The same files also go
through `cnnc import CASE.onnx -o CASE.cnn`, which must fail the same way and
write no .cnn or .safetensors file.
"""

import argparse
import os
import struct
import sys

import onnxtest


# ---- a minimal protobuf encoder ----

def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(field, wire):
    return varint(field << 3 | wire)


def ld(field, payload):
    """A length-delimited field (message, string or bytes)."""
    if isinstance(payload, str):
        payload = payload.encode()
    return tag(field, 2) + varint(len(payload)) + payload


def vi(field, n):
    return tag(field, 0) + varint(n)


def f32(field, x):
    return tag(field, 5) + struct.pack("<f", x)


def packed_varints(field, values):
    return ld(field, b"".join(varint(v) for v in values))


# ---- ONNX messages (field numbers from onnx.proto) ----

def tensor(name, dims, floats=None, raw=None, dtype=1):
    b = b"".join(vi(1, d) for d in dims) + vi(2, dtype) + ld(8, name)
    if floats is not None:
        b += ld(4, struct.pack("<%df" % len(floats), *floats))
    if raw is not None:
        b += ld(9, raw)
    return b


def value_info(name, dims, elem=1):
    shape = b"".join(ld(1, vi(1, d)) for d in dims)
    return ld(1, name) + ld(2, ld(1, vi(1, elem) + ld(2, shape)))


def node(op, inputs, outputs, name="", attrs=b""):
    return (b"".join(ld(1, i) for i in inputs) + b"".join(ld(2, o) for o in outputs) +
            ld(3, name) + ld(4, op) + attrs)


def attr_ints(name, values):
    return ld(5, ld(1, name) + vi(20, 7) + b"".join(vi(8, v) for v in values))


def attr_string(name, value):
    return ld(5, ld(1, name) + vi(20, 3) + ld(4, value))


def int64s(name, values):
    return tensor(name, [len(values)], raw=struct.pack("<%dq" % len(values), *values), dtype=7)


def one_node(op, inputs, shape, inits=(), opset=13, attrs=b""):
    """A model of one node named 'n' on input x of the given shape."""
    return model(graph([node(op, inputs, ["y"], name="n", attrs=attrs)], inits, [value_info("x", shape)],
                       [value_info("y", [1])]), opset)


def graph(nodes=(), inits=(), inputs=(), outputs=()):
    return (b"".join(ld(1, n) for n in nodes) + b"".join(ld(5, t) for t in inits) +
            b"".join(ld(11, v) for v in inputs) + b"".join(ld(12, v) for v in outputs))


def model(g, opset=13):
    return vi(1, 8) + ld(2, "hostile") + ld(7, g) + ld(8, vi(2, opset))


def relu_model(**kw):
    return model(graph([node("Relu", ["x"], ["y"], **kw)], inputs=[value_info("x", [1, 4])],
                       outputs=[value_info("y", [1, 4])]))


def nested_graphs(depth):
    """A node whose attribute holds a graph whose node holds a graph ...
    Returns the model and the offset of every node's length varint,
    outermost first."""
    levels = []
    g = graph()
    for _ in range(depth):
        head = ld(1, "c") + ld(2, "o") + ld(3, "") + ld(4, "If")
        attr = ld(1, "then_branch") + vi(20, 5) + ld(6, g)
        nd = head + ld(5, attr)
        levels.append((len(nd), head, attr, g))
        g = ld(1, nd)
    m = model(g)
    offsets, pos = [], HEADER + 1 + len(varint(len(g)))    # the outer graph's content
    for n_len, head, attr, inner in reversed(levels):
        offsets.append(pos + 1)                              # after the node's tag
        pos += 1 + len(varint(n_len)) + len(head) + 1 + len(varint(len(attr)))
        pos += len(ld(1, "then_branch") + vi(20, 5)) + 1 + len(varint(len(inner)))
    return m, offsets


HEADER = len(vi(1, 8) + ld(2, "hostile"))   # bytes before the graph's tag
GRAPH = HEADER + 2                           # its content, when shorter than 128 bytes


# (name, bytes, expected diagnostic text after "NAME.onnx: error: ")
def cases():
    good = relu_model()
    glen = len(good) - HEADER - 2 - len(ld(8, vi(2, 13)))
    bad_w = tensor("w", [2, 2], raw=b"\0" * 12)
    relu = node("Relu", ["x"], ["y"])
    deep, offsets = nested_graphs(40)
    nodes = (1 << 18) + 1
    big = HEADER + 1 + len(varint(2 * nodes))
    w2 = tensor("w", [2])
    return [
        ("empty", b"", "invalid ONNX file: no graph (is this an ONNX model?)"),
        ("truncated-model", good[:len(good) // 2],
         "invalid ONNX file: length %d runs past the end of its message (%d bytes left) at byte %d (in ModelProto)"
         % (glen, len(good) // 2 - GRAPH, HEADER + 1)),
        ("truncated-varint", b"\x08\x80", "invalid ONNX file: truncated varint at byte 1 (in ModelProto)"),
        ("varint-11-bytes", b"\x08" + b"\xff" * 10 + b"\x01",
         "invalid ONNX file: varint longer than 10 bytes at byte 1 (in ModelProto)"),
        ("varint-overflow", b"\x08" + b"\xff" * 9 + b"\x02",
         "invalid ONNX file: varint overflows 64 bits at byte 1 (in ModelProto)"),
        ("huge-length", tag(7, 2) + varint(1 << 62),
         "invalid ONNX file: length 4611686018427387904 runs past the end of its message (0 bytes left) "
         "at byte 1 (in ModelProto)"),
        ("huge-inner-length", model(tag(1, 2) + varint(1 << 40)),
         "invalid ONNX file: length 1099511627776 runs past the end of its message (0 bytes left) "
         "at byte %d (in ModelProto.graph)" % (GRAPH + 1)),
        ("group-wire-type", tag(7, 3), "invalid ONNX file: field 7 uses a group (wire type 3), which ONNX never "
         "does at byte 0 (in ModelProto)"),
        ("bad-wire-type", tag(7, 7), "invalid ONNX file: field 7 has invalid wire type 7 at byte 0 (in ModelProto)"),
        ("field-zero", b"\x00\x00", "invalid ONNX file: field number 0 at byte 0 (in ModelProto)"),
        ("graph-as-varint", vi(7, 1), "invalid ONNX file: field 'graph' has wire type 0, expected 2 at byte 1 "
         "(in ModelProto)"),
        ("deep-nesting", deep,
         "invalid ONNX file: messages nested deeper than 16 levels at byte %d (in ModelProto.graph.node[0]"
         ".attribute[0].g.node[0].attribute[0].g.node[0].attribute[0].g.node[0].attribute[0].g.node[0]"
         ".attribute[0].g)" % offsets[5]),
        ("nul-in-name", relu_model(name="re\0lu"), "invalid ONNX file: string 'name' contains a NUL byte "
         "at byte %d (in ModelProto.graph.node[0])" % (GRAPH + 2 + 6 + 1)),
        ("raw-data-short", model(graph([relu], [bad_w], [value_info("x", [1, 4])], [value_info("y", [1, 4])])),
         "invalid ONNX file: tensor 'w' has 3 values, its dims give 4 at byte %d (in ModelProto.graph"
         ".initializer[0])" % (GRAPH + len(ld(1, relu)) + 2)),
        ("tensor-2^80-elements", model(graph(inits=[tensor("w", [1 << 40, 1 << 40])])),
         "invalid ONNX file: tensor has more than 2^40 elements at byte %d (in ModelProto.graph.initializer[0])"
         % (GRAPH + 2)),
        ("tensor-9-dims", model(graph(inits=[tensor("w", [1] * 9, floats=[0.0])])),
         "invalid ONNX file: tensor has 9 dimensions, more than 8 at byte %d (in ModelProto.graph.initializer[0])"
         % (GRAPH + 2)),
        ("negative-dim", model(graph(inputs=[value_info("x", [(1 << 64) - 1])])),
         "invalid ONNX file: field 'dim_value' is -1, outside [0, 1099511627776] at byte %d (in ModelProto.graph"
         ".input[0].type.tensor_type.shape.dim[0])" % (GRAPH + 2 + 3 + 2 + 2 + 2 + 2 + 2 + 1)),
        ("too-many-nodes", model(graph([b""] * nodes)),
         "invalid ONNX file: more than 262144 entries in 'node' at byte %d (in ModelProto.graph)"
         % (big + 2 * (nodes - 1) + 1)),
        ("node-cycle", model(graph([node("Relu", ["y"], ["y"])], inputs=[value_info("x", [1, 4])],
                                   outputs=[value_info("y", [1, 4])])),
         "node 0 (Relu): input 0 'y' is used before the node that produces it (nodes must be in topological order)"),
        ("symbolic-batch", model(graph([relu], inputs=[ld(1, "x") + ld(2, ld(1, vi(1, 1) + ld(2, ld(1, ld(2, "N")))))],
                                       outputs=[value_info("y", [1])])),
         "input 'x': dimension 0 is 'N'; cnnc needs fixed sizes from 1 to 1048576 (export with a fixed batch size)"),
        ("unknown-op", model(graph([node("Frobnicate", ["x"], ["y"], name="f")], inputs=[value_info("x", [1, 4])],
                                   outputs=[value_info("y", [1, 4])])),
         "node 0 'f' (Frobnicate): op 'Frobnicate' is not supported (docs/onnx.md lists the supported ops)"),
        ("bad-attribute", model(graph([node("MaxPool", ["x"], ["y"], name="p", attrs=attr_ints("kernel_shape", [2, 2])
                                            + attr_ints("frobs", [1]))],
                                      inputs=[value_info("x", [1, 1, 4, 4])], outputs=[value_info("y", [1])])),
         "node 0 'p' (MaxPool): attribute 'frobs' is not supported"),
        ("fp16-weights", model(graph([node("Conv", ["x", "w"], ["y"], name="c")],
                                     [tensor("w", [1, 1, 1, 1], raw=b"\0\0", dtype=10)],
                                     [value_info("x", [1, 1, 4, 4])], [value_info("y", [1])])),
         "node 0 'c' (Conv): input 1 'w' has dtype FLOAT16; cnnc reads FLOAT (and INT64 for shapes)"),
        ("packed-floats-7-bytes", model(graph(inits=[w2 + ld(4, b"\0" * 7)])),
         "invalid ONNX file: 'float_data' holds 7 bytes, not a multiple of 4 at byte %d (in ModelProto.graph"
         ".initializer[0])" % (GRAPH + 2 + len(w2) + 1)),
        # patterns of whole networks (ConvNeXt, ShuffleNet) that cnnc recognises, broken
        ("transpose-other-perm", one_node("Transpose", ["x"], [1, 2, 3, 4], attrs=attr_ints("perm", [0, 3, 2, 1])),
         "node 0 'n' (Transpose): perm [0, 3, 2, 1] of 'x' [1, 2, 3, 4] is not supported: cnnc transposes a "
         "feature map only to channels-last and back (perm [0, 2, 3, 1], then [0, 3, 1, 2])"),
        ("channels-last-output", one_node("Transpose", ["x"], [1, 2, 3, 4], attrs=attr_ints("perm", [0, 2, 3, 1])),
         "the graph's output is channels-last (a Transpose perm [0, 2, 3, 1] of a feature map); cnnc's outputs "
         "are [N, C, H, W]"),
        ("channels-last-pool", model(graph([node("Transpose", ["x"], ["t"], attrs=attr_ints("perm", [0, 2, 3, 1])),
                                            node("MaxPool", ["t"], ["y"], name="p",
                                                 attrs=attr_ints("kernel_shape", [2, 2]))],
                                           inputs=[value_info("x", [1, 2, 4, 4])], outputs=[value_info("y", [1])])),
         "node 1 'p' (MaxPool): input 0 't' is channels-last (Transpose perm [0, 2, 3, 1]); there cnnc supports "
         "elementwise ops, a LayerNorm or MatMul over the channels, and the Transpose back"),
        ("layernorm-broken", model(graph([node("ReduceMean", ["x"], ["m"], attrs=attr_ints("axes", [1])),
                                          node("Sub", ["x", "m"], ["d"]), node("Sqrt", ["d"], ["y"], name="s")],
                                         inputs=[value_info("x", [1, 2, 4, 4])], outputs=[value_info("y", [1])])),
         "node 2 's' (Sqrt): Sqrt is supported only inside (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) "
         "over the channels, cnnc's layernorm"),
        ("layernorm-over-w", one_node("LayerNormalization", ["x", "w"], [1, 2, 3, 4], [tensor("w", [4], [1.0] * 4)],
                                      opset=17),
         "node 0 'n' (LayerNormalization): a LayerNormalization over axes 3.. of [1, 2, 3, 4] is not supported: "
         "cnnc's layernorm normalizes over the channels (the last axis after a Transpose perm [0, 2, 3, 1], "
         "or of a batch of vectors)"),
        ("reduce-mean-batch", one_node("ReduceMean", ["x"], [2, 3, 4, 4], attrs=attr_ints("axes", [0])),
         "node 0 'n' (ReduceMean): only the mean over H and W of [N, C, H, W] (or L of [N, C, L]) is supported "
         "(cnnc's mean), over axes of size 1, or over the channels inside a layer norm; here over 1 of the axes "
         "of [2, 3, 4, 4]"),
        ("pad-edge", one_node("Pad", ["x", "p"], [1, 2, 4, 4], [int64s("p", [0, 0, 1, 1, 0, 0, 1, 1])],
                              attrs=attr_string("mode", "edge")),
         "node 0 'n' (Pad): attribute 'mode' = 'edge' is not supported (only constant and reflect)"),
        ("slice-rows", one_node("Slice", ["x", "s", "e", "a"], [1, 2, 4, 4],
                                [int64s("s", [0]), int64s("e", [2]), int64s("a", [2])]),
         "node 0 'n' (Slice): a Slice of [1, 2, 4, 4] to [0, 2) on axis 2 is not supported: cnnc takes a "
         "non-empty range of the channels (axis 1)"),
        ("packed-dims-truncated", model(graph(inits=[ld(1, b"\x02\x80") + vi(2, 1) + ld(8, "w")])),
         "invalid ONNX file: truncated varint at byte %d (in ModelProto.graph.initializer[0])" % (GRAPH + 2 + 3)),
    ]


# The same Conv model with its repeated fields written each way protobuf
# allows: one element per field or packed (dims, float_data, attribute ints),
# and the weights as raw_data. Every form must compile to the same C.
CONV_W = [0.5, -1.25, 2.0, 0.375]


def conv_model(packed_dims=False, weights="packed", packed_attr=False):
    dims = [1, 1, 2, 2]
    t = packed_varints(1, dims) if packed_dims else b"".join(vi(1, d) for d in dims)
    t += vi(2, 1) + ld(8, "w")
    if weights == "packed":
        t += ld(4, struct.pack("<4f", *CONV_W))
    elif weights == "unpacked":
        t += b"".join(f32(4, x) for x in CONV_W)
    else:
        t += ld(9, struct.pack("<4f", *CONV_W))
    ks = ld(1, "kernel_shape") + vi(20, 7)
    ks += packed_varints(8, [2, 2]) if packed_attr else vi(8, 2) + vi(8, 2)
    n = node("Conv", ["x", "w"], ["y"], name="c", attrs=ld(5, ks))
    return model(graph([n], [t], [value_info("x", [1, 1, 3, 3])], [value_info("y", [1, 1, 2, 2])]))


ENCODINGS = [
    ("raw", conv_model(weights="raw")),
    ("packed", conv_model(packed_dims=True, weights="packed", packed_attr=True)),
    ("unpacked", conv_model(weights="unpacked")),
    ("mixed", conv_model(packed_dims=True, weights="unpacked")),
]


def check_encodings(args):
    """Compiles every form of conv_model; returns the problems."""
    problems, outputs = [], {}
    for form, data in ENCODINGS:
        d = os.path.join(args.workdir, "enc-" + form)
        os.makedirs(d)
        with open(os.path.join(d, "conv.onnx"), "wb") as f:
            f.write(data)
        rc, _, err = onnxtest.run_cnnc(args.cnnc, ["conv.onnx", "-o", "conv.c"], cwd=d)
        if rc != 0:
            problems.append("%s: exit status %d: %s" % (form, rc, err))
            continue
        with open(os.path.join(d, "conv.c")) as f:
            outputs[form] = f.read()
    for form, text in outputs.items():
        if text != outputs.get("raw"):
            problems.append("%s: the C differs from the raw_data form's" % form)
    bits = c_literal_bytes(struct.pack("<f", CONV_W[1]))
    if "raw" in outputs and bits not in outputs["raw"]:
        problems.append("raw: the weight %g (%s) is not in the C" % (CONV_W[1], bits))
    return problems


def c_literal_bytes(data):
    """Bytes as the emitted C spells them in its weight literals
    (docs/emitted-c.md): printable as itself, else a 3-digit octal escape."""
    return "".join(chr(c) if 32 <= c < 127 and chr(c) not in '"\\?' else "\\%03o" % c
                   for c in data)


def check_case(args, name, data, expected):
    problems = []
    path = name + ".onnx"
    with open(os.path.join(args.workdir, path), "wb") as f:
        f.write(data)
    want = "%s: error: %s\n" % (path, expected)
    for form, out, files in (("compile", name + ".c", [name + ".c", name + ".h"]),
                             ("import", name + ".cnn", [name + ".cnn", name + ".safetensors"])):
        argv = [path, "-o", out] if form == "compile" else ["import", path, "-o", out]
        rc, _, err = onnxtest.run_cnnc(args.cnnc, argv, cwd=args.workdir)
        if rc != 1:
            problems.append("%s: exit status %d, expected 1" % (form, rc))
        if err != want:
            problems.append("%s: stderr\n    %r\n  expected\n    %r" % (form, err, want))
        written = [f for f in files if os.path.exists(os.path.join(args.workdir, f))]
        if written:
            problems.append("%s: wrote %s" % (form, ", ".join(written)))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--workdir", default="hostile-work")
    args = ap.parse_args()
    onnxtest.require([args.cnnc])
    args.workdir = onnxtest.fresh_dir(args.workdir)
    failures = 0
    for name, data, expected in cases():
        problems = check_case(args, name, data, expected)
        print("%-22s %s" % (name, "ok" if not problems else "FAIL"))
        for p in problems:
            print("  " + p)
        failures += bool(problems)
    problems = check_encodings(args)
    print("%-22s %s" % ("encodings", "ok" if not problems else "FAIL"))
    for p in problems:
        print("  " + p)
    failures += bool(problems)
    print("%d cases, %d failures" % (len(cases()) + 1, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
