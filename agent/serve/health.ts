// The health window after an activation (pure): error rate and p95 latency of the new model's
// requests against the assignment's thresholds. A regression means a local rollback to
// last-known-good; a clean window makes the model last-known-good.
import type { HealthThresholds } from './types.js';

export interface HealthSample {
  readonly ok: boolean;
  readonly latencyMs: number;
}

export interface HealthWindowState {
  readonly startedAt: number;
  readonly requests: number;
  readonly errors: number;
  /** Latencies of successful requests; bounded by `maxSamples` (oldest dropped). */
  readonly latencies: readonly number[];
}

export type HealthVerdict =
  | { readonly kind: 'watching' }
  | { readonly kind: 'healthy' }
  | { readonly kind: 'regressed'; readonly reason: string };

const MAX_SAMPLES = 4096;

export function openWindow(now: number): HealthWindowState {
  return { startedAt: now, requests: 0, errors: 0, latencies: [] };
}

export function recordSample(w: HealthWindowState, s: HealthSample): HealthWindowState {
  const latencies = s.ok ? [...w.latencies.slice(-(MAX_SAMPLES - 1)), s.latencyMs] : w.latencies;
  return { ...w, requests: w.requests + 1, errors: w.errors + (s.ok ? 0 : 1), latencies };
}

/** Nearest-rank percentile (p in 0..100) of a list; undefined when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function judgeHealth(w: HealthWindowState, t: HealthThresholds, now: number): HealthVerdict {
  if (w.requests >= t.minRequests && w.requests > 0) {
    const errorRate = w.errors / w.requests;
    if (errorRate > t.maxErrorRate) {
      return {
        kind: 'regressed',
        reason: `error rate ${errorRate.toFixed(3)} above ${t.maxErrorRate} over ${w.requests} requests`,
      };
    }
    const p95 = percentile(w.latencies, 95);
    if (p95 !== undefined && p95 > t.maxP95Ms) {
      return {
        kind: 'regressed',
        reason: `p95 latency ${p95.toFixed(2)} ms above ${t.maxP95Ms} ms`,
      };
    }
  }
  return now - w.startedAt >= t.windowMs ? { kind: 'healthy' } : { kind: 'watching' };
}
