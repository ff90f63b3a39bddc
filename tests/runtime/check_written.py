#!/usr/bin/python3
"""check_written.py DIR: reads with NumPy the files test_readers wrote with
cnnc's writers (c_written.npy, c_written.safetensors) and checks them
against the formula they were written from: (arange(24) - 7.5) / 4."""
import json
import os
import struct
import sys

import numpy as np


def check_npy(path, want):
    a = np.load(path)
    assert a.dtype == np.float32 and a.shape == (2, 3, 4), (a.dtype, a.shape)
    assert np.array_equal(a, want.reshape(2, 3, 4))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x93NUMPY\x01\x00"
        (hlen,) = struct.unpack("<H", f.read(2))
        assert (10 + hlen) % 64 == 0, hlen


def check_safetensors(path, want):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, n
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    assert list(header) == ["fc.weight", "fc.bias"], list(header)
    shapes = {"fc.weight": [2, 3, 4], "fc.bias": [24]}
    for name, info in header.items():
        assert info["dtype"] == "F32" and info["shape"] == shapes[name], info
        b, e = info["data_offsets"]
        got = np.frombuffer(data[b:e], dtype="<f4")
        assert np.array_equal(got, want), name
    assert len(data) == 2 * 24 * 4


def main():
    d = sys.argv[1]
    want = ((np.arange(24) - 7.5) / 4).astype(np.float32)
    check_npy(os.path.join(d, "c_written.npy"), want)
    check_safetensors(os.path.join(d, "c_written.safetensors"), want)
    print("check_written: ok")


if __name__ == "__main__":
    main()
