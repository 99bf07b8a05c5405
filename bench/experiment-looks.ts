// `npm run bench -- experiment-looks`: what the guardrail looks (controller/experiment/looks.ts)
// cost the lease holder. One running cohort experiment over 100 boards on the SQLite store, the
// real telemetry service fed one encoded report per board and minute; CPU time of one look pass
// (process.cpuUsage: the machine is shared, wall time is noise) after 10 and after 30 minutes of
// telemetry, the share of one core that is at the default 30 s interval, and the ratio of the two
// (how a look grows with the experiment's age: it reads every minute row since the start).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '../shared/clock.js';
import { openControllerStore } from '../controller/store/open.js';
import { createTelemetryService } from '../controller/telemetry/service.js';
import { MINUTE_MS } from '../controller/telemetry/rollup.js';
import { createExperimentService } from '../controller/experiment/service.js';
import { createExperimentLooks } from '../controller/experiment/looks.js';
import type { BundleManifest } from '../shared/bundle/manifest.js';
import {
  BUNDLE_A,
  BUNDLE_B,
  encodeReport,
  lognormalSamples,
} from '../harness/controller/telemetry-reports.js';

const BOARDS = 100;
const ROUNDS = 5;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % MINUTE_MS);

const cpuMs = (f: () => Promise<void>) => async (): Promise<number> => {
  const before = process.cpuUsage();
  await f();
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1000;
};
const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bmf-bench-looks-'));
  const clock = createManualClock(0, T0);
  const store = await openControllerStore({
    sqlitePath: join(dir, 'controller.db'),
    clock,
    holder: 'bench',
  });
  const telemetry = createTelemetryService({
    store: store.telemetry,
    clock,
    flushIntervalMs: 0,
    pruneIntervalMs: 0,
    maxClockSkewMs: 365 * 86_400_000,
  });
  const base = (
    JSON.parse(
      readFileSync(new URL('../test/fixtures/experiment/validation.json', import.meta.url), 'utf8'),
    ) as { base: BundleManifest }
  ).base;
  const manifests: Record<string, BundleManifest> = {
    [BUNDLE_A]: base,
    [BUNDLE_B]: { ...base, precision: 'int8', sequence: 2, version: '1.0.1' },
  };
  const boards = Array.from({ length: BOARDS }, (_, i) => ({
    id: `board-${String(i).padStart(3, '0')}`,
    chip: 'bm1684x',
    tags: {},
  }));
  const experiments = createExperimentService({
    store: store.experiments,
    leadership: store.leadership,
    clock,
    registry: { getBundle: (d) => (manifests[d] ? { manifest: manifests[d] } : undefined) },
    devices: () => boards,
    assign: async () => undefined,
    telemetry,
    createRollout: async () => 'unused',
  });
  const errors: unknown[] = [];
  const looks = createExperimentLooks({
    experiments,
    leadership: store.leadership,
    clock,
    intervalMs: 30_000,
    onEvent: () => undefined,
    onError: (e) => errors.push(e),
  });
  try {
    await experiments.create({
      id: 'bench',
      bundleA: BUNDLE_A,
      bundleB: BUNDLE_B,
      population: { chip: 'bm1684x' },
      allocation: { kind: 'cohorts', shareB: 0.5 },
      metrics: {},
      guardrails: { maxErrorRateIncrease: 0.05 },
      minSamples: 500,
      minDurationMs: 60_000,
    });
    const { state } = await experiments.start('bench');
    let seq = 0;
    let minutes = 0;
    const feed = async (until: number): Promise<void> => {
      for (; minutes < until; minutes++) {
        for (const [i, b] of boards.entries()) {
          const bundle = state.arms?.[b.id] === 'B' ? BUNDLE_B : BUNDLE_A;
          telemetry.ingest(
            b.id,
            encodeReport({
              deviceId: b.id,
              bundleDigest: bundle,
              intervalStartMs: T0 + minutes * MINUTE_MS,
              reportSequence: ++seq,
              latency: { e2e: lognormalSamples(200, 5, 0.2, 1000 * minutes + i) },
              errors: 1,
            }),
          );
        }
        await telemetry.flush();
      }
      await clock.advance(until * MINUTE_MS - (clock.wallNow() - T0) + 1);
    };
    const pass = cpuMs(() => looks.lookAll());
    const figures: [number, number][] = [];
    for (const age of [10, 30]) {
      await feed(age);
      await pass(); // warm up
      figures.push([age, median(await sequential(pass, ROUNDS))]);
    }
    const status = (await experiments.get('bench')).state.status;
    if (status !== 'running' || errors.length > 0)
      throw new Error(`the experiment should run on: ${status}, ${errors.length} errors`);
    console.log(
      `experiment-looks: one look pass, cohort experiment over ${BOARDS} boards, ${ROUNDS} rounds, median CPU time`,
    );
    for (const [age, ms] of figures) {
      console.log(
        `  ${String(age).padStart(2)} min of telemetry  ${ms.toFixed(1)} ms CPU/pass  ${((100 * ms) / 30_000).toFixed(3)} % of a core at 30 s`,
      );
    }
    console.log(`  ratio 30 min / 10 min: ${(figures[1]![1] / figures[0]![1]).toFixed(2)}`);
  } finally {
    await looks.close();
    await telemetry.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function sequential(f: () => Promise<number>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await f());
  return out;
}
