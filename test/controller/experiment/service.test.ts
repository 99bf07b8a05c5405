import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBmfError } from '../../../shared/errors.js';
import type { BundleManifest } from '../../../shared/bundle/manifest.js';
import { createExperimentRepo } from '../../../controller/store/experiments.js';
import { openDatabase } from '../../../controller/store/db.js';
import type { AssignRequest } from '../../../controller/distribution/assignments.js';
import {
  createExperimentService,
  parseExperimentSpec,
} from '../../../controller/experiment/service.js';
import {
  cohortSpecBody,
  createFakeTelemetry,
  DIGEST_A,
  DIGEST_B,
  devices,
  fixture,
} from './helpers.js';

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return isBmfError(e) ? e.code : String(e);
  }
  return undefined;
}

t.test('create, start, analyze, promote; persisted across reopen; abort restores A', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bmf-exp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'controller.db');
  let now = 1_000_000;
  const clock = { wallNow: () => now };
  const manifests: Record<string, BundleManifest> = {
    [DIGEST_A]: fixture.base,
    [DIGEST_B]: { ...fixture.base, precision: 'int8', sequence: 2, version: '1.0.1' },
    ['c'.repeat(64)]: { ...fixture.base, name: 'other' },
  };
  const assigned: { deviceId: string; request: AssignRequest }[] = [];
  const rollouts: { bundle: string; deviceIds: readonly string[] }[] = [];
  const telemetry = createFakeTelemetry({
    seed: 8,
    perDevice: 300,
    latencyMs: { [DIGEST_A]: 5, [DIGEST_B]: 3.5 },
    accuracy: { [DIGEST_A]: 0.9, [DIGEST_B]: 0.9 },
  });
  // Cohorts are analysed over devices (>= 5 per arm): 20 bm1684x boards, 10 per arm.
  const fleet = devices(30);
  const make = () =>
    createExperimentService({
      store: createExperimentRepo(openDatabase(path)),
      clock,
      registry: { getBundle: (d) => (manifests[d] ? { manifest: manifests[d] } : undefined) },
      devices: () => fleet,
      assign: async (deviceId, request) => {
        assigned.push({ deviceId, request });
      },
      telemetry,
      createRollout: async (spec) => {
        rollouts.push(spec);
        return `rollout-${rollouts.length}`;
      },
    });
  let svc = make();
  const body = cohortSpecBody('int8-vs-fp32');
  t.equal(
    await codeOf(() => svc.create({ ...body, bundleB: 'c'.repeat(64) })),
    'BMF_ERR_EXPERIMENT_INCOMPATIBLE',
  );
  t.equal(
    await codeOf(() => svc.create({ ...body, population: { chip: 'cv186x' } })),
    'BMF_ERR_EXPERIMENT_EMPTY',
  );
  t.equal(await codeOf(() => svc.create({ ...body, minSamples: -1 })), 'BMF_ERR_BAD_REQUEST');
  const created = await svc.create(body);
  t.equal(created.state.status, 'created');
  t.equal(created.state.devices.length, 20);
  t.equal(await codeOf(() => svc.create({ ...body, id: 'other' })), 'BMF_ERR_EXPERIMENT_OVERLAP');
  t.equal(await codeOf(svc.analyze('int8-vs-fp32')), 'BMF_ERR_EXPERIMENT_STATE');

  const started = await svc.start('int8-vs-fp32');
  t.equal(started.state.status, 'running');
  t.equal(assigned.length, 20);
  t.equal(Object.values(started.state.arms ?? {}).filter((a) => a === 'B').length, 10);
  t.equal(
    await codeOf(svc.promote('int8-vs-fp32')),
    'BMF_ERR_EXPERIMENT_UNDERPOWERED',
    'before the minimum duration',
  );

  // Restart: a new service on the same file sees the running experiment and its looks.
  svc = make();
  now += 120_000;
  const analysis = await svc.analyze('int8-vs-fp32');
  t.equal(analysis.overall.winner, 'B', analysis.overall.reason);
  t.equal(analysis.samples.A, 3000);
  const lat = analysis.metrics.find((m) => m.key === 'latency.e2e')!;
  t.equal(lat.unitOfAnalysis, 'devices', 'cohorts are compared over devices');
  t.same(lat.devices, { A: 10, B: 10 });
  t.ok(
    telemetry.calls.filter((f) => f.deviceIds?.length === 1).length >= 20,
    'one telemetry query per device',
  );
  t.equal((await svc.get('int8-vs-fp32')).state.looks.length, 2, 'the refused promote looked too');
  t.ok(telemetry.calls.every((f) => f.fromMs === started.state.startedAt));
  const promoted = await svc.promote('int8-vs-fp32');
  t.equal(promoted.state.status, 'promoted');
  t.equal(promoted.state.rolloutId, 'rollout-1');
  t.same(rollouts[0], {
    bundle: DIGEST_B,
    deviceIds: created.state.devices,
    reason: 'experiment int8-vs-fp32: promote B',
  });
  t.equal(await codeOf(svc.abort('int8-vs-fp32')), 'BMF_ERR_EXPERIMENT_STATE');

  // A second experiment on the same devices is allowed now; abort restores A everywhere.
  await svc.create({ ...body, id: 'second', allocation: { kind: 'shadow', rate: 0.1 } });
  await svc.start('second');
  const before = assigned.length;
  const aborted = await svc.abort('second', 'operator');
  t.equal(aborted.state.status, 'aborted');
  const restore = assigned.slice(before);
  t.equal(restore.length, 20);
  t.ok(
    restore.every(
      (r) => r.request.variants.length === 1 && r.request.variants[0]!.bundle === DIGEST_A,
    ),
  );
  t.same(
    (await svc.list()).map((r) => r.state.status),
    ['promoted', 'aborted'],
  );
});

t.test('a population is checked as a rollout filter is: device ids, chips, tags', async (t) => {
  const body = {
    id: 'population',
    bundleA: DIGEST_A,
    bundleB: DIGEST_B,
    allocation: { kind: 'shadow', rate: 0.1 },
    metrics: {},
    guardrails: {},
    minSamples: 10,
    minDurationMs: 0,
  };
  const refused = [
    { ids: ['dev 001'] },
    { chip: 'bm9999' },
    { tags: { 'site name': 'berlin' } },
    { tags: { site: 'b'.repeat(257) } },
  ];
  for (const population of refused) {
    t.throws(
      () => parseExperimentSpec({ ...body, population }),
      { code: 'BMF_ERR_BAD_REQUEST' },
      JSON.stringify(population).slice(0, 60),
    );
  }
  t.doesNotThrow(() =>
    parseExperimentSpec({
      ...body,
      population: { ids: ['dev-001'], chip: 'bm1684x', tags: { site: 'berlin' } },
    }),
  );
});
