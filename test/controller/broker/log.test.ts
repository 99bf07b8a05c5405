// The controller's log of its embedded broker: a connection takeover (the same client id
// connecting twice), a refused connection (bad credentials) and a device's publish denied by the
// ACL, each one line in the agent's format (shared/log.ts). The pino destination is captured.
import { join } from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { CONTROLLER_USERNAME } from '../../../controller/broker/acl.js';
import { startEmbeddedBroker } from '../../../controller/broker/embedded.js';
import { connectControllerLink } from '../../../controller/broker/link.js';
import { loadControllerConfig } from '../../../controller/config.js';
import { startController } from '../../../controller/main.js';
import type { BmfError } from '../../../shared/errors.js';
import { createLogger } from '../../../shared/log.js';
import { createKeystore } from '../../../shared/trust/keystore.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { waitForValue } from '../../../harness/wait.js';
import { tempDir } from '../../../harness/controller/test-controller.js';

interface Line {
  readonly level: number;
  readonly name: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

t.test('controller log: takeover, refused connection, denied publish', async (t) => {
  const dir = await tempDir('bmf-ctl-log-');
  await createKeystore(join(dir, 'keys')).init({ now: new Date() });
  const lines: Line[] = [];
  const logger = createLogger({
    program: 'controller',
    destination: { write: (s: string) => void lines.push(JSON.parse(s) as Line) },
  });
  const config = loadControllerConfig({
    flags: { dataDir: dir, 'api.port': 0, 'broker.embedded.port': 0 },
  });
  const handle = await startController(config, { logger });
  t.teardown(() => handle.stop());
  const token = handle.generatedToken ?? '';
  const added = (await (
    await fetch(`${handle.apiUrl}/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'twin', chip: 'bm1684x' }),
    })
  ).json()) as { secret: string };
  const clients: mqtt.MqttClient[] = [];
  t.teardown(async () => {
    for (const c of clients) await c.endAsync(true);
  });
  const connect = (password: string, reconnectPeriod = 0) => {
    const c = mqtt.connect(handle.brokerUrl, {
      clientId: 'twin',
      username: 'twin',
      password,
      protocolVersion: 4,
      reconnectPeriod,
    });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  const find = (start: string) => lines.find((l) => l.msg.startsWith(start));

  // Two processes configured with one device id: the second connection takes the first over.
  const first = connect(added.secret);
  await new Promise((r) => first.once('connect', r));
  const second = connect(added.secret);
  await new Promise((r) => second.once('connect', r));
  const takeover = await waitForValue('takeover line', () => find('connection takeover'));
  t.match(takeover, { level: 40, name: 'controller', clientId: 'twin', who: 'device twin' });

  // Wrong secret: refused, and said so.
  connect('not-the-secret');
  const refused = await waitForValue('refusal line', () => find('broker refused a connection'));
  t.match(refused, { level: 40, name: 'controller', what: 'connect', clientId: 'twin' });

  // A device publishing on another device's topic: denied by the ACL, and said so.
  second.publish(deviceTopic('state', 'someone-else'), Buffer.from([0]), { qos: 0 });
  const denied = await waitForValue('denial line', () =>
    find('broker denied client twin a publish'),
  );
  t.match(denied, { level: 40, what: 'publish', detail: deviceTopic('state', 'someone-else') });

  for (const l of lines) t.match(l, { name: 'controller', pid: process.pid });
});

t.test('controller link: a connection taken over by its own client id is reported', async (t) => {
  // Two controller connections with one client id (as Mosquitto's use_username_as_clientid
  // makes of the controller's two links): each closes the other in turn. MQTT 3.1.1 gives no
  // reason, so the link reports a close right after connecting and names the client id.
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    controllerSecret: 'secret',
    authenticateDevice: () => false,
  });
  t.teardown(() => broker.close());
  const trouble: string[] = [];
  const opts = {
    url: `mqtt://127.0.0.1:${broker.port}`,
    username: CONTROLLER_USERNAME,
    password: 'secret',
    clientId: `${CONTROLLER_USERNAME}-shared`,
    onConnectionError: (e: BmfError) => trouble.push(e.message),
  };
  const first = await connectControllerLink(opts);
  t.teardown(() => first.close());
  const second = await connectControllerLink({ ...opts, publishOnly: true });
  t.teardown(() => second.close());
  const said = await waitForValue('takeover reported', () =>
    trouble.find((m) => m.includes(`client id ${CONTROLLER_USERNAME}-shared`)),
  );
  t.match(said, /closed \d+ ms after it was made/);
});
