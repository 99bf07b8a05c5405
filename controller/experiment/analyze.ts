// From merged telemetry per arm to verdicts: per metric, per group, guardrails, drift, overall
// winner. Pure: the service gathers the telemetry and persists the always-valid p-values.
import {
  agreementSums,
  boxesPerImageByDevice,
  boxesPerImageSums,
  compareAgreement,
  compareBoxesPerImage,
  DETECTION_RATES,
  hasDetection,
  hasDetectionOutput,
  isAccuracyKey,
  stagesFor,
} from './detection.js';
import {
  assessDrift,
  type ChannelCalibration,
  type DriftVerdict,
} from '../../shared/stats/drift.js';
import type { DriftStats } from '../../shared/wire/messages.js';
import type { LatencySketch } from '../../shared/stats/sketch.js';
import { sketchBins, type ClusterCount } from '../../shared/stats/hypothesis/index.js';
import type { TelemetrySummary } from '../telemetry/summary.js';
import {
  compareLatency,
  comparePaired,
  compareRates,
  type CompareContext,
  type MetricResult,
  type Verdict,
} from './metrics.js';
import {
  compareLatencyByDevice,
  compareRatesByDevice,
  MIN_DEVICES_FOR_VERDICT,
} from './metrics-by-device.js';
import { MIN_SAMPLES_FOR_VERDICT } from './metrics.js';
import { armFailures, type ArmFailures } from './failures.js';
import { describeGolden } from './golden.js';
import { modeledRow, stageSources } from './latency-source.js';
import { poweredShortfall } from './validate.js';
import {
  DEFAULT_ACCURACY_MDE,
  DEFAULT_ALPHA,
  DEFAULT_LATENCY_MDE,
  type Arm,
  type ExperimentSpec,
  type ExperimentState,
} from './model.js';

export interface DeviceTelemetry {
  readonly id: string;
  readonly sketches: Readonly<Record<string, LatencySketch>>;
  readonly summary: TelemetrySummary;
}

export interface ArmTelemetry {
  readonly sketches: Readonly<Record<string, LatencySketch>>;
  readonly summary: TelemetrySummary;
  /**
   * Cohorts: the same telemetry per device of the arm. When both arms carry it, every metric is
   * compared over devices (the unit of randomisation; metrics-by-device.ts), not requests.
   */
  readonly devices?: readonly DeviceTelemetry[];
}

export interface AnalysisInput {
  readonly spec: ExperimentSpec;
  readonly state: ExperimentState;
  readonly now: number;
  readonly arms: { readonly A: ArmTelemetry; readonly B: ArmTelemetry };
  /** Per-group breakdown (by chip or the stratification tag). */
  readonly groups?: readonly {
    readonly name: string;
    readonly A: ArmTelemetry;
    readonly B: ArmTelemetry;
  }[];
  /** Requests per arm per time bucket. */
  readonly timeline?: readonly {
    readonly startMs: number;
    readonly A: number;
    readonly B: number;
  }[];
  /** Calibration statistics of B's bundle (INT8 candidate) for the drift check. */
  readonly calibrationB?: {
    readonly stats: readonly ChannelCalibration[];
    readonly int8Input: boolean;
  };
}

export interface GuardrailStatus {
  readonly breached: boolean;
  readonly reasons: readonly string[];
}

export type OverallVerdict =
  'B_better' | 'A_better' | 'no_difference' | 'tradeoff' | 'not_enough_data' | 'guardrail';

export interface Analysis {
  readonly experimentId: string;
  readonly at: number;
  readonly status: ExperimentState['status'];
  readonly startedAt?: number;
  readonly allocation: ExperimentSpec['allocation']['kind'];
  readonly bundles: { readonly A: string; readonly B: string };
  readonly alpha: number;
  readonly samples: { readonly A: number; readonly B: number };
  /** Per arm (= variant): the bundle's requests and errors, and those failed before a model. */
  readonly failures: Readonly<Record<Arm, ArmFailures>>;
  readonly metrics: readonly MetricResult[];
  readonly overall: {
    readonly verdict: OverallVerdict;
    /** Set only when `promote` would accept it (a guardrail breach names A, the arm kept). */
    readonly winner?: Arm;
    /** `not_enough_data` with a result already: the arm that leads, not yet promotable. */
    readonly leaning?: Arm;
    readonly reason: string;
    /** `not_enough_data`: what is missing, each in words ("104 more samples per arm"). */
    readonly missing?: readonly string[];
  };
  readonly guardrails: GuardrailStatus;
  readonly drift?: DriftVerdict;
  readonly groups: readonly { readonly name: string; readonly metrics: readonly MetricResult[] }[];
  readonly cdf: {
    readonly A: readonly [number, number][];
    readonly B: readonly [number, number][];
  };
  readonly timeline: readonly {
    readonly startMs: number;
    readonly A: number;
    readonly B: number;
  }[];
  /** Always-valid p per metric key, to persist for the next look. */
  readonly alwaysValidP: Readonly<Record<string, number>>;
}

