"""ONNX backend-test conformance: cnnc against Debian's libonnx-testdata.

For every node test and pytorch-converted test of an op cnnc imports
(docs/onnx.md), and every test_data_set in it: turn the graph inputs that
are weights (Conv's W, Gemm's B and C, ...) into initializers holding the
data set's values (cnnc compiles constant weights), compile model.onnx with
`cnnc MODEL.onnx -o m.c`, build it with gcc, run it on input_*.pb and
compare with output_*.pb: pass when max |out - ref| <= 1e-4 * max |ref|.
A model cnnc rejects is "unsupported", with cnnc's message as the reason.
The quantized ops' tests read or write int8 data, where cnnc's models read
and write float: their model gets a float input that a QuantizeLinear with
the test's scale and zero point turns into the int8 input, and a
DequantizeLinear of the int8 output; the runner feeds the dequantized input
and compares with the dequantized expected output (int8_io, float_io).

Writes the table of every test to --doc (docs/conformance.md), then fails
when a test fails, or when a test is unsupported that EXPECTED_UNSUPPORTED
does not list (or listed ones now pass: keep the list honest).
"""

import argparse
import concurrent.futures
import glob
import os
import re
import sys

import numpy as np

import onnxtest

try:
    import onnx
    from onnx import numpy_helper
except ImportError:
    print("FAIL: python3-onnx is missing (apt-get install python3-onnx)")
    sys.exit(1)

RTOL = 1e-4
DATA = "/usr/share/libonnx-testdata/data"

# Node tests: name prefix -> the op it tests (the graph must contain it;
# the *_expanded variants, written with other ops, are out of scope).
NODE_PREFIXES = {
    "add": "Add", "averagepool": "AveragePool", "basic_conv": "Conv",
    "batchnorm": "BatchNormalization", "concat": "Concat", "constant": "Constant",
    "conv": "Conv", "dropout": "Dropout", "training_dropout": "Dropout", "elu": "Elu",
    "flatten": "Flatten", "gemm": "Gemm", "globalaveragepool": "GlobalAveragePool",
    "identity": "Identity", "leakyrelu": "LeakyRelu", "matmul": "MatMul", "maxpool": "MaxPool",
    "relu": "Relu", "reshape": "Reshape", "selu": "Selu", "sigmoid": "Sigmoid",
    "softmax": "Softmax", "softplus": "Softplus", "tanh": "Tanh",
    "clip": "Clip", "hardsigmoid": "HardSigmoid", "hardswish": "HardSwish",
    "reduce_mean": "ReduceMean", "resize": "Resize", "upsample": "Upsample",
    "constant_pad": "Pad", "reflect_pad": "Pad", "edge_pad": "Pad",
    "layer_normalization": "LayerNormalization", "slice": "Slice", "split": "Split",
    "quantizelinear": "QuantizeLinear", "dequantizelinear": "DequantizeLinear",
    "qlinearconv": "QLinearConv", "qlinearmatmul": "QLinearMatMul",
}
SUPPORTED = set(NODE_PREFIXES.values())

# Inputs of these ops that are parameters: a graph input read only there
# becomes an initializer.
PARAM_INPUTS = {
    "Conv": {1, 2}, "Gemm": {1, 2}, "MatMul": {1}, "BatchNormalization": {1, 2, 3, 4},
    "Dropout": {1, 2}, "Reshape": {1}, "Pad": {1, 2, 3}, "Clip": {1, 2}, "ReduceMean": {1},
    "Resize": {1, 2, 3}, "Upsample": {1}, "LayerNormalization": {1, 2}, "Slice": {1, 2, 3, 4}, "Split": {1},
    "QuantizeLinear": {1, 2}, "DequantizeLinear": {1, 2}, "QLinearConv": {1, 2, 3, 4, 5, 6, 7, 8},
    "QLinearMatMul": {1, 2, 3, 4, 5, 6, 7},
}

def _each(names, reason):
    return {n: reason for n in names}


