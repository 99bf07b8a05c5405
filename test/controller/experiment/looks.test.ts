// Guardrail looks on a timer (controller/experiment/looks.ts) over the real SQLite controller store
// and the real telemetry service fed encoded reports: a breached guardrail aborts the experiment
// back to A with nobody asking for the analysis, a healthy experiment keeps running with a look
// saved every interval, a replica without the lease does not look, close() stops the timer, and a
// pass that takes long pushes the next one out (duty-cycle bound) while a short one keeps the interval.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualClock } from '../../../shared/clock.js';
import type { BundleManifest } from '../../../shared/bundle/manifest.js';
import { loadControllerConfig } from '../../../controller/config.js';
import { openControllerStore } from '../../../controller/store/open.js';
import { soleLeadership, type Leadership } from '../../../controller/store/leadership.js';
import { createTelemetryService } from '../../../controller/telemetry/service.js';
import { MINUTE_MS } from '../../../controller/telemetry/rollup.js';
import { createExperimentService } from '../../../controller/experiment/service.js';
import {
  createExperimentLooks,
  LOOK_DUTY_FACTOR,
  type ExperimentLookEvent,
  type ExperimentLookStretch,
} from '../../../controller/experiment/looks.js';
import {
  BUNDLE_A,
  BUNDLE_B,
  encodeReport,
  lognormalSamples,
} from '../../../harness/controller/telemetry-reports.js';
import { devices, fixture } from './helpers.js';

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % MINUTE_MS);
const INTERVAL_MS = 30_000;
const ID = 'int8-vs-fp32';
const FLEET = devices(12).filter((d) => d.chip === 'bm1684x');

