"""torchnets: torchvision's classification CNNs written again in torch.nn.

torchvision is not packaged in Debian 12 (and PyPI is out of reach), so the
test of whole networks (test_nets.py) builds them from these definitions,
which follow torchvision's (v0.14-0.16) module by module: the same block
structure, widths, kernel sizes, strides, activations, squeeze-and-excitation
blocks, BatchNorm epsilons, layer scales and classifier heads. Dropout and
stochastic depth are identities in eval mode and are left out; GoogLeNet's
auxiliary classifiers run only in training and are left out too.

    net = torchnets.build("mobilenet_v2", seed=1)   # eval mode, random weights

build() gives every parameter a seeded random value and every BatchNorm
random running statistics (calibrated to the data so the activations keep
their scale, then perturbed), so BatchNorm folding is exercised with
statistics that are not the identity.
"""

import math
from collections import OrderedDict
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F


def _make_divisible(v, divisor, min_value=None):
    """torchvision.models._utils._make_divisible."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvNormAct(nn.Sequential):
    """torchvision.ops.Conv2dNormActivation: conv (bias only without a norm),
    norm, activation; padding (k - 1) // 2 * dilation by default."""

    def __init__(self, cin, cout, kernel_size=3, stride=1, padding=None, groups=1,
                 norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1, bias=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [nn.Conv2d(cin, cout, kernel_size, stride, padding, dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(cout))
        if activation_layer is not None:
            layers.append(activation_layer())
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation: avgpool, fc1, activation, fc2,
    scale activation, times the input."""

    def __init__(self, cin, csq, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(cin, csq, 1)
        self.fc2 = nn.Conv2d(csq, cin, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return s * x


# ---- MobileNet v2 ----

class MV2Block(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvNormAct(inp, hidden, 1, activation_layer=nn.ReLU6))
        layers += [ConvNormAct(hidden, hidden, stride=stride, groups=hidden, activation_layer=nn.ReLU6),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000, width_mult=1.0):
        super().__init__()
        setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                   [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
        cin = _make_divisible(32 * width_mult, 8)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), 8)
        features = [ConvNormAct(3, cin, stride=2, activation_layer=nn.ReLU6)]
        for t, c, n, s in setting:
            cout = _make_divisible(c * width_mult, 8)
            for i in range(n):
                features.append(MV2Block(cin, cout, s if i == 0 else 1, t))
                cin = cout
        features.append(ConvNormAct(cin, self.last_channel, 1, activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.last_channel, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# ---- MobileNet v3 ----

class MV3Block(nn.Module):
    def __init__(self, cin, kernel, cexp, cout, use_se, act, stride, norm):
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        act_layer = nn.Hardswish if act == "HS" else nn.ReLU
        layers = []
        if cexp != cin:
            layers.append(ConvNormAct(cin, cexp, 1, norm_layer=norm, activation_layer=act_layer))
        layers.append(ConvNormAct(cexp, cexp, kernel, stride=stride, groups=cexp, norm_layer=norm,
                                  activation_layer=act_layer))
        if use_se:
            layers.append(SqueezeExcitation(cexp, _make_divisible(cexp // 4, 8), scale_activation=nn.Hardsigmoid))
        layers.append(ConvNormAct(cexp, cout, 1, norm_layer=norm, activation_layer=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)
        return y + x if self.use_res_connect else y


class MobileNetV3(nn.Module):
    def __init__(self, arch="small", num_classes=1000):
        super().__init__()
        if arch == "small":
            setting = [(16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2),
                       (24, 3, 88, 24, False, "RE", 1), (24, 5, 96, 40, True, "HS", 2),
                       (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
                       (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1),
                       (48, 5, 288, 96, True, "HS", 2), (96, 5, 576, 96, True, "HS", 1),
                       (96, 5, 576, 96, True, "HS", 1)]
            last_channel = 1024
        else:
            setting = [(16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2),
                       (24, 3, 72, 24, False, "RE", 1), (24, 5, 72, 40, True, "RE", 2),
                       (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
                       (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1),
                       (80, 3, 184, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
                       (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
                       (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1),
                       (160, 5, 960, 160, True, "HS", 1)]
            last_channel = 1280
        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        layers = [ConvNormAct(3, setting[0][0], 3, stride=2, norm_layer=norm, activation_layer=nn.Hardswish)]
        for cfg in setting:
            layers.append(MV3Block(*cfg, norm=norm))
        clast = 6 * setting[-1][3]
        layers.append(ConvNormAct(setting[-1][3], clast, 1, norm_layer=norm, activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(clast, last_channel), nn.Hardswish(), nn.Dropout(0.2),
                                        nn.Linear(last_channel, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ---- EfficientNet (v1) ----

class MBConv(nn.Module):
    def __init__(self, expand_ratio, kernel, stride, cin, cout, norm):
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        cexp = _make_divisible(cin * expand_ratio, 8)
        layers = []
        if cexp != cin:
            layers.append(ConvNormAct(cin, cexp, 1, norm_layer=norm, activation_layer=nn.SiLU))
        layers.append(ConvNormAct(cexp, cexp, kernel, stride=stride, groups=cexp, norm_layer=norm,
                                  activation_layer=nn.SiLU))
        layers.append(SqueezeExcitation(cexp, max(1, cin // 4), activation=nn.SiLU))
        layers.append(ConvNormAct(cexp, cout, 1, norm_layer=norm, activation_layer=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)   # stochastic depth: the identity in eval mode
        return y + x if self.use_res_connect else y


class EfficientNet(nn.Module):
    """efficientnet_b0..b7 by width_mult and depth_mult (b0: 1.0, 1.0)."""

    def __init__(self, width_mult=1.0, depth_mult=1.0, num_classes=1000):
        super().__init__()
        ch = lambda c: _make_divisible(c * width_mult, 8)
        setting = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                   (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
        norm = nn.BatchNorm2d
        layers = [ConvNormAct(3, ch(setting[0][3]), 3, stride=2, norm_layer=norm, activation_layer=nn.SiLU)]
        for e, k, s, cin, cout, n in setting:
            stage = []
            for i in range(int(math.ceil(n * depth_mult))):
                stage.append(MBConv(e, k, s if i == 0 else 1, ch(cin) if i == 0 else ch(cout), ch(cout), norm))
            layers.append(nn.Sequential(*stage))
        clast = 4 * ch(setting[-1][4])
        layers.append(ConvNormAct(ch(setting[-1][4]), clast, 1, norm_layer=norm, activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(clast, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ---- ShuffleNet v2 ----

def channel_shuffle(x, groups):
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, c, h, w)


class ShuffleBlock(nn.Module):
    def __init__(self, inp, oup, stride):
        super().__init__()
        self.stride = stride
        bf = oup // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(inp, inp, 3, stride, 1, bias=False, groups=inp), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else bf, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True),
            nn.Conv2d(bf, bf, 3, stride, 1, bias=False, groups=bf), nn.BatchNorm2d(bf),
            nn.Conv2d(bf, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """shufflenet_v2_x0_5: repeats [4, 8, 4], channels [24, 48, 96, 192, 1024]."""

    def __init__(self, repeats=(4, 8, 4), channels=(24, 48, 96, 192, 1024), num_classes=1000):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, channels[0], 3, 2, 1, bias=False), nn.BatchNorm2d(channels[0]),
                                   nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        cin = channels[0]
        for name, n, cout in zip(("stage2", "stage3", "stage4"), repeats, channels[1:]):
            seq = [ShuffleBlock(cin, cout, 2)] + [ShuffleBlock(cout, cout, 1) for _ in range(n - 1)]
            setattr(self, name, nn.Sequential(*seq))
            cin = cout
        self.conv5 = nn.Sequential(nn.Conv2d(cin, channels[-1], 1, 1, 0, bias=False), nn.BatchNorm2d(channels[-1]),
                                   nn.ReLU(inplace=True))
        self.fc = nn.Linear(channels[-1], num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean([2, 3]))


# ---- MnasNet ----

_BN_MOMENTUM = 1 - 0.9997


class MnasBlock(nn.Module):
    def __init__(self, cin, cout, kernel, stride, expansion):
        super().__init__()
        mid = cin * expansion
        self.apply_residual = cin == cout and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid, momentum=_BN_MOMENTUM), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, kernel, padding=kernel // 2, stride=stride, groups=mid, bias=False),
            nn.BatchNorm2d(mid, momentum=_BN_MOMENTUM), nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout, momentum=_BN_MOMENTUM))

    def forward(self, x):
        return self.layers(x) + x if self.apply_residual else self.layers(x)


def _round_to_multiple_of(val, divisor, round_up_bias=0.9):
    new_val = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return new_val if new_val >= round_up_bias * val else new_val + divisor


def _stack(cin, cout, kernel, stride, exp, repeats):
    return nn.Sequential(MnasBlock(cin, cout, kernel, stride, exp),
                         *[MnasBlock(cout, cout, kernel, 1, exp) for _ in range(1, repeats)])


class MNASNet(nn.Module):
    """mnasnet0_5 (alpha 0.5) .. mnasnet1_3."""

    def __init__(self, alpha=0.5, num_classes=1000):
        super().__init__()
        d = [_round_to_multiple_of(x * alpha, 8) for x in (32, 16, 24, 40, 80, 96, 192, 320)]
        bn = partial(nn.BatchNorm2d, momentum=_BN_MOMENTUM)
        self.layers = nn.Sequential(
            nn.Conv2d(3, d[0], 3, padding=1, stride=2, bias=False), bn(d[0]), nn.ReLU(inplace=True),
            nn.Conv2d(d[0], d[0], 3, padding=1, stride=1, groups=d[0], bias=False), bn(d[0]), nn.ReLU(inplace=True),
            nn.Conv2d(d[0], d[1], 1, padding=0, stride=1, bias=False), bn(d[1]),
            _stack(d[1], d[2], 3, 2, 3, 3), _stack(d[2], d[3], 5, 2, 3, 3), _stack(d[3], d[4], 5, 2, 6, 3),
            _stack(d[4], d[5], 3, 1, 6, 2), _stack(d[5], d[6], 5, 2, 6, 4), _stack(d[6], d[7], 3, 1, 6, 1),
            nn.Conv2d(d[7], 1280, 1, padding=0, stride=1, bias=False), bn(1280), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(self.layers(x).mean([2, 3]))


# ---- ConvNeXt ----

class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


class CNBlock(nn.Module):
    def __init__(self, dim, layer_scale):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]), nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim, bias=True), nn.GELU(), nn.Linear(4 * dim, dim, bias=True),
            Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)

    def forward(self, x):
        return self.layer_scale * self.block(x) + x   # stochastic depth: identity in eval


class ConvNeXt(nn.Module):
    """convnext_tiny: stages (96, 3), (192, 3), (384, 9), (768, 3)."""

    def __init__(self, setting=((96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3)),
                 layer_scale=1e-6, num_classes=1000):
        super().__init__()
        norm = partial(LayerNorm2d, eps=1e-6)
        layers = [ConvNormAct(3, setting[0][0], 4, stride=4, padding=0, norm_layer=norm, activation_layer=None,
                              bias=True)]
        for cin, cout, n in setting:
            layers.append(nn.Sequential(*[CNBlock(cin, layer_scale) for _ in range(n)]))
            if cout is not None:
                layers.append(nn.Sequential(norm(cin), nn.Conv2d(cin, cout, kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        clast = setting[-1][1] or setting[-1][0]
        self.classifier = nn.Sequential(norm(clast), nn.Flatten(1), nn.Linear(clast, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


# ---- GoogLeNet ----

class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    def __init__(self, cin, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(cin, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        # kernel_size=3 instead of 5: torchvision's (known) choice
        self.branch3 = nn.Sequential(BasicConv2d(cin, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(cin, pool_proj, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    """googlenet without its training-only auxiliary heads, transform_input=False."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


# ---- DenseNet ----

class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, kernel_size=3, stride=1, padding=1, bias=False)

    def forward(self, features):
        x = torch.cat(features, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.ModuleDict):
    def __init__(self, n, cin, bn_size, growth):
        super().__init__()
        for i in range(n):
            self.add_module("denselayer%d" % (i + 1), DenseLayer(cin + i * growth, growth, bn_size))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(cin, cout, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """densenet121: growth 32, blocks (6, 12, 24, 16), 64 initial features."""

    def __init__(self, growth=32, blocks=(6, 12, 24, 16), init_features=64, bn_size=4, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(init_features)), ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))]))
        c = init_features
        for i, n in enumerate(blocks):
            self.features.add_module("denseblock%d" % (i + 1), DenseBlock(n, c, bn_size, growth))
            c += n * growth
            if i != len(blocks) - 1:
                self.features.add_module("transition%d" % (i + 1), Transition(c, c // 2))
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        out = F.relu(self.features(x), inplace=True)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1))