_3D = ["AvgPool3d", "AvgPool3d_stride", "AvgPool3d_stride1_pad0_gpu_input", "BatchNorm3d_eval",
       "BatchNorm3d_momentum_eval", "Conv3d", "Conv3d_dilated", "Conv3d_dilated_strided", "Conv3d_groups",
       "Conv3d_no_bias", "Conv3d_stride", "Conv3d_stride_padding", "MaxPool3d", "MaxPool3d_stride",
       "MaxPool3d_stride_padding"]
_CONCAT = ["1d_axis_0", "1d_axis_negative_1", "2d_axis_0", "2d_axis_1", "2d_axis_negative_1",
           "2d_axis_negative_2", "3d_axis_0", "3d_axis_1", "3d_axis_2", "3d_axis_negative_1",
           "3d_axis_negative_2", "3d_axis_negative_3"]

# Tests cnnc rejects on purpose, with the start of the reason it must give.
EXPECTED_UNSUPPORTED = {
    # a .cnn model reads one tensor and computes one
    **_each(["node/test_add", "node/test_add_bcast", "node/test_add_uint8"] +
            ["node/test_concat_" + c for c in _CONCAT], "the graph has 2 inputs"),
    "node/test_constant": "the graph has no input",
    **_each(["node/test_batchnorm_epsilon_training_mode", "node/test_batchnorm_example_training_mode"],
            "the graph has 3 outputs"),
    **_each(["node/test_dropout_default_mask", "node/test_dropout_default_mask_ratio",
             "node/test_training_dropout_default_mask", "node/test_training_dropout_mask",
             "node/test_training_dropout_zero_ratio_mask", "node/test_maxpool_with_argmax_2d_precomputed_pads",
             "node/test_maxpool_with_argmax_2d_precomputed_strides"], "the graph has 2 outputs"),
    # LayerNormalization's tests ask for its Mean and InvStdDev outputs too; Split's for several outputs
    **_each(["node/test_layer_normalization_" + t for t in
             ["2d_axis0", "2d_axis1", "2d_axis_negative_1", "2d_axis_negative_2", "3d_axis0_epsilon",
              "3d_axis1_epsilon", "3d_axis2_epsilon", "3d_axis_negative_1_epsilon", "3d_axis_negative_2_epsilon",
              "3d_axis_negative_3_epsilon", "4d_axis0", "4d_axis1", "4d_axis2", "4d_axis3", "4d_axis_negative_1",
              "4d_axis_negative_2", "4d_axis_negative_3", "4d_axis_negative_4", "default_axis"]],
            "the graph has 3 outputs"),
    **_each(["node/test_split_equal_parts_1d", "node/test_split_equal_parts_default_axis",
             "node/test_split_zero_size_splits"], "the graph has 3 outputs"),
    **_each(["node/test_split_equal_parts_2d", "node/test_split_variable_parts_1d", "node/test_split_variable_parts_2d",
             "node/test_split_variable_parts_default_axis"], "the graph has 2 outputs"),
    # cnnc slices the channels of [N, C, H, W]: these slice one [20, 10, 5] sample along several axes
    **_each(["node/test_slice" + t for t in
             ["", "_default_axes", "_default_steps", "_end_out_of_bounds", "_neg", "_neg_steps", "_negative_axes",
              "_start_out_of_bounds"]], "node 0 (Slice): input 'x' has shape [20, 10, 5]"),
    # 3-D data
    **_each(["node/test_averagepool_3d_default", "node/test_maxpool_3d_default"], "input 'x' has rank 5 (3-D data)"),
    **_each(["pytorch-converted/test_" + t for t in _3D], "input '0' has rank 5 (3-D data)"),
    # not float tensors of a fixed size
    "node/test_identity_opt": "input 'opt_in' has type that is not a tensor",
    "node/test_identity_sequence": "input 'x' has type that is not a tensor",
    "node/test_maxpool_2d_uint8": "input 'x' has type UINT8",
    **_each(["node/test_clip_default_int8_inbounds", "node/test_clip_default_int8_max",
             "node/test_clip_default_int8_min"], "input 'x' has type INT8"),
    **_each(["node/test_edge_pad", "node/test_reflect_pad"], "input 'x' has type INT32"),
    "node/test_reshape_allowzero_reordered": "input 'data': dimension 0 is 0",
    # no .cnn equivalent
    **_each(["node/test_gemm_all_attributes", "node/test_gemm_transposeA"],
            "node 0 (Gemm): attribute 'transA' = 1 is not supported"),
    "node/test_gemm_default_matrix_bias": "node 0 (Gemm): input 2 'c' [3, 4] gives each sample a different bias",
    **_each(["node/test_matmul_3d", "node/test_matmul_4d"], "node 0 (MatMul): input 0 'a' has shape"),
    **_each(["node/test_selu", "node/test_selu_example"], "node 0 (Selu): attribute 'alpha' = 2 is not supported"),
    # cnnc's mean is over H and W of [N, C, H, W]; these reduce [3, 2, 2] along other axes
    **_each(["node/test_reduce_mean_" + t for t in
             ["default_axes_keepdims_example", "default_axes_keepdims_random", "do_not_keepdims_example",
              "do_not_keepdims_random", "keepdims_example", "keepdims_random",
              "negative_axes_keepdims_example", "negative_axes_keepdims_random"]],
            "node 0 (ReduceMean): only the mean over H and W"),
    **_each(["node/test_training_dropout", "node/test_training_dropout_default"],
            "node 0 (Dropout): input 2 (training_mode) is true"),
    # Resize beyond PyTorch's nearest and bilinear (align_corners=False) by whole factors
    "node/test_resize_downsample_scales_cubic":
        "node 0 (Resize): mode 'cubic' with coordinate_transformation_mode 'half_pixel' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_downsample_scales_cubic_A_n0p5_exclude_outside":
        "node 0 (Resize): mode 'cubic' with coordinate_transformation_mode 'half_pixel' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_downsample_scales_cubic_align_corners":
        "node 0 (Resize): mode 'cubic' with coordinate_transformation_mode 'align_corners' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_downsample_scales_linear":
        "node 0 (Resize): scale 0.6 on axis 2",
    "node/test_resize_downsample_scales_linear_align_corners":
        "node 0 (Resize): mode 'linear' with coordinate_transformation_mode 'align_corners' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_downsample_scales_nearest":
        "node 0 (Resize): scale 0.6 on axis 2",
    "node/test_resize_downsample_sizes_cubic":
        "node 0 (Resize): mode 'cubic' with coordinate_transformation_mode 'half_pixel' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_downsample_sizes_linear_pytorch_half_pixel":
        "node 0 (Resize): scale 0.75 on axis 2",
    "node/test_resize_downsample_sizes_nearest":
        "node 0 (Resize): scale 0.5 on axis 2",
    "node/test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn":
        "node 2 (Resize): mode 'nearest' with coordinate_transformation_mode 'tf_half_pixel_for_nn' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_tf_crop_and_resize":
        "node 0 (Resize): mode 'linear' with coordinate_transformation_mode 'tf_crop_and_resize' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_upsample_scales_cubic":
        "node 0 (Resize): mode 'cubic' with coordinate_transformation_mode 'half_pixel' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_upsample_scales_cubic_A_n0p5_exclude_outside":
        "node 0 (Resize): mode 'cubic' with coordinate_transformation_mode 'half_pixel' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_upsample_scales_cubic_align_corners":
        "node 0 (Resize): mode 'cubic' with coordinate_transformation_mode 'align_corners' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_upsample_scales_cubic_asymmetric":
        "node 0 (Resize): mode 'cubic' with coordinate_transformation_mode 'asymmetric' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_upsample_scales_linear_align_corners":
        "node 0 (Resize): mode 'linear' with coordinate_transformation_mode 'align_corners' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_upsample_sizes_cubic":
        "node 0 (Resize): mode 'cubic' with coordinate_transformation_mode 'half_pixel' and nearest_mode 'round_prefer_floor'",
    "node/test_resize_upsample_sizes_nearest":
        "node 0 (Resize): scale 3.5 on axis 2",
    "node/test_resize_upsample_sizes_nearest_ceil_half_pixel":
        "node 0 (Resize): mode 'nearest' with coordinate_transformation_mode 'half_pixel' and nearest_mode 'ceil'",
    "node/test_resize_upsample_sizes_nearest_floor_align_corners":
        "node 0 (Resize): mode 'nearest' with coordinate_transformation_mode 'align_corners' and nearest_mode 'floor'",
    "node/test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric":
        "node 0 (Resize): mode 'nearest' with coordinate_transformation_mode 'asymmetric' and nearest_mode 'round_prefer_ceil'",
    "pytorch-converted/test_ReplicationPad2d":
        "node 0 (Pad): attribute 'mode' = 'edge'",
    "pytorch-converted/test_ZeroPad2d":
        "the graph's output comes from a Pad, which cnnc folds only i",
    # ops outside the list, in PyTorch modules that use a supported one
    **_each(["pytorch-converted/test_AvgPool1d", "pytorch-converted/test_AvgPool1d_stride"],
            "node 0 (Unsqueeze): op 'Unsqueeze' is supported only on constants"),
    "pytorch-converted/test_PixelShuffle": "node 1 (Reshape): Reshape of [1, 9, 4, 4] to [1, 1, 3, 3, 4, 4]",
    "pytorch-converted/test_Softmin": "node 0 (Neg): Neg is supported only inside",
    "pytorch-converted/test_Softsign": "node 0 (Abs): op 'Abs' is not supported",
    # quantized ops (int8 data in or out: wrapped in a QuantizeLinear / DequantizeLinear, see int8_io)
    **_each(["node/test_dequantizelinear_axis", "node/test_quantizelinear_axis"],
            "node 0 (QuantizeLinear): activation 'x"),
    "node/test_qlinearconv": "node 1 (QLinearConv): weight 'w' has zero point 127 (int8); cnnc's int8 weights are "
                             "symmetric",
    "node/test_qlinearmatmul_2D": "node 1 (QLinearMatMul): weight 'b' has zero point -14 (int8); cnnc's int8 "
                                  "weights are symmetric",
    "node/test_qlinearmatmul_3D": "node 1 (QLinearMatMul): input 0 'a' has rank 3",
}


