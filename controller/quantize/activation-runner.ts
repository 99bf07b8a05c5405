// Reading every activation of the FP32 graph. All activations (flattened) and, optionally, each
// one's min and max (ReduceMin/ReduceMax, computed inside onnxruntime) are concatenated into a
// single graph output: onnxruntime-node pays a fixed cost per returned tensor, and one output
// instead of dozens makes calibration several times cheaper.
//
// Batching: calibration only needs per-tensor statistics over all images, so images can run
// several at a time. The graph's batch dimension is made symbolic and the batched graph is
// checked once against one-at-a-time results; a model that cannot be re-batched (a Reshape to a
// fixed batch, say) silently runs one image per call.
import { bmfError } from '../../shared/errors.js';
import { makeTensor, type Tensor } from '../../shared/tensor.js';
import {
  createOnnxSession,
  editGraph,
  encodeOnnx,
  int64Tensor,
  makeNode,
  valueInfo,
  type OnnxModel,
  type OnnxNode,
  type OnnxSession,
} from '../onnx/index.js';
import type { PreparedModel } from './prepared-model.js';

const OUTPUT = '__bmf_activations';
const FLAT_SHAPE = '__bmf_flat_shape';

export interface ActivationValues {
  /** Number of images these values cover (each tensor's block holds them batch-major). */
  readonly images: number;
  /** Activation name -> its values (views into one buffer; the graph input is the fed data). */
  readonly values: ReadonlyMap<string, Float32Array>;
  /** Activation name -> [min, max] over the images, when the runner was made with ranges. */
  readonly ranges?: ReadonlyMap<string, readonly [number, number]>;
}

export interface ActivationRunner {
  /** Images per call this runner actually uses (1 when the model cannot be re-batched). */
  readonly batch: number;
  run(inputs: readonly Tensor[]): Promise<ActivationValues>;
  release(): Promise<void>;
}

export interface ActivationRunnerOptions {
  readonly ranges?: boolean;
  /** Wanted images per call; needs `probe` (two or more inputs) to verify the batched graph. */
  readonly batch?: number;
  readonly probe?: readonly Tensor[];
}

function concatOutputGraph(
  pm: PreparedModel,
  inner: readonly string[],
  ranges: boolean,
): OnnxModel {
  const nodes: OnnxNode[] = [];
  const parts: string[] = [];
  const flat = (src: string, dst: string): void => {
    nodes.push(makeNode('Reshape', [src, FLAT_SHAPE], [dst], {}, `${dst}/Reshape`));
    parts.push(dst);
  };
  inner.forEach((n, k) => flat(n, `__bmf_v${k}`));
  if (ranges) {
    inner.forEach((n, k) => {
      for (const op of ['ReduceMin', 'ReduceMax']) {
        const r = `__bmf_${op}${k}`;
        nodes.push(makeNode(op, [n], [r], { keepdims: 1 }, `${r}/${op}`));
        flat(r, `${r}_flat`);
      }
    });
  }
  nodes.push(makeNode('Concat', parts, [OUTPUT], { axis: 0 }, `${OUTPUT}/Concat`));
  return editGraph(pm.model, {
    addNodes: nodes,
    addInitializers: [int64Tensor(FLAT_SHAPE, [1], [-1])],
    setOutputs: [valueInfo(OUTPUT)],
  });
}

/** The same graph with a symbolic batch dimension on the input and no stale shape annotations. */
function withSymbolicBatch(model: OnnxModel, inputName: string): OnnxModel {
  const input = (model.graph.input ?? []).map((v) => {
    if (v.name !== inputName) return v;
    const dims = v.type?.tensorType?.shape?.dim ?? [];
    return {
      ...v,
      type: {
        tensorType: {
          elemType: v.type?.tensorType?.elemType ?? 1,
          shape: { dim: dims.map((d, i) => (i === 0 ? { dimParam: 'N' } : d)) },
        },
      },
    };
  });
  return { ...model, graph: { ...model.graph, input, valueInfo: [] } };
}