# ---- RegNet ----

def regnet_params(depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1.0):
    """torchvision's BlockParams.from_init_params: per-stage (width, depth,
    group width)."""
    widths_cont = torch.arange(depth) * w_a + w_0
    block_capacity = torch.round(torch.log(widths_cont / w_0) / math.log(w_m))
    block_widths = (torch.round(torch.divide(w_0 * torch.pow(w_m, block_capacity), 8)) * 8).int().tolist()
    split_helper = zip(block_widths + [0], [0] + block_widths, block_widths + [0], [0] + block_widths)
    splits = [w != wp or r != rp for w, wp, r, rp in split_helper]
    stage_widths = [w for w, t in zip(block_widths, splits[:-1]) if t]
    stage_depths = torch.diff(torch.tensor([d for d, t in enumerate(splits) if t])).int().tolist()
    widths = [int(w * bottleneck_multiplier) for w in stage_widths]
    gws = [min(group_width, w) for w in widths]
    ws_bot = [_make_divisible(w, g) for w, g in zip(widths, gws)]
    stage_widths = [int(w / bottleneck_multiplier) for w in ws_bot]
    return list(zip(stage_widths, stage_depths, gws))


class ResBottleneckBlock(nn.Module):
    def __init__(self, win, wout, stride, group_width, se_ratio):
        super().__init__()
        self.proj = None
        if win != wout or stride != 1:
            self.proj = ConvNormAct(win, wout, 1, stride=stride, activation_layer=None)
        wb = wout
        f = OrderedDict()
        f["a"] = ConvNormAct(win, wb, 1)
        f["b"] = ConvNormAct(wb, wb, 3, stride=stride, groups=wb // group_width)
        if se_ratio:
            f["se"] = SqueezeExcitation(wb, int(round(se_ratio * win)))
        f["c"] = ConvNormAct(wb, wout, 1, activation_layer=None)
        self.f = nn.Sequential(f)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.proj(x) + self.f(x) if self.proj is not None else x + self.f(x)
        return self.activation(y)


class RegNet(nn.Module):
    def __init__(self, params, se_ratio=None, stem_width=32, num_classes=1000):
        super().__init__()
        self.stem = ConvNormAct(3, stem_width, 3, stride=2)
        c = stem_width
        blocks = OrderedDict()
        for i, (w, d, g) in enumerate(params):
            stage = OrderedDict()
            for j in range(d):
                stage["block%d-%d" % (i + 1, j)] = ResBottleneckBlock(c if j == 0 else w, w, 2 if j == 0 else 1, g,
                                                                      se_ratio)
            blocks["block%d" % (i + 1)] = nn.Sequential(stage)
            c = w
        self.trunk_output = nn.Sequential(blocks)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.trunk_output(self.stem(x))), 1))


