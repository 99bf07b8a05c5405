#!/usr/bin/python3
"""The eval images as a Sophon user's OpenCV pipeline sees them after an upscale, for
fidelity.ts (docs/preprocess-fidelity.md):

    /usr/bin/python3 examples/fashion-mnist/upscaled_opencv.py OUT_DIR [SIZE]

Each eval PNG is enlarged to SIZE x SIZE (default 45) with cv2.resize INTER_LINEAR and written to
OUT_DIR; then read back as tpu-mlir would (cv2.imread IMREAD_GRAYSCALE, cv2.resize to 28x28,
float32 (x - mean) * scale) into OUT_DIR/opencv.npy, N x 1 x 28 x 28, in the order of
OUT_DIR/list.txt (path and label per line). Needs Debian's python3-opencv and python3-numpy.
"""
import json
import os
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
out = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 45
spec = json.load(open(os.path.join(HERE, 'preprocess.json')))
mean, scale = np.float32(spec['mean'][0]), np.float32(spec['scale'][0])
os.makedirs(out, exist_ok=True)
xs, lines = [], []
for label in range(10):
    folder = os.path.join(HERE, 'eval', str(label))
    for name in sorted(f for f in os.listdir(folder) if f.endswith('.png')):
        grey = cv2.imread(os.path.join(folder, name), cv2.IMREAD_GRAYSCALE)
        path = os.path.join(out, f'{label}_{name}')
        cv2.imwrite(path, cv2.resize(grey, (size, size)))
        x = cv2.resize(cv2.imread(path, cv2.IMREAD_GRAYSCALE), (28, 28)).astype(np.float32)
        xs.append((x - mean) * scale)
        lines.append(f'{path} {label}')
np.save(os.path.join(out, 'opencv.npy'), np.stack(xs)[:, np.newaxis])
with open(os.path.join(out, 'list.txt'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
print(f'{len(lines)} images at {size}x{size} in {out}')
