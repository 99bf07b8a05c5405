// Recording a look while analysing: awaited, by the lease holder only. An analysis on a replica
// without the lease is a read (no look, no guardrail abort), a look that cannot be saved fails
// the analysis, and a guardrail abort is the last word on the record.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bmfError } from '../../../shared/errors.js';
import type { BundleManifest } from '../../../shared/bundle/manifest.js';
import { createExperimentRepo } from '../../../controller/store/experiments.js';
import { openDatabase } from '../../../controller/store/db.js';
import { soleLeadership, type Leadership } from '../../../controller/store/leadership.js';
import type { ExperimentRepo } from '../../../controller/store/experiments.js';
import { createExperimentService } from '../../../controller/experiment/service.js';
import type { ExperimentState } from '../../../controller/experiment/model.js';
import {
  cohortSpecBody,
  createFakeTelemetry,
  DIGEST_A,
  DIGEST_B,
  devices,
  fixture,
} from './helpers.js';

const ID = 'looks';

function setup(
  t: Test,
  opts: { accuracyB: number; leadership?: Leadership },
): {
  svc: ReturnType<typeof createExperimentService>;
  store: ExperimentRepo<'async'>;
  hooks: { beforeUpdate?: (state: ExperimentState) => Promise<void> };
  advance: (ms: number) => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'bmf-exp-looks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDatabase(join(dir, 'controller.db'));
  t.teardown(() => db.close());
  const repo = createExperimentRepo(db);
  const hooks: { beforeUpdate?: (state: ExperimentState) => Promise<void> } = {};
  // The SQLite repository answers synchronously; this one lets a test hold a write back.
  const store: ExperimentRepo<'async'> = {
    insert: async (spec, state, now) => repo.insert(spec, state, now),
    update: async (id, state, now) => {
      await hooks.beforeUpdate?.(state);
      repo.update(id, state, now);
    },
    get: async (id) => repo.get(id),
    list: async () => repo.list(),
  };
  let now = 1_000_000;
  const manifests: Record<string, BundleManifest> = {
    [DIGEST_A]: fixture.base,
    [DIGEST_B]: { ...fixture.base, precision: 'int8', sequence: 2, version: '1.0.1' },
  };
  const svc = createExperimentService({
    store,
    ...(opts.leadership ? { leadership: opts.leadership } : {}),
    clock: { wallNow: () => now },
    registry: { getBundle: (d) => (manifests[d] ? { manifest: manifests[d] } : undefined) },
    devices: () => devices(30),
    assign: async () => undefined,
    telemetry: createFakeTelemetry({
      seed: 3,
      perDevice: 300,
      latencyMs: { [DIGEST_A]: 5, [DIGEST_B]: 5 },
      accuracy: { [DIGEST_A]: 0.9, [DIGEST_B]: opts.accuracyB },
    }),
    createRollout: async () => 'rollout-1',
  });
  return { svc, store, hooks, advance: (ms) => (now += ms) };
}

const spec = cohortSpecBody(ID);

t.test('a replica without the lease analyses without writing', async (t) => {
  let holds = true;
  const leadership: Leadership = { ...soleLeadership(), hold: async () => holds };
  const { svc, advance } = setup(t, { accuracyB: 0.6, leadership });
  await svc.create(spec);
  await svc.start(ID);
  advance(120_000);
  holds = false;
  const analysis = await svc.analyze(ID);
  t.equal(analysis.guardrails.breached, true, 'B is 30 points less accurate');
  const after = (await svc.get(ID)).state;
  t.equal(after.status, 'running', 'the guardrail abort is the lease holder’s');
  t.equal(after.looks.length, 0, 'no look recorded');
  holds = true;
  await svc.analyze(ID);
  t.equal((await svc.get(ID)).state.status, 'aborted', 'the lease holder aborts');
});

t.test('a look that cannot be saved fails the analysis', async (t) => {
  const { svc, hooks, advance } = setup(t, { accuracyB: 0.9 });
  await svc.create(spec);
  await svc.start(ID);
  advance(120_000);
  hooks.beforeUpdate = async () => {
    throw bmfError('BMF_ERR_STORE', { reason: 'disk full' });
  };
  await t.rejects(svc.analyze(ID), { code: 'BMF_ERR_STORE' });
});

t.test('a guardrail abort is not overwritten by the look before it', async (t) => {
  const { svc, hooks, advance } = setup(t, { accuracyB: 0.6 });
  await svc.create(spec);
  await svc.start(ID);
  advance(120_000);
  // The look's write takes a turn of the event loop, as a PostgreSQL round trip does.
  hooks.beforeUpdate = (state) =>
    state.status === 'running'
      ? new Promise((resolve) => setImmediate(resolve))
      : Promise.resolve();
  const analysis = await svc.analyze(ID);
  t.equal(analysis.guardrails.breached, true);
  hooks.beforeUpdate = undefined;
  await new Promise((resolve) => setImmediate(resolve)); // any write still under way lands
  const after = (await svc.get(ID)).state;
  t.equal(after.status, 'aborted');
  t.match(after.reason, /^guardrail: /);
  t.equal(after.looks.length, 1, 'the look is kept in the aborted record');
});
