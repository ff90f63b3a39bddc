"""PyTorch state_dicts as PyTorch saves them (docs/language.md, Weights).

Builds torch modules, saves their state_dict() as safetensors exactly as
PyTorch holds it (float tensors F32, BatchNorm's num_batches_tracked I64,
written here byte by byte), and checks `cnnc run --interp` against the
module's own forward in eval mode:

  attributes   a module whose attributes are named like the statements
               (conv1, bn1, fc): loads directly; num_batches_tracked ignored
  sequential   nn.Sequential names (features.0, features.1, classifier.1)
               bound through `weights "F" (conv1 = "features.0", ...)`
  missing      the map's prefix names a tensor the file lacks: the error
               names the file's name (features.9.weight), exit 1
"""
import json
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

from cnnctest import ToolError, run, run_cases

DTYPES = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}


def save_state_dict(path, sd):
    header, blobs, off = {}, [], 0
    for name, t in sd.items():
        code, np_dtype = DTYPES[t.dtype]
        a = np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np_dtype)
        header[name] = {"dtype": code, "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def randomize_bn(bn, gen):
    with torch.no_grad():
        bn.weight.copy_(torch.rand(bn.num_features, generator=gen) + 0.5)
        bn.bias.copy_(torch.randn(bn.num_features, generator=gen))
        bn.running_mean.copy_(torch.randn(bn.num_features, generator=gen))
        bn.running_var.copy_(torch.rand(bn.num_features, generator=gen) + 0.5)
        bn.num_batches_tracked.fill_(37)


class Attributes(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(64, 5)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        return self.fc(torch.flatten(x, 1))


class Sequential(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                                      nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 5))

    def forward(self, x):
        return self.classifier(self.features(x))


BODY = """    conv1 = conv2d(filters=4, kernel=3, padding=1);
    bn1 = batchnorm;
    relu;
    maxpool(kernel=2);
    flatten;
    fc = dense(units=5);
}
"""


def model_text(weights):
    return "model net {\n    input x[3, 8, 8];\n    %s;\n%s" % (weights, BODY)


def expect(cond, what, p=None):
    if not cond:
        raise ToolError(what + ("" if p is None else "\n--- stderr ---\n" + p.stderr[-2000:]))


def check_against_torch(args, name, module, weights):
    gen = torch.Generator().manual_seed(len(name))
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            randomize_bn(m, gen)
    module.eval()
    save_state_dict(os.path.join(args.work, name + ".safetensors"), module.state_dict())
    expect(any(k.endswith("num_batches_tracked") for k in module.state_dict()),
           "the state_dict has no num_batches_tracked: the case tests nothing")
    with open(os.path.join(args.work, name + ".cnn"), "w") as f:
        f.write(model_text(weights % (name + ".safetensors")))
    x = torch.randn(1, 3, 8, 8, generator=gen)
    np.save(os.path.join(args.work, name + "_x.npy"), x[0].numpy())
    p = run([args.cnnc, "run", name + ".cnn", "--interp", "--input", name + "_x.npy",
             "--output", name + "_y.npy"], cwd=args.work)
    expect(p.returncode == 0, "%s: cnnc run exit %d" % (name, p.returncode), p)
    got = np.load(os.path.join(args.work, name + "_y.npy")).reshape(-1)
    with torch.no_grad():
        ref = module(x).numpy().reshape(-1)
    err = float(np.max(np.abs(got - ref)) / max(1e-6, float(np.max(np.abs(ref)))))
    expect(err <= 1e-5, "%s: cnnc vs torch rel err %g\n%s\n%s" % (name, err, got, ref))
    q = run([args.cnnc, name + ".cnn", "-o", name + ".c"], cwd=args.work)
    expect(q.returncode == 0, "%s: compiling to C" % name, q)


def case_attributes(args):
    check_against_torch(args, "attr", Attributes(), 'weights "%s"')


def case_sequential(args):
    check_against_torch(args, "seq", Sequential(),
                        'weights "%s" (conv1 = "features.0", bn1 = "features.1",\n'
                        '                  fc = "classifier.1")')


def case_missing(args):
    with open(os.path.join(args.work, "miss.cnn"), "w") as f:
        f.write(model_text('weights "seq.safetensors" (conv1 = "features.9", bn1 = "features.1",'
                           ' fc = "classifier.1")'))
    p = run([args.cnnc, "miss.cnn", "-o", "miss.c"], cwd=args.work)
    want = ("miss.cnn:4:5: error: tensor 'features.9.weight' (F32 [4, 3, 3, 3]) is missing "
            "from 'seq.safetensors'\n")
    expect(p.returncode == 1 and p.stderr.startswith(want), "missing: expected %r" % want, p)
    expect("'features.0.weight' in 'seq.safetensors' is not used" in p.stderr,
           "missing: the unmapped features.0 tensors should be reported unused", p)


CASES = [case_attributes, case_sequential, case_missing]


def main():
    return run_cases(__doc__, "state_dict", CASES)


if __name__ == "__main__":
    sys.exit(main())
