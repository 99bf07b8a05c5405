// Calibration: run the FP32 (BN-folded) graph with the measured activations exposed as outputs
// over the calibration inputs and collect per-tensor min/max/abs-max and 2048-bin |x| histograms.
//
// Only the tensors whose thresholds the INT8 lowering actually uses are measured
// (PreparedModel.calibrated, see propagate.ts): a Conv+Relu output followed by a MaxPool takes the
// MaxPool output's threshold, so its (four times larger) values are never read. Every activation
// still gets a row, carrying its source's statistics.
//
// Two passes, as tpu-mlir's run_calibration (range first, then histograms over [0, absMax]). The
// first pass keeps the activations of as many batches as fit `cacheBudgetBytes`, so the second
// pass reads those from memory and runs inference again only for the rest (ResNet-50: 80
// images of which about a third fit the default budget).
//
// onnxruntime runs with HOST_SESSION's threads (score.ts): one per core, idle threads sleeping.
// Its default pool spin-waits between kernels; on a busy host (the 2-core build machine, other
// jobs) the spinning threads took CPU from the histogram loop and from each other: on the
// Fashion-MNIST sample, calibration used ~190 ms of CPU with the default pool and ~110 ms with one
// thread (bench/calibrate.ts). A histogram worker thread was tried as well and lost: it can only
// start once the range pass has seen every image, and it competes for the same cores.
import { bmfError } from '../../shared/errors.js';
import type { Tensor } from '../../shared/tensor.js';
import { createActivationRunner } from './activation-runner.js';
import {
  countBins,
  createHistogram,
  emptyRange,
  foldLanes,
  HISTOGRAM_BINS,
  HISTOGRAM_LANES,
  updateRange,
  type AbsHistogram,
  type TensorRange,
} from './histogram.js';
import type { CalibrationEntry } from './calibration-table.js';
import { nativeKernels } from './native.js';
import type { PreparedModel } from './prepared-model.js';
import { thresholdFor, type ThresholdMethod } from './thresholds.js';

export interface ActivationStats {
  readonly name: string;
  /** The measured tensor these statistics come from (the tensor itself unless propagated). */
  readonly source: string;
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
  /** Images per inference call (the runner falls back to 1 when the model cannot batch). */
  readonly batch?: number;
  /** onnxruntime intra-op threads; default HOST_SESSION's (see the file comment). */
  readonly intraOpThreads?: number;
}

export const DEFAULT_CACHE_BUDGET = 512 * 1024 * 1024;
/** Most images per inference call; fewer when their measured activations are large. */
export const DEFAULT_BATCH = 16;
/**
 * Measured activation bytes per call above which batching stops paying: a batch of 16
 * MobileNetV2 images exposed 450 MB per call and ran 1.6x slower than one image per call
 * (memory traffic), while small models gain from batching (bench/calibrate.ts).
 */
export const BATCH_BYTES = 16 * 1024 * 1024;

/** Images per call for this model: DEFAULT_BATCH, fewer when that would exceed BATCH_BYTES. */
export function calibrationBatch(pm: PreparedModel): number {
  const perImage = pm.calibrated.reduce((a, n) => a + pm.activationSizes.get(n)!, 0) * 4;
  return Math.max(1, Math.min(DEFAULT_BATCH, Math.floor(BATCH_BYTES / Math.max(1, perImage))));
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw bmfError('BMF_ERR_ABORTED', { reason: 'calibration cancelled' });
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
  const ranges = new Map(pm.calibrated.map((n) => [n, emptyRange()]));
  const imageBytes = pm.calibrated.reduce((a, n) => a + pm.activationSizes.get(n)!, 0) * 4;
  // Ranges: the native kernel reads the values it gets anyway faster than onnxruntime's
  // ReduceMin/ReduceMax nodes, which are the fallback.
  const kernels = nativeKernels();
  const count = kernels ? kernels.countBins : countBins;
  report({ stage: 'calibrate: ranges', done: 0, total: inputs.length });
  const runner = await createActivationRunner(pm, {
    tensors: pm.calibrated,
    ranges: !kernels,
    batch: options.batch ?? calibrationBatch(pm),
    probe: inputs,
    ...(options.intraOpThreads ? { intraOpThreads: options.intraOpThreads } : {}),
  });
  const batches: Tensor[][] = [];
  for (let k = 0; k < inputs.length; k += runner.batch) {
    batches.push(inputs.slice(k, k + runner.batch));
  }
  try {
    // Batch k's values, while the budget lasts; the batches after it run inference again.
    let cache: ReadonlyMap<string, Float32Array>[] = [];
    let cached = 0;
    let done = 0;
    for (const [k, batch] of batches.entries()) {
      checkAbort(options.signal);
      const out = await runner.run(batch);
      for (const [name, range] of ranges) {
        const values = out.values.get(name)!;
        updateRange(range, out.ranges?.get(name) ?? kernels?.minMax(values) ?? values);
      }
      if (cache.length === k && cached + imageBytes * batch.length <= budget) {
        cache.push(out.values);
        cached += imageBytes * batch.length;
      }
      done += batch.length;
      report({ stage: 'calibrate: ranges', done, total: inputs.length });
    }
    const hists = new Map(
      [...ranges].map(([n, r]) => [n, createHistogram(r.absMax, HISTOGRAM_BINS)]),
    );
    const lanes = new Map(
      [...hists.keys()].map((n) => [n, new Uint32Array(HISTOGRAM_BINS * HISTOGRAM_LANES)]),
    );
    done = 0;
    for (const [k, batch] of batches.entries()) {
      checkAbort(options.signal);
      const values = cache[k] ?? (await runner.run(batch)).values;
      for (const [name, h] of hists) {
        count(lanes.get(name)!, values.get(name)!, 1 / h.binWidth, h.counts.length - 1);
      }
      done += batch.length;
      report({ stage: 'calibrate: histograms', done, total: inputs.length });
    }
    cache = [];
    for (const [name, l] of lanes) foldLanes(hists.get(name)!.counts, l);
    return new Map(
      pm.activations.map((n) => {
        const source = pm.thresholdSources.get(n) ?? n;
        return [n, { name: n, source, range: ranges.get(source)!, histogram: hists.get(source)! }];
      }),
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
  // Tensors sharing a source share its histogram: compute each threshold once.
  const memo = new Map<AbsHistogram, Map<ThresholdMethod, number>>();
  const threshold = (m: ThresholdMethod, h: AbsHistogram): number => {
    const byMethod = memo.get(h) ?? new Map<ThresholdMethod, number>();
    memo.set(h, byMethod);
    const th = byMethod.get(m) ?? thresholdFor(m, h);
    byMethod.set(m, th);
    return th;
  };
  return [...stats.values()].map((s) => {
    const m = typeof method === 'string' ? method : (method.get(s.name) ?? 'kl');
    return {
      name: s.name,
      threshold: threshold(m, s.histogram),
      min: s.range.min,
      max: s.range.max,
    };
  });
}