/** `lookMs`: each look also moves the clock on by this much (a pass that takes that long). */
async function setup(t: Test, opts: { leadership?: Leadership; lookMs?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bmf-exp-timer-'));
  const clock = createManualClock(0, T0);
  const store = await openControllerStore({
    sqlitePath: join(dir, 'controller.db'),
    clock,
    holder: 'replica-1',
  });
  const telemetry = createTelemetryService({
    store: store.telemetry,
    clock,
    flushIntervalMs: 0,
    pruneIntervalMs: 0,
  });
  const manifests: Record<string, BundleManifest> = {
    [BUNDLE_A]: fixture.base,
    [BUNDLE_B]: { ...fixture.base, precision: 'int8', sequence: 2, version: '1.0.1' },
  };
  const leadership = opts.leadership ?? store.leadership;
  const experiments = createExperimentService({
    store: store.experiments,
    leadership,
    clock,
    registry: { getBundle: (d) => (manifests[d] ? { manifest: manifests[d] } : undefined) },
    devices: () => FLEET,
    assign: async () => undefined,
    telemetry,
    createRollout: async () => {
      throw new Error('a look never promotes');
    },
  });
  const events: ExperimentLookEvent[] = [];
  const errors: unknown[] = [];
  const stretches: ExperimentLookStretch[] = [];
  /** Clock time at which each look started. */
  const lookStarts: number[] = [];
  const looks = createExperimentLooks({
    experiments: {
      list: () => experiments.list(),
      look: async (id) => {
        lookStarts.push(clock.now());
        const r = await experiments.look(id);
        if (opts.lookMs) await clock.advance(opts.lookMs);
        return r;
      },
    },
    leadership,
    clock,
    intervalMs: INTERVAL_MS,
    onEvent: (e) => events.push(e),
    onStretch: (s) => stretches.push(s),
    onError: (e) => errors.push(e),
  });
  t.teardown(async () => {
    await looks.close();
    await telemetry.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await experiments.create({
    id: ID,
    bundleA: BUNDLE_A,
    bundleB: BUNDLE_B,
    population: { chip: 'bm1684x' },
    allocation: { kind: 'traffic', weightB: 0.5 },
    metrics: {},
    guardrails: { maxErrorRateIncrease: 0.02 },
    minSamples: 500,
    minDurationMs: 60_000,
  });
  await experiments.start(ID);
  let seq = 0;
  /** One 10 s report per device and arm from the start of the minute `minute`. */
  async function report(minute: number, errorsB: number): Promise<void> {
    const results = new Set<string>();
    for (const [i, d] of FLEET.entries()) {
      for (const [bundle, errors] of [
        [BUNDLE_A, 5],
        [BUNDLE_B, errorsB],
      ] as const) {
        const r = encodeReport({
          deviceId: d.id,
          variant: bundle === BUNDLE_A ? 'A' : 'B',
          bundleDigest: bundle,
          intervalStartMs: T0 + minute * MINUTE_MS,
          reportSequence: ++seq,
          latency: { e2e: lognormalSamples(1000, 5, 0.2, 100 * minute + i) },
          errors,
        });
        results.add(telemetry.ingest(d.id, r));
      }
    }
    t.same([...results], ['accepted'], `minute ${minute}: every report accepted`);
    await telemetry.flush();
  }
  const status = async () => (await experiments.get(ID)).state;
  return { clock, looks, experiments, events, errors, stretches, lookStarts, report, status };
}

t.test('a breached guardrail aborts back to A with nobody asking for the analysis', async (t) => {
  const s = await setup(t);
  s.looks.start();
  // B fails 15 % of its requests, A 0.5 %: far above the 2-point bound.
  await s.report(0, 150);
  await s.clock.advance(INTERVAL_MS);
  await s.looks.close();
  const state = await s.status();
  t.equal(state.status, 'aborted');
  t.match(state.reason, /^guardrail: B's error rate is above A's/);
  t.equal(state.looks.length, 1, 'the look that found the breach is saved');
  t.equal(state.looks[0]?.verdict, 'guardrail');
  t.same(
    s.events.map((e) => [e.code, e.experiment]),
    [['BMF_EVT_EXPERIMENT_ABORTED', ID]],
  );
  t.equal(s.events[0]?.reason, state.reason, 'the event carries the abort reason');
  t.same(s.errors, []);
});

t.test('a healthy experiment keeps running with a look saved every interval', async (t) => {
  const s = await setup(t);
  s.looks.start();
  await s.report(0, 5);
  for (let i = 0; i < 3; i++) await s.clock.advance(INTERVAL_MS);
  const state = await s.status();
  t.equal(state.status, 'running');
  t.same(
    state.looks.map((l) => l.at),
    [1, 2, 3].map((k) => T0 + k * INTERVAL_MS),
    'one look per interval, stamped at its time',
  );
  t.ok(
    state.looks.every((l) => l.samplesA === FLEET.length * 1005),
    'each look counted the reports',
  );
  t.same(s.events, []);
  t.same(s.errors, []);
});

t.test('a replica without the lease does not look', async (t) => {
  // It held the lease while the experiment was created and started, then lost it.
  let holds = true;
  const s = await setup(t, { leadership: { ...soleLeadership(), hold: async () => holds } });
  holds = false;
  s.looks.start();
  await s.report(0, 150);
  await s.clock.advance(INTERVAL_MS);
  await s.clock.advance(INTERVAL_MS);
  let state = await s.status();
  t.equal(state.status, 'running', 'the breach is left to the lease holder');
  t.equal(state.looks.length, 0);
  t.same(s.events, []);
  // Taking the lease over: the next tick looks and aborts.
  holds = true;
  await s.clock.advance(INTERVAL_MS);
  await s.looks.close();
  state = await s.status();
  t.equal(state.status, 'aborted');
  t.equal(state.looks.length, 1);
});

t.test('close() stops the timer: no look after it', async (t) => {
  const s = await setup(t);
  s.looks.start();
  await s.report(0, 5);
  await s.clock.advance(INTERVAL_MS);
  await s.looks.close();
  t.equal((await s.status()).looks.length, 1);
  await s.report(1, 150);
  for (let i = 0; i < 4; i++) await s.clock.advance(INTERVAL_MS);
  const state = await s.status();
  t.equal(state.looks.length, 1, 'no look after close');
  t.equal(state.status, 'running', 'nothing aborted after close');
  t.same(s.events, []);
});

t.test('a long pass pushes the next one to 20 x its duration, announced', async (t) => {
  const passMs = 5_000; // 20 x 5 s = 100 s > the 30 s interval
  const s = await setup(t, { lookMs: passMs });
  s.looks.start();
  await s.report(0, 5);
  for (let ms = 0; ms < 240_000; ms += 1_000) await s.clock.advance(1_000);
  t.equal(LOOK_DUTY_FACTOR, 20);
  t.same(
    s.lookStarts,
    [30_000, 130_000, 230_000],
    'each pass starts 20 x 5 s after the previous one started, not every 30 s',
  );
  t.same(s.stretches[0], { passMs, intervalMs: INTERVAL_MS, nextInMs: 100_000 });
  t.equal(s.stretches.length, s.lookStarts.length, 'every stretched pass is announced');
  t.same(s.errors, []);
});

t.test('a short pass keeps the interval', async (t) => {
  const s = await setup(t, { lookMs: 1_000 }); // 20 x 1 s = 20 s < 30 s
  s.looks.start();
  await s.report(0, 5);
  for (let ms = 0; ms < 125_000; ms += 1_000) await s.clock.advance(1_000);
  t.same(s.lookStarts, [30_000, 60_000, 90_000, 120_000], 'one pass per interval from its start');
  t.same(s.stretches, [], 'nothing to announce');
  t.same(s.errors, []);
});

t.test('close() during a stretched wait: no pass after it', async (t) => {
  const s = await setup(t, { lookMs: 5_000 });
  s.looks.start();
  await s.report(0, 5);
  await s.clock.advance(INTERVAL_MS);
  t.equal(s.lookStarts.length, 1);
  await s.looks.close();
  for (let i = 0; i < 10; i++) await s.clock.advance(INTERVAL_MS);
  t.equal(s.lookStarts.length, 1, 'no look after close');
  t.equal(s.clock.pendingSleeps(), 0, 'no timer left waiting');
});

t.test('the interval is bounded at the config edge (1 s to 1 h, default 5 min)', async (t) => {
  t.equal(loadControllerConfig({ env: {} }).experiments.lookIntervalMs, 300_000);
  const at = (v: string) =>
    loadControllerConfig({ env: {}, flags: { 'experiments.lookIntervalMs': v } });
  t.equal(at('60000').experiments.lookIntervalMs, 60_000, 'from a flag');
  for (const bad of ['10', '3600001', 'soon']) {
    t.throws(() => at(bad), { code: 'BMF_ERR_CONFIG_INVALID' }, `refused: ${bad}`);
  }
});
