// Two telemetry services (two controller replicas) on one PostgreSQL database, flushing reports
// of the same device and minute at the same moment, some reports delivered to both (a broker
// redelivering to another replica): every report is counted once, none is lost.
import t from 'tap';
import { openPostgresStore } from '../../../controller/store/postgres/open.js';
import { pgCounters, pgTelemetry } from '../../../controller/store/postgres/repos.js';
import { MINUTE_MS } from '../../../controller/telemetry/rollup.js';
import { createTelemetryService } from '../../../controller/telemetry/service.js';
import { createManualClock } from '../../../shared/clock.js';
import { encodeReport } from '../../../harness/controller/telemetry-reports.js';
import { postgresSkip, startPostgres } from '../../../harness/postgres.js';

const NOW = Date.UTC(2026, 0, 5, 12, 30, 0);
const MINUTE = NOW - (NOW % MINUTE_MS) - MINUTE_MS;
const ROUNDS = 20;
const PER_ROUND = 20;

const skip = postgresSkip();
t.test(
  'two replicas add to one device-minute at once: no count lost or doubled',
  skip ? { skip } : {},
  async (t) => {
    const server = await startPostgres(t);
    const url = await server.newDatabase();
    const open = async () => {
      const store = await openPostgresStore(url, { max: 2 });
      const service = createTelemetryService({
        store: pgTelemetry(store),
        clock: createManualClock(0, NOW),
        flushIntervalMs: 0,
        pruneIntervalMs: 0,
      });
      t.teardown(async () => {
        await service.close();
        await store.close();
      });
      return { store, service };
    };
    const a = await open();
    const b = await open();
    let requests = 0;
    let samples = 0;
    let redelivered = 0;
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < PER_ROUND; i++) {
        const n = r * PER_ROUND + i;
        const latency = { e2e: Array.from({ length: 1 + (n % 3) }, (_, k) => 5 + k + (n % 7)) };
        // Distinct interval starts inside one minute: distinct reports of one row.
        const report = encodeReport({
          deviceId: 'dev-1',
          intervalStartMs: MINUTE + n,
          requests: latency.e2e.length,
          latency,
        });
        requests += latency.e2e.length;
        samples += latency.e2e.length;
        const [first, second] = n % 2 === 0 ? [a, b] : [b, a];
        t.equal(first.service.ingest('dev-1', report), 'accepted');
        if (n % 4 === 0) {
          second.service.ingest('dev-1', report);
          redelivered++;
        }
      }
      await Promise.all([a.service.flush(), b.service.flush()]);
    }
    const filter = { deviceIds: ['dev-1'], fromMs: MINUTE, toMs: MINUTE + MINUTE_MS };
    for (const [name, s] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const q = await s.service.query(filter);
      t.equal(q.requests, requests, `replica ${name} reads every request once`);
      t.equal(q.reports, ROUNDS * PER_ROUND, `replica ${name}: every report once`);
      t.equal(q.latency.e2e?.count, samples, `replica ${name}: every latency sample once`);
    }
    const rows = await a.store.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM telemetry_minute',
    );
    t.equal(Number(rows.rows[0]?.n), 1, 'one row for the device-minute');
    const counters = await pgCounters(a.store).all();
    t.equal(
      counters['telemetry.duplicates'],
      redelivered,
      'each redelivery counted as a duplicate',
    );
    const stats = [a.service.stats(), b.service.stats()];
    t.equal(
      stats[0]!.accepted + stats[1]!.accepted,
      ROUNDS * PER_ROUND,
      'accepted once across replicas',
    );
  },
);
