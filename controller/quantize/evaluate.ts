// Evaluation of an INT8 model against its FP32 reference on a labelled (or unlabelled) image set:
// top-1 of each, agreement between them, per class, and output cosine; plus the per-layer
// similarity table FP32 vs INT8 (cosine, euclidean similarity, SQNR per activation tensor, the
// vendor's comparison; docs/vendor.md section 1).
import { cosineSimilarity, similarityAccumulator } from '../../shared/stats/similarity.js';
import { SIMULATOR_GRAPH_LEVEL } from '../../shared/simulator/graph-level.js';
import type { Tensor } from '../../shared/tensor.js';
import { createOnnxSession, encodeOnnx } from '../onnx/index.js';
import { createActivationRunner } from './activation-runner.js';
import type { Progress } from './calibrate.js';
import { exposeTensors, type PreparedModel } from './prepared-model.js';
import type { Int8Graph } from './qdq.js';
import { HOST_SESSION } from './score.js';

export interface EvalInput {
  readonly tensor: Tensor;
  readonly label?: number;
}

export interface ClassAccuracy {
  readonly label: number;
  readonly name: string;
  readonly images: number;
  readonly top1Fp32: number;
  readonly top1Int8: number;
  readonly agreement: number;
}

export interface AccuracyReport {
  readonly images: number;
  readonly labelled: boolean;
  /** Fractions in [0, 1]; null when the set has no labels. */
  readonly top1Fp32: number | null;
  readonly top1Int8: number | null;
  /** Share of images where FP32 and INT8 pick the same class. */
  readonly agreement: number;
  readonly meanOutputCosine: number;
  readonly minOutputCosine: number;
  readonly perClass: readonly ClassAccuracy[];
}

function argmax(t: Tensor): number {
  const d = t.data as Float32Array;
  let best = 0;
  for (let i = 1; i < d.length; i++) if (d[i]! > d[best]!) best = i;
  return best;
}

export interface AccuracyOptions {
  readonly classNames?: readonly string[];
  readonly onProgress?: (p: Progress) => void;
  /** FP32 first-output values per input, when already computed (several INT8 candidates). */
  readonly reference?: readonly Tensor[];
}

/** FP32 first-output value for every input (shared by several accuracy evaluations). */
export async function fp32Reference(
  pm: PreparedModel,
  inputs: readonly EvalInput[],
): Promise<Tensor[]> {
  const output = pm.outputs[0]!;
  const session = await createOnnxSession(pm.bytes, HOST_SESSION);
  try {
    const out: Tensor[] = [];
    for (const x of inputs)
      out.push((await session.run({ [pm.input.name]: x.tensor }, [output]))[output]!);
    return out;
  } finally {
    await session.release();
  }
}

export async function evaluateAccuracy(
  pm: PreparedModel,
  int8: Int8Graph,
  inputs: readonly EvalInput[],
  options: AccuracyOptions = {},
): Promise<AccuracyReport> {
  const output = pm.outputs[0]!;
  const classNames = options.classNames ?? [];
  const onProgress = options.onProgress ?? (() => undefined);
  const reference = options.reference ?? (await fp32Reference(pm, inputs));
  // The INT8 graph at the simulator's level: fused u8s8 kernels saturate on hosts without VNNI, so
  // the reported top-1 would depend on the host (shared/simulator/graph-level.ts).
  const q = await createOnnxSession(encodeOnnx(int8.model), {
    ...HOST_SESSION,
    graphOptimizationLevel: SIMULATOR_GRAPH_LEVEL.quantized,
  });
  const rows = new Map<number, { n: number; f: number; i: number; a: number }>();
  let f = 0;
  let i8 = 0;
  let agree = 0;
  let cosSum = 0;
  let cosMin = 1;
  const labelled = inputs.length > 0 && inputs.every((x) => x.label !== undefined);
  try {
    for (const [k, x] of inputs.entries()) {
      const a = reference[k]!;
      const b = (await q.run({ [pm.input.name]: x.tensor }, [output]))[output]!;
      const pa = argmax(a);
      const pb = argmax(b);
      const cos = cosineSimilarity(a, b);
      cosSum += cos;
      cosMin = Math.min(cosMin, cos);
      if (pa === pb) agree++;
      if (x.label !== undefined) {
        const r = rows.get(x.label) ?? { n: 0, f: 0, i: 0, a: 0 };
        r.n++;
        if (pa === x.label) {
          r.f++;
          f++;
        }
        if (pb === x.label) {
          r.i++;
          i8++;
        }
        if (pa === pb) r.a++;
        rows.set(x.label, r);
      }
      onProgress({ stage: 'evaluate', done: k + 1, total: inputs.length });
    }
  } finally {
    await q.release();
  }
  const n = inputs.length;
  return {
    images: n,
    labelled,
    top1Fp32: labelled ? f / n : null,
    top1Int8: labelled ? i8 / n : null,
    agreement: n ? agree / n : 0,
    meanOutputCosine: n ? cosSum / n : 0,
    minOutputCosine: cosMin,
    perClass: [...rows]
      .sort(([x], [y]) => x - y)
      .map(([label, r]) => ({
        label,
        name: classNames[label] ?? '',
        images: r.n,
        top1Fp32: r.f / r.n,
        top1Int8: r.i / r.n,
        agreement: r.a / r.n,
      })),
  };
}

export interface LayerSimilarity {
  readonly tensor: string;
  readonly precision: 'INT8' | 'F32' | 'input';
  readonly cosine: number;
  readonly euclidean: number;
  readonly sqnrDb: number;
  readonly pass: boolean;
}

/**
 * FP32 vs INT8 value of every activation tensor over `inputs`, each measure taken over all the
 * images at once (as if their values were concatenated).
 *
 * How it splits across cores: both inference sessions split each kernel over every core
 * (HOST_SESSION); onnxruntime-node runs them on the calling thread, so the comparison runs
 * between them, single-threaded, as one streaming pass per tensor and image
 * (similarityAccumulator). ResNet-50 has ~11 M activation values per image, which the previous
 * concatenate-then-copy-to-float64 comparison turned into most of this step's CPU
 * (docs/architecture.md, controller/quantize).
 */
export async function layerSimilarity(
  pm: PreparedModel,
  int8: Int8Graph,
  inputs: readonly Tensor[],
): Promise<LayerSimilarity[]> {
  const names = pm.activations;
  const probe = names.map((n) => int8.valueNames.get(n) ?? n);
  const wanted = probe.filter((p) => p !== pm.input.name);
  const fp32 = await createActivationRunner(pm);
  const q = await createOnnxSession(encodeOnnx(exposeTensors(int8.model, probe)), {
    ...HOST_SESSION,
    graphOptimizationLevel: SIMULATOR_GRAPH_LEVEL.quantized,
  });
  const sums = names.map(() => similarityAccumulator());
  try {
    for (const x of inputs) {
      const a = await fp32.run([x]);
      const b = await q.run({ [pm.input.name]: x }, wanted);
      names.forEach((n, i) => {
        const test = probe[i] === pm.input.name ? x : b[probe[i]!]!;
        sums[i]!.add(a.values.get(n)!, test.data as Float32Array);
      });
    }
  } finally {
    await fp32.release();
    await q.release();
  }
  return names.map((n, k) => {
    const precision = n === pm.input.name ? 'input' : (int8.precisions.get(n) ?? 'F32');
    return { tensor: n, precision, ...sums[k]!.result() };
  });
}
