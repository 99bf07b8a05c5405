// Telemetry rollups over the store's telemetry_minute table (controller/store/telemetry.ts): one
// row per (minute, device, bundle, variant). A flush adds its rows to the stored ones in one
// transaction (one fsync under synchronous=FULL); the store does the addition under the row's
// lock (TelemetryRepo.addBatch), so several controller replicas can add to the same row, and a
// report's key goes in with it, so a report another replica already stored adds nothing.
import type { StoreMode } from '../store/repository.js';
import type { EncodedMinute, MinuteDelta, SeenReport, TelemetryRepo } from '../store/telemetry.js';
import { decodeCounters, decodeSketches, encodeCounters, encodeSketches } from './rollup-codec.js';
import { mergeRollup, type Rollup } from './rollup.js';

export interface RollupKey {
  readonly minute: number;
  readonly deviceId: string;
  readonly bundle: string;
  readonly variant: string;
}

export interface RollupRow extends RollupKey {
  readonly rollup: Rollup;
}

/** The identity of a row as one string (map keys). */
export function rowKeyOf(k: RollupKey): string {
  return `${k.minute}\n${k.deviceId}\n${k.bundle}\n${k.variant}`;
}

export interface TelemetryFilter {
  readonly deviceIds?: readonly string[];
  readonly bundle?: string;
  readonly variant?: string;
  /** Minutes whose start lies in [minuteOf(fromMs), toMs) are included. */
  readonly fromMs: number;
  readonly toMs: number;
}

/** One flush: the reports' keys, and the rows and counters made of those not stored before. */
export interface RollupBatch {
  readonly seen: readonly SeenReport[];
  readonly build: (fresh: ReadonlySet<string>) => {
    readonly rows: readonly RollupRow[];
    readonly counters: Readonly<Record<string, number>>;
  };
}

export function decodeRow(r: EncodedMinute): Rollup {
  return {
    requests: r.requests,
    errors: r.errors,
    counters: decodeCounters(r.counters),
    sketches: r.sketches ? decodeSketches(r.sketches) : new Map(),
  };
}

function deltaOf(row: RollupRow): MinuteDelta {
  const { minute, deviceId, bundle, variant, rollup } = row;
  return {
    minute,
    deviceId,
    bundle,
    variant,
    requests: rollup.requests,
    errors: rollup.errors,
    counters: encodeCounters(rollup.counters),
    sketches: encodeSketches(rollup.sketches),
    mergeInto(stored) {
      const sum = decodeRow(stored);
      mergeRollup(sum, rollup);
      return { counters: encodeCounters(sum.counters), sketches: encodeSketches(sum.sketches) };
    },
  };
}

export function createTelemetryStore(repo: TelemetryRepo<StoreMode>) {
  return {
    /** Add a flush to the table in one transaction; answers how many reports were fresh. */
    async add(batch: RollupBatch): Promise<number> {
      return repo.addBatch({
        seen: batch.seen,
        build: (fresh) => {
          const { rows, counters } = batch.build(fresh);
          return { minutes: rows.map(deltaOf), counters };
        },
      });
    },

    /** Rows matching the filter; sketches are decoded only when asked for. */
    async select(
      filter: TelemetryFilter,
      withSketches: boolean,
      minuteFrom: number,
    ): Promise<RollupRow[]> {
      const rows = await repo.selectMinutes(
        {
          fromMinute: minuteFrom,
          toMs: filter.toMs,
          ...(filter.deviceIds ? { deviceIds: filter.deviceIds } : {}),
          ...(filter.bundle !== undefined ? { bundle: filter.bundle } : {}),
          ...(filter.variant !== undefined ? { variant: filter.variant } : {}),
        },
        withSketches,
      );
      return rows.map((r) => ({
        minute: r.minute,
        deviceId: r.deviceId,
        bundle: r.bundle,
        variant: r.variant,
        rollup: decodeRow(r),
      }));
    },

    /** The first minute at or after `fromMinute` where any of the devices reported `bundle`. */
    async firstMinute(deviceIds: readonly string[], bundle: string, fromMinute: number) {
      return repo.firstMinute(deviceIds, bundle, fromMinute);
    },

    /** Delete minutes before `beforeMinute`; returns the number of rows removed. */
    async prune(beforeMinute: number): Promise<number> {
      return repo.pruneMinutes(beforeMinute);
    },
  };
}

export type TelemetryStore = ReturnType<typeof createTelemetryStore>;
