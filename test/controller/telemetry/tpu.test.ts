// A board's TPU utilisation and device memory (bm_get_stat, sent in every report's device
// figures) from the wire bytes to the stored minute rows and the summary the REST telemetry view
// and the dashboard's device page read: mean and max over the range, the latest reading, and
// nulls where the runtime cannot know them (the simulator sends none).
import t from 'tap';
import { createTelemetryRepo } from '../../../controller/store/telemetry.js';
import { createTelemetryService } from '../../../controller/telemetry/service.js';
import { MINUTE_MS } from '../../../controller/telemetry/rollup.js';
import { encodeReport } from '../../../harness/controller/telemetry-reports.js';
import { createManualClock } from '../../../shared/clock.js';
import { openTelemetry } from './harness.js';

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % MINUTE_MS);
const MiB = 2 ** 20;

function boardReport(seq: number, startMs: number, percent: number, memUsedMiB: number) {
  return encodeReport({
    deviceId: 'board-1',
    intervalStartMs: startMs,
    reportSequence: seq,
    latency: { e2e: [3, 4, 5] },
    runtime: 'bmrt',
    device: {
      tpuPercent: percent,
      tpuMemUsedBytes: memUsedMiB * MiB,
      tpuMemTotalBytes: 4096 * MiB,
    },
  });
}

t.test('TPU figures: mean, max and the latest reading, stored and read back', async (t) => {
  const { service, db } = openTelemetry(t, T0 + 10 * MINUTE_MS);
  t.equal(service.ingest('board-1', boardReport(1, T0, 20, 1000)), 'accepted');
  t.equal(service.ingest('board-1', boardReport(2, T0 + MINUTE_MS, 60, 1500)), 'accepted');
  // Pending (not flushed) rows count too.
  const range = { deviceIds: ['board-1'], fromMs: T0, toMs: T0 + 5 * MINUTE_MS };
  const pending = (await service.query(range)).tpu;
  t.equal(pending.reports, 2);
  await service.flush();
  // A fresh service on the same database: only what the rows hold.
  const again = createTelemetryService({
    store: createTelemetryRepo(db),
    clock: createManualClock(0, T0 + 10 * MINUTE_MS),
    flushIntervalMs: 0,
    pruneIntervalMs: 0,
  });
  t.teardown(() => again.close());
  const s = (await again.query(range)).tpu;
  t.equal(s.reports, 2, 'two reports carried TPU figures');
  t.ok(Math.abs((s.percentMean ?? NaN) - 40) < 1e-9, 'mean of 20 % and 60 % (tolerance 1e-9)');
  t.equal(s.percentMax, 60);
  t.equal(s.memUsedBytesMax, 1500 * MiB);
  t.same(s.latest, {
    atMs: T0 + MINUTE_MS + 10_000,
    percent: 60,
    memUsedBytes: 1500 * MiB,
    memTotalBytes: 4096 * MiB,
  });
  const first = (await again.query({ ...range, toMs: T0 + MINUTE_MS })).tpu;
  t.equal(first.latest?.percent, 20, 'per minute: the first minute alone has its own reading');
});

t.test('the simulator sends no TPU figures: reports 0, nulls, never 0 %', async (t) => {
  const { service } = openTelemetry(t, T0 + 10 * MINUTE_MS);
  const sim = encodeReport({ deviceId: 'sim-1', intervalStartMs: T0, latency: { e2e: [1, 2] } });
  t.equal(service.ingest('sim-1', sim), 'accepted');
  await service.flush();
  const s = (await service.query({ deviceIds: ['sim-1'], fromMs: T0, toMs: T0 + MINUTE_MS })).tpu;
  t.same(s, {
    reports: 0,
    percentMean: null,
    percentMax: null,
    memUsedBytesMax: null,
    latest: null,
  });
});
