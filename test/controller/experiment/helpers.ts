// Shared test data: manifests from the fixture, a device list, and a fake telemetry source
// holding per-device sketches and counters (the real one is controller/telemetry).
import { readFileSync } from 'node:fs';
import type { BundleManifest } from '../../../shared/bundle/manifest.js';
import { LatencySketch, mergeSketches } from '../../../shared/stats/sketch.js';
import type { TelemetryFilter } from '../../../controller/telemetry/store.js';
import type { TelemetrySummary, TimelineBucket } from '../../../controller/telemetry/summary.js';
import type { DeviceInfo, ExperimentState } from '../../../controller/experiment/model.js';
import { parseDigest } from '../../../shared/ids.js';
import { gaussian, seededRandom } from '../../../shared/stats/seeded-random.js';

export const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/experiment/validation.json', import.meta.url), 'utf8'),
) as {
  base: BundleManifest;
  incompatible: { why: string; b: Partial<BundleManifest>; reason: string }[];
  compatible: { why: string; b: Partial<BundleManifest> }[];
};

export const DIGEST_A = parseDigest('a'.repeat(64));
export const DIGEST_B = parseDigest('b'.repeat(64));

/** A running experiment with no devices and no looks yet; `over` replaces fields. */
export const runningState = (over: Partial<ExperimentState> = {}): ExperimentState => ({
  status: 'running',
  createdAt: 0,
  startedAt: 0,
  devices: [],
  alwaysValidP: {},
  looks: [],
  ...over,
});

/** A create request: a 50/50 cohort experiment over the bm1684x boards of `devices(n)`. */
export const cohortSpecBody = (id: string) => ({
  id,
  bundleA: DIGEST_A,
  bundleB: DIGEST_B,
  population: { chip: 'bm1684x' },
  allocation: { kind: 'cohorts', shareB: 0.5 },
  metrics: {},
  guardrails: { maxAccuracyDrop: 0.05 },
  minSamples: 500,
  minDurationMs: 60_000,
});

export function devices(n: number): DeviceInfo[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `dev-${String(i).padStart(3, '0')}`,
    chip: i % 3 === 0 ? 'bm1688' : 'bm1684x',
    tags: { site: i % 2 === 0 ? 'berlin' : 'lyon' },
  }));
}

export interface DeviceArmData {
  sketch: LatencySketch;
  requests: number;
  errors: number;
  feedbackCorrect: number;
  feedbackTotal: number;
  shadow?: {
    agree: number;
    total: number;
    aOnly: number;
    bOnly: number;
    both: number;
    neither: number;
  };
}

export function summaryOf(list: readonly DeviceArmData[], devicesCount: number): TelemetrySummary {
  const sum = (f: (d: DeviceArmData) => number): number => list.reduce((s, d) => s + f(d), 0);
  const requests = sum((d) => d.requests);
  const errors = sum((d) => d.errors);
  return {
    requests,
    errors,
    errorRate: requests ? errors / requests : 0,
    errorsByCode: {},
    latency: {},
    accuracy: {
      golden: { correct: 0, total: 0, cosineMin: null },
      shadow: {
        agree: sum((d) => d.shadow?.agree ?? 0),
        total: sum((d) => d.shadow?.total ?? 0),
        cosineMean: null,
        cosineMin: null,
        bothCorrect: sum((d) => d.shadow?.both ?? 0),
        aOnlyCorrect: sum((d) => d.shadow?.aOnly ?? 0),
        bOnlyCorrect: sum((d) => d.shadow?.bOnly ?? 0),
        bothWrong: sum((d) => d.shadow?.neither ?? 0),
        requests: sum((d) => d.shadow?.total ?? 0),
      },
      feedback: { correct: sum((d) => d.feedbackCorrect), total: sum((d) => d.feedbackTotal) },
    },
    drift: [],
    devices: devicesCount,
    reports: list.length,
    latencySources: requests > 0 ? { device: requests } : {},
    tpu: { reports: 0, percentMean: null, percentMax: null, memUsedBytesMax: null, latest: null },
    failedBeforeModel: {},
  };
}

/** Telemetry per (device, bundle), generated on demand: latency lognormal, accuracy Bernoulli. */
export function createFakeTelemetry(model: {
  seed: number;
  perDevice: number;
  latencyMs: Record<string, number>;
  accuracy: Record<string, number>;
  errorRate?: Record<string, number>;
}) {
  const rand = seededRandom(model.seed);
  const data = new Map<string, DeviceArmData>();
  const calls: TelemetryFilter[] = [];
  function of(device: string, bundle: string): DeviceArmData {
    const key = `${device}/${bundle}`;
    let d = data.get(key);
    if (!d) {
      const sketch = new LatencySketch();
      let correct = 0;
      let errors = 0;
      for (let i = 0; i < model.perDevice; i++) {
        sketch.add((model.latencyMs[bundle] ?? 5) * Math.exp(0.2 * gaussian(rand)));
        if (rand() < (model.accuracy[bundle] ?? 0.8)) correct++;
        if (rand() < (model.errorRate?.[bundle] ?? 0)) errors++;
      }
      d = {
        sketch,
        requests: model.perDevice,
        errors,
        feedbackCorrect: correct,
        feedbackTotal: model.perDevice,
      };
      data.set(key, d);
    }
    return d;
  }
  const pick = (f: TelemetryFilter): DeviceArmData[] =>
    (f.deviceIds ?? []).map((id) => of(id, f.bundle ?? ''));
  return {
    calls,
    sketches(f: TelemetryFilter): Record<string, LatencySketch> {
      calls.push(f);
      const list = pick(f);
      return list.length ? { e2e: mergeSketches(list.map((d) => d.sketch)) } : {};
    },
    query(f: TelemetryFilter): TelemetrySummary {
      return summaryOf(pick(f), (f.deviceIds ?? []).length);
    },
    timeline(f: TelemetryFilter, bucketMs: number): TimelineBucket[] {
      const total = pick(f).reduce((s, d) => s + d.requests, 0);
      return [0, 1, 2].map((i) => ({
        startMs: f.fromMs + i * bucketMs,
        requests: Math.round(total / 3),
        errors: 0,
        reports: 1,
        devices: 1,
        goldenTotal: 0,
        feedbackTotal: 0,
        shadowPairs: 0,
        stageCounts: {},
      }));
    },
  };
}
