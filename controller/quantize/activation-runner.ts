// Reading every activation of the FP32 graph for one input. All activations (flattened) and,
// optionally, each one's min and max (ReduceMin/ReduceMax, computed inside onnxruntime) are
// concatenated into a single graph output: onnxruntime-node pays a fixed cost per returned
// tensor, and one output instead of dozens makes calibration several times cheaper. Values come
// back as views into that one buffer, in `pm.activations` order.
import type { Tensor } from '../../shared/tensor.js';
import {
  createOnnxSession,
  editGraph,
  encodeOnnx,
  int64Tensor,
  makeNode,
  valueInfo,
  type OnnxNode,
} from '../onnx/index.js';
import type { PreparedModel } from './prepared-model.js';

const OUTPUT = '__bmf_activations';
const FLAT_SHAPE = '__bmf_flat_shape';

export interface ActivationValues {
  /** Activation name -> its values (a view; the input tensor's own data for the graph input). */
  readonly values: ReadonlyMap<string, Float32Array>;
  /** Activation name -> [min, max], when the runner was made with ranges. */
  readonly ranges?: ReadonlyMap<string, readonly [number, number]>;
}

export interface ActivationRunner {
  run(input: Tensor): Promise<ActivationValues>;
  release(): Promise<void>;
}

export async function createActivationRunner(
  pm: PreparedModel,
  withRanges = false,
): Promise<ActivationRunner> {
  const inner = pm.activations.filter((n) => n !== pm.input.name);
  const nodes: OnnxNode[] = [];
  const parts: string[] = [];
  const flat = (src: string, dst: string): void => {
    nodes.push(makeNode('Reshape', [src, FLAT_SHAPE], [dst], {}, `${dst}/Reshape`));
    parts.push(dst);
  };
  inner.forEach((n, k) => flat(n, `__bmf_v${k}`));
  if (withRanges) {
    inner.forEach((n, k) => {
      for (const op of ['ReduceMin', 'ReduceMax']) {
        const r = `__bmf_${op}${k}`;
        nodes.push(makeNode(op, [n], [r], { keepdims: 1 }, `${r}/${op}`));
        flat(r, `${r}_flat`);
      }
    });
  }
  nodes.push(makeNode('Concat', parts, [OUTPUT], { axis: 0 }, `${OUTPUT}/Concat`));
  const model = editGraph(pm.model, {
    addNodes: nodes,
    addInitializers: [int64Tensor(FLAT_SHAPE, [1], [-1])],
    setOutputs: [valueInfo(OUTPUT)],
  });
  const session = await createOnnxSession(encodeOnnx(model), { graphOptimizationLevel: 'all' });
  const sizes = inner.map((n) => pm.activationSizes.get(n)!);
  return {
    async run(input) {
      const out = (await session.run({ [pm.input.name]: input }, [OUTPUT]))[OUTPUT]!;
      const data = out.data as Float32Array;
      const values = new Map<string, Float32Array>([[pm.input.name, input.data as Float32Array]]);
      let offset = 0;
      inner.forEach((n, k) => {
        values.set(n, data.subarray(offset, offset + sizes[k]!));
        offset += sizes[k]!;
      });
      if (!withRanges) return { values };
      const ranges = new Map<string, readonly [number, number]>();
      inner.forEach((n, k) => ranges.set(n, [data[offset + 2 * k]!, data[offset + 2 * k + 1]!]));
      return { values, ranges };
    },
    release: () => session.release(),
  };
}
