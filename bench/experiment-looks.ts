// `npm run bench -- experiment-looks`: what the guardrail looks (controller/experiment/looks.ts)
// cost the lease holder. One running cohort experiment over 100 boards on the SQLite store, the
// real telemetry service fed one encoded report per board and minute; CPU time of one look pass
// (process.cpuUsage: the machine is shared, wall time is noise) after 10 and after 30 minutes of
// telemetry, the share of one core that is at the old 30 s interval (the baseline), and the ratio of
// the two (how a look grows with the experiment's age: it reads every minute row since the start).
// Then the share at the default interval with the duty-cycle bound (next pass no sooner than
// max(interval, 20 x the last)), for both ages and for a day-old experiment extrapolated on the line
// through the two measured points, each as a ratio against the baseline.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '../shared/clock.js';
import { openControllerStore } from '../controller/store/open.js';
import { createTelemetryService } from '../controller/telemetry/service.js';
import { MINUTE_MS } from '../controller/telemetry/rollup.js';
import { createExperimentService } from '../controller/experiment/service.js';
import { createExperimentLooks, nextLookInMs } from '../controller/experiment/looks.js';
import { loadControllerConfig } from '../controller/config.js';
import type { BundleManifest } from '../shared/bundle/manifest.js';
import {
  BUNDLE_A,
  BUNDLE_B,
  encodeReport,
  lognormalSamples,
} from '../harness/controller/telemetry-reports.js';

const BOARDS = 100;
const BASELINE_INTERVAL_MS = 30_000;
const DAY_MIN = 24 * 60;
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
    intervalMs: BASELINE_INTERVAL_MS,
    onEvent: () => undefined,
    onStretch: () => undefined,
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
        `  ${String(age).padStart(2)} min of telemetry  ${ms.toFixed(1)} ms CPU/pass  ${pct(baselineShare(ms))} of a core at 30 s`,
      );
    }
    const [[a1, d1], [a2, d2]] = figures as [[number, number], [number, number]];
    console.log(`  ratio 30 min / 10 min: ${(d2 / d1).toFixed(2)}`);
    const intervalMs = loadControllerConfig({ env: {} }).experiments.lookIntervalMs;
    const perMinute = (d2 - d1) / (a2 - a1);
    const rows: [string, number][] = [
      ...figures.map(([age, ms]): [string, number] => [`${age} min`, ms]),
      [`${DAY_MIN} min (extrapolated)`, d2 + perMinute * (DAY_MIN - a2)],
    ];
    console.log(
      `share of a core on looks: default ${intervalMs / 1000} s interval with the stretch rule vs the 30 s baseline (${perMinute.toFixed(2)} ms CPU per minute of age)`,
    );
    for (const [label, ms] of rows) {
      const next = nextLookInMs(intervalMs, ms);
      const share = ms / next;
      console.log(
        `  ${label.padEnd(22)} ${ms.toFixed(0).padStart(6)} ms/pass  every ${(next / 1000).toFixed(0)} s${next > intervalMs ? ' (stretched)' : ''}  ${pct(share)}  baseline ${pct(baselineShare(ms))}  ratio ${(share / baselineShare(ms)).toFixed(3)}`,
      );
    }
  } finally {
    await looks.close();
    await telemetry.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** At 30 s with no bound a pass longer than the interval runs back to back: a whole core. */
const baselineShare = (ms: number): number => Math.min(1, ms / BASELINE_INTERVAL_MS);
const pct = (share: number): string => `${(100 * share).toFixed(3)} %`;

async function sequential(f: () => Promise<number>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await f());
  return out;
}
