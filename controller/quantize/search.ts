// Automatic threshold choice (the vendor's `--search search_threshold`, kept affordable): start
// from KL (the vendor default) everywhere, then sweep the tensors once in graph order and, for
// each, try the other methods' thresholds, keeping a change only when the mean output cosine
// against FP32 on held-out calibration images improves. At most `maxEvaluations` candidate
// graphs are scored; tensors past the budget keep KL.
import type { Tensor } from '../../shared/tensor.js';
import type { ActivationStats, Progress } from './calibrate.js';
import type { PreparedModel } from './prepared-model.js';
import { buildInt8Graph } from './qdq.js';
import type { LayerPrecision } from './quantize-table.js';
import { scoreModel, type OutputSet } from './score.js';
import { THRESHOLD_METHODS, thresholdFor, type ThresholdMethod } from './thresholds.js';

export interface SearchOptions {
  readonly heldOut: readonly Tensor[];
  readonly reference: OutputSet;
  readonly precisions?: ReadonlyMap<string, LayerPrecision>;
  readonly maxEvaluations?: number;
  readonly onProgress?: (p: Progress) => void;
}

export interface SearchResult {
  readonly methods: Map<string, ThresholdMethod>;
  readonly thresholds: Map<string, number>;
  readonly startCosine: number;
  readonly cosine: number;
  readonly evaluations: number;
}

export async function searchThresholds(
  pm: PreparedModel,
  stats: ReadonlyMap<string, ActivationStats>,
  options: SearchOptions,
): Promise<SearchResult> {
  const budget = options.maxEvaluations ?? 200;
  const report = options.onProgress ?? (() => undefined);
  const candidates = new Map(
    [...stats].map(([n, s]) => [
      n,
      new Map(THRESHOLD_METHODS.map((m) => [m, thresholdFor(m, s.histogram)] as const)),
    ]),
  );
  const methods = new Map([...stats.keys()].map((n) => [n, 'kl' as ThresholdMethod]));
  const thresholds = new Map([...candidates].map(([n, c]) => [n, c.get('kl')!]));
  const score = (th: Map<string, number>): Promise<number> =>
    scoreModel(
      pm,
      buildInt8Graph(pm.model, pm.layers, { thresholds: th, precisions: options.precisions }).model,
      options.heldOut,
      options.reference,
    );
  const startCosine = await score(thresholds);
  let best = startCosine;
  let evaluations = 1;
  const names = [...stats.keys()];
  for (const [k, name] of names.entries()) {
    for (const m of THRESHOLD_METHODS) {
      const th = candidates.get(name)!.get(m)!;
      const current = thresholds.get(name)!;
      if (Math.abs(th - current) <= 1e-9 * Math.max(1, current) || evaluations >= budget) continue;
      const trial = new Map(thresholds).set(name, th);
      const s = await score(trial);
      evaluations++;
      if (s > best) {
        best = s;
        thresholds.set(name, th);
        methods.set(name, m);
      }
    }
    report({ stage: 'search thresholds', done: k + 1, total: names.length });
  }
  return { methods, thresholds, startCosine, cosine: best, evaluations };
}
