// A broker node dies under connected agents: 3 NATS nodes, 6 agent links (agent/sync/link.ts,
// MQTT 3.1.1, persistent sessions), two on each node, each given the other nodes to fail over
// to. Node 2 is killed with SIGKILL; an assignment published afterwards (retained, QoS 1) by the
// controller's MQTT link on a surviving node reaches every device: those already on survivors,
// and those whose node died, once they have reconnected to a survivor and subscribed again
// (the link asks again when a SUBACK refuses, as NATS does when a consumer cannot be made).
import t from 'tap';
import { createAgentLink, type AgentLink } from '../../agent/sync/link.js';
import { CONTROLLER_USERNAME } from '../../controller/broker/acl.js';
import { connectControllerLink } from '../../controller/broker/link.js';
import { natsSkip, startNatsCluster } from '../../harness/nats.js';
import { waitFor } from '../../harness/wait.js';
import { encodeMessage } from '../../shared/wire/codec.js';
import { deviceTopic } from '../../shared/wire/topics.js';

const DEVICES = 6;

t.test('assignments reach devices after a broker node dies', { skip: natsSkip() }, async (t) => {
  const nats = await startNatsCluster(t, 3);
  const urls = nats.nodes.map((n) => n.mqttUrl);
  const ids = Array.from({ length: DEVICES }, (_, i) => `nl-${i}`);
  const received = new Map<string, string[]>(ids.map((id) => [id, []]));
  const links: AgentLink[] = ids.map((id, i) => {
    const home = i % 3;
    const noop = () => undefined;
    return createAgentLink({
      url: urls[home]!,
      failoverUrls: urls.filter((_, j) => j !== home),
      deviceId: id,
      protocolVersion: 4,
      reconnectMs: 200,
      handlers: {
        assignment: (m) => void received.get(id)!.push(Buffer.from(m.envelope).toString()),
        blobOffer: noop,
        blobChunk: noop,
        command: noop,
      },
    });
  });
  t.teardown(() => Promise.all(links.map((l) => l.close())));

  const controller = await connectControllerLink({
    url: urls[0]!,
    username: CONTROLLER_USERNAME,
    password: 'x',
    clientId: `${CONTROLLER_USERNAME}-node-loss`,
    protocolVersion: 4,
    publishOnly: true,
  });
  t.teardown(() => controller.close());
  const assign = (envelope: string) =>
    Promise.all(
      ids.map((id) =>
        controller.publish(
          deviceTopic('assignment', id),
          Buffer.from(encodeMessage('SignedAssignment', { envelope: Buffer.from(envelope) })),
          { qos: 1, retain: true },
        ),
      ),
    );
  const everyDeviceHas = (envelope: string) =>
    waitFor(
      `every device has ${envelope}`,
      () => [...received.values()].every((got) => got.includes(envelope)),
      120_000,
    ).catch((e: unknown) => {
      const missing = ids.filter((id) => !received.get(id)!.includes(envelope));
      t.comment(`without ${envelope}: ${missing.join(', ')}\n${nats.logs().slice(-3000)}`);
      throw e;
    });

  await waitFor('every link connected', () => links.every((l) => l.connected()), 60_000);
  await assign('A1');
  await everyDeviceHas('A1');
  t.pass('every device subscribed and got A1');

  await nats.kill(1);
  await assign('A2');
  await everyDeviceHas('A2');
  t.pass('A2, published after node 2 died, reached all devices');
  t.ok(
    links.every((l) => l.connected()),
    'every device is connected (those of node 2 to a survivor)',
  );
});