NETS = {
    "mobilenet_v2": lambda: MobileNetV2(),
    "mobilenet_v3_small": lambda: MobileNetV3("small"),
    "mobilenet_v3_large": lambda: MobileNetV3("large"),
    "efficientnet_b0": lambda: EfficientNet(1.0, 1.0),
    "shufflenet_v2_x0_5": lambda: ShuffleNetV2((4, 8, 4), (24, 48, 96, 192, 1024)),
    "shufflenet_v2_x1_0": lambda: ShuffleNetV2((4, 8, 4), (24, 116, 232, 464, 1024)),
    "mnasnet0_5": lambda: MNASNet(0.5),
    "convnext_tiny": lambda: ConvNeXt(),
    "googlenet": lambda: GoogLeNet(),
    "densenet121": lambda: DenseNet(),
    "regnet_x_400mf": lambda: RegNet(regnet_params(22, 24, 24.48, 2.54, 16)),
    "regnet_y_400mf": lambda: RegNet(regnet_params(16, 48, 27.89, 2.09, 8), se_ratio=0.25),
    # Other widths and depths of the same families (torchvision's settings).
    "mobilenet_v2_x0_5": lambda: MobileNetV2(width_mult=0.5),
    "efficientnet_b1": lambda: EfficientNet(1.0, 1.1),
    "shufflenet_v2_x1_5": lambda: ShuffleNetV2((4, 8, 4), (24, 176, 352, 704, 1024)),
    "mnasnet1_0": lambda: MNASNet(1.0),
    "regnet_x_800mf": lambda: RegNet(regnet_params(16, 56, 35.73, 2.28, 16)),
    "regnet_y_800mf": lambda: RegNet(regnet_params(14, 56, 38.84, 2.4, 16), se_ratio=0.25),
}


