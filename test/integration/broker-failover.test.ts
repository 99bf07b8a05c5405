// Broker URL lists: the controller's MQTT link and an agent's link, each given two brokers (two
// real aedes brokers on TCP), go to the second when the first is gone, and messages flow both
// ways there: the agent's hello reaches the controller, the controller's command the agent.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import t, { type Test } from 'tap';
import { createAgentLink, type AgentLink } from '../../agent/sync/link.js';
import { connectControllerLink, type ControllerLink } from '../../controller/broker/link.js';
import { waitFor } from '../../harness/wait.js';
import { parseDeviceId } from '../../shared/ids.js';
import { encodeMessage } from '../../shared/wire/codec.js';
import type { WireMessages } from '../../shared/wire/messages.js';
import { deviceTopic } from '../../shared/wire/topics.js';

interface TestBroker {
  readonly url: string;
  readonly clients: () => string[];
  /** The broker goes away: listener closed, every connection cut. */
  stop(): Promise<void>;
}

async function startBroker(t: Test): Promise<TestBroker> {
  const aedes = await Aedes.createBroker();
  const connected = new Set<string>();
  aedes.on('client', (c) => void connected.add(c.id));
  aedes.on('clientDisconnect', (c) => void connected.delete(c.id));
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    aedes.handle(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
    await new Promise<void>((r) => aedes.close(() => r()));
  };
  t.teardown(stop);
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    clients: () => [...connected],
    stop,
  };
}

/** A port nothing listens on: a broker already gone when the links start. */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `mqtt://127.0.0.1:${port}`;
}

const deviceId = parseDeviceId('fo-1');
const CONTROLLER_ID = 'bmfleet-controller-main';

async function links(t: Test, url: string, failoverUrls: string[]) {
  const hellos: number[] = [];
  const commands: string[] = [];
  const controller: ControllerLink = await connectControllerLink({
    url,
    failoverUrls,
    username: 'bmfleet-controller',
    password: 'unused-by-this-broker',
    clientId: CONTROLLER_ID,
    protocolVersion: 4,
  });
  t.teardown(() => controller.close());
  controller.on('hello', (_id, payload) => void hellos.push(payload.byteLength));
  const noop = () => undefined;
  const agent: AgentLink = createAgentLink({
    url,
    failoverUrls,
    deviceId,
    protocolVersion: 4,
    reconnectMs: 200,
    handlers: {
      assignment: noop,
      blobOffer: noop,
      blobChunk: noop,
      command: (m) => void commands.push(m.id),
    },
  });
  t.teardown(() => agent.close());
  return { controller, agent, hellos, commands };
}

/** Hello up, command down, each retried until it arrives (a subscription may still be on its way). */
async function exchange(
  t: Test,
  l: Awaited<ReturnType<typeof links>>,
  label: string,
): Promise<void> {
  const hello: WireMessages['DeviceHello'] = {
    deviceId,
    chip: 'bm1684x',
    agentVersion: '0.1.0',
    runtime: 'sim',
    capabilities: [],
    timeMs: Date.now(),
  };
  const heard = l.hellos.length;
  await waitFor(`the hello at the controller (${label})`, async () => {
    if (l.agent.connected()) await l.agent.publish('hello', hello).catch(() => undefined);
    return l.hellos.length > heard;
  });
  const id = `cmd-${label.replace(/\W+/g, '-')}`;
  const command: WireMessages['Command'] = {
    id,
    kind: 'report_now',
    args: {},
    issuedMs: Date.now(),
    expiresMs: 0,
  };
  await waitFor(`the command at the agent (${label})`, async () => {
    await l.controller
      .publish(deviceTopic('command', deviceId), encodeMessage('Command', command), { qos: 1 })
      .catch(() => undefined);
    return l.commands.includes(id);
  });
  t.pass(`messages flow both ways (${label})`);
}

t.test('both links move to the second broker when the first goes away', async (t) => {
  const first = await startBroker(t);
  const second = await startBroker(t);
  const l = await links(t, first.url, [second.url]);
  await waitFor('both on the first broker', () =>
    [CONTROLLER_ID, 'fo-1'].every((c) => first.clients().includes(c)),
  );
  await exchange(t, l, 'first broker');
  t.same(second.clients(), [], 'nobody on the second broker yet');

  await first.stop();
  await waitFor(
    'both on the second broker',
    () => [CONTROLLER_ID, 'fo-1'].every((c) => second.clients().includes(c)),
    30_000,
  );
  // The second broker holds no session of either: the controller's subscriptions are made again.
  await exchange(t, l, 'second broker');
});

t.test('links whose first broker is already gone start on the second', async (t) => {
  const second = await startBroker(t);
  const l = await links(t, await deadUrl(), [second.url]);
  await waitFor('both on the second broker', () =>
    [CONTROLLER_ID, 'fo-1'].every((c) => second.clients().includes(c)),
  );
  await exchange(t, l, 'started on the second');
});