def select_tests(data):
    tests = []
    for d in sorted(glob.glob(os.path.join(data, "node", "test_*"))):
        name = os.path.basename(d)[5:]
        ops = {n.op_type for n in onnx.load(os.path.join(d, "model.onnx")).graph.node}
        if any((name == p or name.startswith(p + "_")) and op in ops for p, op in NODE_PREFIXES.items()):
            tests.append(d)
    for d in sorted(glob.glob(os.path.join(data, "pytorch-converted", "test_*"))):
        ops = {n.op_type for n in onnx.load(os.path.join(d, "model.onnx")).graph.node}
        if ops & (SUPPORTED - {"Constant"}):
            tests.append(d)
    return tests


def param_inputs(model):
    """Names of graph inputs read only as parameters."""
    inits = {t.name for t in model.graph.initializer}
    uses = {}
    for n in model.graph.node:
        for k, name in enumerate(n.input):
            uses.setdefault(name, []).append(k in PARAM_INPUTS.get(n.op_type, ()))
    return [i.name for i in model.graph.input
            if i.name not in inits and uses.get(i.name) and all(uses[i.name])]


def load_pb(path):
    """The tensor in path, or None when it holds something else (a
    sequence or an optional: the model's input is then no tensor either)."""
    t = onnx.TensorProto()
    try:
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        return numpy_helper.to_array(t)
    except Exception:   # noqa: BLE001 - any decoding problem means "not a tensor"
        return None