def _randomize(net, gen, x):
    """Seeded random parameters; BatchNorm statistics measured on x in eval
    mode, layer by layer (so the activations keep their scale through deep
    stacks, as in a trained network), then perturbed at random, so that
    folding them into the conv is not the identity."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
            elif isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
                if m.weight is not None:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.2)
            elif isinstance(m, CNBlock):
                m.layer_scale.copy_(torch.rand(m.layer_scale.shape, generator=gen) * 0.5 + 0.1)
        def calibrate(m, inputs):
            x = inputs[0].double()
            mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False)
            noise = torch.randn(mean.shape, generator=gen, dtype=torch.float64)
            m.running_mean.copy_(mean + 0.1 * noise * var.sqrt())
            m.running_var.copy_(var * (torch.rand(var.shape, generator=gen, dtype=torch.float64) * 0.6 + 0.7))

        net.eval()
        hooks = [m.register_forward_pre_hook(calibrate) for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        net(x)   # in module order: each BatchNorm sees what the calibrated ones before it give
        for h in hooks:
            h.remove()
    return net.eval()


def build(name, seed=0, size=96):
    """The network name (NETS) in eval mode with seeded random weights and
    BatchNorm statistics."""
    torch.manual_seed(seed)
    net = NETS[name]()
    gen = torch.Generator().manual_seed(seed)
    calib = torch.randn((2, 3, size, size), generator=gen)
    return _randomize(net, gen, calib)
