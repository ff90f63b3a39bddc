"""Writes the weights files the diagnostics cases read, into a directory.

The model they fit is small.cnn's: conv1 = conv2d(filters=2, kernel=3) on a
[1, 5, 5] input, then fc = dense(units=3) after a flatten.
Usage: fixtures.py OUTDIR
"""
import json
import struct
import sys

import numpy as np


def safetensors(tensors, dtype_override=None):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        dtype = (dtype_override or {}).get(name, "F32")
        if dtype == "F16":
            data = np.ascontiguousarray(arr, dtype="<f2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def good():
    rng = np.random.default_rng(0)
    return {"conv1.weight": rng.standard_normal((2, 1, 3, 3)),
            "conv1.bias": rng.standard_normal(2),
            "fc.weight": rng.standard_normal((3, 18)),
            "fc.bias": rng.standard_normal(3)}


def main(out):
    files = {}
    files["good.safetensors"] = safetensors(good())
    t = good()
    del t["fc.bias"]
    files["missing.safetensors"] = safetensors(t)
    t = good()
    t["conv1.weight"] = np.zeros((2, 1, 5, 5))
    files["shape.safetensors"] = safetensors(t)
    files["f16.safetensors"] = safetensors(good(), {"fc.weight": "F16"})
    t = good()
    t["conv2.weight"] = np.zeros(4)
    files["extra.safetensors"] = safetensors(t)
    files["truncated.safetensors"] = safetensors(good())[:100]
    files["hugeheader.safetensors"] = struct.pack("<Q", 1 << 40) + b"{}"
    files["badjson.safetensors"] = struct.pack("<Q", 16) + b'{"a" 1}         '
    for name, data in files.items():
        with open(f"{out}/{name}", "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
