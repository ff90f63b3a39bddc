"""Mobile-CNN and decoder blocks written in torch.nn (torchvision is not packaged in
Debian 12: these are its blocks' shapes), exported by torch.onnx.export at
opsets 11, 13 and 17, compiled by cnnc, built with gcc and run: the output
must equal PyTorch's within 1e-5 (relative to its largest magnitude).

    test_mobile.py --cnnc build/compiler/cnnc --gcc gcc --workdir DIR
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn

import onnxtest

TOL = 1e-5
torch.manual_seed(13)


class InvertedResidual(nn.Module):
    """MobileNet v2: 1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 project, residual."""
    def __init__(self, c=8, e=4):
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(c, c * e, 1, bias=False), nn.BatchNorm2d(c * e), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(c * e, c * e, 3, padding=1, groups=c * e), nn.ReLU6())
        self.project = nn.Conv2d(c * e, c, 1)

    def forward(self, x):
        return x + self.project(self.dw(self.expand(x)))


class SqueezeExcite(nn.Module):
    """MobileNet v3: mean over H, W, reduce + ReLU, expand + Hardsigmoid, scale, Hardswish."""
    def __init__(self, c=8):
        super().__init__()
        self.reduce = nn.Conv2d(c, c // 4, 1)
        self.expand = nn.Conv2d(c // 4, c, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        s = nn.functional.hardsigmoid(self.expand(torch.relu(self.reduce(s))))
        return nn.functional.hardswish(x * s)


class ClampSub(nn.Module):
    """clamp with one and two bounds, and a per-channel sub."""
    def __init__(self, c=8):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        y = torch.clamp(self.conv(x), min=-0.25, max=0.5)
        y = torch.clamp(y - x.mean((2, 3), keepdim=True), max=0.3)
        return torch.clamp(y * x, min=-0.1)


class Decoder(nn.Module):
    """Segmentation-decoder steps: reflect and constant Pad, nearest and
    bilinear (align_corners=False) upsampling, convs between."""
    def __init__(self, c=8):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3)
        self.conv2 = nn.Conv2d(c, 4, 1)

    def forward(self, x):
        y = self.conv(nn.functional.pad(x, (1, 2, 1, 1), mode="reflect"))
        y = nn.functional.interpolate(y, scale_factor=2, mode="nearest")
        y = nn.functional.pad(y, (0, 1, 2, 0), value=0.5)
        y = nn.functional.interpolate(self.conv2(y), scale_factor=(2, 3), mode="bilinear",
                                      align_corners=False)
        return y


class ConvNeXtMlp(nn.Module):
    """ConvNeXt's pointwise MLP: 1x1 expand, GELU (exported as Div, Erf, Add,
    Mul, Mul), 1x1 project, residual."""
    def __init__(self, c=8):
        super().__init__()
        self.expand = nn.Conv2d(c, 4 * c, 1)
        self.project = nn.Conv2d(4 * c, c, 1)

    def forward(self, x):
        return x + self.project(nn.functional.gelu(self.expand(x)))


class Normalize(nn.Module):
    """Input normalization (x - mean) / std per channel, a layer scale
    (x * gamma per channel, ConvNeXt) and a per-channel constant added to
    a non-conv result: each a Sub, Div, Mul or Add of a constant."""
    def __init__(self, c=8):
        super().__init__()
        self.mean = torch.linspace(-0.5, 0.5, c).reshape(1, c, 1, 1)
        self.std = torch.linspace(0.5, 2.0, c).reshape(1, c, 1, 1)
        self.gamma = torch.linspace(-1.0, 1.0, c).reshape(c, 1, 1)
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        y = self.conv((x - self.mean) / self.std)
        return torch.relu(y * self.gamma) + self.mean


class ShuffleUnit(nn.Module):
    """ShuffleNet v1 unit: grouped 1x1, channel shuffle written as
    view/transpose/view (Reshape, Transpose, Reshape), depthwise 3x3,
    grouped 1x1, residual."""
    def __init__(self, c=8, g=2):
        super().__init__()
        self.g = g
        self.gconv1 = nn.Conv2d(c, c, 1, groups=g)
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.gconv2 = nn.Conv2d(c, c, 1, groups=g)

    def forward(self, x):
        y = torch.relu(self.gconv1(x))
        n, c, h, w = y.shape
        y = y.view(n, self.g, c // self.g, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return torch.relu(x + self.gconv2(self.dw(y)))


BLOCKS = {"inverted_residual": InvertedResidual, "squeeze_excite": SqueezeExcite, "clamp_sub": ClampSub,
          "decoder": Decoder, "convnext_mlp": ConvNeXtMlp,
          "normalize": Normalize, "shuffle_unit": ShuffleUnit}


def run_block(args, name, net, opset):
    work = onnxtest.fresh_dir(os.path.join(args.workdir, "%s_op%d" % (name, opset)))
    x = np.random.default_rng(opset).normal(size=(1, 8, 6, 7)).astype(np.float32) * 3
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    path = os.path.join(work, name + ".onnx")
    with open(path, "wb") as f:
        torch.onnx.export(net, torch.from_numpy(x), f, opset_version=opset,
                          input_names=["input"], output_names=["output"])
    exe = onnxtest.compile_onnx(args.cnnc, args.gcc, path, work)
    return onnxtest.rel_err(onnxtest.run_exe(exe, x, ref.size), ref)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--gcc", default="gcc")
    ap.add_argument("--workdir", default="mobile-work")
    args = ap.parse_args()
    onnxtest.require([args.cnnc, args.gcc])
    onnxtest.fresh_dir(args.workdir)
    failures = 0
    for name, cls in BLOCKS.items():
        net = cls().eval()
        for opset in (11, 13, 17):
            try:
                err = run_block(args, name, net, opset)
                ok = err <= TOL
                print("%-18s opset %d: max error %.2e %s" % (name, opset, err, "ok" if ok else "FAIL"))
            except onnxtest.StepError as e:
                ok = False
                print("%-18s opset %d: FAIL %s" % (name, opset, e))
            failures += not ok
    print("mobile: %d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