function contextOf(
  spec: ExperimentSpec,
  previous: Readonly<Record<string, number>>,
): (key: string) => CompareContext {
  const alpha = spec.alpha ?? DEFAULT_ALPHA;
  return (key) => ({ alpha, minSamples: spec.minSamples, previousP: previous[key] ?? 1 });
}

/** Cohorts: one observation per device for latency, accuracy and error rate. */
function deviceMetrics(
  spec: ExperimentSpec,
  A: readonly DeviceTelemetry[],
  B: readonly DeviceTelemetry[],
  previous: Readonly<Record<string, number>>,
): MetricResult[] {
  const ctx = contextOf(spec, previous);
  const accMde = spec.metrics.accuracyMde ?? DEFAULT_ACCURACY_MDE;
  const latMde = spec.metrics.latencyMde ?? DEFAULT_LATENCY_MDE;
  const out: MetricResult[] = [];
  const detection = hasDetection([...A, ...B].map((d) => d.summary));
  for (const stage of stagesFor(spec.metrics.stages, detection)) {
    const key = `latency.${stage}`;
    const of = (arm: readonly DeviceTelemetry[]): LatencySketch[] =>
      arm.flatMap((d) => (d.sketches[stage] ? [d.sketches[stage]] : []));
    out.push(compareLatencyByDevice(key, of(A), of(B), latMde, ctx(key)));
  }
  const counts = (
    arm: readonly DeviceTelemetry[],
    f: (s: TelemetrySummary) => ClusterCount,
  ): ClusterCount[] => arm.map((d) => f(d.summary));
  for (const kind of ['golden', 'feedback'] as const) {
    const f = (s: TelemetrySummary): ClusterCount => ({
      x: s.accuracy[kind].correct,
      n: s.accuracy[kind].total,
    });
    const a = counts(A, f);
    const b = counts(B, f);
    if ([...a, ...b].some((c) => c.n > 0)) {
      const key = `accuracy.${kind}`;
      out.push(compareRatesByDevice(key, `accuracy ${kind}`, a, b, accMde, true, ctx(key)));
    }
  }
  if (detection) {
    for (const r of DETECTION_RATES) {
      out.push(
        compareRatesByDevice(
          r.key,
          r.label,
          counts(A, r.of),
          counts(B, r.of),
          accMde,
          true,
          ctx(r.key),
        ),
      );
    }
  }
  if (hasDetectionOutput([...A, ...B].map((d) => d.summary))) {
    const key = 'detection.boxes_per_image';
    const by = (arm: readonly DeviceTelemetry[]) =>
      boxesPerImageByDevice(arm.map((d) => d.summary));
    out.push(compareBoxesPerImage(by(A), by(B), 'devices', ctx(key)));
  }
  const errors = (s: TelemetrySummary): ClusterCount => ({ x: s.errors, n: s.requests });
  out.push(
    compareRatesByDevice(
      'errors',
      'error rate',
      counts(A, errors),
      counts(B, errors),
      accMde,
      false,
      ctx('errors'),
    ),
  );
  return out;
}

/**
 * Every latency row says where its figures come from; rows with modeled figures are shown and
 * never tested (latency-source.ts); rows still waiting for data say for what.
 */
function honest(
  spec: ExperimentSpec,
  metrics: readonly MetricResult[],
  A: ArmTelemetry,
  B: ArmTelemetry,
  previous: Readonly<Record<string, number>>,
): MetricResult[] {
  return metrics.map((m) => {
    let out = m;
    if (m.kind === 'latency') {
      const stage = m.key.replace(/^latency\./, '');
      const source = { A: stageSources(stage, A.summary), B: stageSources(stage, B.summary) };
      out = { ...m, source };
      if ([...source.A, ...source.B].includes('modeled')) {
        return modeledRow(out, A.sketches[stage], B.sketches[stage], previous[m.key] ?? 1);
      }
    }
    const missing = out.verdict === 'not_enough_data' ? missingFor(spec, out) : undefined;
    return missing ? { ...out, missing } : out;
  });
}

