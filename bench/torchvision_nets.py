"""torchvision_nets: squeezenet1_1, resnet18, mobilenet_v2, googlenet,
densenet121 and resnet50 in torch.nn.

torchvision is not packaged in Debian 12, so the benchmark builds these
ImageNet networks itself, layer for layer as torchvision 0.14's
models/{squeezenet,resnet,mobilenetv2,googlenet,densenet}.py define them
(googlenet without its training-only auxiliary heads; 1000 classes,
input [1, 3, 224, 224]). Consumes a seed; produces a module in eval mode
with random weights: PyTorch's default initialization from that seed, and
every BatchNorm given random affine parameters and running statistics, so
that folding a BatchNorm is not a no-op (googlenet's and densenet121's,
built by torchnets.build, measured on random data first, then perturbed:
densenet's normalizations are not folded, so their statistics keep the
activations in range). export_onnx writes the ONNX file
(opset 13) that `cnnc import` and ONNX Runtime both read.
"""

import os
import sys
import warnings

import torch
from torch import nn

INPUT_SHAPE = (1, 3, 224, 224)
NETWORKS = ("squeezenet1_1", "resnet18", "mobilenet_v2", "googlenet", "densenet121",
            "resnet50")


# ---------------------------------------------------------------- squeezenet1_1

class Fire(nn.Module):
    """A 1x1 squeeze, then 1x1 and 3x3 expands concatenated."""

    def __init__(self, inplanes, squeeze, expand1x1, expand3x3):
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet11(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5), nn.Conv2d(512, num_classes, kernel_size=1),
            nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


# ---------------------------------------------------------------- resnet18

def conv3x3(inp, out, stride=1):
    return nn.Conv2d(inp, out, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self.stage(64, 64, 1)
        self.layer2 = self.stage(64, 128, 2)
        self.layer3 = self.stage(128, 256, 2)
        self.layer4 = self.stage(256, 512, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    @staticmethod
    def stage(inplanes, planes, stride):
        return nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Bottleneck(nn.Module):
    """resnet50's block: 1x1 down to planes, 3x3 (the stride here, as
    torchvision's v1.5), 1x1 up to 4 * planes, plus the shortcut."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        width, out = planes, planes * 4
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, out, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet50(ResNet18):
    """ResNet18's stem and head around stages of 3, 4, 6, 3 bottlenecks."""

    def __init__(self, num_classes=1000):
        super().__init__(num_classes)
        self.layer1 = self.bottlenecks(64, 64, 3, 1)
        self.layer2 = self.bottlenecks(256, 128, 4, 2)
        self.layer3 = self.bottlenecks(512, 256, 6, 2)
        self.layer4 = self.bottlenecks(1024, 512, 3, 2)
        self.fc = nn.Linear(2048, num_classes)

    @staticmethod
    def bottlenecks(inplanes, planes, n, stride):
        blocks = [Bottleneck(inplanes, planes, stride)]
        blocks += [Bottleneck(planes * 4, planes) for _ in range(n - 1)]
        return nn.Sequential(*blocks)


# ---------------------------------------------------------------- mobilenet_v2

def conv_bn_relu6(inp, out, kernel=3, stride=1, groups=1):
    """torchvision's Conv2dNormActivation with BatchNorm2d and ReLU6."""
    return nn.Sequential(
        nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = [conv_bn_relu6(inp, hidden, kernel=1)] if expand_ratio != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    # expansion t, channels c, repeats n, first stride s (width 1.0: the
    # channels are already multiples of 8)
    SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        inp, last = 32, 1280
        features = [conv_bn_relu6(3, inp, stride=2)]
        for t, c, n, s in self.SETTING:
            for i in range(n):
                features.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        features.append(conv_bn_relu6(inp, last, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=0.2), nn.Linear(last, num_classes))

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# ---------------------------------------------------------------- building

CLASSES = {"squeezenet1_1": SqueezeNet11, "resnet18": ResNet18, "mobilenet_v2": MobileNetV2,
           "resnet50": ResNet50}
# googlenet and densenet121 come from tests/onnx/torchnets.py, whose
# definitions the ONNX import tests check against torchvision's layer by layer.
FROM_TORCHNETS = ("googlenet", "densenet121")


def randomize_batchnorms(net, gen):
    """Random scale, shift and running statistics for every BatchNorm."""
    for mod in net.modules():
        if isinstance(mod, nn.BatchNorm2d):
            n = mod.num_features
            mod.weight.data = torch.rand(n, generator=gen) + 0.5
            mod.bias.data = torch.randn(n, generator=gen) * 0.1
            mod.running_mean = torch.randn(n, generator=gen) * 0.1
            mod.running_var = torch.rand(n, generator=gen) + 0.5


def build(name, seed=1):
    """The named network with seeded random weights, in eval mode."""
    torch.manual_seed(seed)
    if name in FROM_TORCHNETS:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                        "onnx"))
        import torchnets
        return torchnets.build(name, seed=seed, size=INPUT_SHAPE[2])
    net = CLASSES[name]()
    randomize_batchnorms(net, torch.Generator().manual_seed(seed))
    return net.eval()


def export_onnx(net, path):
    """net to ONNX, opset 13, batch 1, constant folding (BatchNorms stay
    nodes or fold into their Conv as torch.onnx decides; cnnc imports both)."""
    x = torch.zeros(INPUT_SHAPE)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, x, path, opset_version=13, input_names=["input"],
                          output_names=["output"], do_constant_folding=True)