function stack(inputs: readonly Tensor[]): Tensor {
  if (inputs.length === 1) return inputs[0]!;
  const per = inputs[0]!.data.length;
  const data = new Float32Array(per * inputs.length);
  inputs.forEach((t, k) => data.set(t.data as Float32Array, k * per));
  return makeTensor('float32', [inputs.length, ...inputs[0]!.shape.slice(1)], data);
}

async function runConcat(
  session: OnnxSession,
  pm: PreparedModel,
  input: Tensor,
): Promise<Float32Array> {
  return (await session.run({ [pm.input.name]: input }, [OUTPUT]))[OUTPUT]!.data as Float32Array;
}

/** Does the batched session give, image by image, what single-image runs give? */
async function batchAgrees(
  session: OnnxSession,
  pm: PreparedModel,
  probe: readonly Tensor[],
): Promise<boolean> {
  try {
    const together = await runConcat(session, pm, stack(probe));
    const alone = [];
    for (const x of probe) alone.push(await runConcat(session, pm, x));
    // (Range scalars at the end differ by design: one pair per call; only values are compared.)
    // Each tensor block of `together` is the images' blocks one after another.
    let t = 0;
    let offset = 0;
    for (const n of pm.activations) {
      if (n === pm.input.name) continue;
      const size = pm.activationSizes.get(n)!;
      for (const a of alone) {
        for (let i = 0; i < size; i++) {
          const x = a[offset + i]!;
          if (Math.abs(together[t++]! - x) > 1e-4 * Math.max(1, Math.abs(x))) return false;
        }
      }
      offset += size;
    }
    return true;
  } catch {
    return false;
  }
}

export async function createActivationRunner(
  pm: PreparedModel,
  options: ActivationRunnerOptions = {},
): Promise<ActivationRunner> {
  const withRanges = options.ranges ?? false;
  const inner = pm.activations.filter((n) => n !== pm.input.name);
  const graph = concatOutputGraph(pm, inner, withRanges);
  let batch = 1;
  let session: OnnxSession | undefined;
  const wanted = options.batch ?? 1;
  if (wanted > 1 && (options.probe?.length ?? 0) >= 2 && pm.input.shape[0] === 1) {
    try {
      const batched = await createOnnxSession(encodeOnnx(withSymbolicBatch(graph, pm.input.name)), {
        graphOptimizationLevel: 'all',
      });
      if (await batchAgrees(batched, pm, options.probe!.slice(0, 2))) {
        session = batched;
        batch = wanted;
      } else {
        await batched.release();
      }
    } catch {
      session = undefined;
    }
  }
  session ??= await createOnnxSession(encodeOnnx(graph), { graphOptimizationLevel: 'all' });
  const live = session;
  const sizes = inner.map((n) => pm.activationSizes.get(n)!);
  return {
    batch,
    async run(inputs) {
      if (inputs.length === 0 || inputs.length > batch) {
        throw bmfError('BMF_ERR_INTERNAL', {
          reason: `activation runner fed ${inputs.length} images (batch ${batch})`,
        });
      }
      const fed = stack(inputs);
      const data = await runConcat(live, pm, fed);
      const k = inputs.length;
      const values = new Map<string, Float32Array>([[pm.input.name, fed.data as Float32Array]]);
      let offset = 0;
      inner.forEach((n, i) => {
        values.set(n, data.subarray(offset, offset + k * sizes[i]!));
        offset += k * sizes[i]!;
      });
      if (!withRanges) return { images: k, values };
      const ranges = new Map<string, readonly [number, number]>();
      inner.forEach((n, i) => ranges.set(n, [data[offset + 2 * i]!, data[offset + 2 * i + 1]!]));
      return { images: k, values, ranges };
    },
    release: () => live.release(),
  };
}
