// Devices' NATS users (controller/broker/nats-users.ts) on a real NATS node: made from the
// controller's device registry and the secrets `device add` gave, written as bcrypt hashes (no
// secret in clear in the file), included in the node's configuration. Through the NATS MQTT listener a device reaches its own topics only: its
// report on its own topic reaches the controller's intake, one on another device's topic does
// not, a subscription to another device's assignment is refused, a wrong secret is refused at
// connect, and its QoS 1 subscription to its own assignment gets the retained one.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { openControllerStore } from '../../../controller/store/open.js';
import { CONTROLLER_USERNAME } from '../../../controller/broker/acl.js';
import { connectJetStreamLink } from '../../../controller/broker/jetstream-link.js';
import { devicesForNats, natsAuthorizationConf } from '../../../controller/broker/nats-users.js';
import { natsSkip, startNatsCluster } from '../../../harness/nats.js';
import { waitFor } from '../../../harness/wait.js';
import { createSystemClock } from '../../../shared/clock.js';
import { deviceTopic } from '../../../shared/wire/topics.js';

const CONTROLLER_SECRET = 'controller-secret';

t.test('NATS users from the registry', { skip: natsSkip() }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-nats-users-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = await openControllerStore({
    sqlitePath: join(dir, 'controller.db'),
    clock: createSystemClock(),
    holder: 'test',
  });
  t.teardown(() => store.close());
  const a = await store.devices.add('cred-a', 'bm1684x', {}, 1);
  const b = await store.devices.add('cred-b', 'bm1684x', {}, 1);
  await store.devices.add('cred-c', 'bm1684x', {}, 1);

  await t.rejects(
    devicesForNats(store.devices, { 'cred-a': b.secret }),
    { code: 'BMF_ERR_NATS_USERS' },
    "another device's secret is refused",
  );
  await t.rejects(
    devicesForNats(store.devices, { 'cred-x': a.secret }),
    { code: 'BMF_ERR_NATS_USERS' },
    'an unregistered device is refused',
  );
  const { devices, withoutSecret } = await devicesForNats(store.devices, {
    'cred-b': b.secret,
    'cred-a': a.secret,
  });
  t.same(withoutSecret, ['cred-c'], 'a registered device without its secret is named apart');
  const conf = natsAuthorizationConf({
    controller: { password: CONTROLLER_SECRET },
    devices,
  });

  // bcrypt hashes in place of the secrets: NATS verifies them, the file gives no secret away.
  for (const secret of [a.secret, b.secret, CONTROLLER_SECRET]) {
    t.notOk(conf.includes(secret), 'no secret in clear in the users file');
  }
  t.equal(conf.match(/password: "\$2b\$/g)?.length, 3, 'three bcrypt passwords');

  const node = (await startNatsCluster(t, 1, { include: conf })).nodes[0]!;
  const device = (id: string, secret: string) =>
    mqtt.connectAsync(
      node.mqttUrl,
      {
        clientId: id,
        username: id,
        password: secret,
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 30_000,
      },
      false,
    );

  await t.rejects(device('cred-a', b.secret), 'a wrong secret is refused at connect');

  const link = await connectJetStreamLink({
    mqtt: {
      url: node.mqttUrl,
      username: CONTROLLER_USERNAME,
      password: CONTROLLER_SECRET,
      clientId: `${CONTROLLER_USERNAME}-creds`,
      protocolVersion: 4,
    },
    intake: { servers: [node.natsUrl], user: CONTROLLER_USERNAME, pass: CONTROLLER_SECRET },
  });
  t.teardown(() => link.close());
  const got: string[] = [];
  link.on('telemetry', (id, p) => void got.push(`${id}:${Buffer.from(p)}`));

  const devA = await device('cred-a', a.secret);
  t.teardown(() => devA.endAsync(true));
  await devA.publishAsync(deviceTopic('telemetry', 'cred-a'), 'mine', { qos: 1 });
  await devA.publishAsync(deviceTopic('telemetry', 'cred-b'), 'forged', { qos: 1 }).catch(
    () => undefined, // refused or acknowledged and dropped: either way it must not arrive
  );
  const again = devA.connected ? devA : await device('cred-a', a.secret);
  if (again !== devA) t.teardown(() => again.endAsync(true));
  await again.publishAsync(deviceTopic('telemetry', 'cred-a'), 'after', { qos: 1 });
  await waitFor('both of its own reports', () => got.length >= 2, 30_000);
  t.same(got, ['cred-a:mine', 'cred-a:after'], "the report on cred-b's topic never arrived");

  const refused = await again.subscribeAsync(deviceTopic('assignment', 'cred-b'), { qos: 1 }).then(
    () => undefined,
    (e: { packet?: { granted?: number[] } }) => e.packet?.granted,
  );
  t.same(refused, [128], "a subscription to cred-b's assignment is refused (SUBACK 0x80)");

  await link.publish(deviceTopic('assignment', 'cred-a'), Buffer.from('A1'), {
    qos: 1,
    retain: true,
  });
  const assignment = new Promise<[string, number]>((resolve) =>
    again.on('message', (topic, p, packet) => {
      if (topic === deviceTopic('assignment', 'cred-a')) resolve([p.toString(), packet.qos]);
    }),
  );
  const granted = await again.subscribeAsync(deviceTopic('assignment', 'cred-a'), { qos: 1 });
  t.equal(granted[0]?.qos, 1, 'its own assignment: granted QoS 1');
  t.same(await assignment, ['A1', 1], 'the retained assignment arrives with QoS 1');
});
