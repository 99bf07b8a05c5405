import t from 'tap';
import { describeGraph, encodeOnnx, loadOnnx, valueInfo } from '../../../controller/onnx/index.js';
import { modelFromFixture, readModelFixture } from './fixture-model.js';

const fixture = readModelFixture();
const model = modelFromFixture(fixture);

t.test('every node is annotated with the shapes onnxruntime produced', async (t) => {
  const nodes = await describeGraph(model);
  t.same(
    nodes.map((n) => n.opType),
    ['Conv', 'Relu', 'Flatten', 'Gemm'],
  );
  for (const node of nodes) {
    for (const o of node.outputs) t.same(o.shape, fixture.expected.shapes[o.name], o.name);
  }
  const conv = nodes[0];
  t.same(
    conv?.inputs.map((i) => [i.name, i.isInitializer]),
    [
      ['x', false],
      ['conv_w', true],
      ['conv_b', true],
    ],
  );
  t.same(conv?.inputs[1]?.shape, [2, 1, 3, 3]);
  t.same(conv?.attributes, { kernel_shape: [3, 3] });
  t.same(nodes[3]?.attributes, { transB: 1, transA: 0 });
});

t.test('a dynamic batch takes its size from inputShapes', async (t) => {
  const dynamic = loadOnnx(
    encodeOnnx({ ...model, graph: { ...model.graph, input: [valueInfo('x', 1, ['N', 1, 6, 6])] } }),
  );
  const nodes = await describeGraph(dynamic, [[4, 1, 6, 6]]);
  t.same(nodes.at(-1)?.outputs[0]?.shape, [4, 3]);
  await t.rejects(describeGraph(dynamic), { code: 'BMF_ERR_MODEL_DYNAMIC_SHAPE' });
});
