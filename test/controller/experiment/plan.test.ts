// Cohort plans: from given values (pure), from a previous experiment's per-device telemetry
// (service), over REST, and through `bmfleet experiment plan` (locally and against the routes).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { isBmfError } from '../../../shared/errors.js';
import type { BundleManifest } from '../../../shared/bundle/manifest.js';
import { LatencySketch } from '../../../shared/stats/sketch.js';
import { createExperimentRepo } from '../../../controller/store/experiments.js';
import { openDatabase } from '../../../controller/store/db.js';
import { installErrorHandling } from '../../../controller/api/errors.js';
import { typeboxValidatorCompiler } from '../../../controller/api/validation.js';
import { createExperimentService } from '../../../controller/experiment/service.js';
import { experimentRoutes } from '../../../controller/experiment/routes.js';
import {
  parsePlanRequest,
  planCohortExperiment,
  renderPlanText,
  type CohortPlan,
} from '../../../controller/experiment/plan.js';
import type { TelemetryFilter } from '../../../controller/telemetry/store.js';
import { DIGEST_A, DIGEST_B, devices, fixture, summaryOf, type DeviceArmData } from './helpers.js';
import { runCli, type CliRun } from '../../../harness/cli.js';
import { gaussian, seededRandom } from '../../../shared/stats/seeded-random.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isBmfError(e) ? e.code : String(e);
  }
  return undefined;
}

t.test('plan from given values', async (t) => {
  const acc = planCohortExperiment(
    parsePlanRequest({
      metric: 'accuracy',
      baseline: 0.76,
      mde: 0.01,
      icc: 0.02,
      requestsPerDevice: 500,
    }),
  );
  t.same(acc.devicesPerArm, { fixed: 638, sequential: 1236 });
  t.same(acc.requestsPerArm, { fixed: 29036, sequential: 56265 });
  t.equal(acc.designEffect, 10.98);
  t.same(
    Object.values(acc.inputs).map((i) => i.from),
    ['given', 'given', 'given'],
  );
  const text = renderPlanText(acc);
  t.match(text, '1 + (500 - 1) x 0.02 = 10.98');
  t.match(text, /devices per arm: 638 .*fixed horizon.*1236 .*always-valid/);

  const lat = planCohortExperiment(
    parsePlanRequest({
      metric: 'latency',
      baseline: 12,
      mde: 0.05,
      betweenSdMs: 1.5,
      withinSdMs: 4,
      requestsPerDevice: 500,
    }),
  );
  t.same(lat.devicesPerArm, { fixed: 108, sequential: 209 });
  t.equal(lat.meansPerArm, 101);
  t.match(renderPlanText(lat), 'sqrt(between^2 + (pi/2) within^2 / m) = 1.517 ms');

  // A huge effect: the formula says fewer devices than the analysis accepts. Requests:
  // (1.959964 sqrt(2 x 0.65 x 0.35) + 0.841621 sqrt(0.9 x 0.1 + 0.4 x 0.6))^2 / 0.5^2
  // = (1.322068 + 0.483474)^2 / 0.25 = 3.259984 / 0.25 = 13.04 -> 14;
  // devices ceil(14 / 1000) = 1 -> 5.
  const tiny = planCohortExperiment(
    parsePlanRequest({
      metric: 'accuracy',
      baseline: 0.9,
      mde: 0.5,
      icc: 0,
      requestsPerDevice: 1000,
    }),
  );
  t.equal(tiny.requestsPerArm!.fixed, 14);
  t.same(tiny.devicesPerArm, { fixed: 5, sequential: 5 });
  t.match(tiny.notes.join(), 'raised to 5 devices per arm');

  t.equal(
    codeOf(() => planCohortExperiment(parsePlanRequest({ metric: 'accuracy', mde: 0.01 }))),
    'BMF_ERR_EXPERIMENT_PLAN',
    'no ICC and nothing to estimate it from',
  );
  t.equal(
    codeOf(() =>
      planCohortExperiment(
        parsePlanRequest({
          metric: 'accuracy',
          baseline: 0.01,
          mde: 0.02,
          icc: 0,
          requestsPerDevice: 10,
        }),
      ),
    ),
    'BMF_ERR_EXPERIMENT_PLAN',
    'a 2-point drop from 1 %',
  );
  for (const bad of [
    { metric: 'accuracy', mde: 0.01, icc: 1.5 },
    { metric: 'accuracy', mde: 0 },
    { metric: 'throughput', mde: 0.1 },
    { metric: 'latency', mde: 0.1, from: { experiment: 'x', bundle: DIGEST_A } },
  ]) {
    t.equal(
      codeOf(() => parsePlanRequest(bad)),
      'BMF_ERR_BAD_REQUEST',
      JSON.stringify(bad),
    );
  }
});

