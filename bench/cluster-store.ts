// The store side of `npm run bench -- cluster`: what adding telemetry to the rollups costs on
// PostgreSQL against SQLite, per report, with the controller's own telemetry service
// (controller/telemetry/service.ts: decode, merge per device-minute, one addBatch transaction
// per flush) in this process. Batches are the group commits of the ingest: reports merged
// during `commitDelayMs` (10 ms) share one flush; the cluster run above measured 0.03 to 0.05
// commits per report (20 to 33 reports each), and the intake replica flushes at 500 at most.
//
// Every device reports every 10 s, so a device-minute row is inserted by its first report and
// merged into (locked, read, summed, written) by the next five: the steady state of a fleet.
// CPU: this process (decode, merge, the driver; SQLite's own work too, in process) from
// process.cpuUsage, and PostgreSQL's server processes from /proc. SQLite is measured twice: as
// shipped (synchronous=FULL, an fsync per commit) and with synchronous=OFF, the like of the bench
// server's fsync=off (harness/postgres.ts), which is the baseline of the ratios.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../controller/store/db.js';
import { openPostgresStore } from '../controller/store/postgres/open.js';
import { pgTelemetry } from '../controller/store/postgres/repos.js';
import type { StoreMode } from '../controller/store/repository.js';
import { createTelemetryRepo, type TelemetryRepo } from '../controller/store/telemetry.js';
import { createTelemetryService } from '../controller/telemetry/service.js';
import { encodeReport } from '../harness/controller/telemetry-reports.js';
import { createSystemClock } from '../shared/clock.js';

const DEVICES = Number(process.env.BMF_BENCH_STORE_DEVICES ?? 200);
/** Reports per device: two minutes of 10 s reports. */
const REPORTS_PER_DEVICE = Number(process.env.BMF_BENCH_STORE_REPORTS ?? 12);
export const STORE_BATCHES = [1, 25, 100, 500] as const;
const INTERVAL_MS = 10_000;

interface StoreUnderTest {
  readonly label: string;
  open(): Promise<{ repo: TelemetryRepo<StoreMode>; close: () => Promise<void> | void }>;
  /** CPU seconds of the store's own processes, when it has any. */
  serverCpu(): number;
}

export interface StoreFigures {
  readonly store: string;
  readonly batch: number;
  readonly reports: number;
  readonly rows: number;
  readonly seconds: number;
  readonly clientCpuUs: number;
  readonly serverCpuUs: number;
}

/** The reports in arrival order: round after round, every device once per 10 s. */
function reportsInOrder(base: number): { deviceId: string; payload: Uint8Array; row: string }[] {
  const out = [];
  for (let r = 0; r < REPORTS_PER_DEVICE; r++) {
    for (let d = 0; d < DEVICES; d++) {
      const deviceId = `st-${String(d).padStart(4, '0')}`;
      const intervalStartMs = base + r * INTERVAL_MS;
      out.push({
        deviceId,
        row: `${deviceId}/${Math.floor(intervalStartMs / 60_000)}`,
        // The cluster devices' report (bench/cluster-devices.ts): 310 B with one e2e sketch.
        payload: encodeReport({
          deviceId,
          intervalStartMs,
          reportSequence: r + 1,
          latency: { e2e: [4, 5, 6, 7, 9] },
        }),
      });
    }
  }
  return out;
}

async function measure(s: StoreUnderTest, batch: number): Promise<StoreFigures> {
  const { repo, close } = await s.open();
  const service = createTelemetryService({
    store: repo,
    clock: createSystemClock(),
    flushIntervalMs: 0,
    pruneIntervalMs: 0,
  });
  // Whole minutes an hour back: every row is complete in the run (6 reports a device-minute).
  const base = Math.floor((Date.now() - 3_600_000) / 60_000) * 60_000;
  const reports = reportsInOrder(base);
  let rows = 0;
  const server0 = s.serverCpu();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reports.length; i += batch) {
    const part = reports.slice(i, i + batch);
    for (const r of part) {
      const result = service.ingest(r.deviceId, r.payload);
      if (result !== 'accepted') throw new Error(`report not accepted: ${result}`);
    }
    rows += new Set(part.map((r) => r.row)).size;
    await service.flush();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = s.serverCpu() - server0;
  await service.close();
  await close();
  return {
    store: s.label,
    batch,
    reports: reports.length,
    rows,
    seconds,
    clientCpuUs: (cpu.user + cpu.system) / reports.length,
    serverCpuUs: (serverCpu / reports.length) * 1e6,
  };
}

const fmt = (x: number, digits = 0) => x.toFixed(digits);

/** Runs every store at every batch size and prints the figures and the ratios to SQLite's. */
export async function storeMergeCost(pg: {
  newDatabase(): Promise<string>;
  /** CPU seconds of the PostgreSQL server's processes now. */
  cpu(): number;
}): Promise<StoreFigures[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bmf-bench-store-'));
  let n = 0;
  const sqlite = (label: string, synchronous: 'FULL' | 'OFF'): StoreUnderTest => ({
    label,
    async open() {
      const db = openDatabase(join(dir, `t${++n}.db`));
      db.pragma(`synchronous = ${synchronous}`);
      return {
        repo: createTelemetryRepo(db),
        close: () => {
          db.close();
        },
      };
    },
    serverCpu: () => 0,
  });
  const postgres: StoreUnderTest = {
    label: 'postgres',
    async open() {
      const store = await openPostgresStore(await pg.newDatabase());
      return { repo: pgTelemetry(store), close: () => store.close() };
    },
    serverCpu: () => pg.cpu(),
  };
  const stores = [sqlite('sqlite', 'OFF'), sqlite('sqlite-full', 'FULL'), postgres];
  const load0 = loadavg();
  console.log(
    `  store side: telemetry service addBatch, ${DEVICES} devices x ${REPORTS_PER_DEVICE} reports ` +
      `(${DEVICES * REPORTS_PER_DEVICE}), 1 insert + 5 merges per device-minute row; ` +
      `load average ${load0.map((x) => fmt(x, 1)).join(' ')}`,
  );
  const figures: StoreFigures[] = [];
  try {
    // Once each, not counted: the first run of a path pays for compiling it.
    for (const s of stores) await measure(s, 25);
    // Batch sizes outside, stores inside: a change in the machine's load hits all three alike.
    for (const batch of STORE_BATCHES) {
      for (const s of stores) figures.push(await measure(s, batch));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const f of figures) {
    const base = figures.find((b) => b.store === 'sqlite' && b.batch === f.batch)!;
    const cpu = f.clientCpuUs + f.serverCpuUs;
    const baseCpu = base.clientCpuUs + base.serverCpuUs;
    const wall = (f.seconds / f.reports) * 1e6;
    const baseWall = (base.seconds / base.reports) * 1e6;
    console.log(
      `    batch ${String(f.batch).padStart(3)} ${f.store.padEnd(11)} per report: CPU ` +
        `${fmt(cpu)} us (controller ${fmt(f.clientCpuUs)} + server ${fmt(f.serverCpuUs)}), ` +
        `wall ${fmt(wall)} us | ${fmt(f.reports / f.seconds)} reports/s, ` +
        `${fmt(f.rows / f.seconds)} rows/s | vs sqlite: CPU x${fmt(cpu / baseCpu, 2)}, ` +
        `wall x${fmt(wall / baseWall, 2)}`,
    );
  }
  console.log(
    `  load average after: ${loadavg()
      .map((x) => fmt(x, 1))
      .join(' ')}`,
  );
  return figures;
}
