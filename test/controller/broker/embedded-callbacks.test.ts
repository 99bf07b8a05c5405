// The embedded broker answers a client after an asynchronous decision (authentication, the
// subscribe ACL with its blob rule): an error thrown on the way (here a throwing onDenied) goes
// to onError, the client still gets its refusal, and nothing becomes an unhandled rejection
// (which would end the controller).
import t from 'tap';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../../controller/broker/embedded.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { waitFor } from '../../../harness/wait.js';

const errors: string[] = [];
const broker = await startEmbeddedBroker({
  host: '127.0.0.1',
  port: 0,
  controllerSecret: 'controller-secret',
  authenticateDevice: (id, secret) => id === 'dev-a' && secret === 'secret-a',
  // Async decisions on every subscribe, as the controller's blob rule makes them.
  mayReceiveBlob: async () => false,
  onDenied: (what) => {
    throw new Error(`counting a ${what} denial failed`);
  },
  onError: (e) => errors.push((e as Error).message),
});
t.teardown(() => broker.close());
const url = `mqtt://127.0.0.1:${broker.port}`;

/** The outcome of `p`, or 'no answer' when it has not settled in `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'no answer'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'no answer'>((r) => (timer = setTimeout(() => r('no answer'), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

t.test('a refused subscription is answered although onDenied throws', async (t) => {
  const a = await mqtt.connectAsync(url, {
    clientId: 'dev-a',
    username: 'dev-a',
    password: 'secret-a',
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  t.teardown(() => a.endAsync(true));
  // Generous: the SUBACK is immediate; the bound only keeps a regression from hanging CI.
  const outcome = await within(
    a.subscribeAsync(deviceTopic('assignment', 'dev-b'), { qos: 1 }).then(
      (granted) => granted[0]?.qos,
      (e: { packet?: { granted?: number[] } }) => e.packet?.granted?.[0] ?? 'rejected',
    ),
    10_000,
  );
  t.equal(outcome, 128, 'SUBACK failure for the filter');
  await waitFor('the subscribe error at onError', () =>
    errors.includes('counting a subscribe denial failed'),
  );
  t.pass('the error reached onError');
});

t.test('a refused connection is answered although onDenied throws', async (t) => {
  const outcome = await within(
    mqtt
      .connectAsync(url, {
        clientId: 'dev-a',
        username: 'dev-a',
        password: 'wrong',
        protocolVersion: 4,
        reconnectPeriod: 0,
      })
      .then(
        (c) => c.endAsync(true).then(() => 'connected'),
        (e: { code?: number }) => e.code,
      ),
    10_000,
  );
  t.equal(outcome, 5, 'CONNACK 5: not authorized');
  await waitFor('the connect error at onError', () =>
    errors.includes('counting a connect denial failed'),
  );
  t.pass('the error reached onError');
});
