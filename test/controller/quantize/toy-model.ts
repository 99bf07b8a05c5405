// A tiny Conv-BN-Relu-MaxPool-Flatten-Gemm network with seeded weights, the shape of the
// Fashion-MNIST sample in miniature, for graph-transform tests that must not depend on the
// trained model.
import {
  encodeOnnx,
  float32Tensor,
  makeModel,
  makeNode,
  valueInfo,
  ONNX_DTYPE,
} from '../../../controller/onnx/index.js';
import { makeTensor, type Tensor } from '../../../shared/tensor.js';

export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

const fill = (n: number, rnd: () => number, k = 1, offset = 0): Float32Array =>
  Float32Array.from({ length: n }, () => rnd() * k + offset);

export function toyModelBytes(seed = 7): Uint8Array {
  const rnd = seeded(seed);
  return encodeOnnx(
    makeModel({
      name: 'toy',
      inputs: [valueInfo('input', ONNX_DTYPE.FLOAT, [1, 1, 6, 6])],
      outputs: [valueInfo('logits', ONNX_DTYPE.FLOAT, [1, 3])],
      nodes: [
        makeNode('Conv', ['input', 'conv.w'], ['conv_out'], {
          pads: [1, 1, 1, 1],
          kernel_shape: [3, 3],
        }),
        {
          ...makeNode(
            'BatchNormalization',
            ['conv_out', 'bn.g', 'bn.b', 'bn.m', 'bn.v'],
            ['bn_out'],
          ),
        },
        makeNode('Relu', ['bn_out'], ['relu_out']),
        makeNode('MaxPool', ['relu_out'], ['pool_out'], { kernel_shape: [2, 2], strides: [2, 2] }),
        makeNode('Flatten', ['pool_out'], ['flat']),
        makeNode('Gemm', ['flat', 'fc.w', 'fc.b'], ['logits'], { transB: 1 }),
      ],
      initializers: [
        float32Tensor('conv.w', [2, 1, 3, 3], fill(18, rnd)),
        float32Tensor('bn.g', [2], fill(2, rnd, 0.5, 1)),
        float32Tensor('bn.b', [2], fill(2, rnd, 0.2)),
        float32Tensor('bn.m', [2], fill(2, rnd, 0.2)),
        float32Tensor('bn.v', [2], fill(2, rnd, 0.5, 1)),
        float32Tensor('fc.w', [3, 18], fill(54, rnd)),
        float32Tensor('fc.b', [3], fill(3, rnd, 0.1)),
      ],
    }),
  );
}

export function toyInputs(count: number, seed = 11): Tensor[] {
  const rnd = seeded(seed);
  return Array.from({ length: count }, () => makeTensor('float32', [1, 1, 6, 6], fill(36, rnd, 4)));
}
