// Automatic threshold choice (the vendor's `--search search_threshold`, kept affordable): start
// from KL (the vendor default) everywhere, then sweep the tensors once in graph order and, for
// each, try the other methods' thresholds, keeping a change only when the mean output cosine
// against FP32 on held-out calibration images improves. At most `maxEvaluations` candidate
// graphs are scored; tensors past the budget keep KL. Each candidate re-runs only the part of the
// graph its threshold reaches (suffix-scorer.ts).
import type { Tensor } from '../../shared/tensor.js';
import type { ActivationStats, Progress } from './calibrate.js';
import type { PreparedModel } from './prepared-model.js';
import { buildInt8Graph } from './qdq.js';
import type { LayerPrecision } from './quantize-table.js';
import type { OutputSet } from './score.js';
import { createSuffixScorer, type ScoringMode } from './suffix-scorer.js';
import { THRESHOLD_METHODS, thresholdFor, type ThresholdMethod } from './thresholds.js';

/**
 * Two thresholds closer than one int8 step (threshold / 128, the activation scale) quantize alike
 * to within one level: scoring the second costs an INT8 inference (of the changed suffix) per
 * held-out image and cannot tell them apart beyond noise, so it is skipped. This also
 * skips a method whose threshold equals one already tried and rejected for the same tensor.
 */
function sameStep(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(a, b) / 128;
}

export interface SearchOptions {
  readonly heldOut: readonly Tensor[];
  readonly reference: OutputSet;
  readonly precisions?: ReadonlyMap<string, LayerPrecision>;
  readonly maxEvaluations?: number;
  /** How candidates are scored (suffix-scorer.ts); `suffix` unless told. */
  readonly scoring?: ScoringMode;
  readonly onProgress?: (p: Progress) => void;
}

export interface SearchResult {
  readonly methods: Map<string, ThresholdMethod>;
  readonly thresholds: Map<string, number>;
  readonly startCosine: number;
  readonly cosine: number;
  readonly evaluations: number;
  /** Mean share of the graph's nodes a scored candidate ran (1 when every run was full). */
  readonly meanSuffixShare: number;
}

export async function searchThresholds(
  pm: PreparedModel,
  stats: ReadonlyMap<string, ActivationStats>,
  options: SearchOptions,
): Promise<SearchResult> {
  const budget = options.maxEvaluations ?? 200;
  const report = options.onProgress ?? (() => undefined);
  // Tensors sharing a measured source (propagate.ts) share one threshold: search per source.
  const members = new Map<string, string[]>();
  for (const s of stats.values()) members.set(s.source, [...(members.get(s.source) ?? []), s.name]);
  const candidates = new Map(
    [...members.keys()].map((src) => {
      const h = stats.get(src)!.histogram;
      return [src, new Map(THRESHOLD_METHODS.map((m) => [m, thresholdFor(m, h)] as const))];
    }),
  );
  const methods = new Map([...stats.keys()].map((n) => [n, 'kl' as ThresholdMethod]));
  const thresholds = new Map(
    [...stats.values()].map((s) => [s.name, candidates.get(s.source)!.get('kl')!]),
  );
  report({ stage: 'search thresholds', done: 0, total: members.size });
  const graphOf = (th: ReadonlyMap<string, number>) =>
    buildInt8Graph(pm.model, pm.layers, { thresholds: th, precisions: options.precisions }).model;
  const { scorer, startCosine } = await createSuffixScorer(
    pm,
    graphOf(thresholds),
    options.heldOut,
    options.reference,
    options.scoring,
  );
  let shares = 0;
  let best = startCosine;
  let evaluations = 1;
  const sources = [...members.keys()];
  try {
    for (const [k, src] of sources.entries()) {
      const group = members.get(src)!;
      const tried: number[] = [];
      for (const m of THRESHOLD_METHODS) {
        const th = candidates.get(src)!.get(m)!;
        const current = thresholds.get(src)!;
        if (evaluations >= budget || [current, ...tried].some((x) => sameStep(th, x))) continue;
        tried.push(th);
        const trial = new Map(thresholds);
        for (const n of group) trial.set(n, th);
        const scored = await scorer.score(graphOf(trial));
        evaluations++;
        shares += scored.share;
        if (scored.cosine > best) {
          best = scored.cosine;
          await scored.adopt();
          for (const n of group) {
            thresholds.set(n, th);
            methods.set(n, m);
          }
        }
      }
      report({ stage: 'search thresholds', done: k + 1, total: sources.length });
    }
  } finally {
    await scorer.release();
  }
  return {
    methods,
    thresholds,
    startCosine,
    cosine: best,
    evaluations,
    meanSuffixShare: evaluations > 1 ? shares / (evaluations - 1) : 1,
  };
}
