// Reading every activation of the FP32 graph: each activation is a graph output of its own (one
// buffer per tensor, no extra copy), and, optionally, every tensor's min and max (ReduceMin /
// ReduceMax inside onnxruntime, vectorised) are gathered into one small extra output.
//
// (An earlier layout concatenated all activations into one output to save onnxruntime-node's
// per-output cost; at 16 images per call that cost is negligible while the Concat copied every
// value once more: profiled on the Fashion-MNIST sample, bench/calibrate.ts.)
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
  type OnnxValueInfo,
} from '../onnx/index.js';
import { exposeTensors, type PreparedModel } from './prepared-model.js';
import { HOST_SESSION } from './score.js';

const RANGES = '__bmf_ranges';
const FLAT_SHAPE = '__bmf_flat_shape';

export interface ActivationValues {
  /** Number of images these values cover (each tensor's values hold them batch-major). */
  readonly images: number;
  /** Activation name -> its values (the graph input is the fed data). */
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
  /** onnxruntime intra-op threads (default: HOST_SESSION's, one per core, not spinning). */
  readonly intraOpThreads?: number;
  /** The activations to read (default: all of them). */
  readonly tensors?: readonly string[];
}

function exposedGraph(pm: PreparedModel, inner: readonly string[], ranges: boolean): OnnxModel {
  const exposed = exposeTensors(pm.model, inner);
  if (!ranges) return exposed;
  const nodes: OnnxNode[] = [];
  const parts: string[] = [];
  inner.forEach((n, k) => {
    for (const op of ['ReduceMin', 'ReduceMax']) {
      const r = `__bmf_${op}${k}`;
      nodes.push(makeNode(op, [n], [r], { keepdims: 1 }, `${r}/${op}`));
      nodes.push(makeNode('Reshape', [r, FLAT_SHAPE], [`${r}_flat`], {}, `${r}/Reshape`));
      parts.push(`${r}_flat`);
    }
  });
  nodes.push(makeNode('Concat', parts, [RANGES], { axis: 0 }, `${RANGES}/Concat`));
  return editGraph(exposed, {
    addNodes: nodes,
    addInitializers: [int64Tensor(FLAT_SHAPE, [1], [-1])],
    addOutputs: [valueInfo(RANGES)],
  });
}

/** A value info with its first dimension made the symbolic batch `N` (other dims kept). */
function batchSymbolic(v: OnnxValueInfo): OnnxValueInfo {
  const dims = v.type?.tensorType?.shape?.dim;
  if (!dims) return v;
  return {
    ...v,
    type: {
      tensorType: {
        elemType: v.type?.tensorType?.elemType ?? 1,
        shape: { dim: dims.map((d, i) => (i === 0 ? { dimParam: 'N' } : d)) },
      },
    },
  };
}

/** The same graph with a symbolic batch dimension on the input and outputs, no stale shapes. */
function withSymbolicBatch(model: OnnxModel, inputName: string): OnnxModel {
  const input = (model.graph.input ?? []).map((v) => (v.name === inputName ? batchSymbolic(v) : v));
  const output = (model.graph.output ?? []).map(batchSymbolic);
  return { ...model, graph: { ...model.graph, input, output, valueInfo: [] } };
}

function stack(inputs: readonly Tensor[]): Tensor {
  if (inputs.length === 1) return inputs[0]!;
  const per = inputs[0]!.data.length;
  const data = new Float32Array(per * inputs.length);
  inputs.forEach((t, k) => data.set(t.data as Float32Array, k * per));
  return makeTensor('float32', [inputs.length, ...inputs[0]!.shape.slice(1)], data);
}

async function runExposed(
  session: OnnxSession,
  pm: PreparedModel,
  input: Tensor,
  fetch: readonly string[],
): Promise<Record<string, Tensor>> {
  return session.run({ [pm.input.name]: input }, fetch);
}

/** Does the batched session give, image by image, what single-image runs give? */
async function batchAgrees(
  session: OnnxSession,
  pm: PreparedModel,
  inner: readonly string[],
  probe: readonly Tensor[],
): Promise<boolean> {
  try {
    const together = await runExposed(session, pm, stack(probe), inner);
    const alone = [];
    for (const x of probe) alone.push(await runExposed(session, pm, x, inner));
    // Each tensor of `together` holds the images' values one after another.
    for (const n of inner) {
      const all = together[n]!.data as Float32Array;
      let t = 0;
      for (const a of alone) {
        const one = a[n]!.data as Float32Array;
        if (all.length !== one.length * probe.length) return false;
        for (let i = 0; i < one.length; i++) {
          const x = one[i]!;
          if (Math.abs(all[t++]! - x) > 1e-4 * Math.max(1, Math.abs(x))) return false;
        }
      }
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
  const inner = (options.tensors ?? pm.activations).filter((n) => n !== pm.input.name);
  const graph = exposedGraph(pm, inner, withRanges);
  const fetch = withRanges ? [...inner, RANGES] : inner;
  let batch = 1;
  let session: OnnxSession | undefined;
  const wanted = options.batch ?? 1;
  const sessionOptions = {
    ...HOST_SESSION,
    graphOptimizationLevel: 'all' as const,
    ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
  };
  if (wanted > 1 && (options.probe?.length ?? 0) >= 2 && pm.input.shape[0] === 1) {
    try {
      const batched = await createOnnxSession(
        encodeOnnx(withSymbolicBatch(graph, pm.input.name)),
        sessionOptions,
      );
      if (await batchAgrees(batched, pm, inner, options.probe!.slice(0, 2))) {
        session = batched;
        batch = wanted;
      } else {
        await batched.release();
      }
    } catch {
      session = undefined;
    }
  }
  session ??= await createOnnxSession(encodeOnnx(graph), sessionOptions);
  const live = session;
  return {
    batch,
    async run(inputs) {
      if (inputs.length === 0 || inputs.length > batch) {
        throw bmfError('BMF_ERR_INTERNAL', {
          reason: `activation runner fed ${inputs.length} images (batch ${batch})`,
        });
      }
      const fed = stack(inputs);
      const out = await runExposed(live, pm, fed, fetch);
      const k = inputs.length;
      const values = new Map<string, Float32Array>([[pm.input.name, fed.data as Float32Array]]);
      for (const n of inner) values.set(n, out[n]!.data as Float32Array);
      if (!withRanges) return { images: k, values };
      const r = out[RANGES]!.data as Float32Array;
      const ranges = new Map<string, readonly [number, number]>();
      inner.forEach((n, i) => ranges.set(n, [r[2 * i]!, r[2 * i + 1]!]));
      return { images: k, values, ranges };
    },
    release: () => live.release(),
  };
}
