#!/usr/bin/python3
"""Export an untrained MobileNetV2 to ONNX for size and speed realism.

    /usr/bin/python3 examples/mobilenetv2/make_model.py [OUT.onnx]

torchvision.models.mobilenet_v2 with RANDOM weights (fixed seed): the file has the real
architecture, operator mix, tensor shapes and size (~14 MB FP32), which is what compile time,
bundle transfer, memory and the cost model depend on. Its predictions are meaningless; never use
it for accuracy. Opset 13, input `input` [1,3,224,224] float32, output `logits` [1,1000].
Default output: mobilenetv2.onnx next to this script (gitignored: regenerate, do not commit).
"""

import os
import sys

import torch
import torchvision

SEED = 20240613


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "mobilenetv2.onnx")
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    model = torchvision.models.mobilenet_v2(weights=None).eval()
    tmp = f"{out}.{os.getpid()}.tmp"  # several test processes may generate at once
    torch.onnx.export(
        model,
        torch.zeros(1, 3, 224, 224),
        tmp,
        opset_version=13,
        input_names=["input"],
        output_names=["logits"],
    )
    os.replace(tmp, out)  # callers wait for the file: never leave a half-written one
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
