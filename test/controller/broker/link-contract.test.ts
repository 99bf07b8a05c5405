// One contract for every ControllerLink: the in-process link to the embedded broker, the MQTT
// link (here to the embedded broker over TCP) and the JetStream link (a NATS node with its MQTT
// listener). Each case runs against each implementation: device messages routed by kind with
// their device id and bytes, held until the kind's handler exists, a throwing handler counted
// and not fatal, controller-published kinds refused as handlers, a retained QoS 1 publish
// reaching the device that subscribes later.
//
// Then what only the JetStream link promises: two replicas on one durable consumer share the
// device messages (each to one of them), and a message a replica took but never acknowledged
// (it died) is delivered to the other.
import t, { type Test } from 'tap';
import mqtt, { type MqttClient } from 'mqtt';
import { startEmbeddedBroker } from '../../../controller/broker/embedded.js';
import { attachEmbeddedLink } from '../../../controller/broker/embedded-link.js';
import { CONTROLLER_USERNAME } from '../../../controller/broker/acl.js';
import { connectControllerLink, type ControllerLink } from '../../../controller/broker/link.js';
import {
  connectJetStreamLink,
  subjectToTopic,
  topicToSubject,
  type JetStreamLink,
} from '../../../controller/broker/jetstream-link.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { waitFor } from '../../../harness/wait.js';
import { natsSkip, startNatsCluster, type NatsCluster } from '../../../harness/nats.js';

interface Implementation {
  readonly name: string;
  readonly skip: false | string;
  /** A fresh link; `onDropped` receives the reasons of dropped messages. */
  link(t: Test, onDropped: (reason: string) => void): Promise<ControllerLink>;
  device(t: Test, id: string): Promise<MqttClient>;
}

const connectDevice = async (t: Test, url: string, id: string) => {
  const c = await mqtt.connectAsync(url, {
    clientId: id,
    username: id,
    password: 'pw',
    protocolVersion: 4,
  });
  t.teardown(() => c.endAsync());
  return c;
};

let linkNo = 0;
const broker = await startEmbeddedBroker({
  host: '127.0.0.1',
  port: 0,
  controllerSecret: 's3',
  authenticateDevice: (id, s) => id.startsWith('dev-') && s === 'pw',
});
t.teardown(() => broker.close());
const aedesUrl = `mqtt://127.0.0.1:${broker.port}`;

let nats: NatsCluster | undefined;
const natsReady = async () => (nats ??= await startNatsCluster(t, 1));

const implementations: Implementation[] = [
  {
    name: 'embedded (in process)',
    skip: false,
    link: (_t, onDropped) => attachEmbeddedLink(broker.aedes, { onDropped }),
    device: (t, id) => connectDevice(t, aedesUrl, id),
  },
  {
    name: 'MQTT',
    skip: false,
    link: (_t, onDropped) =>
      connectControllerLink({
        url: aedesUrl,
        username: CONTROLLER_USERNAME,
        password: 's3',
        clientId: `${CONTROLLER_USERNAME}-contract-${++linkNo}`,
        onDropped,
      }),
    device: (t, id) => connectDevice(t, aedesUrl, id),
  },
  {
    name: 'JetStream (NATS)',
    skip: natsSkip(),
    link: async (_t, onDropped) => {
      const n = (await natsReady()).nodes[0]!;
      return connectJetStreamLink({
        mqtt: {
          url: n.mqttUrl,
          username: CONTROLLER_USERNAME,
          password: 's3',
          clientId: `${CONTROLLER_USERNAME}-contract-${++linkNo}`,
        },
        // One durable consumer on the MQTT listener's stream for every case; each case
        // acknowledges what it takes, and has a device id of its own.
        intake: { servers: [n.natsUrl], retryDelayMs: 100 },
        onDropped,
      });
    },
    device: async (t, id) => connectDevice(t, (await natsReady()).nodes[0]!.mqttUrl, id),
  },
];

