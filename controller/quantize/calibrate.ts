// Calibration: run the FP32 (BN-folded) graph with every activation exposed as an output over
// the calibration inputs and collect per-tensor min/max/abs-max and 2048-bin |x| histograms.
//
// Two passes, as tpu-mlir's run_calibration (range first, then histograms over [0, absMax]). The
// first pass keeps the activations when they fit `cacheBudgetBytes`, so the second pass reads
// memory instead of running inference again; larger models fall back to a second inference pass.
import { availableParallelism } from 'node:os';
import { bmfError } from '../../shared/errors.js';
import type { Tensor } from '../../shared/tensor.js';
import { createActivationRunner } from './activation-runner.js';
import { createHistogramWorker } from './histogram-worker.js';
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
import type { PreparedModel } from './prepared-model.js';
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
  /** Images per inference call (the runner falls back to 1 when the model cannot batch). */
  readonly batch?: number;
  /** 1 fills every histogram on the calling thread; 2 (default on multi-core hosts) shares them
   * with a worker thread. */
  readonly histogramThreads?: 1 | 2;
}

export const DEFAULT_CACHE_BUDGET = 512 * 1024 * 1024;
export const DEFAULT_BATCH = 16;

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
  const ranges = new Map(pm.activations.map((n) => [n, emptyRange()]));
  const totalValues = pm.activations.reduce((a, n) => a + pm.activationSizes.get(n)!, 0);
  const cacheFits = totalValues * 4 * inputs.length <= budget;
  const threads = options.histogramThreads ?? (availableParallelism() > 1 ? 2 : 1);
  // The worker pays off only when there is real histogram work (and everything is cached).
  const offload =
    threads > 1 && cacheFits && totalValues * inputs.length >= WORKER_MIN_VALUES
      ? workerShare(pm)
      : new Set<string>();
  const worker = offload.size > 0 ? createHistogramWorker() : undefined;
  const runner = await createActivationRunner(pm, {
    ranges: true,
    batch: options.batch ?? DEFAULT_BATCH,
    probe: inputs,
  }).catch(async (e: unknown) => {
    await worker?.close();
    throw e;
  });
  const batches: Tensor[][] = [];
  for (let k = 0; k < inputs.length; k += runner.batch) {
    batches.push(inputs.slice(k, k + runner.batch));
  }
  try {
    let cache: ReadonlyMap<string, Float32Array>[] | undefined = cacheFits ? [] : undefined;
    let done = 0;
    for (const batch of batches) {
      checkAbort(options.signal);
      const out = await runner.run(batch);
      for (const [name, range] of ranges) {
        updateRange(range, out.ranges?.get(name) ?? out.values.get(name)!);
      }
      if (cache) {
        const kept = new Map<string, Float32Array>();
        for (const [name, v] of out.values) {
          if (offload.has(name)) worker!.hold(name, v);
          else kept.set(name, v);
        }
        cache.push(kept);
      }
      done += batch.length;
      report({ stage: 'calibrate: ranges', done, total: inputs.length });
    }
    const hists = new Map(
      [...ranges].map(([n, r]) => [n, createHistogram(r.absMax, HISTOGRAM_BINS)]),
    );
    const offloaded = worker?.fill(
      new Map(
        [...offload].map((n) => [n, { inv: 1 / hists.get(n)!.binWidth, bins: HISTOGRAM_BINS }]),
      ),
    );
    const mine = [...hists].filter(([n]) => !offload.has(n));
    const lanes = new Map(
      mine.map(([n]) => [n, new Uint32Array(HISTOGRAM_BINS * HISTOGRAM_LANES)]),
    );
    done = 0;
    for (const [k, batch] of batches.entries()) {
      checkAbort(options.signal);
      const values = cache?.[k] ?? (await runner.run(batch)).values;
      for (const [name, h] of mine) {
        countBins(lanes.get(name)!, values.get(name)!, 1 / h.binWidth, h.counts.length - 1);
      }
      done += batch.length;
      report({ stage: 'calibrate: histograms', done, total: inputs.length });
    }
    cache = undefined;
    for (const [name, l] of lanes) foldLanes(hists.get(name)!.counts, l);
    for (const [name, l] of (await offloaded) ?? []) foldLanes(hists.get(name)!.counts, l);
    return new Map(
      pm.activations.map((n) => [n, { name: n, range: ranges.get(n)!, histogram: hists.get(n)! }]),
    );
  } finally {
    await Promise.all([runner.release(), worker?.close()]);
  }
}

/** Below this many activation values in all, a second thread costs more than it saves. */
export const WORKER_MIN_VALUES = 2_000_000;

/**
 * Tensors whose histograms the worker fills: about half of all values, largest tensors first
 * (greedy balance). The graph input stays on the main thread: its values are the caller's data,
 * which must not be transferred away.
 */
export function workerShare(pm: PreparedModel): Set<string> {
  const sized = pm.activations
    .filter((n) => n !== pm.input.name)
    .map((n) => [n, pm.activationSizes.get(n)!] as const)
    .sort((a, b) => b[1] - a[1]);
  let main = pm.activationSizes.get(pm.input.name) ?? 0;
  let other = 0;
  const share = new Set<string>();
  for (const [n, size] of sized) {
    if (other < main) {
      share.add(n);
      other += size;
    } else {
      main += size;
    }
  }
  return share;
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
