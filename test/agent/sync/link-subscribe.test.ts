// The link's order on connect (agent/sync/link.ts): `onConnect`, where the agent reports its
// state, comes only after the broker answered the SUBSCRIBE; and a SUBSCRIBE the broker never answers (seen on
// NATS 2.9 after a failover) ends the connection, and the link subscribes on a new one. Real
// aedes broker; its authorizeSubscribe hook holds the first connection's SUBSCRIBE unanswered.
import { Aedes, type Client } from 'aedes';
import t from 'tap';
import { createAgentLink, type LinkEvent } from '../../../agent/sync/link.js';
import { waitFor } from '../../../harness/wait.js';
import { serveAedes } from '../../../harness/agent/aedes.js';
import { parseDeviceId } from '../../../shared/ids.js';

t.test(
  'a SUBSCRIBE left unanswered ends the connection; onConnect waits for a SUBACK',
  async (t) => {
    const broker = await Aedes.createBroker();
    let held: Client | undefined;
    const connections: Client[] = [];
    broker.on('client', (c) => void connections.push(c));
    broker.authorizeSubscribe = (client, sub, callback) => {
      held ??= client ?? undefined;
      if (client === held) return; // never answered
      callback(null, sub);
    };
    const url = await serveAedes(t, broker);
    const id = parseDeviceId('dev-1');
    const news: LinkEvent[] = [];
    const order: string[] = [];
    let onConnects = 0;
    const noop = () => undefined;
    const link = createAgentLink({
      url,
      deviceId: id,
      protocolVersion: 4,
      reconnectMs: 100,
      subscribeTimeoutMs: 500,
      onBrokerEvent: (e) => {
        news.push(e);
        order.push(e.kind === 'connected' ? `connected${e.reconnect ? ' again' : ''}` : e.kind);
      },
      onConnect: () => {
        onConnects++;
        order.push('onConnect');
      },
      handlers: {
        assignment: noop,
        blobOffer: noop,
        blobChunk: noop,
        command: noop,
      },
    });
    t.teardown(() => link.close());
    await waitFor('onConnect', () => onConnects > 0, 20_000).catch((e: unknown) => {
      t.comment(JSON.stringify({ news, connections: connections.length }));
      throw e;
    });
    t.same(
      order.filter((k) => k !== 'lost'),
      ['connected', 'connected again', 'onConnect'],
      'onConnect only once the SUBSCRIBE was answered, on the second connection',
    );
    t.equal(onConnects, 1, 'onConnect once, on the connection whose SUBSCRIBE was answered');
    t.ok(connections.length >= 2 && connections[0] === held, 'the first connection was given up');
    t.ok(
      news.some(
        (e) => e.kind === 'lost' && e.reason.startsWith('no answer to SUBSCRIBE within 500 ms'),
      ),
      'the unanswered SUBSCRIBE is news',
    );
    t.match(
      news.filter((e) => e.kind === 'connected'),
      [{ reconnect: false }, { reconnect: true }],
    );
  },
);
