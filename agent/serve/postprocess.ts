// Output decoding for classifiers: top-k with softmax scores and label names, and the comparison
// figures kept for shadow runs and the gate.
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

/** a.b / (|a||b|) (the vendor tools' cosine, REFERENCE.md section 1); 0 when either is zero. */
export function cosineSimilarity(a: Numeric, b: Numeric): number {
  const n = Math.min(a.length, b.length);
  if (a.length !== b.length) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    const x = at(a, i);
    const y = at(b, i);
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
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
