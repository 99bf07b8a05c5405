// Output decoding for classifiers: top-k with softmax scores and label names, and the comparison
// figures kept for shadow runs and the gate.
import { cosineSimilarity } from '../../shared/stats/similarity.js';
import type { Tensor } from '../../shared/tensor.js';

type Numeric = Tensor['data'];

function at(data: Numeric, i: number): number {
  return Number(data[i]);
}

export function argmax(data: Numeric): number {
  let best = 0;
  for (let i = 1; i < data.length; i++) if (at(data, i) > at(data, best)) best = i;
  return best;
}

/** Cosine of two outputs (shared/stats, the vendor tools' definition); 0 when they cannot be compared. */
export function outputCosine(a: Tensor, b: Tensor): number {
  try {
    return cosineSimilarity(a, b);
  } catch {
    return 0;
  }
}

export interface TopKEntry {
  readonly index: number;
  readonly label: string | undefined;
  readonly score: number;
}

/**
 * Softmax over the first output's values, highest k first. One pass for the normaliser and one
 * insertion into a k-long list: no per-class objects or full sort (1000 classes cost ~10 us).
 * Ties keep the lower index first, as a stable sort would.
 */
export function topK(data: Numeric, k: number, labels?: readonly string[]): TopKEntry[] {
  const n = data.length;
  const want = Math.min(Math.max(0, k), n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = at(data, i);
    if (v > max) max = v;
  }
  let sum = 0;
  const best: number[] = []; // indices, highest value first
  for (let i = 0; i < n; i++) {
    const v = at(data, i);
    sum += Math.exp(v - max);
    if (want === 0) continue;
    if (best.length === want && v <= at(data, best[want - 1] as number)) continue;
    let j = best.length < want ? best.length : want - 1;
    while (j > 0 && at(data, best[j - 1] as number) < v) j--;
    best.splice(j, 0, i);
    if (best.length > want) best.pop();
  }
  return best.map((index) => ({
    index,
    label: labels?.[index],
    score: Math.exp(at(data, index) - max) / sum,
  }));
}