/** What a `not_enough_data` metric waits for, in the unit its test runs on. */
function missingFor(spec: ExperimentSpec, m: MetricResult): string | undefined {
  // Box agreement is one figure over shadowed images, not one per arm.
  const more = (need: number, have: number, what: string): string =>
    `${need - have} more ${what}${m.kind === 'agreement' ? '' : ' per arm'}`;
  const what =
    m.kind === 'paired' ? 'labelled pairs' : m.kind === 'agreement' ? 'shadowed images' : 'samples';
  const units = Math.min(m.analysed.A, m.analysed.B);
  if (m.unitOfAnalysis === 'devices' && units < MIN_DEVICES_FOR_VERDICT) {
    return more(
      MIN_DEVICES_FOR_VERDICT,
      units,
      units === MIN_DEVICES_FOR_VERDICT - 1 ? 'device' : 'devices',
    );
  }
  if (m.unitOfAnalysis === 'requests' && units < MIN_SAMPLES_FOR_VERDICT) {
    return more(MIN_SAMPLES_FOR_VERDICT, units, what);
  }
  const n = m.kind === 'paired' ? m.nA : Math.min(m.nA, m.nB);
  if (n < spec.minSamples) return more(spec.minSamples, n, what);
  return undefined;
}

function armMetrics(
  spec: ExperimentSpec,
  A: ArmTelemetry,
  B: ArmTelemetry,
  previous: Readonly<Record<string, number>>,
): MetricResult[] {
  return honest(spec, testedMetrics(spec, A, B, previous), A, B, previous).map(describeGolden);
}

function testedMetrics(
  spec: ExperimentSpec,
  A: ArmTelemetry,
  B: ArmTelemetry,
  previous: Readonly<Record<string, number>>,
): MetricResult[] {
  if (spec.allocation.kind === 'cohorts' && A.devices && B.devices) {
    return deviceMetrics(spec, A.devices, B.devices, previous);
  }
  const ctx = contextOf(spec, previous);
  const accMde = spec.metrics.accuracyMde ?? DEFAULT_ACCURACY_MDE;
  const latMde = spec.metrics.latencyMde ?? DEFAULT_LATENCY_MDE;
  const out: MetricResult[] = [];
  const detection = hasDetection([A.summary, B.summary]);
  for (const stage of stagesFor(spec.metrics.stages, detection)) {
    const key = `latency.${stage}`;
    out.push(compareLatency(key, A.sketches[stage], B.sketches[stage], latMde, ctx(key)));
  }
  const a = A.summary;
  const b = B.summary;
  const g = [a.accuracy.golden, b.accuracy.golden] as const;
  if (g[0].total + g[1].total > 0) {
    out.push(
      compareRates(
        'accuracy.golden',
        'accuracy golden',
        g[0].correct,
        g[0].total,
        g[1].correct,
        g[1].total,
        accMde,
        true,
        ctx('accuracy.golden'),
      ),
    );
  }
  const f = [a.accuracy.feedback, b.accuracy.feedback] as const;
  if (f[0].total + f[1].total > 0) {
    out.push(
      compareRates(
        'accuracy.feedback',
        'accuracy feedback',
        f[0].correct,
        f[0].total,
        f[1].correct,
        f[1].total,
        accMde,
        true,
        ctx('accuracy.feedback'),
      ),
    );
  }
  if (detection) {
    for (const r of DETECTION_RATES) {
      const xa = r.of(a);
      const xb = r.of(b);
      out.push(compareRates(r.key, r.label, xa.x, xa.n, xb.x, xb.n, accMde, true, ctx(r.key)));
    }
  }
  if (hasDetectionOutput([a, b])) {
    const key = 'detection.boxes_per_image';
    out.push(
      compareBoxesPerImage(boxesPerImageSums(a), boxesPerImageSums(b), 'requests', ctx(key)),
    );
  }
  // Box agreement is reported on the shadow variant's (B's) summary, like the shadow pairs.
  const agreement = agreementSums([a, b]);
  if (agreement.clusters > 0) {
    out.push(compareAgreement(agreement, accMde, ctx('detection.agreement')));
  }
  // The agent reports shadow pairs and their labels on the shadow variant's (B's) report; A's
  // carries zeros there, so the sum over both arms is B's figure.
  const s = [a.accuracy.shadow, b.accuracy.shadow];
  const pairs = s.reduce((n, x) => n + x.total, 0);
  if (pairs > 0) {
    const labelled = s.reduce(
      (n, x) => n + x.bothCorrect + x.aOnlyCorrect + x.bOnlyCorrect + x.bothWrong,
      0,
    );
    out.push(
      comparePaired(
        {
          pairs,
          agree: s.reduce((n, x) => n + x.agree, 0),
          aOnlyCorrect: s.reduce((n, x) => n + x.aOnlyCorrect, 0),
          bOnlyCorrect: s.reduce((n, x) => n + x.bOnlyCorrect, 0),
          labelled,
        },
        accMde,
        ctx('accuracy.shadow'),
      ),
    );
  }
  out.push(
    compareRates(
      'errors',
      'error rate',
      a.errors,
      a.requests,
      b.errors,
      b.requests,
      accMde,
      false,
      ctx('errors'),
    ),
  );
  return out;
}