def data_inputs(model):
    inits = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def with_params(model, values):
    """A copy of model whose inputs named in values are initializers."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = [i for i in m.graph.input if i.name not in values]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    for name, arr in values.items():
        m.graph.initializer.append(numpy_helper.from_array(arr, name))
    return m


# int8 data in and out (cnnc's models read and write float): the scale and
# zero point inputs of the op that reads the graph's input, or writes its
# output, by op type.
QIN = {"DequantizeLinear": (1, 2), "QLinearConv": (1, 2), "QLinearMatMul": (1, 2)}
QOUT = {"QuantizeLinear": (1, 2), "QLinearConv": (6, 7), "QLinearMatMul": (6, 7)}
INT8_TYPES = (onnx.TensorProto.UINT8, onnx.TensorProto.INT8)


def int8_io(model, values):
    """For a model with int8 data input or output: the scale and zero point
    (from values) of the input, and of the output; None where float."""
    def params(name, table, consumer):
        for n in model.graph.node:
            if n.op_type in table and (name in n.input[:1] if consumer else name in n.output):
                k = table[n.op_type]
                return values[n.input[k[0]]], values[n.input[k[1]]]
        return None
    ins = [i for i in model.graph.input if i.name not in values]
    outs = model.graph.output
    qin = params(ins[0].name, QIN, True) if ins and ins[0].type.tensor_type.elem_type in INT8_TYPES else None
    qout = params(outs[0].name, QOUT, False) if outs and outs[0].type.tensor_type.elem_type in INT8_TYPES \
        else None
    return qin, qout


def dequantize(q, sz):
    """(q - z) * s; several scales lie along axis 1 (the ops' default axis)."""
    s, z = (np.asarray(a, np.float64) for a in sz)
    if s.size > 1:
        shape = [1] * q.ndim
        shape[1] = s.size
        s, z = s.reshape(shape), z.reshape(shape)
    return (q.astype(np.float64) - z) * s


def float_io(model, qin, qout):
    """model with a float input x_f quantized by a QuantizeLinear into the
    int8 input, and a DequantizeLinear of the int8 output: the form in which
    cnnc compiles a quantized model."""
    g = model.graph
    for k, (sz, name) in enumerate(((qin, g.input), (qout, g.output))):
        if sz is None:
            continue
        io = [i for i in name if i.name not in {t.name for t in g.initializer}][0]
        s_name, z_name = "cnnc_wrap_s%d" % k, "cnnc_wrap_z%d" % k
        g.initializer.extend([numpy_helper.from_array(sz[0], s_name), numpy_helper.from_array(sz[1], z_name)])
        outer = io.name + "_float"
        if k == 0:
            g.node.insert(0, onnx.helper.make_node("QuantizeLinear", [outer, s_name, z_name], [io.name]))
        else:
            g.node.append(onnx.helper.make_node("DequantizeLinear", [io.name, s_name, z_name], [outer]))
        io.name = outer
        io.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    return model


def run_data_set(args, model, ds, work):
    names = data_inputs(model)
    arrays = [load_pb(p) for p in sorted(glob.glob(os.path.join(ds, "input_*.pb")),
                                         key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))]
    params = set(param_inputs(model))
    values = {n: a for n, a in zip(names, arrays) if n in params}
    feeds = [a for n, a in zip(names, arrays) if n not in params]
    refs = sorted(glob.glob(os.path.join(ds, "output_*.pb")))
    ref = load_pb(refs[0])
    m = with_params(model, values)
    qin, qout = int8_io(model, values)
    if qin is not None or qout is not None:
        m = float_io(m, qin, qout)
        if qin is not None and feeds and feeds[0] is not None:
            feeds[0] = dequantize(feeds[0], qin)
        if qout is not None and ref is not None:
            ref = dequantize(ref, qout)
    path = os.path.join(work, "model.onnx")
    onnx.save(m, path)
    exe = onnxtest.compile_onnx(args.cnnc, args.gcc, path, work)
    if len(feeds) != 1 or feeds[0] is None or ref is None:
        raise onnxtest.StepError("harness", "cannot feed %d data inputs" % len(feeds))
    got = onnxtest.run_exe(exe, feeds[0].astype(np.float32), onnxtest.header_size(work, "OUTPUT"))
    return onnxtest.rel_err(got, ref.astype(np.float64))


