// The agent's MQTT link against a real aedes broker, in a process of its own: nothing else has
// written an MQTT packet here, so what mqtt-packet holds afterwards is the link's doing.
import { createRequire } from 'node:module';
import { Aedes } from 'aedes';
import t from 'tap';
import { createAgentLink } from '../../../agent/sync/link.js';
import { waitFor } from '../../../harness/agent/agent-env.js';
import { serveAedes } from '../../../harness/agent/aedes.js';
import { parseDeviceId } from '../../../shared/ids.js';

t.test('the link publishes QoS 1 without building mqtt-packet number cache', async (t) => {
  const broker = await Aedes.createBroker();
  const url = await serveAedes(t, broker);
  const received: string[] = [];
  broker.on('publish', (packet) => void received.push(packet.topic));
  const noop = () => undefined;
  const link = createAgentLink({
    url,
    deviceId: parseDeviceId('dev-1'),
    protocolVersion: 4,
    handlers: { assignment: noop, blobOffer: noop, blobChunk: noop, command: noop },
  });
  t.teardown(() => link.close());
  await waitFor('connected', () => link.connected());
  // QoS 1: the packet carries a message id, which is what the cache would serve.
  await link.publish('hello', {
    deviceId: parseDeviceId('dev-1'),
    chip: 'bm1684x',
    agentVersion: '0.1.0',
    runtime: 'sim',
    capabilities: [],
    timeMs: 1,
  });
  // The PUBACK can reach the link before aedes emits 'publish' to its listeners.
  await waitFor('the hello at the broker', () =>
    received.some((topic) => topic.endsWith('/hello')),
  );
  t.ok(
    received.some((topic) => topic.endsWith('/hello')),
    'the broker got the hello',
  );
  // 65,536 two-byte Buffers (about 6 MB of heap, for the life of the process) otherwise.
  const numbers = createRequire(import.meta.url)('mqtt-packet/numbers.js') as {
    cache: Record<number, Buffer>;
  };
  t.equal(Object.keys(numbers.cache).length, 0, 'no number cache');
});
