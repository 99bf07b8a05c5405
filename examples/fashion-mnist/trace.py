#!/usr/bin/python3
"""Rebuild the committed Fashion-MNIST model as a TorchScript trace, without retraining.

    /usr/bin/python3 examples/fashion-mnist/trace.py [--onnx model.onnx] [--out model.pt]

Takes the weights of model.onnx (its initializers carry the PyTorch state_dict names, as
train.py's export writes them), loads them into train.py's SmallCnn and saves
torch.jit.trace(model, zeros(1, 1, 28, 28)): the same network train.py saves as model.pt after
training. Needs only python3-torch: the ONNX file is read with the few protobuf rules below
(ModelProto.graph = 7, GraphProto.initializer = 5, TensorProto dims = 1, data_type = 2,
float_data = 4, name = 8, raw_data = 9; onnx/onnx.proto3), not the onnx package.
"""

import argparse
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from train import SmallCnn  # noqa: E402


def varint(buf, at):
    value = shift = 0
    while True:
        b = buf[at]
        at += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, at


def fields(buf):
    """(field number, wire type, value) of one protobuf message; value is bytes or int."""
    at = 0
    while at < len(buf):
        key, at = varint(buf, at)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, at = varint(buf, at)
        elif wire == 1:
            value, at = buf[at : at + 8], at + 8
        elif wire == 2:
            n, at = varint(buf, at)
            value, at = buf[at : at + n], at + n
        elif wire == 5:
            value, at = buf[at : at + 4], at + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield num, wire, value


def float_initializers(onnx_bytes):
    """name -> float32 array of every FLOAT (data_type 1) initializer."""
    graph = next(v for n, _, v in fields(onnx_bytes) if n == 7)
    out = {}
    for num, _, tensor in fields(graph):
        if num != 5:
            continue
        dims, dtype, name, raw, floats = [], 1, "", None, []
        for f, wire, v in fields(tensor):
            if f == 1 and wire == 0:
                dims.append(v)
            elif f == 1 and wire == 2:  # packed dims
                at = 0
                while at < len(v):
                    d, at = varint(v, at)
                    dims.append(d)
            elif f == 2:
                dtype = v
            elif f == 4 and wire == 2:
                floats.extend(struct.unpack(f"<{len(v) // 4}f", v))
            elif f == 8:
                name = v.decode()
            elif f == 9:
                raw = v
        if dtype != 1:
            continue
        data = np.frombuffer(raw, dtype="<f4") if raw is not None else np.array(floats, "<f4")
        out[name] = data.reshape(dims).astype(np.float32)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--onnx", default=os.path.join(HERE, "model.onnx"))
    p.add_argument("--out", default=os.path.join(HERE, "model.pt"))
    args = p.parse_args()
    torch.set_num_threads(1)
    with open(args.onnx, "rb") as f:
        weights = float_initializers(f.read())
    model = SmallCnn()
    state = model.state_dict()
    missing = [k for k in state if k not in weights and not k.endswith("num_batches_tracked")]
    if missing:
        sys.exit(f"error: {args.onnx} lacks weights for {', '.join(missing)}")
    model.load_state_dict(
        {k: torch.from_numpy(weights[k]) if k in weights else v for k, v in state.items()}
    )
    model.eval()
    with torch.no_grad():
        trace = torch.jit.trace(model, torch.zeros(1, 1, 28, 28))
    trace.save(args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes) from {args.onnx}")


if __name__ == "__main__":
    main()
