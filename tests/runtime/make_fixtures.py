#!/usr/bin/python3
"""make_fixtures.py DIR: files written with NumPy, independently of cnnc's
writers, for test_readers to load.

  py_weights.safetensors  the real format by hand (struct + json), laid out as
                          the reference writer does: header padded with spaces
                          to a multiple of 8, a "__metadata__" entry, tensors
                          back to back. conv1.weight F32 [4,1,3,3] =
                          arange(36)/2 - 3; conv1.bias F32 [4] = [1,-1,.5,-.5];
                          bn.num_batches_tracked I64 [] = 7; half F16 [3].
  py_input.npy            numpy.save of (arange(24) - 7.5) / 4, float32 [2,3,4]
  py_v2.npy               the same array in .npy format 2.0
"""
import json
import os
import struct
import sys

import numpy as np


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, (dtype, array) in tensors.items():
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    tensors = {
        "conv1.weight": ("F32", (np.arange(36, dtype=np.float32) / 2 - 3).reshape(4, 1, 3, 3)),
        "conv1.bias": ("F32", np.array([1, -1, 0.5, -0.5], dtype=np.float32)),
        "bn.num_batches_tracked": ("I64", np.array(7, dtype=np.int64)),
        "half": ("F16", np.array([1, 2, 3], dtype=np.float16)),
    }
    write_safetensors(os.path.join(out, "py_weights.safetensors"), tensors, {"format": "pt"})
    a = ((np.arange(24) - 7.5) / 4).astype(np.float32).reshape(2, 3, 4)
    np.save(os.path.join(out, "py_input.npy"), a)
    with open(os.path.join(out, "py_v2.npy"), "wb") as f:
        np.lib.format.write_array(f, a, version=(2, 0))


if __name__ == "__main__":
    main()
