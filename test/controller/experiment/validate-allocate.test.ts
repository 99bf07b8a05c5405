import t, { type Test } from 'tap';
import { isBmfError } from '../../../shared/errors.js';
import type { BundleManifest } from '../../../shared/bundle/manifest.js';
import { planAllocation, restorePlan } from '../../../controller/experiment/allocate.js';
import type { ExperimentSpec } from '../../../controller/experiment/model.js';
import {
  checkCompatible,
  checkNoOverlap,
  checkPowered,
  checkState,
  resolvePopulation,
} from '../../../controller/experiment/validate.js';
import { DIGEST_A, DIGEST_B, devices, fixture, runningState } from './helpers.js';

/** The error thrown by fn (undefined when it does not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectError(t: Test, fn: () => unknown, ok: (e: unknown) => boolean, why?: string): void {
  const e = thrown(fn);
  t.ok(ok(e), why ?? `got ${String(e)}`);
}

const spec = (over: Partial<ExperimentSpec> = {}): ExperimentSpec => ({
  id: 'exp-1',
  bundleA: DIGEST_A,
  bundleB: DIGEST_B,
  population: {},
  allocation: { kind: 'cohorts', shareB: 0.5 },
  metrics: {},
  guardrails: {},
  minSamples: 100,
  minDurationMs: 60_000,
  ...over,
});
const state = runningState;

t.test('bundle compatibility', async (t) => {
  for (const c of fixture.incompatible) {
    const b = { ...fixture.base, ...c.b } as BundleManifest;
    expectError(
      t,
      () => checkCompatible(fixture.base, b),
      (e: unknown) =>
        isBmfError(e, 'BMF_ERR_EXPERIMENT_INCOMPATIBLE') && e.message.includes(c.reason),
      c.why,
    );
  }
  for (const c of fixture.compatible) {
    t.doesNotThrow(
      () => checkCompatible(fixture.base, { ...fixture.base, ...c.b } as BundleManifest),
      c.why,
    );
  }
});

t.test('typed errors for population, overlap, state and power', async (t) => {
  const fleet = devices(10);
  expectError(
    t,
    () => resolvePopulation(spec({ population: { chip: 'cv186x' } }), fleet),
    (e: unknown) => isBmfError(e, 'BMF_ERR_EXPERIMENT_EMPTY'),
  );
  t.same(resolvePopulation(spec({ population: { tags: { site: 'lyon' } } }), fleet).length, 5);
  const other = { id: 'exp-0', state: state({ devices: ['dev-001', 'dev-002'] }) };
  expectError(
    t,
    () => checkNoOverlap('exp-1', ['dev-002'], [other]),
    (e: unknown) => isBmfError(e, 'BMF_ERR_EXPERIMENT_OVERLAP') && e.message.includes('exp-0'),
  );
  t.doesNotThrow(() =>
    checkNoOverlap(
      'exp-1',
      ['dev-002'],
      [{ ...other, state: state({ status: 'aborted', devices: ['dev-002'] }) }],
    ),
  );
  expectError(
    t,
    () => checkState('exp-1', state({ status: 'promoted' }), ['running'], 'abort'),
    (e: unknown) => isBmfError(e, 'BMF_ERR_EXPERIMENT_STATE'),
  );
  expectError(
    t,
    () => checkPowered(spec(), state(), { A: 500, B: 500 }, 1000),
    (e: unknown) =>
      isBmfError(e, 'BMF_ERR_EXPERIMENT_UNDERPOWERED') && e.message.includes('minimum'),
  );
  expectError(
    t,
    () => checkPowered(spec(), state(), { A: 500, B: 50 }, 120_000),
    (e: unknown) =>
      isBmfError(e, 'BMF_ERR_EXPERIMENT_UNDERPOWERED') && e.message.includes('50 samples'),
  );
  t.doesNotThrow(() => checkPowered(spec(), state(), { A: 500, B: 500 }, 120_000));
});

t.test('cohort allocation: deterministic, stratified, balanced', async (t) => {
  const fleet = devices(60);
  const s = spec({ allocation: { kind: 'cohorts', shareB: 0.5, stratifyBy: 'chip' } });
  const p1 = planAllocation(s, fleet);
  const p2 = planAllocation(s, [...fleet].reverse());
  t.same(p1, p2, 'same plan whatever the input order');
  for (const chip of ['bm1688', 'bm1684x']) {
    const members = p1.filter((p) => fleet.find((d) => d.id === p.deviceId)!.chip === chip);
    const b = members.filter((p) => p.arm === 'B').length;
    t.ok(Math.abs(b - members.length / 2) <= 0.5, `${chip}: ${b} of ${members.length} in B`);
  }
  const other = planAllocation({ ...s, id: 'exp-2' }, fleet);
  t.not(
    JSON.stringify(other.map((p) => p.arm)),
    JSON.stringify(p1.map((p) => p.arm)),
    'each experiment splits independently',
  );
  const b = p1.find((p) => p.arm === 'B')!;
  t.same(b.request.variants, [{ name: 'B', bundle: DIGEST_B, weight: 1 }]);
  const bySite = planAllocation(
    spec({ allocation: { kind: 'cohorts', shareB: 0.25, stratifyBy: 'site' } }),
    fleet,
  );
  t.equal(bySite.filter((p) => p.arm === 'B').length, 2 * Math.round(0.25 * 30));
});

t.test('traffic and shadow plans put both variants on every device', async (t) => {
  const fleet = devices(4);
  const traffic = planAllocation(spec({ allocation: { kind: 'traffic', weightB: 0.3 } }), fleet);
  t.equal(traffic.length, 4);
  t.ok(traffic.every((p) => p.arm === 'both' && p.request.shadowRate === 0));
  const shadowed = planAllocation(
    spec({ allocation: { kind: 'traffic', weightB: 0.3, shadowRate: 0.25 } }),
    fleet,
  );
  t.ok(
    shadowed.every((p) => p.request.shadowRate === 0.25),
    'a traffic split may shadow a share of A',
  );
  t.same(
    traffic[0]!.request.variants.map((v) => v.weight),
    [0.7, 0.3],
  );
  const shadow = planAllocation(spec({ allocation: { kind: 'shadow', rate: 0.2 } }), fleet);
  t.ok(shadow.every((p) => p.request.shadowRate === 0.2 && p.request.variants[1]!.weight === 0));
  const restore = restorePlan(spec(), ['dev-001']);
  t.same(restore[0]!.request.variants, [{ name: 'A', bundle: DIGEST_A, weight: 1 }]);
});