def run_test(args, d):
    rel = os.path.relpath(d, args.data)
    model = onnx.load(os.path.join(d, "model.onnx"))
    ops = " ".join(sorted({n.op_type for n in model.graph.node}))
    work = onnxtest.fresh_dir(os.path.join(args.workdir, rel.replace("/", "_")))
    worst = 0.0
    try:
        for ds in sorted(glob.glob(os.path.join(d, "test_data_set_*"))):
            worst = max(worst, run_data_set(args, model, ds, work))
    except onnxtest.StepError as e:
        if e.step == "cnnc":
            return rel, ops, "unsupported", e.message
        return rel, ops, "fail", str(e)
    if worst <= RTOL:
        return rel, ops, "pass", "max error %.1e" % worst
    return rel, ops, "fail", "max error %.3g (tolerance %g)" % (worst, RTOL)


def md_escape(s):
    return s.replace("|", "\\|").replace("\n", " ")


def write_doc(path, data, results):
    counts = {k: sum(1 for r in results if r[2] == k) for k in ("pass", "fail", "unsupported")}
    lines = [
        "# ONNX conformance",
        "",
        "Generated by `tests/onnx/run_conformance.py` (`ctest -L onnx`); do not edit.",
        "",
        "The node tests and pytorch-converted tests of Debian's libonnx-testdata",
        "(`%s`) for the ops cnnc imports (docs/onnx.md). Each model.onnx is" % data,
        "compiled by `cnnc MODEL.onnx -o m.c` (graph inputs that are weights, such",
        "as Conv's W, become initializers first), the C is built with gcc and run",
        "on every test_data_set; a test passes when max |out - ref| <= 1e-4 max |ref|",
        "on every set. Tests of int8 data (QuantizeLinear, DequantizeLinear,",
        "QLinearConv, QLinearMatMul) run with a QuantizeLinear of a float input and",
        "a DequantizeLinear of the int8 output added, on the dequantized data.",
        "Unsupported: cnnc rejects the model, with the reason shown",
        "(cnnc's own error message). Node tests named after a supported op are",
        "listed when their graph uses that op (the `_expanded` variants, written",
        "with other ops, are not); pytorch-converted tests when their graph uses any",
        "supported op.",
        "",
        "**%d tests: %d pass, %d fail, %d unsupported.**" % (
            len(results), counts["pass"], counts["fail"], counts["unsupported"]),
        "",
    ]
    reasons = {}
    for rel, _, res, detail in results:
        if res == "unsupported":
            reasons.setdefault(re.sub(r"^node \d+ (?:'[^']*' )?\((\w+)\)", r"\1", detail), []).append(rel)
    if reasons:
        lines += ["Unsupported, by reason:", "", "| tests | reason |", "|---|---|"]
        for reason, rels in sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            lines.append("| %d | %s |" % (len(rels), md_escape(reason)))
        lines.append("")
    lines += ["| test | ops | result | detail |", "|---|---|---|---|"]
    for rel, ops, res, detail in results:
        lines.append("| %s | %s | %s | %s |" % (rel, ops, res, md_escape(detail)))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return counts


