import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseDigest, type Digest } from '../../../shared/ids.js';
import {
  applyCommand,
  initialState,
  matchesFilter,
  nextActions,
  splitGroups,
  type RolloutCommand,
} from '../../../controller/rollout/plan.js';
import type {
  DeviceObservation,
  GroupHealth,
  RolloutSpec,
  RolloutState,
} from '../../../controller/rollout/model.js';

interface Step {
  now: number;
  active?: Record<string, string>;
  failures?: Record<string, string>;
  health?: GroupHealth;
  command?: RolloutCommand;
  expect: { status: string; group?: number; assign?: string[]; events?: string[] };
}
interface Scenario {
  name: string;
  spec: Partial<Omit<RolloutSpec, 'bundle'>> & { bundle?: string };
  steps: Step[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/rollout/scenarios.json', import.meta.url), 'utf8'),
) as {
  defaults: Omit<RolloutSpec, 'groups' | 'bundle'> & { bundle: string };
  scenarios: Scenario[];
};

// The scenarios name bundles ("new", "old"); the rollout types hold digests. Each name stands for
// the sha256 of itself, and assertions print the name back.
const names = new Map<Digest, string>();
function digestOf(name: string): Digest {
  const d = parseDigest(createHash('sha256').update(name).digest('hex'));
  names.set(d, name);
  return d;
}
const nameOf = (d: Digest): string => names.get(d) ?? d;

for (const sc of fixture.scenarios) {
  t.test(sc.name, async (t) => {
    const spec = {
      ...fixture.defaults,
      ...sc.spec,
      bundle: digestOf(sc.spec.bundle ?? fixture.defaults.bundle),
    } as RolloutSpec;
    let state: RolloutState = initialState(spec, 0);
    for (const [i, step] of sc.steps.entries()) {
      let result;
      if (step.command) {
        result = applyCommand(step.command, state, step.now);
      } else {
        const observations = new Map<string, DeviceObservation>();
        for (const [id, bundle] of Object.entries(step.active ?? {})) {
          observations.set(id, { online: true, activeBundle: digestOf(bundle) });
        }
        for (const [id, code] of Object.entries(step.failures ?? {})) {
          const prev = observations.get(id) ?? { online: true };
          observations.set(id, { ...prev, failure: { bundle: spec.bundle, code, at: step.now } });
        }
        result = nextActions({ spec, state, observations, health: step.health, now: step.now });
      }
      state = result.state;
      const at = `step ${i} (t=${step.now})`;
      t.equal(state.status, step.expect.status, `${at} status`);
      if (step.expect.group !== undefined) t.equal(state.group, step.expect.group, `${at} group`);
      if (step.expect.assign) {
        const assigned = result.actions
          .filter((a) => a.kind === 'assign')
          .map((a) =>
            a.bundle === spec.bundle ? a.deviceId : `${a.deviceId}=${nameOf(a.bundle)}`,
          );
        t.same(assigned, step.expect.assign, `${at} assignments`);
      }
      if (step.expect.events) {
        const events = result.actions.filter((a) => a.kind === 'event').map((a): string => a.type);
        for (const e of step.expect.events)
          t.ok(events.includes(e), `${at} event ${e} in ${events}`);
      }
    }
  });
}

t.test('groups by percent and count cover every device exactly once', async (t) => {
  const ids = Array.from({ length: 23 }, (_, i) => `dev-${String(i).padStart(2, '0')}`);
  const groups = splitGroups(ids, [{ percent: 10 }, { count: 5 }, { percent: 50 }]);
  t.same(
    groups.map((g) => g.length),
    [2, 5, 16],
  );
  t.same(groups.flat().sort(), [...ids].sort());
  t.same(splitGroups(['a', 'b'], [{ count: 5 }, { count: 5 }]), [['a', 'b']]);
});

t.test('filters by ids, chip and tags', async (t) => {
  const dev = { id: 'se7-1', chip: 'bm1684x', tags: { site: 'berlin', line: '2' } };
  t.ok(matchesFilter(dev, {}));
  t.ok(matchesFilter(dev, { chip: 'BM1684X', tags: { site: 'berlin' } }));
  t.notOk(matchesFilter(dev, { tags: { site: 'paris' } }));
  t.notOk(matchesFilter(dev, { ids: ['other'] }));
  t.notOk(matchesFilter(dev, { chip: 'bm1688' }));
});

t.test('commands outside their states change nothing', async (t) => {
  const spec: RolloutSpec = {
    ...fixture.defaults,
    bundle: digestOf(fixture.defaults.bundle),
    groups: [['a']],
  };
  const s = initialState(spec, 0);
  t.equal(applyCommand('resume', s, 1).state, s);
  t.equal(applyCommand('approve', s, 1).state, s);
  const cancelled = applyCommand('cancel', s, 1).state;
  t.equal(cancelled.status, 'cancelled');
  t.same(nextActions({ spec, state: cancelled, observations: new Map(), now: 2 }).actions, []);
});
