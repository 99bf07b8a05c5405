// Where each latency row of an experiment comes from, and what may be concluded from it. Pure.
//
// A modeled latency (the simulator padded to the cost model's figure) is the same number on
// every request: it has no sampling variance, so a hypothesis test on it only measures how many
// requests were sent (p-values like 1e-274 for a difference that was computed, not observed).
// Such a row shows the model's difference and is never tested, and never decides a verdict.
import type { LatencySketch } from '../../shared/stats/sketch.js';
import type { LatencySource } from '../telemetry/rollup.js';
import type { TelemetrySummary } from '../telemetry/summary.js';
import type { MetricResult } from './metrics.js';

export type { LatencySource };

/**
 * Under `modeled` timing the cost model stands in for the infer stage; end-to-end adds this
 * host's measured pre/postprocessing to it; the other stages are measured on this host.
 */
const MODELED_STAGES: Readonly<Record<string, readonly LatencySource[]>> = {
  infer: ['modeled'],
  e2e: ['host', 'modeled'],
};
const ORDER: readonly LatencySource[] = ['device', 'host', 'modeled', 'unknown'];

/** The sources of one stage's latencies in one arm, in a fixed order. */
export function stageSources(stage: string, summary: TelemetrySummary): LatencySource[] {
  const found = new Set<LatencySource>();
  for (const [source, n] of Object.entries(summary.latencySources) as [LatencySource, number][]) {
    if (!n) continue;
    const parts = source === 'modeled' ? (MODELED_STAGES[stage] ?? ['host']) : [source];
    for (const p of parts) found.add(p);
  }
  return ORDER.filter((s) => found.has(s));
}

export const SOURCE_WORDS: Readonly<Record<LatencySource, string>> = {
  device: 'measured on the device',
  host: 'measured on this host (simulator)',
  modeled: 'modeled (cost model, not measured)',
  unknown: 'source not reported',
};

/** "measured on the device" or, for a mix, each part: "A: ...; B: ...". */
export function describeSources(source: {
  readonly A: readonly LatencySource[];
  readonly B: readonly LatencySource[];
}): string {
  const words = (s: readonly LatencySource[]): string =>
    s.length ? s.map((x) => SOURCE_WORDS[x]).join(' + ') : 'no data';
  const a = words(source.A);
  const b = words(source.B);
  return a === b ? a : `A ${a}; B ${b}`;
}

/**
 * The row of a latency metric whose samples include modeled figures: the difference of the
 * arms' medians as the model gives it, no interval, no p-value, verdict `modeled`.
 */
export function modeledRow(
  tested: MetricResult,
  a: LatencySketch | undefined,
  b: LatencySketch | undefined,
  previousP: number,
): MetricResult {
  const median = (s: LatencySketch | undefined): number =>
    s && s.count > 0 ? s.quantile(0.5) : NaN;
  return {
    key: tested.key,
    kind: tested.kind,
    label: tested.label,
    unit: tested.unit,
    nA: tested.nA,
    nB: tested.nB,
    unitOfAnalysis: tested.unitOfAnalysis,
    analysed: tested.analysed,
    ...(tested.devices ? { devices: tested.devices } : {}),
    ...(tested.source ? { source: tested.source } : {}),
    verdict: 'modeled',
    effect: { estimate: median(b) - median(a), low: NaN, high: NaN },
    pValue: NaN,
    alwaysValidP: previousP,
  };
}