// A fleet with real between-device variance: device accuracy from a beta distribution with
// ICC 0.05 (pi ~ Beta(p s, (1 - p) s), s = (1 - 0.05) / 0.05 = 19), device medians normal with
// SD 1.5 ms, requests lognormal (sigma 0.3) around them.
const TRUTH = { icc: 0.05, betweenSdMs: 1.5, perDevice: 400 };
const LEVEL: Record<string, { accuracy: number; ms: number }> = {
  [DIGEST_A]: { accuracy: 0.8, ms: 12 },
  [DIGEST_B]: { accuracy: 0.75, ms: 8 },
};

function gammaDraw(rand: () => number, shape: number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = gaussian(rand);
    const v = (1 + c * x) ** 3;
    if (v > 0 && Math.log(1 - rand()) < (x * x) / 2 + d - d * v + d * Math.log(v)) return d * v;
  }
}

function clusteredTelemetry(seed: number) {
  const rand = seededRandom(seed);
  const data = new Map<string, DeviceArmData>();
  const of = (device: string, bundle: string): DeviceArmData => {
    const key = `${device}/${bundle}`;
    let d = data.get(key);
    if (!d) {
      const level = LEVEL[bundle]!;
      const s = (1 - TRUTH.icc) / TRUTH.icc;
      const g = gammaDraw(rand, level.accuracy * s);
      const p = g / (g + gammaDraw(rand, (1 - level.accuracy) * s));
      const median = level.ms + TRUTH.betweenSdMs * gaussian(rand);
      const sketch = new LatencySketch();
      let correct = 0;
      for (let i = 0; i < TRUTH.perDevice; i++) {
        sketch.add(median * Math.exp(0.3 * gaussian(rand)));
        if (rand() < p) correct++;
      }
      d = {
        sketch,
        requests: TRUTH.perDevice,
        errors: 0,
        feedbackCorrect: correct,
        feedbackTotal: TRUTH.perDevice,
      };
      data.set(key, d);
    }
    return d;
  };
  const pick = (f: TelemetryFilter): DeviceArmData[] =>
    (f.deviceIds ?? []).map((id) => of(id, f.bundle ?? ''));
  return {
    sketches: (f: TelemetryFilter): Record<string, LatencySketch> => {
      const list = pick(f);
      return list.length === 1 ? { e2e: list[0]!.sketch } : {};
    },
    query: (f: TelemetryFilter) => summaryOf(pick(f), (f.deviceIds ?? []).length),
    timeline: () => [],
  };
}

