// The link's session rule (agent/sync/link.ts): every connection is a clean session, the link
// subscribes once per connection (device topics and the broadcasts the fetcher still wants, in
// one SUBSCRIBE; mqtt.js does not ask a second time), and a broadcast subscription made before
// a lost connection works again on the next one. Real aedes broker; the broker side cuts the
// connection, as a node that resets it.
import { Aedes, type Client } from 'aedes';
import t from 'tap';
import { createAgentLink, type LinkEvent } from '../../../agent/sync/link.js';
import { waitFor } from '../../../harness/wait.js';
import { serveAedes } from '../../../harness/agent/aedes.js';
import { parseDeviceId, parseDigest } from '../../../shared/ids.js';
import { encodeMessage } from '../../../shared/wire/codec.js';
import { broadcastChunkTopic, deviceTopic } from '../../../shared/wire/topics.js';

t.test('every connection is a clean session with its subscriptions made again', async (t) => {
  const broker = await Aedes.createBroker();
  const connections: { client: Client; clean: boolean }[] = [];
  broker.on('client', (c) => void connections.push({ client: c, clean: c.clean }));
  // Topics of each SUBSCRIBE packet, by connection.
  const subscribes = new Map<Client, string[][]>();
  broker.on('subscribe', (subs, c) => {
    if (!c) return;
    subscribes.set(c, [...(subscribes.get(c) ?? []), subs.map((s) => s.topic).sort()]);
  });
  const url = await serveAedes(t, broker);
  const id = parseDeviceId('dev-session');
  const digest = parseDigest('ab'.repeat(32));
  const news: LinkEvent[] = [];
  let onConnects = 0;
  const chunks: number[] = [];
  const noop = () => undefined;
  const link = createAgentLink({
    url,
    deviceId: id,
    protocolVersion: 4,
    reconnectMs: 100,
    onBrokerEvent: (e) => void news.push(e),
    onConnect: () => void onConnects++,
    handlers: {
      assignment: noop,
      blobOffer: noop,
      blobChunk: (m) => void chunks.push(m.index),
      command: noop,
    },
  });
  t.teardown(() => link.close());
  await waitFor('first onConnect', () => onConnects === 1, 20_000);
  await link.subscribeBroadcast(digest);

  // The broker resets the connection; the link comes back on a new one.
  connections[0]!.client.conn.destroy();
  await waitFor('onConnect on the second connection', () => onConnects === 2, 20_000);

  const chunk = (index: number) =>
    Buffer.from(
      encodeMessage('BlobChunk', {
        digest,
        index,
        data: new Uint8Array([index]),
        chunkCount: 4,
        requestId: '',
      }),
    );
  // Published again on every poll until one arrives: the SUBACK can reach the link before aedes
  // has the subscription in place for a publish from the broker itself.
  await waitFor('a broadcast chunk on the new connection', async () => {
    if (chunks.includes(1)) return true;
    await new Promise<void>((r) =>
      broker.publish(
        {
          cmd: 'publish',
          topic: broadcastChunkTopic(digest),
          payload: chunk(1),
          qos: 0,
          retain: false,
          dup: false,
        },
        () => r(),
      ),
    );
    return chunks.includes(1);
  });
  t.pass('the broadcast subscription works again after the reconnect');

  t.equal(connections.length, 2, 'two connections');
  t.same(
    connections.map((c) => c.clean),
    [true, true],
    'both connections asked for a clean session',
  );
  t.same(
    news
      .filter((e) => e.kind === 'connected')
      .map((e) => e.kind === 'connected' && e.sessionPresent),
    [false, false],
    'no CONNACK said a session was resumed',
  );
  const device = ['assignment', 'blobOffer', 'blobChunk', 'command'].map((k) =>
    deviceTopic(k as 'assignment', id),
  );
  t.same(
    subscribes.get(connections[1]!.client),
    [[...device, broadcastChunkTopic(digest)].sort()],
    'one SUBSCRIBE on the new connection: the device topics and the broadcast',
  );

  // Once the fetcher lets go of the blob, a later connection does not ask for it.
  await link.unsubscribeBroadcast(digest);
  connections[1]!.client.conn.destroy();
  await waitFor('onConnect on the third connection', () => onConnects === 3, 20_000);
  t.same(
    subscribes.get(connections[2]!.client),
    [[...device].sort()],
    'the third connection subscribes to the device topics only',
  );
});
