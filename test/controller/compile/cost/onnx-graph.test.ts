// The cost model on a real exported graph: controller/onnx describeGraph -> layersFromGraph ->
// estimateLatency, on the committed Fashion-MNIST sample (Conv-BN-Relu-MaxPool x3, Gemm x2).
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { describeGraph, loadOnnx } from '../../../../controller/onnx/index.js';
import type { GraphNodeInfo as OnnxGraphNodeInfo } from '../../../../controller/onnx/index.js';
import { layersFromGraph, type GraphNodeInfo } from '../../../../controller/compile/cost/graph.js';
import { estimateLatency } from '../../../../controller/compile/cost/estimate.js';

// Compile-time check that controller/onnx's GraphNodeInfo fits the cost model's structural copy.
const fits = (n: OnnxGraphNodeInfo): GraphNodeInfo => n;

t.test(
  'Fashion-MNIST CNN: BN and Relu fold into convs, counts match the architecture',
  async (t) => {
    const url = new URL('../../../../examples/fashion-mnist/model.onnx', import.meta.url);
    const nodes = (await describeGraph(loadOnnx(await readFile(url)), [[1, 1, 28, 28]])).map(fits);
    const layers = layersFromGraph(nodes);
    t.same(
      layers.map((l) => l.kind),
      ['conv', 'pool', 'conv', 'pool', 'conv', 'pool', 'matmul', 'matmul'],
      'BN and Relu fused into their producers, Flatten free',
    );
    const macs = layers.filter((l) => l.kind === 'conv' || l.kind === 'matmul').map((l) => l.macs);
    // 28x28x32 * 1*9; 14x14x64 * 32*9; 7x7x64 * 64*9; 576*64; 64*10 (train.py SmallCnn).
    t.same(macs, [225_792, 3_612_672, 1_806_336, 36_864, 640]);
    const int8 = estimateLatency(layers, 'bm1684x', 'int8');
    const fp32 = estimateLatency(layers, 'bm1684x', 'fp32');
    t.ok(
      int8.totalMs < fp32.totalMs,
      `int8 ${int8.totalMs} ms < fp32 ${fp32.totalMs} ms (modeled)`,
    );
  },
);
