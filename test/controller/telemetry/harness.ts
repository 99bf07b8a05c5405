// A telemetry service over a real SQLite file in a temp dir, with a clock the test moves.
import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTelemetryService,
  type TelemetryServiceOptions,
} from '../../../controller/telemetry/service.js';
import { createCounters } from '../../../controller/store/counters.js';
import { openDatabase } from '../../../controller/store/db.js';
import { createTelemetryRepo } from '../../../controller/store/telemetry.js';

export interface ManualClock {
  now(): number;
  set(ms: number): void;
}

export function manualClock(start: number): ManualClock {
  let t = start;
  return { now: () => t, set: (ms) => void (t = ms) };
}

export function openTelemetry(
  t: Test,
  now: number,
  extra: Partial<Omit<TelemetryServiceOptions, 'store' | 'clock'>> = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'bmf-telemetry-'));
  const db = openDatabase(join(dir, 'controller.db'));
  const counters = createCounters(db);
  const clock = manualClock(now);
  const service = createTelemetryService({
    store: createTelemetryRepo(db),
    clock,
    flushIntervalMs: 0,
    pruneIntervalMs: 0,
    ...extra,
  });
  t.teardown(() => {
    service.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { db, counters, clock, service, dir };
}
