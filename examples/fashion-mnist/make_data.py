#!/usr/bin/python3
"""Write the committed Fashion-MNIST image subsets from Debian's dataset-fashion-mnist.

    /usr/bin/python3 examples/fashion-mnist/make_data.py

From the 10,000-image test split, with a fixed seed:
  calibration/NNNNN.png         200 unlabelled images (for INT8 calibration)
  eval/<class_index>/NNNNN.png  2,000 labelled images, 200 per class, disjoint from calibration

NNNNN is the image's index in the test split, so any file can be traced back to its source.
Images are 28x28 8-bit grayscale PNGs, pixel values exactly as in the dataset.
"""

import os
import shutil
import sys

import numpy as np
from PIL import Image

sys.dont_write_bytecode = True  # importing train.py must not leave __pycache__ in the tree
from train import DATA_DIR, HERE, read_idx  # noqa: E402

SEED = 20240613
CALIBRATION_COUNT = 200
EVAL_PER_CLASS = 200


def main():
    images = read_idx(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, "t10k-labels-idx1-ubyte.gz"))
    order = np.random.default_rng(SEED).permutation(len(images))

    calibration = sorted(order[:CALIBRATION_COUNT].tolist())
    per_class = {c: [] for c in range(10)}
    for index in order[CALIBRATION_COUNT:].tolist():
        bucket = per_class[int(labels[index])]
        if len(bucket) < EVAL_PER_CLASS:
            bucket.append(index)

    for folder in ("calibration", "eval"):
        shutil.rmtree(os.path.join(HERE, folder), ignore_errors=True)
    write(images, calibration, os.path.join(HERE, "calibration"))
    for cls, indices in per_class.items():
        write(images, sorted(indices), os.path.join(HERE, "eval", str(cls)))
    total = sum(len(v) for v in per_class.values())
    print(f"wrote {len(calibration)} calibration and {total} eval images under {HERE}")


def write(images, indices, folder):
    os.makedirs(folder, exist_ok=True)
    for index in indices:
        Image.fromarray(images[index], mode="L").save(
            os.path.join(folder, f"{index:05d}.png"), optimize=True
        )


if __name__ == "__main__":
    main()
