// Builds real encoded TelemetryReports (shared/wire) with real LatencySketches for the tests and
// the benchmark. Latencies come from a seeded generator so every run sees the same samples.
import { seededRandom } from '../../shared/stats/seeded-random.js';
import { LatencySketch } from '../../shared/stats/sketch.js';
import { encodeMessage } from '../../shared/wire/codec.js';
import { parseDeviceId, parseDigest, type VariantName } from '../../shared/ids.js';
import type { DeviceStats, TelemetryReport } from '../../shared/wire/messages.js';

export const BUNDLE_A = parseDigest('a'.repeat(64));
export const BUNDLE_B = parseDigest('b'.repeat(64));

/** Log-normal latencies (ms) around `medianMs`, the usual shape of service latencies. */
export function lognormalSamples(
  n: number,
  medianMs: number,
  sigma: number,
  seed: number,
): number[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const u = Math.max(rnd(), 1e-12);
    const v = rnd();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return medianMs * Math.exp(sigma * z);
  });
}

export function sketchOf(samples: readonly number[]): LatencySketch {
  const s = new LatencySketch();
  for (const x of samples) s.add(x);
  return s;
}

export interface ReportSpec {
  readonly deviceId: string;
  readonly intervalStartMs: number;
  readonly variant?: VariantName;
  readonly bundleDigest?: string;
  readonly intervalMs?: number;
  readonly reportSequence?: number;
  /** Stage -> samples; requests default to the e2e sample count. */
  readonly latency?: Readonly<Record<string, readonly number[]>>;
  readonly requests?: number;
  readonly errors?: number;
  readonly golden?: readonly [correct: number, total: number];
  readonly feedback?: readonly [correct: number, total: number];
  readonly shadow?: { readonly pairs: number; readonly agree: number; readonly cosineSum?: number };
  /** Device figures added to the defaults (TPU figures: as a bmrt board reports them). */
  readonly device?: Partial<DeviceStats>;
  readonly runtime?: TelemetryReport['runtime'];
  /** Variant -> requests that failed before any model answered, carried by this report. */
  readonly failedBeforeModel?: TelemetryReport['failedBeforeModel'];
}

export function reportValue(spec: ReportSpec): TelemetryReport {
  const latency = Object.fromEntries(
    Object.entries(spec.latency ?? {}).map(([stage, xs]) => [stage, sketchOf(xs).toMessage()]),
  );
  const errors = spec.errors ?? 0;
  const requests = spec.requests ?? (spec.latency?.e2e?.length ?? 0) + errors;
  const [goldenCorrect, goldenTotal] = spec.golden ?? [0, 0];
  const [feedbackCorrect, feedbackTotal] = spec.feedback ?? [0, 0];
  const shadow = spec.shadow ?? { pairs: 0, agree: 0 };
  return {
    deviceId: parseDeviceId(spec.deviceId),
    variant: spec.variant ?? 'A',
    bundleDigest: parseDigest(spec.bundleDigest ?? BUNDLE_A),
    intervalStartMs: spec.intervalStartMs,
    intervalEndMs: spec.intervalStartMs + (spec.intervalMs ?? 10_000),
    reportSequence: spec.reportSequence ?? 1,
    counters: {
      requests,
      errors,
      errorsByCode: errors > 0 ? { BMF_ERR_RUNTIME_INFER: errors } : {},
      shadowRequests: shadow.pairs,
    },
    latency,
    accuracy: {
      goldenCorrect,
      goldenTotal,
      goldenCosineMin: goldenTotal > 0 ? 0.99 : 0,
      feedbackCorrect,
      feedbackTotal,
      shadow: {
        pairs: shadow.pairs,
        top1Agree: shadow.agree,
        cosineSum: shadow.cosineSum ?? shadow.pairs * 0.98,
        cosineMin: shadow.pairs > 0 ? 0.9 : 0,
        bothCorrect: 0,
        aOnlyCorrect: 0,
        bOnlyCorrect: 0,
        bothWrong: 0,
      },
    },
    device: {
      cpuPercent: 10,
      memUsedBytes: 1e9,
      memTotalBytes: 4e9,
      diskUsedBytes: 1e9,
      diskTotalBytes: 3e10,
      agentRssBytes: 1e8,
      ...spec.device,
    },
    drift: [],
    runtime: spec.runtime ?? 'sim',
    timingMode: spec.runtime === 'bmrt' ? '' : 'modeled',
    ...(spec.failedBeforeModel && { failedBeforeModel: spec.failedBeforeModel }),
  };
}

export function encodeReport(spec: ReportSpec): Uint8Array {
  return encodeMessage('TelemetryReport', reportValue(spec));
}
