// The device connection rules (agent/sync/connection-rules.ts), one for the agent's link and the
// simulated devices: the step after each SUBSCRIBE answer as data, then both on one real aedes
// broker that refuses their first SUBSCRIBEs, taking the same steps and drawing the same jitter.
import { readFileSync } from 'node:fs';
import { Aedes, type Client } from 'aedes';
import t from 'tap';
import { linkBackoff } from '../../../agent/sync/backoff.js';
import {
  nextSubscribeStep,
  type SubscribeOutcome,
  type SubscribeStep,
} from '../../../agent/sync/connection-rules.js';
import { createAgentLink } from '../../../agent/sync/link.js';
import { serveAedes } from '../../../harness/agent/aedes.js';
import { waitFor } from '../../../harness/wait.js';
import { parseDeviceId } from '../../../shared/ids.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { startSimDevice } from '../../../simulate/wire-devices/sim-device.js';

interface Case {
  readonly why: string;
  readonly baseMs: number;
  readonly answers: readonly { readonly outcome: SubscribeOutcome; readonly random: number }[];
  readonly steps: readonly SubscribeStep[];
}
const { cases } = JSON.parse(
  readFileSync(new URL('../../fixtures/agent/subscribe-step-cases.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

for (const c of cases) {
  t.test(c.why, async (t) => {
    const steps: SubscribeStep[] = [];
    for (const [tries, a] of c.answers.entries()) {
      const step = nextSubscribeStep(a.outcome, tries, linkBackoff(c.baseMs), () => a.random);
      steps.push(step);
      if (step.kind !== 'askAgain') break; // the connection is subscribed or given up
    }
    t.same(steps, c.steps);
  });
}

t.test(
  'the link and a simulated device: the same steps on refused SUBSCRIBEs and after a lost connection',
  async (t) => {
    const REFUSED = 2;
    const broker = await Aedes.createBroker();
    const subscribes = new Map<string, number>();
    const clients = new Map<string, Client>();
    broker.on('client', (c) => void clients.set(c.id, c));
    // Each SUBSCRIBE names the assignment topic once: the first REFUSED of each client refused.
    broker.authorizeSubscribe = (client, sub, callback) => {
      const id = client?.id ?? '';
      if (sub.topic.endsWith('/assignment')) subscribes.set(id, (subscribes.get(id) ?? 0) + 1);
      callback(null, (subscribes.get(id) ?? 0) <= REFUSED ? null : sub);
    };
    const states = new Map<string, number>();
    broker.on('publish', (p, c) => {
      if (c && p.topic === deviceTopic('state', c.id))
        states.set(c.id, (states.get(c.id) ?? 0) + 1);
    });
    const url = await serveAedes(t, broker);
    const draws = { link: 0, sim: 0 };
    const noop = () => undefined;
    let linkReports = 0;
    const link = createAgentLink({
      url,
      deviceId: parseDeviceId('dev-link'),
      protocolVersion: 4,
      reconnectMs: 20,
      random: () => (draws.link++, 0.5),
      onConnect: () => void linkReports++,
      onResubscribed: () => void linkReports++,
      handlers: { assignment: noop, blobOffer: noop, blobChunk: noop, command: noop },
    });
    t.teardown(() => link.close());
    const sim = await startSimDevice({
      brokerUrl: url,
      id: 'dev-sim',
      secret: 'unused',
      bundleFiles: async () => [],
      reconnectMs: 20,
      random: () => (draws.sim++, 0.5),
    });
    t.teardown(() => sim.close());
    const granted = (id: string) => (subscribes.get(id) ?? 0) > REFUSED;
    await waitFor('both subscribed', () => granted('dev-link') && granted('dev-sim'));
    t.same(
      [subscribes.get('dev-link'), subscribes.get('dev-sim')],
      [REFUSED + 1, REFUSED + 1],
      'each asked again until granted',
    );
    // Both report at the first refusal (a device reports while it asks again) and once granted.
    await waitFor('the link reported twice', () => linkReports === 2);
    await waitFor('the simulated device reported twice', () => states.get('dev-sim') === 2);
    await waitFor('the same draws', () => draws.link === draws.sim && draws.link === REFUSED);

    // A lost connection: both draw their reconnect waits and subscribe again, granted at once.
    const before = { ...draws };
    clients.get('dev-link')?.conn.destroy();
    clients.get('dev-sim')?.conn.destroy();
    await waitFor('both subscribed again', () => subscribes.get('dev-link') === REFUSED + 2);
    await waitFor('both subscribed again', () => subscribes.get('dev-sim') === REFUSED + 2);
    await waitFor('both reported again', () => linkReports === 3 && states.get('dev-sim') === 3);
    t.ok(draws.link - before.link >= 1, 'the link drew its reconnect waits');
    t.equal(draws.sim - before.sim, draws.link - before.link, 'the simulated device drew as many');
  },
);
