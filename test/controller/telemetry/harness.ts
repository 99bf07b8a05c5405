// A telemetry service over a real SQLite file in a temp dir, with a clock the test moves (its
// commit timer fires only when the test advances the clock).
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
import { createManualClock } from '../../../shared/clock.js';

export function openTelemetry(
  t: Test,
  now: number,
  extra: Partial<Omit<TelemetryServiceOptions, 'store' | 'clock'>> = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'bmf-telemetry-'));
  const db = openDatabase(join(dir, 'controller.db'));
  const counters = createCounters(db);
  const clock = createManualClock(0, now);
  const service = createTelemetryService({
    store: createTelemetryRepo(db),
    clock,
    flushIntervalMs: 0,
    pruneIntervalMs: 0,
    ...extra,
  });
  t.teardown(async () => {
    await service.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { db, counters, clock, service, dir };
}