function guardrails(spec: ExperimentSpec, metrics: readonly MetricResult[]): GuardrailStatus {
  const reasons: string[] = [];
  const { maxErrorRateIncrease, maxAccuracyDrop } = spec.guardrails;
  // Descriptive rows (golden set, detections per image, box agreement) are shown, never decide.
  for (const m of metrics.filter((x) => !x.descriptive)) {
    if (
      m.key === 'errors' &&
      maxErrorRateIncrease !== undefined &&
      m.effect.low > maxErrorRateIncrease
    ) {
      reasons.push(
        `B's error rate is above A's by at least ${pct(m.effect.low)} (bound ${pct(maxErrorRateIncrease)})`,
      );
    }
    if (isAccuracyKey(m.key) && maxAccuracyDrop !== undefined && m.effect.high < -maxAccuracyDrop) {
      reasons.push(
        `${m.label}: B is below A by at least ${pct(-m.effect.high)} (bound ${pct(maxAccuracyDrop)})`,
      );
    }
  }
  return { breached: reasons.length > 0, reasons };
}

const pct = (x: number): string => `${(x * 100).toFixed(2)} pt`;

/**
 * The overall verdict. A winner is named only when promotion would accept it; otherwise the
 * verdict is `not_enough_data` with the leading arm and what is missing. Modeled rows never
 * count; the reason lists them.
 */
function overall(
  spec: ExperimentSpec,
  metrics: readonly MetricResult[],
  g: GuardrailStatus,
  shortfall: readonly string[],
): Analysis['overall'] {
  const modeled = metrics.filter((m) => m.verdict === 'modeled');
  const note = modeled.length
    ? `; not tested, modeled by the cost model (no sampling variance): ${modeled
        .map((m) => `${m.label} B - A ${Number(m.effect.estimate.toPrecision(3))} ms`)
        .join(', ')}`
    : '';
  // Descriptive rows (detections per image, box agreement) are shown, never decide.
  const deciding = metrics.filter((m) => !m.descriptive);
  const found = fromMetrics(spec, deciding, g);
  if (found.verdict === 'guardrail') return found;
  if (found.verdict === 'not_enough_data') {
    const missing = [
      ...deciding.flatMap((m) => (m.missing ? [`${m.label}: ${m.missing}`] : [])),
      ...shortfall,
    ];
    return { ...found, reason: found.reason + note, ...(missing.length ? { missing } : {}) };
  }
  if (found.winner && shortfall.length > 0) {
    return {
      verdict: 'not_enough_data',
      leaning: found.winner,
      reason: `${found.reason}${note}; not promotable yet: ${shortfall.join('; ')}`,
      missing: shortfall,
    };
  }
  return { ...found, reason: found.reason + note };
}

