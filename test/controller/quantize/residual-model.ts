// A small residual network (stem conv, two bottleneck-like blocks with identity shortcuts, global
// pooling, classifier) with seeded weights: the ResNet shape in miniature, for tests of what the
// threshold search re-runs when one tensor's threshold changes.
import {
  encodeOnnx,
  float32Tensor,
  makeModel,
  makeNode,
  valueInfo,
  ONNX_DTYPE,
  type OnnxNode,
  type OnnxTensor,
} from '../../../controller/onnx/index.js';
import { makeTensor, type Tensor } from '../../../shared/tensor.js';
import { seeded } from './toy-model.js';

const C = 4;
const SIDE = 8;

export function residualModelBytes(seed = 5): Uint8Array {
  const rnd = seeded(seed);
  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  const conv = (name: string, input: string, cin: number, relu: boolean): string => {
    inits.push(
      float32Tensor(
        `${name}.w`,
        [C, cin, 3, 3],
        Float32Array.from({ length: C * cin * 9 }, () => rnd() * 0.6),
      ),
      float32Tensor(
        `${name}.b`,
        [C],
        Float32Array.from({ length: C }, () => rnd() * 0.2),
      ),
    );
    nodes.push(
      makeNode('Conv', [input, `${name}.w`, `${name}.b`], [`${name}_out`], {
        pads: [1, 1, 1, 1],
        kernel_shape: [3, 3],
      }),
    );
    if (!relu) return `${name}_out`;
    nodes.push(makeNode('Relu', [`${name}_out`], [`${name}_relu`]));
    return `${name}_relu`;
  };
  let x = conv('stem', 'input', 3, true);
  for (const block of ['block1', 'block2']) {
    const y = conv(`${block}.conv2`, conv(`${block}.conv1`, x, C, true), C, false);
    nodes.push(makeNode('Add', [y, x], [`${block}_sum`]));
    nodes.push(makeNode('Relu', [`${block}_sum`], [`${block}_out`]));
    x = `${block}_out`;
  }
  nodes.push(makeNode('GlobalAveragePool', [x], ['pooled']));
  nodes.push(makeNode('Flatten', ['pooled'], ['flat']));
  inits.push(
    float32Tensor(
      'fc.w',
      [3, C],
      Float32Array.from({ length: 3 * C }, () => rnd()),
    ),
    float32Tensor(
      'fc.b',
      [3],
      Float32Array.from({ length: 3 }, () => rnd() * 0.1),
    ),
  );
  nodes.push(makeNode('Gemm', ['flat', 'fc.w', 'fc.b'], ['logits'], { transB: 1 }));
  return encodeOnnx(
    makeModel({
      name: 'residual',
      inputs: [valueInfo('input', ONNX_DTYPE.FLOAT, [1, 3, SIDE, SIDE])],
      outputs: [valueInfo('logits', ONNX_DTYPE.FLOAT, [1, 3])],
      nodes,
      initializers: inits,
    }),
  );
}

export function residualInputs(count: number, seed = 13): Tensor[] {
  const rnd = seeded(seed);
  const n = 3 * SIDE * SIDE;
  return Array.from({ length: count }, () =>
    makeTensor(
      'float32',
      [1, 3, SIDE, SIDE],
      Float32Array.from({ length: n }, () => rnd() * 4),
    ),
  );
}
