// The agent's log (shared/log.ts format, info by default): what it installed and swapped, what it
// refused and why (with the error code), broker refusals and reconnects, the runtime it chose.
// The pino destination is captured; the assertions read the lines as an operator would.
import { createServer, type AddressInfo } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import t from 'tap';
import { createAgent } from '../../agent/agent.js';
import { createLogger } from '../../shared/log.js';
import { generateSigner } from '../../shared/trust/keys.js';
import { agentConfig, waitFor } from '../../harness/agent/agent-env.js';
import { startFakeController } from '../../harness/agent/fake-controller.js';
import { makeAssignment, makeBundle, testKeys } from '../../harness/agent/trust.js';

interface Line {
  readonly level: number;
  readonly name: string;
  readonly device: string;
  readonly msg: string;
  readonly code?: string;
  readonly bundle?: string;
  readonly [field: string]: unknown;
}

const INFO = 30;
const WARN = 40;

/** A logger as the agent command makes it, writing parsed lines into `lines`. */
function capture() {
  const lines: Line[] = [];
  const logger = createLogger({
    program: 'agent',
    destination: { write: (s: string) => void lines.push(JSON.parse(s) as Line) },
  });
  return { lines, logger };
}

t.test('agent log: runtime, connect, install, swap, a refused bundle with its code', async (t) => {
  const keys = testKeys();
  const controller = await startFakeController({ chunkSize: 700 });
  t.teardown(() => controller.close());
  const good = makeBundle(keys, 'tiny-a', { sequence: 1 });
  // Signed by a key the device's root does not know: refused, with the trust error's code.
  const stranger = makeBundle(keys, 'tiny-b', { sequence: 2, signer: generateSigner().signer });
  for (const b of [good, stranger])
    for (const [d, bytes] of b.blobs) controller.blobs.set(d, bytes);
  const { lines, logger } = capture();
  const agent = createAgent(await agentConfig(keys, controller.url, 'dev-log'), { logger });
  await agent.start();
  t.teardown(() => agent.stop());
  const find = (f: (l: Line) => boolean) => lines.find(f);

  await waitFor('connected line', () => !!find((l) => l.msg === 'connected to the broker'));
  const runtime = find((l) => l.msg.startsWith('runtime sim'));
  t.equal(runtime?.level, INFO, 'the runtime it chose, at info');
  t.equal(runtime?.timing, 'host');

  await controller.assign(
    'dev-log',
    makeAssignment(keys, 'dev-log', 1, [{ name: 'A', bundle: good, weight: 1 }]),
  );
  await waitFor('swap logged', () => !!find((l) => l.msg.startsWith('bundle activated')));
  const installed = find((l) => l.msg.startsWith('bundle installed'));
  t.equal(installed?.bundle, good.digest, 'install names the bundle');
  const swapped = find((l) => l.msg.startsWith('bundle activated'));
  t.match(swapped, { level: INFO, variant: 'A', bundle: good.digest });

  await controller.assign(
    'dev-log',
    makeAssignment(keys, 'dev-log', 2, [{ name: 'A', bundle: stranger, weight: 1 }]),
  );
  await waitFor('refusal logged', () => !!find((l) => l.msg.startsWith('bundle refused')));
  const refused = find((l) => l.msg.startsWith('bundle refused'));
  t.equal(refused?.level, WARN, 'a refusal is a warning');
  t.equal(refused?.bundle, stranger.digest, 'it names the refused bundle');
  t.match(refused?.code, /^BMF_ERR_TRUST_/, 'and the error code saying why');
  t.equal(agent.service.models()[0]?.bundleDigest, good.digest, 'the good bundle kept serving');

  // One format: pino's base fields and the program's name on every line.
  for (const l of lines) t.match(l, { name: 'agent', device: 'dev-log', pid: process.pid });

  // The broker goes away and comes back: both are said once.
  const restore = await controller.outage();
  await waitFor('loss logged', () => !!find((l) => l.msg.startsWith('lost the connection')));
  await restore();
  await waitFor('reconnect logged', () => !!find((l) => l.msg === 'reconnected to the broker'));
});

t.test('agent log: a broker that refuses the credentials', async (t) => {
  const keys = testKeys();
  let attempts = 0;
  const broker = await Aedes.createBroker({
    authenticate: (_client, _user, _password, done) => {
      attempts += 1;
      const err = new Error('not authorized') as AuthenticateError;
      err.returnCode = 5;
      done(err, false);
    },
  });
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { lines, logger } = capture();
  const agent = createAgent(
    await agentConfig(keys, url, 'dev-refused', { api: { enabled: false } }),
    { logger },
  );
  await agent.start();
  t.teardown(() => agent.stop());
  await waitFor('refusal logged', () =>
    lines.some((l) => l.msg.startsWith('broker refused the connection')),
  );
  // Let it retry a few times: the same refusal is one warning, not one per attempt.
  await waitFor('three attempts', () => attempts >= 3);
  const refusals = lines.filter((l) => l.msg.startsWith('broker refused the connection'));
  t.equal(refusals[0]?.level, WARN);
  t.equal(refusals[0]?.code, 'BMF_ERR_BROKER');
  t.equal(refusals[0]?.reasonCode, 5, 'the CONNACK return code');
  t.equal(refusals.filter((l) => l.level === WARN).length, 1, 'repeats are not warnings');
});
