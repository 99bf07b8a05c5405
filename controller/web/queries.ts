// The dashboard's read model: pure functions over the device records (fleet summary, one page of
// a filtered device list) and two small reads of the store (recent events of the whole fleet,
// latency quantiles per time bucket). The browser never receives the whole fleet.
import type { Static } from '@sinclair/typebox';
import type { DeviceView } from '../api/schemas.js';
import { deviceView } from '../api/routes/devices.js';
import type { DeviceRecord } from '../store/devices.js';
import type { DeviceEventRow } from '../devices/tracker.js';
import type { DeviceEventRepo } from '../store/device-events.js';
import type { StoreMode } from '../store/repository.js';
import type { TelemetryFilter } from '../api/services.js';
import type { TelemetrySummary } from '../telemetry/summary.js';

export type DeviceItem = Static<typeof DeviceView>;

/** offline, else the status the device reported (idle, syncing, active, degraded, error). */
export function stateOf(d: DeviceItem): string {
  if (!d.online) return 'offline';
  return d.status ?? 'unknown';
}

export const isFailing = (d: DeviceItem): boolean =>
  d.status === 'error' || d.status === 'degraded' || d.lastErrorCode !== undefined;

const countBy = (items: readonly DeviceItem[], key: (d: DeviceItem) => string[]) => {
  const out: Record<string, number> = {};
  for (const d of items) for (const k of key(d)) out[k] = (out[k] ?? 0) + 1;
  return out;
};

export interface FleetSummary {
  readonly total: number;
  readonly byState: Record<string, number>;
  readonly byChip: Record<string, number>;
  readonly byTag: Record<string, number>;
  readonly byBundle: Record<string, number>;
  readonly offline: { readonly count: number; readonly first: DeviceItem[] };
  readonly failing: { readonly count: number; readonly first: DeviceItem[] };
}

export function fleetSummary(records: readonly DeviceRecord[], listed = 20): FleetSummary {
  const items = records.map(deviceView);
  const offline = items.filter((d) => !d.online);
  const failing = items.filter(isFailing);
  return {
    total: items.length,
    byState: countBy(items, (d) => [stateOf(d)]),
    byChip: countBy(items, (d) => [d.chip]),
    byTag: countBy(items, (d) => Object.entries(d.tags).map(([k, v]) => `${k}=${v}`)),
    byBundle: countBy(items, (d) => [d.activeBundle ?? 'none']),
    offline: { count: offline.length, first: offline.slice(0, listed) },
    failing: { count: failing.length, first: failing.slice(0, listed) },
  };
}

export interface DeviceQuery {
  /** Substring of the id, a tag (key=value or value) or the bundle digest. */
  readonly q?: string;
  readonly state?: string;
  readonly chip?: string;
  readonly offset: number;
  readonly limit: number;
}

export function devicePage(records: readonly DeviceRecord[], query: DeviceQuery) {
  const q = query.q?.trim().toLowerCase() ?? '';
  const matches = (d: DeviceItem): boolean =>
    (!query.state || stateOf(d) === query.state || (query.state === 'failing' && isFailing(d))) &&
    (!query.chip || d.chip === query.chip) &&
    (!q ||
      d.id.toLowerCase().includes(q) ||
      (d.activeBundle ?? '').startsWith(q) ||
      Object.entries(d.tags).some(([k, v]) => `${k}=${v}`.toLowerCase().includes(q)));
  const hits: DeviceRecord[] = [];
  for (const r of records) {
    if (matches(deviceView(r))) hits.push(r);
  }
  hits.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    total: hits.length,
    offset: query.offset,
    items: hits.slice(query.offset, query.offset + query.limit).map(deviceView),
  };
}

/** Newest device events of the whole fleet (codes, messages with their hints), at most 500. */
export function createRecentEvents(events: Pick<DeviceEventRepo<StoreMode>, 'recent'>) {
  return async (limit: number): Promise<DeviceEventRow[]> => events.recent(Math.min(limit, 500));
}

export interface SeriesPoint {
  readonly startMs: number;
  readonly requests: number;
  readonly errors: number;
  /** Stage -> quantiles in ms, for buckets with samples. */
  readonly latency: TelemetrySummary['latency'];
  readonly accuracy: number | null;
  /** The board's TPU figures in this bucket (nulls: not reported, e.g. the simulator). */
  readonly tpu: { readonly percentMean: number | null; readonly memUsedBytesMax: number | null };
}

/** Quantiles per stage for each of `buckets` equal slices of [fromMs, toMs). */
export async function telemetrySeries(
  query: (f: TelemetryFilter) => TelemetrySummary | Promise<TelemetrySummary>,
  filter: Omit<TelemetryFilter, 'fromMs' | 'toMs'>,
  fromMs: number,
  toMs: number,
  buckets: number,
) {
  const step = Math.max(1, Math.ceil((toMs - fromMs) / buckets));
  const points: SeriesPoint[] = [];
  const sources: Record<string, number> = {};
  for (let start = fromMs; start < toMs; start += step) {
    const s = await query({ ...filter, fromMs: start, toMs: Math.min(toMs, start + step) });
    for (const [k, n] of Object.entries(s.latencySources))
      sources[k] = (sources[k] ?? 0) + (n ?? 0);
    const a = s.accuracy;
    const acc =
      a.golden.total > 0
        ? a.golden.correct / a.golden.total
        : a.feedback.total > 0
          ? a.feedback.correct / a.feedback.total
          : null;
    points.push({
      startMs: start,
      requests: s.requests,
      errors: s.errors,
      latency: s.latency,
      accuracy: acc,
      tpu: { percentMean: s.tpu.percentMean, memUsedBytesMax: s.tpu.memUsedBytesMax },
    });
  }
  const whole = await query({ ...filter, fromMs, toMs });
  return { stepMs: step, points, latencySources: sources, summary: whole };
}