function fromMetrics(
  spec: ExperimentSpec,
  metrics: readonly MetricResult[],
  g: GuardrailStatus,
): Analysis['overall'] {
  if (g.breached) return { verdict: 'guardrail', winner: 'A', reason: g.reasons.join('; ') };
  const by = (v: Verdict): MetricResult[] => metrics.filter((m) => m.verdict === v);
  const better = by('better');
  const worse = by('worse');
  const names = (ms: MetricResult[]): string => ms.map((m) => m.label).join(', ');
  if (better.length === 0 && worse.length === 0) {
    const waiting = by('not_enough_data');
    if (waiting.length > 0) {
      return {
        verdict: 'not_enough_data',
        reason: `waiting for data on ${waiting
          .map((m) => (m.missing ? `${m.label} (${m.missing})` : m.label))
          .join(', ')}`,
      };
    }
    if (by('no_difference').length === 0) {
      return { verdict: 'not_enough_data', reason: 'no metric could be tested' };
    }
    return {
      verdict: 'no_difference',
      winner: 'A',
      reason: 'no difference on any tested metric: keep the incumbent A',
    };
  }
  if (worse.length === 0)
    return { verdict: 'B_better', winner: 'B', reason: `B better on ${names(better)}` };
  if (better.length === 0)
    return { verdict: 'A_better', winner: 'A', reason: `B worse on ${names(worse)}` };
  // Mixed, typically INT8 faster but less accurate: B wins only if every loss is an accuracy
  // loss whose whole interval lies within the allowed drop (non-inferiority).
  const bound = spec.guardrails.maxAccuracyDrop;
  const tolerable = worse.every(
    (m) => isAccuracyKey(m.key) && bound !== undefined && m.effect.low >= -bound,
  );
  if (tolerable) {
    return {
      verdict: 'B_better',
      winner: 'B',
      reason: `B better on ${names(better)}; accuracy loss within ${pct(bound ?? 0)}`,
    };
  }
  return {
    verdict: 'tradeoff',
    reason: `B better on ${names(better)} but worse on ${names(worse)}`,
  };
}

/** CDF points (value ms, cumulative fraction) of a sketch, at most `max` points. */
export function cdfPoints(sketch: LatencySketch | undefined, max = 150): [number, number][] {
  if (!sketch || sketch.count === 0) return [];
  const bins = sketchBins(sketch);
  const step = Math.max(1, Math.ceil(bins.values.length / max));
  const out: [number, number][] = [];
  let cum = 0;
  bins.values.forEach((v, i) => {
    cum += bins.counts[i]!;
    if (i % step === step - 1 || i === bins.values.length - 1) out.push([v, cum / bins.total]);
  });
  return out;
}

/**
 * Summary drift (mean/std per channel) back to the sums the drift check merges. The summary's
 * std is the population one (summarize: sqrt(sumSq/n - mean^2)), so sumSq = n (std^2 + mean^2);
 * a channel with no sample (mean null) has zero sums.
 */
function driftStats(s: TelemetrySummary): DriftStats[] {
  return s.drift.map((d) => ({
    input: d.input,
    channel: d.channel,
    count: d.count,
    sum: (d.mean ?? 0) * d.count,
    sumSq: d.count * ((d.std ?? 0) ** 2 + (d.mean ?? 0) ** 2),
    min: d.min,
    max: d.max,
    clippedLow: d.clippedLow,
    clippedHigh: d.clippedHigh,
  }));
}

export function analyzeExperiment(input: AnalysisInput): Analysis {
  const { spec, state, arms } = input;
  const metrics = armMetrics(spec, arms.A, arms.B, state.alwaysValidP);
  const g = guardrails(spec, metrics);
  const samples = { A: arms.A.summary.requests, B: arms.B.summary.requests };
  const drift = input.calibrationB
    ? assessDrift(driftStats(arms.B.summary), input.calibrationB.stats, {
        int8Input: input.calibrationB.int8Input,
      })
    : undefined;
  return {
    experimentId: spec.id,
    at: input.now,
    status: state.status,
    ...(state.startedAt !== undefined ? { startedAt: state.startedAt } : {}),
    allocation: spec.allocation.kind,
    bundles: { A: spec.bundleA, B: spec.bundleB },
    alpha: spec.alpha ?? DEFAULT_ALPHA,
    samples,
    failures: armFailures(arms.A.summary, arms.B.summary),
    metrics,
    overall: overall(spec, metrics, g, poweredShortfall(spec, state, samples, input.now)),
    guardrails: g,
    ...(drift ? { drift } : {}),
    // Groups are descriptive: their p-values are not carried between looks.
    groups: (input.groups ?? []).map((grp) => ({
      name: grp.name,
      metrics: armMetrics(spec, grp.A, grp.B, {}),
    })),
    cdf: { A: cdfPoints(arms.A.sketches['e2e']), B: cdfPoints(arms.B.sketches['e2e']) },
    timeline: input.timeline ?? [],
    alwaysValidP: Object.fromEntries(metrics.map((m) => [m.key, m.alwaysValidP])),
  };
}
