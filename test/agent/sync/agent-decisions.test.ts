// The decisions agent/agent.ts used to make inline, as pure functions with cases as data:
// which assignment is adopted, what a restart restores, which status the device reports.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { decideAssignment } from '../../../agent/sync/assignment-order.js';
import type {
  AssignmentDecision,
  AssignmentOrderFacts,
} from '../../../agent/sync/assignment-order.js';
import { deviceStateOf, deviceStatus } from '../../../agent/sync/device-state.js';
import type { StatusFacts } from '../../../agent/sync/device-state.js';
import { restorePlan } from '../../../agent/sync/restore.js';
import type { AgentState } from '../../../agent/store/state.js';
import type { DeviceStatus } from '../../../shared/wire/messages.js';
import { parseDigest, parseDeviceId } from '../../../shared/ids.js';

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../fixtures/agent/${name}`, import.meta.url), 'utf8')) as T;
/** JSON has no undefined: null in a fixture stands for an absent value. */
const undefinedForNull = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v ?? undefined])) as T;

t.test('assignment order', async (t) => {
  const cases = fixture<
    { name: string; facts: AssignmentOrderFacts; decision: AssignmentDecision }[]
  >('assignment-order-cases.json');
  for (const c of cases) t.same(decideAssignment(undefinedForNull(c.facts)), c.decision, c.name);
});

t.test('restore plan', async (t) => {
  const cases = fixture<
    {
      name: string;
      state: Pick<AgentState, 'active' | 'lastKnownGood'>;
      plan: { variant: string; candidates: string[]; active: string | null }[];
    }[]
  >('restore-cases.json');
  for (const c of cases) t.same(restorePlan(c.state), c.plan.map(undefinedForNull), c.name);
});

t.test('device status', async (t) => {
  const cases =
    fixture<{ name: string; facts: StatusFacts; status: DeviceStatus }[]>('status-cases.json');
  for (const c of cases) t.equal(deviceStatus(c.facts), c.status, c.name);
});

t.test('device state message: variants in the wire spelling, uptime in whole ms', async (t) => {
  const digest = (c: string) => parseDigest(c.repeat(64));
  const state: AgentState = {
    version: 1,
    installedSequence: 7,
    active: { A: digest('a'), B: digest('b') },
    lastKnownGood: { A: digest('c') },
  };
  t.same(
    deviceStateOf({
      deviceId: parseDeviceId('dev-1'),
      state,
      serving: true,
      assigned: true,
      lastError: '',
      uptimeMs: 1234.6,
      timeMs: 99,
      order: { bootId: 'b1', stateSeq: 3 },
    }),
    {
      deviceId: 'dev-1',
      active: [
        { variant: 'A', bundleDigest: digest('a'), bundleSequence: 0 },
        { variant: 'B', bundleDigest: digest('b'), bundleSequence: 0 },
      ],
      lastKnownGood: [{ variant: 'A', bundleDigest: digest('c'), bundleSequence: 0 }],
      assignmentSequence: 7,
      status: 'active',
      lastErrorCode: '',
      uptimeMs: 1235,
      timeMs: 99,
      bootId: 'b1',
      stateSeq: 3,
    },
  );
});
