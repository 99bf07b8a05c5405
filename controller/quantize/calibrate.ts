// Calibration: run the FP32 (BN-folded) graph with every activation exposed as an output over
// the calibration inputs and collect per-tensor min/max/abs-max and 2048-bin |x| histograms.
//
// Two passes, as tpu-mlir's run_calibration (range first, then histograms over [0, absMax]). The
// first pass keeps the activations when they fit `cacheBudgetBytes`, so the second pass reads
// memory instead of running inference again; larger models fall back to a second inference pass.
import { bmfError } from '../../shared/errors.js';
import type { Tensor } from '../../shared/tensor.js';
import { createOnnxSession, editGraph, encodeOnnx, makeNode, valueInfo } from '../onnx/index.js';
import {
  createHistogram,
  emptyRange,
  HISTOGRAM_BINS,
  updateHistogram,
  updateRange,
  type AbsHistogram,
  type TensorRange,
} from './histogram.js';
import type { CalibrationEntry } from './calibration-table.js';
import { exposeTensors, type PreparedModel } from './prepared-model.js';
import { thresholdFor, type ThresholdMethod } from './thresholds.js';

export interface ActivationStats {
  readonly name: string;
  readonly range: TensorRange;
  readonly histogram: AbsHistogram;
}

export interface Progress {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
}

export interface CollectOptions {
  readonly cacheBudgetBytes?: number;
  readonly onProgress?: (p: Progress) => void;
  readonly signal?: AbortSignal;
}

export const DEFAULT_CACHE_BUDGET = 512 * 1024 * 1024;

const MIN_SUFFIX = '__bmf_min';
const MAX_SUFFIX = '__bmf_max';

/**
 * A session returning every activation of the prepared model for one input. With `ranges`, the
 * graph also computes each activation's min and max (ReduceMin/ReduceMax over all axes) inside
 * onnxruntime, so the first calibration pass needs no JavaScript loop over the values.
 */
export async function createActivationRunner(pm: PreparedModel, ranges = false) {
  let model = exposeTensors(pm.model, pm.activations);
  const rangeNames: string[] = [];
  if (ranges) {
    const nodes = pm.activations.flatMap((n) => [
      makeNode('ReduceMin', [n], [n + MIN_SUFFIX], { keepdims: 0 }),
      makeNode('ReduceMax', [n], [n + MAX_SUFFIX], { keepdims: 0 }),
    ]);
    rangeNames.push(...nodes.map((x) => x.output![0]!));
    model = editGraph(model, { addNodes: nodes, addOutputs: rangeNames.map((n) => valueInfo(n)) });
  }
  const session = await createOnnxSession(encodeOnnx(model), { graphOptimizationLevel: 'all' });
  const wanted = [...pm.activations.filter((n) => n !== pm.input.name), ...rangeNames];
  return {
    async run(input: Tensor): Promise<Record<string, Tensor>> {
      const out = await session.run({ [pm.input.name]: input }, wanted);
      out[pm.input.name] = input;
      return out;
    },
    release: () => session.release(),
  };
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw bmfError('BMF_ERR_ABORTED', { reason: 'calibration cancelled' });
}

function scalar(t: Tensor | undefined): number {
  return (t?.data as Float32Array | undefined)?.[0] ?? NaN;
}

export async function collectActivationStats(
  pm: PreparedModel,
  inputs: readonly Tensor[],
  options: CollectOptions = {},
): Promise<Map<string, ActivationStats>> {
  if (inputs.length === 0) {
    throw bmfError('BMF_ERR_CALIBRATION_DATA', {
      path: '(inputs)',
      reason: 'no calibration inputs',
    });
  }
  const budget = options.cacheBudgetBytes ?? DEFAULT_CACHE_BUDGET;
  const report = options.onProgress ?? (() => undefined);
  const ranges = new Map(pm.activations.map((n) => [n, emptyRange()]));
  const runner = await createActivationRunner(pm, true);
  try {
    let cache: Record<string, Tensor>[] | undefined = [];
    let cachedBytes = 0;
    for (const [k, input] of inputs.entries()) {
      checkAbort(options.signal);
      const out = await runner.run(input);
      for (const [name, range] of ranges) {
        const lo = scalar(out[name + MIN_SUFFIX]);
        const hi = scalar(out[name + MAX_SUFFIX]);
        updateRange(
          range,
          Number.isNaN(lo) || Number.isNaN(hi) ? (out[name]!.data as Float32Array) : [lo, hi],
        );
      }
      if (cache) {
        for (const name of ranges.keys()) cachedBytes += out[name]!.data.byteLength;
        if (cachedBytes <= budget) cache.push(out);
        else cache = undefined;
      }
      report({ stage: 'calibrate: ranges', done: k + 1, total: inputs.length });
    }
    const hists = new Map(
      [...ranges].map(([n, r]) => [n, createHistogram(r.absMax, HISTOGRAM_BINS)]),
    );
    for (const [k, input] of inputs.entries()) {
      checkAbort(options.signal);
      const out = cache?.[k] ?? (await runner.run(input));
      for (const [name, h] of hists) updateHistogram(h, out[name]!.data as Float32Array);
      report({ stage: 'calibrate: histograms', done: k + 1, total: inputs.length });
    }
    return new Map(
      pm.activations.map((n) => [n, { name: n, range: ranges.get(n)!, histogram: hists.get(n)! }]),
    );
  } finally {
    await runner.release();
  }
}

/** Table rows for one method (or a per-tensor method choice) over collected statistics. */
export function calibrationEntries(
  stats: ReadonlyMap<string, ActivationStats>,
  method: ThresholdMethod | ReadonlyMap<string, ThresholdMethod>,
): CalibrationEntry[] {
  return [...stats.values()].map((s) => {
    const m = typeof method === 'string' ? method : (method.get(s.name) ?? 'kl');
    return {
      name: s.name,
      threshold: thresholdFor(m, s.histogram),
      min: s.range.min,
      max: s.range.max,
    };
  });
}
