// A model made ready for quantization: decoded, checked, BatchNorm folded, split into layers, and
// its float activation tensors found (one zero-input run tells which layer outputs are float, so
// shape/index side branches never reach the calibration table).
import { bmfError } from '../../shared/errors.js';
import { makeTensor, type Tensor } from '../../shared/tensor.js';
import {
  createOnnxSession,
  encodeOnnx,
  graphInputs,
  graphOutputs,
  loadOnnx,
  staticShape,
  valueInfo,
  editGraph,
  type OnnxModel,
} from '../onnx/index.js';
import { consumerCounts, foldBatchNorm } from './bn-fold.js';
import { foldConstantNodes } from './const-fold.js';
import { activationCandidates, quantLayers, type QuantLayer } from './layers.js';
import { calibratedTensors, thresholdSources } from './propagate.js';

export interface PreparedModel {
  /** BatchNorm-folded FP32 graph: the reference for calibration, evaluation and INT8 emission. */
  readonly model: OnnxModel;
  readonly bytes: Uint8Array;
  readonly layers: readonly QuantLayer[];
  /** Float activation tensors in graph order (graph input first). */
  readonly activations: readonly string[];
  /** Element count of each activation (static shapes). */
  readonly activationSizes: ReadonlyMap<string, number>;
  /** Activation -> the activation whose statistics give its threshold (propagate.ts). */
  readonly thresholdSources: ReadonlyMap<string, string>;
  /** The activations calibration measures (the distinct sources, in graph order). */
  readonly calibrated: readonly string[];
  readonly input: { readonly name: string; readonly shape: readonly number[] };
  readonly outputs: readonly string[];
  readonly foldedBatchNorms: readonly string[];
}

/** The model with `names` added as graph outputs (types left for onnxruntime to infer). */
export function exposeTensors(model: OnnxModel, names: readonly string[]): OnnxModel {
  const existing = new Set((model.graph.output ?? []).map((o) => o.name));
  const inputs = new Set((model.graph.input ?? []).map((i) => i.name));
  const extra = names
    .filter((n) => !existing.has(n) && !inputs.has(n))
    .map((n) => {
      const v = valueInfo(n);
      delete v.type;
      return v;
    });
  return editGraph(model, { addOutputs: extra });
}

export function zeroInput(shape: readonly number[]): Tensor {
  return makeTensor('float32', shape, new Float32Array(shape.reduce((a, b) => a * b, 1)));
}

export async function prepareModel(bytes: Uint8Array, path = '<bytes>'): Promise<PreparedModel> {
  const source = loadOnnx(bytes, path);
  const ins = graphInputs(source);
  if (ins.length !== 1) {
    throw bmfError('BMF_ERR_MODEL_UNSUPPORTED', {
      reason: `the quantizer feeds images to one input; ${path} has ${ins.length} inputs`,
    });
  }
  const shape = staticShape(ins[0]!);
  if (!shape) {
    throw bmfError('BMF_ERR_MODEL_DYNAMIC_SHAPE', {
      input: ins[0]!.name,
      shape: `[${ins[0]!.dims.join(',')}]`,
    });
  }
  const { model, folded } = foldBatchNorm(foldConstantNodes(source).model);
  const layers = quantLayers(model);
  const candidates = activationCandidates(model, layers);
  const session = await createOnnxSession(encodeOnnx(exposeTensors(model, candidates)), {
    graphOptimizationLevel: 'disabled',
  });
  const sizes = new Map<string, number>([[ins[0]!.name, shape.reduce((a, b) => a * b, 1)]]);
  try {
    const out = await session.run({ [ins[0]!.name]: zeroInput(shape) });
    for (const [n, t] of Object.entries(out))
      if (t.dtype === 'float32') sizes.set(n, t.data.length);
  } finally {
    await session.release();
  }
  const activations = candidates.filter((n) => sizes.has(n));
  const sources = thresholdSources(layers, activations, consumerCounts(model));
  return {
    model,
    bytes: encodeOnnx(model),
    layers,
    activations,
    activationSizes: new Map(activations.map((n) => [n, sizes.get(n)!])),
    thresholdSources: sources,
    calibrated: calibratedTensors(sources),
    input: { name: ins[0]!.name, shape },
    outputs: graphOutputs(model).map((o) => o.name),
    foldedBatchNorms: folded,
  };
}
