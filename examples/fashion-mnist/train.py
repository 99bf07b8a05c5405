#!/usr/bin/python3
"""Train the Fashion-MNIST sample CNN and export it to ONNX (opset 13).

Run with Debian's interpreter (python3-torch, python3-onnx, dataset-fashion-mnist):

    /usr/bin/python3 examples/fashion-mnist/train.py

Writes, next to this script: model.onnx, labels.txt, preprocess.json, metrics.json, and model.pt
(the same network as a TorchScript trace, the input `bmfleet compile` also takes; it is not
committed: trace.py rebuilds it from model.onnx without retraining).

The network uses only ops a simple INT8 quantizer handles (Conv, BatchNormalization, Relu,
MaxPool, Flatten, Gemm). BatchNormalization is kept as its own node in the exported graph (it is
not fused into the preceding Conv at export) so that the quantizer's BN folding is exercised.

Input normalisation is the vendor preprocessing y = (x - mean) * scale on 0..255 pixels
(tpu-mlir model_transform vocabulary), so the same numbers drive training, preprocess.json and
every later compile or calibration step.
"""

import gzip
import json
import os
import random
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
SEED = 20240613
EPOCHS = int(os.environ.get("EPOCHS", "6"))
BATCH = 128
# 2 threads by default; THREADS=1 is steadier on a busy machine (spinning OpenMP threads that
# lose their core slow every step down).
THREADS = int(os.environ.get("THREADS", "2"))
# Fashion-MNIST training-set pixel mean and standard deviation on the 0..255 scale
# (0.2860 and 0.3530 on 0..1); scale = 1/std, rounded so the JSON value is exactly what we use.
MEAN = 72.94
SCALE = 0.0111111
LABELS = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def read_idx(path):
    """Read an IDX file (the MNIST container: big-endian magic, dims, then uint8 data)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = struct.unpack(">I", raw[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(prefix):
    images = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    x = (torch.from_numpy(images.astype(np.float32)) - MEAN) * SCALE
    return x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()

        def block(cin, cout):
            return [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]

        # 28x28 -> 14x14 -> 7x7 -> 3x3
        self.features = nn.Sequential(*block(1, 32), *block(32, 64), *block(64, 64))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 3 * 3, 64), nn.ReLU(), nn.Linear(64, 10)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def accuracy(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i : i + 1000]).argmax(1) == y[i : i + 1000]).sum().item()
    return correct / len(x)


def main():
    torch.set_num_threads(THREADS)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)

    x_train, y_train = load_split("train")
    x_test, y_test = load_split("t10k")
    model = SmallCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=3e-3, epochs=EPOCHS, steps_per_epoch=(len(x_train) + BATCH - 1) // BATCH
    )
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(SEED)

    for epoch in range(EPOCHS):
        model.train()
        started = time.time()
        order = torch.randperm(len(x_train), generator=shuffle)
        total = 0.0
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            xb = x_train[idx]
            # Random horizontal flips: garments are left/right symmetric classes.
            flip = torch.rand(len(idx), generator=shuffle) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), y_train[idx])
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
        acc = accuracy(model, x_test, y_test)
        print(
            f"epoch {epoch + 1}/{EPOCHS} loss {total / len(x_train):.4f} "
            f"test top-1 {acc * 100:.2f}% ({time.time() - started:.1f} s)",
            flush=True,
        )

    test_acc = accuracy(model, x_test, y_test)
    print(f"final test top-1 on 10,000 images: {test_acc * 100:.2f}%")
    if test_acc < 0.90:
        print("error: accuracy below the 90% target", file=sys.stderr)
        sys.exit(1)
    export(model)
    write_sidecars(test_acc)


def export(model):
    model.eval()
    path = os.path.join(HERE, "model.onnx")
    # TrainingMode.PRESERVE on an eval-mode model exports inference BatchNormalization nodes but
    # skips the exporter's eval peephole pass, which would otherwise fuse BN into the Conv.
    torch.onnx.export(
        model,
        torch.zeros(1, 1, 28, 28),
        path,
        opset_version=13,
        input_names=["input"],
        output_names=["logits"],
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,  # nothing to fold; BN must stay a separate node
    )
    import onnx

    proto = onnx.load(path)
    inline_identity_initializers(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    ops = sorted({n.op_type for n in proto.graph.node})
    print(f"exported {path} ({os.path.getsize(path)} bytes), ops: {', '.join(ops)}")
    pt = os.path.join(HERE, "model.pt")
    with torch.no_grad():
        torch.jit.trace(model, torch.zeros(1, 1, 28, 28)).save(pt)
    print(f"traced {pt} ({os.path.getsize(pt)} bytes)")


def inline_identity_initializers(proto):
    """Replace `Identity(initializer)` nodes with a copy of the initializer.

    The exporter deduplicates parameters with equal values (for example BN running_var and
    weight both all ones) and reconnects them through Identity nodes; a plain graph of weights is
    simpler for every consumer (quantizer, cost model, toolchains).
    """
    inits = {t.name: t for t in proto.graph.initializer}
    keep = []
    for node in proto.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            copy = type(inits[node.input[0]])()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            proto.graph.initializer.append(copy)
        else:
            keep.append(node)
    del proto.graph.node[:]
    proto.graph.node.extend(keep)


def dump_json(path, obj):
    """Write a flat JSON object one key per line, nested values inline: the layout the
    repository's formatter (prettier) keeps, so regenerated files pass `npm run lint`."""

    def inline(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)}: {inline(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(inline(x) for x in v) + "]"
        return json.dumps(v)

    body = ",\n".join(f"  {json.dumps(k)}: {inline(v)}" for k, v in obj.items())
    with open(path, "w") as f:
        f.write("{\n" + body + "\n}\n")


def write_sidecars(test_acc):
    with open(os.path.join(HERE, "labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")
    preprocess = {
        "resize_dims": [28, 28],
        "pixel_format": "gray",
        "channel_format": "nchw",
        "mean": [MEAN],
        "scale": [SCALE],
        "output": {"dtype": "float32"},
    }
    dump_json(os.path.join(HERE, "preprocess.json"), preprocess)
    metrics = {
        "test_top1": round(test_acc, 4),
        "test_images": 10000,
        "epochs": EPOCHS,
        "seed": SEED,
        "torch_version": torch.__version__,
        "threads": THREADS,
        "opset": 13,
    }
    dump_json(os.path.join(HERE, "metrics.json"), metrics)


if __name__ == "__main__":
    main()
