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

/** Softmax over the first output's values, highest k first. */
export function topK(data: Numeric, k: number, labels?: readonly string[]): TopKEntry[] {
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) max = Math.max(max, at(data, i));
  const exps = Array.from({ length: data.length }, (_, i) => Math.exp(at(data, i) - max));
  const sum = exps.reduce((s, v) => s + v, 0);
  return exps
    .map((e, index) => ({ index, label: labels?.[index], score: e / sum }))
    .sort((x, y) => y.score - x.score)
    .slice(0, Math.max(0, k));
}