def check(results):
    bad = []
    for rel, _, res, detail in results:
        want = EXPECTED_UNSUPPORTED.get(rel)
        if res == "fail":
            bad.append("%s: FAIL %s" % (rel, detail))
        elif res == "unsupported" and (want is None or not detail.startswith(want)):
            bad.append("%s: unexpectedly unsupported: %s" % (rel, detail))
        elif res == "pass" and want is not None:
            bad.append("%s: passes now; remove it from EXPECTED_UNSUPPORTED" % rel)
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--gcc", default="gcc")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--doc", required=True, help="where to write the table (docs/conformance.md)")
    ap.add_argument("--workdir", default="conformance-work")
    ap.add_argument("--only", default=None, help="regex: run only matching tests (no doc written)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    onnxtest.require([args.cnnc, args.gcc])
    if not os.path.isdir(args.data):
        print("FAIL: %s is missing (apt-get install libonnx-testdata)" % args.data)
        return 1
    onnxtest.fresh_dir(args.workdir)
    tests = select_tests(args.data)
    if args.only:
        tests = [t for t in tests if re.search(args.only, t)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda d: run_test(args, d), tests))
    for r in results:
        print("%-60s %-11s %s" % (r[0], r[2], r[3]))
    if not args.only:
        counts = write_doc(args.doc, args.data, results)
        print("%d tests: %d pass, %d fail, %d unsupported; table in %s" % (
            len(results), counts["pass"], counts["fail"], counts["unsupported"], args.doc))
    bad = check(results)
    for b in bad:
        print("FAIL: " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
