// Data set images -> preprocessed model inputs (through the shared preprocessing), loaded once
// and reused by calibration, search and evaluation.
import type { PreprocessSpec } from '../../shared/preprocess/index.js';
import type { Progress } from './calibrate.js';
import type { Dataset } from './dataset.js';
import type { EvalInput } from './evaluate.js';
import { loadImageTensor } from './image-input.js';

export async function loadDatasetInputs(
  dataset: Dataset,
  spec: PreprocessSpec,
  onProgress: (p: Progress) => void = () => undefined,
  limit = Infinity,
  concurrency = 4,
): Promise<EvalInput[]> {
  const items = dataset.items.slice(0, limit);
  const out = new Array<EvalInput>(items.length);
  let next = 0;
  let done = 0;
  // A few decodes in flight hide libvips' per-image latency; results keep the listing order.
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      const item = items[k]!;
      const tensor = await loadImageTensor(item.path, spec, dataset.purpose);
      out[k] = item.label === undefined ? { tensor } : { tensor, label: item.label };
      onProgress({ stage: `load ${dataset.purpose} images`, done: ++done, total: items.length });
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker),
  );
  return out;
}

/**
 * Split calibration inputs into the calibration part and a held-out part for scoring candidate
 * thresholds: every fifth image up to `maxHeldOut`; tiny sets (< 5) are used for both.
 */
export function splitHeldOut<T>(all: readonly T[], maxHeldOut = 40): { calib: T[]; heldOut: T[] } {
  if (all.length < 5) return { calib: [...all], heldOut: [...all] };
  const calib: T[] = [];
  const heldOut: T[] = [];
  all.forEach((x, i) => (i % 5 === 4 && heldOut.length < maxHeldOut ? heldOut : calib).push(x));
  return { calib, heldOut };
}
