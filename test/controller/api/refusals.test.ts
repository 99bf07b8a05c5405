// The API refuses device ids that are the controller's own client ids, and every message the
// controller refuses or drops shows on /metrics (persisted counters + what is not yet written).
import t from 'tap';
import mqtt from 'mqtt';
import { connect as tcpConnect } from 'node:net';
import { encodeMessage } from '../../../shared/wire/codec.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { waitForValue } from '../../../harness/wait.js';
import { startTestController } from '../../../harness/controller/test-controller.js';
import { parseDeviceId } from '../../../shared/ids.js';

const ctl = await startTestController(undefined, {
  'events.ratePerSecond': 0.001,
  'events.burst': 2,
});
t.teardown(() => ctl.handle.stop());
const api = ctl.handle.apiUrl;
const headers = { ...ctl.auth, 'content-type': 'application/json' };
const enrol = (id: string) =>
  fetch(`${api}/v1/devices`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ id, chip: 'bm1684x' }),
  });

t.test('device ids of the controller itself are refused with a typed error', async (t) => {
  for (const id of ['bmfleet-controller', 'bmfleet-controller-data', 'BMFleet-Controller-main']) {
    const res = await enrol(id);
    t.equal(res.status, 409, id);
    t.equal(
      ((await res.json()) as { error: { code: string } }).error.code,
      'BMF_ERR_DEVICE_ID_RESERVED',
      id,
    );
  }
  t.equal((await enrol('bmfleet-cam-1')).status, 201, 'other ids are fine');
});

async function metric(source: string, reason: string): Promise<number> {
  const text = await (await fetch(`${api}/metrics`, { headers: ctl.auth })).text();
  const line = text.split('\n').find((l) =>
    // Then the replica label every series of a controller carries.
    l.startsWith(`bmfleet_messages_refused_total{source="${source}",reason="${reason}",replica=`),
  );
  return line ? Number(line.split(' ').at(-1)) : 0;
}

t.test('refused and dropped messages are counted on /metrics', async (t) => {
  const secret = ((await (await enrol('dev-m')).json()) as { secret: string }).secret;
  const url = ctl.handle.brokerUrl;
  // A refused CONNECT.
  await mqtt
    .connectAsync(url, {
      clientId: 'x',
      username: 'x',
      password: 'y',
      reconnectPeriod: 0,
      protocolVersion: 4,
    })
    .then(
      (c) => c.endAsync(),
      () => undefined,
    );
  // An oversized CONNECT.
  await new Promise<void>((resolve) => {
    const s = tcpConnect(Number(new URL(url).port), '127.0.0.1', () =>
      s.write(Uint8Array.from([0x10, 0x80, 0x80, 0x80, 0x01])),
    );
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  });
  const dev = await mqtt.connectAsync(url, {
    clientId: 'dev-m',
    username: 'dev-m',
    password: secret,
    reconnectPeriod: 0,
    protocolVersion: 4,
  });
  t.teardown(() => dev.endAsync(true));
  // Undecodable state, and events over the rate limit (burst 2).
  await dev.publishAsync(deviceTopic('state', 'dev-m'), Buffer.from('garbage'), { qos: 1 });
  const event = encodeMessage('Event', {
    deviceId: parseDeviceId('dev-m'),
    timeMs: Date.now(),
    severity: 'info',
    code: 'BMF_EVT_TEST',
    message: 'hi',
    details: {},
    variant: '',
    bundleDigest: '',
  });
  for (let i = 0; i < 5; i++)
    await dev.publishAsync(deviceTopic('event', 'dev-m'), Buffer.from(event), { qos: 1 });
  // A publish the ACL refuses (closes the connection).
  dev.publish(deviceTopic('state', 'other'), Buffer.from('x'), { qos: 0 });
  await waitForValue('all counted', async () => {
    const [connect, packet, publish, state, events] = await Promise.all([
      metric('broker', 'connect'),
      metric('broker', 'packet'),
      metric('broker', 'publish'),
      metric('link', 'state'),
      metric('events', 'rate_limited'),
    ]);
    return connect >= 1 && packet >= 1 && publish >= 1 && state >= 1 && events >= 3
      ? true
      : undefined;
  });
  t.equal(await metric('events', 'rate_limited'), 3, 'five events, burst two: three dropped');
});