t.test('plan estimated from a previous cohort experiment, over REST and the CLI', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bmf-plan-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let now = 1_000_000;
  const manifests: Record<string, BundleManifest> = {
    [DIGEST_A]: fixture.base,
    [DIGEST_B]: { ...fixture.base, precision: 'int8', sequence: 2, version: '1.0.1' },
  };
  const svc = createExperimentService({
    store: createExperimentRepo(openDatabase(join(dir, 'controller.db'))),
    clock: { wallNow: () => now },
    registry: { getBundle: (d) => (manifests[d] ? { manifest: manifests[d] } : undefined) },
    devices: () => devices(80),
    assign: async () => {},
    telemetry: clusteredTelemetry(41),
    createRollout: async () => 'unused',
  });
  const spec = {
    bundleA: DIGEST_A,
    bundleB: DIGEST_B,
    population: {},
    allocation: { kind: 'cohorts', shareB: 0.5 },
    metrics: {},
    guardrails: {},
    minSamples: 100,
    minDurationMs: 0,
  };
  await svc.create({ ...spec, id: 'pilot' });
  await t.rejects(
    svc.plan({ metric: 'accuracy', mde: 0.01, from: { experiment: 'pilot' } }),
    { code: 'BMF_ERR_EXPERIMENT_PLAN' },
    'an experiment that never ran has nothing to estimate from',
  );
  await t.rejects(svc.plan({ metric: 'accuracy', mde: 0.01, from: { experiment: 'nope' } }), {
    code: 'BMF_ERR_NOT_FOUND',
  });
  await svc.start('pilot');
  now += 3_600_000;

  const acc = await svc.plan({ metric: 'accuracy', mde: 0.02, from: { experiment: 'pilot' } });
  const e = acc.estimates!.accuracy!;
  t.comment(`estimated ICC ${e.icc} (truth ${TRUTH.icc}) from ${e.devices} devices`);
  // 80 devices x 400 requests: the estimate's standard error is ~0.008.
  t.ok(Math.abs(e.icc - TRUTH.icc) < 0.025, `ICC ${e.icc}`);
  t.equal(e.devices, 80, 'both arms, each on its own bundle');
  t.equal(e.outcome, 'feedback');
  t.same(
    Object.values(acc.inputs).map((i) => i.from),
    ['estimated', 'estimated', 'estimated'],
  );
  t.equal(acc.inputs['requestsPerDevice']!.value, TRUTH.perDevice);
  t.match(acc.notes.join(), 'requests per device are those of the source window');
  t.comment(renderPlanText(acc));
  // The plan is the given-value plan at the estimated values.
  const same = planCohortExperiment(
    parsePlanRequest({
      metric: 'accuracy',
      mde: 0.02,
      baseline: acc.inputs['baseline']!.value,
      icc: e.icc,
      requestsPerDevice: TRUTH.perDevice,
    }),
  );
  t.same(acc.devicesPerArm, same.devicesPerArm);

  const given = await svc.plan({
    metric: 'accuracy',
    mde: 0.02,
    icc: 0.01,
    from: { experiment: 'pilot' },
  });
  t.match(given.inputs['icc'], { value: 0.01, from: 'given' }, 'a given value wins');
  t.equal(given.inputs['icc']!.estimate, e.icc, 'and the estimate is shown with it');
  t.match(renderPlanText(given), /intra-device correlation +0\.01 \(given; estimated 0\.0/);

  const lat = await svc.plan({ metric: 'latency', mde: 0.05, from: { experiment: 'pilot' } });
  const l = lat.estimates!.latency!;
  t.comment(`estimated between-device SD ${l.betweenSdMs} ms (truth ${TRUTH.betweenSdMs})`);
  t.ok(Math.abs(l.betweenSdMs - TRUTH.betweenSdMs) < 0.4, `between ${l.betweenSdMs}`);
  // Arm A's level, not the mix of A (12 ms) and B (8 ms).
  t.ok(Math.abs(l.baselineMs - 12) < 1, `baseline ${l.baselineMs}`);
  t.comment(renderPlanText(lat));

  const fromBundle = await svc.plan({
    metric: 'latency',
    mde: 0.05,
    from: { bundle: DIGEST_A, sinceMs: 7_200_000 },
  });
  t.equal(fromBundle.estimates!.latency!.devices, 80, 'every device that ran A');

  // REST and CLI on a real socket.
  const app = Fastify({ logger: false });
  installErrorHandling(app);
  app.setValidatorCompiler(typeboxValidatorCompiler);
  experimentRoutes(app, { experiments: svc });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const res = await fetch(`${url}/v1/experiments/plan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ metric: 'latency', mde: 0.05, from: { experiment: 'pilot' } }),
  });
  t.equal(res.status, 200);
  t.same(((await res.json()) as CohortPlan).devicesPerArm, lat.devicesPerArm);
  const bad = await fetch(`${url}/v1/experiments/plan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ metric: 'accuracy', mde: 2 }),
  });
  t.equal(bad.status, 400);
  t.match(await bad.json(), { error: { code: 'BMF_ERR_BAD_REQUEST' } });

  const cli = (...argv: string[]): Promise<CliRun> => runCli(argv, { BMFLEET_URL: url });
  const remote = await cli(
    'experiment',
    'plan',
    '--metric',
    'accuracy',
    '--mde',
    '0.02',
    '--from-experiment',
    'pilot',
    '--json',
  );
  t.equal(remote.code, 0, remote.err);
  t.same((JSON.parse(remote.out) as CohortPlan).devicesPerArm, acc.devicesPerArm);
  // No data source: computed locally, so an unreachable controller does not matter.
  const local = await cli(
    'experiment',
    'plan',
    '--metric',
    'accuracy',
    '--baseline',
    '0.76',
    '--mde',
    '0.01',
    '--icc',
    '0.02',
    '--requests-per-device',
    '500',
    '--url',
    'http://127.0.0.1:1',
  );
  t.equal(local.code, 0, local.err);
  t.match(local.out, 'devices per arm: 638');
  const usage = await cli('experiment', 'plan', '--metric', 'accuracy');
  t.equal(usage.code, 2, 'no --mde: usage error');
  const missing = await cli(
    'experiment',
    'plan',
    '--metric',
    'accuracy',
    '--mde',
    '0.01',
    '--baseline',
    '0.76',
    '--requests-per-device',
    '500',
  );
  t.equal(missing.code, 1);
  t.match(missing.err, /^BMF_ERR_EXPERIMENT_PLAN: .*icc is needed/);
});
