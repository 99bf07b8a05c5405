// Where a cohort plan's unknowns come from: per-device telemetry of a previous experiment (each
// arm on its own bundle, so the arms' difference is not mistaken for device spread) or of one
// bundle over a recent window. One query pair per device, as the cohort analysis does.
import { agreementSums, boxesPerImageSums, DETECTION_RATES } from './detection.js';
import { bmfError } from '../../shared/errors.js';
import {
  clusteredRatio,
  estimateIcc,
  estimateLatencySpread,
  type ClusterCount,
} from '../../shared/stats/hypothesis/index.js';
import type { LatencySketch } from '../../shared/stats/sketch.js';
import type { TelemetrySummary } from '../telemetry/summary.js';
import type { DeviceInfo, ExperimentSpec, ExperimentState } from './model.js';
import { DEFAULT_PLAN_WINDOW_MS, type PlanEstimates, type PlanRequest } from './plan.js';
import type { ExperimentTelemetry } from './telemetry-source.js';

export interface PlanSourceDeps {
  readonly telemetry: ExperimentTelemetry;
  readonly devices: () => readonly DeviceInfo[] | Promise<readonly DeviceInfo[]>;
  readonly experiment: (id: string) => Promise<{
    readonly spec: ExperimentSpec;
    readonly state: ExperimentState;
  }>;
  readonly now: number;
}

interface DeviceData {
  readonly sketches: Readonly<Record<string, LatencySketch>>;
  readonly summary: TelemetrySummary;
}

interface Group {
  readonly bundle: string;
  readonly deviceIds: readonly string[];
}

/** Per-device estimates for `req.metric`; undefined when the request names no source. */
export async function gatherPlanEstimates(
  req: PlanRequest,
  deps: PlanSourceDeps,
): Promise<PlanEstimates | undefined> {
  const from = req.from;
  if (!from) return undefined;
  let groups: Group[];
  let window: { fromMs: number; toMs: number };
  let source: string;
  if ('experiment' in from) {
    const { spec, state } = await deps.experiment(from.experiment);
    if (state.startedAt === undefined) {
      throw bmfError('BMF_ERR_EXPERIMENT_PLAN', {
        reason: `experiment ${spec.id} never ran, so it has no data to estimate from`,
      });
    }
    const on = (arm: 'A' | 'B'): string[] =>
      state.devices.filter((d) => {
        const a = state.arms?.[d] ?? 'both';
        return a === arm || a === 'both';
      });
    groups = [
      { bundle: spec.bundleA, deviceIds: on('A') },
      { bundle: spec.bundleB, deviceIds: on('B') },
    ];
    window = { fromMs: state.startedAt, toMs: state.endedAt ?? deps.now + 1 };
    source = `experiment ${spec.id} (each arm on its own bundle)`;
  } else {
    const since = from.sinceMs ?? DEFAULT_PLAN_WINDOW_MS;
    groups = [{ bundle: from.bundle, deviceIds: (await deps.devices()).map((d) => d.id) }];
    window = { fromMs: deps.now - since, toMs: deps.now + 1 };
    source = `bundle ${from.bundle.slice(0, 12)} over the last ${Math.round(since / 60_000)} min`;
  }
  const data: DeviceData[][] = [];
  for (const g of groups) {
    const rows: DeviceData[] = [];
    for (const id of g.deviceIds) {
      const filter = { deviceIds: [id], bundle: g.bundle, ...window };
      const summary = await deps.telemetry.query(filter);
      if (summary.requests === 0) continue;
      rows.push({ summary, sketches: await deps.telemetry.sketches(filter) });
    }
    data.push(rows);
  }
  if (req.metric === 'agreement' || req.metric === 'boxes-per-image') {
    // Per image over every device and arm: the ratio's variance times the image count is the
    // per-image variance its plan needs (plan-detection.ts).
    const summaries = data.flat().map((d) => d.summary);
    const sums =
      req.metric === 'agreement'
        ? agreementSums(summaries)
        : summaries.map(boxesPerImageSums).reduce(
            (a, b) => ({
              clusters: a.clusters + b.clusters,
              x: a.x + b.x,
              n: a.n + b.n,
              xx: a.xx + b.xx,
              xn: a.xn + b.xn,
              nn: a.nn + b.nn,
            }),
            { clusters: 0, x: 0, n: 0, xx: 0, xn: 0, nn: 0 },
          );
    const r = clusteredRatio(sums);
    if (sums.clusters < 2 || !(r.variance > 0)) return { source };
    const sd = Math.sqrt(r.variance * sums.clusters);
    return { source, perImage: { images: sums.clusters, baseline: r.estimate, sd } };
  }
  if (req.metric === 'precision' || req.metric === 'recall') {
    const rate = DETECTION_RATES.find((r) => r.key === `detection.${req.metric}`);
    if (!rate || !data.some((g) => g.some((d) => rate.of(d.summary).n > 0))) return { source };
    const clusters = data.map((g) => g.map((d): ClusterCount => rate.of(d.summary)));
    return { source, accuracy: { ...estimateIcc(clusters), outcome: rate.key } };
  }
  if (req.metric === 'accuracy') {
    // Feedback (user labels) when there is any, else golden runs: the same outcome for all.
    const labelled = (k: 'feedback' | 'golden'): boolean =>
      data.some((g) => g.some((d) => d.summary.accuracy[k].total > 0));
    const outcome = labelled('feedback') ? 'feedback' : labelled('golden') ? 'golden' : undefined;
    if (!outcome) return { source };
    const clusters = data.map((g) =>
      g.map((d): ClusterCount => ({
        x: d.summary.accuracy[outcome].correct,
        n: d.summary.accuracy[outcome].total,
      })),
    );
    return { source, accuracy: { ...estimateIcc(clusters), outcome } };
  }
  const stage = req.stage ?? 'e2e';
  const sketches = data.map((g) =>
    g.flatMap((d) => (d.sketches[stage] ? [d.sketches[stage]] : [])),
  );
  if (sketches.every((g) => g.length === 0)) return { source };
  return { source, latency: { ...estimateLatencySpread(sketches), stage } };
}