// Each case gets a device id of its own: the JetStream implementation's links all share one
// consumer over every device subject, so ids keep one case's messages out of another's counts.
const cases: { name: string; run: (t: Test, impl: Implementation, id: string) => Promise<void> }[] =
  [
    {
      name: 'routes by kind with the device id, holding messages until a handler exists',
      async run(t, impl, id) {
        const link = await impl.link(t, () => undefined);
        t.teardown(() => link.close());
        const dev = await impl.device(t, id);
        await dev.publishAsync(deviceTopic('telemetry', id), 'early', { qos: 1 });
        await dev.publishAsync(deviceTopic('event', id), 'e1', { qos: 1 });
        const got: string[] = [];
        link.on('telemetry', (d, p) => void got.push(`${d}:telemetry:${Buffer.from(p)}`));
        await waitFor('the early report', () => got.length >= 1);
        link.on('event', (d, p) => void got.push(`${d}:event:${Buffer.from(p)}`));
        await waitFor('the event', () => got.length >= 2);
        t.same(got, [`${id}:telemetry:early`, `${id}:event:e1`]);
      },
    },
    {
      // (JetStream gives the message back a few times first: the store may have been busy.)
      name: 'a throwing handler is counted, routing goes on',
      async run(t, impl, id) {
        const drops: string[] = [];
        const link = await impl.link(t, (r) => drops.push(r));
        t.teardown(() => link.close());
        const got: string[] = [];
        link.on('event', () => {
          throw new Error('handler bug');
        });
        link.on('telemetry', (_d, p) => void got.push(Buffer.from(p).toString()));
        t.throws(() => link.on('assignment', () => undefined), { code: 'BMF_ERR_INTERNAL' });
        const dev = await impl.device(t, id);
        await dev.publishAsync(deviceTopic('event', id), 'x', { qos: 1 });
        await dev.publishAsync(deviceTopic('telemetry', id), 'r1', { qos: 1 });
        await waitFor('r1 and the drop', () => got.length >= 1 && drops.length >= 1);
        t.same(got, ['r1']);
        t.same(drops, ['event']);
      },
    },
    {
      name: 'a retained QoS 1 publish reaches the device that subscribes later',
      async run(t, impl, id) {
        const link = await impl.link(t, () => undefined);
        t.teardown(() => link.close());
        await link.publish(deviceTopic('assignment', id), Buffer.from('A1'), {
          qos: 1,
          retain: true,
        });
        const dev = await impl.device(t, id);
        const got = new Promise<[string, number, boolean]>((resolve) =>
          dev.once('message', (_t, p, packet) =>
            resolve([p.toString(), packet.qos, packet.retain]),
          ),
        );
        await dev.subscribeAsync(deviceTopic('assignment', id), { qos: 1 });
        t.same(await got, ['A1', 1, true], 'payload, QoS 1, retained');
      },
    },
  ];

let caseNo = 0;
for (const impl of implementations) {
  t.test(impl.name, { skip: impl.skip }, async (t) => {
    for (const c of cases) {
      const id = `dev-c${++caseNo}`;
      await t.test(c.name, (t) => c.run(t, impl, id));
    }
  });
}

t.test('topic and subject map both ways', async (t) => {
  t.equal(topicToSubject('bmf/v1/d/se7-001/blob/req'), 'bmf.v1.d.se7-001.blob.req');
  t.equal(topicToSubject('a.b/c'), 'a//b.c');
  for (const topic of ['bmf/v1/d/se7-001/blob/req', 'a.b/c', 'x/y.z.w/v']) {
    t.equal(subjectToTopic(topicToSubject(topic)), topic);
  }
});

t.test('JetStream: replicas compete for device messages', { skip: natsSkip() }, async (t) => {
  // A node of its own: its consumer would otherwise be the contract's.
  const n = (await startNatsCluster(t, 1)).nodes[0]!;
  const replica = (name: string, ackWaitMs: number) =>
    connectJetStreamLink({
      mqtt: {
        url: n.mqttUrl,
        username: CONTROLLER_USERNAME,
        password: 's3',
        clientId: `${CONTROLLER_USERNAME}-${name}`,
      },
      intake: { servers: [n.natsUrl], ackWaitMs, maxInFlight: 8 },
    });
  const a: JetStreamLink = await replica('a', 1_000);
  const b: JetStreamLink = await replica('b', 1_000);
  t.teardown(() => b.close());
  const byA: string[] = [];
  const byB: string[] = [];
  // A takes reports and never finishes them: as if it died holding them.
  a.on('telemetry', (_d, p) => {
    byA.push(Buffer.from(p).toString());
    return new Promise(() => undefined);
  });
  b.on('telemetry', (_d, p) => void byB.push(Buffer.from(p).toString()));
  const dev = await connectDevice(t, n.mqttUrl, 'dev-compete');
  const sent = Array.from({ length: 200 }, (_, i) => `r${i}`);
  for (const r of sent)
    await dev.publishAsync(deviceTopic('telemetry', 'dev-compete'), r, { qos: 1 });
  await waitFor('every report handled by a replica', () => byA.length + byB.length >= 200);
  t.ok(byA.length > 0 && byB.length > 0, `both replicas took some (${byA.length}, ${byB.length})`);
  const before = byB.length;
  await a.close(); // its taken reports were never acknowledged
  await waitFor(
    'the reports A held are redelivered to B',
    () => new Set(byB).size === sent.length,
    30_000,
  );
  t.same([...new Set(byB)].sort(), [...sent].sort(), 'B ends with every report');
  t.ok(byB.length > before, 'some of them were redeliveries');
  t.equal(b.acked(), new Set(byB).size, 'B acknowledged each one it finished');
});
