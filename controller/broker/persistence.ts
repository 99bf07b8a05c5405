// aedes' in-memory persistence answers every SUBSCRIBE by testing each filter against every
// retained message: O(retained messages) per subscription. A fleet keeps about three retained
// messages per device (presence, state, assignment), so with 1,000 devices every subscription
// to a blob's broadcast topic tested 3,000 topics, about half a second of the broker's thread
// during the fleet benchmark's 500-device rollout. Filters without wildcards (every filter the
// devices and the controller use) match exactly one topic, so they are answered from an index
// of the retained topics; a SUBSCRIBE with any wildcard filter still takes the full scan.
//
// The QoS 1/2 queues of persistent sessions are indexed as well (outgoing-queue.ts).
import type { AedesMemoryPersistence, CallbackError, Packet } from 'aedes-persistence';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { createOutgoingQueues, type QueuedPacket } from './outgoing-queue.js';

// The package is CommonJS with `module.exports = factory`; its typings declare an ES default.
const persistenceModule = createRequire(import.meta.url)('aedes-persistence') as {
  (): AedesMemoryPersistence;
  Packet: new (p: Packet) => Packet;
};
const persistence = (): AedesMemoryPersistence => persistenceModule();

type QueuePacket = Packet & QueuedPacket;

/**
 * The promise-based store the callback wrapper delegates every call to (the `asyncPersistence`
 * field of aedes-persistence's CallBackPersistence); aedes 1.x calls the promise forms.
 */
interface OutgoingStore {
  outgoingEnqueue(sub: { clientId: string }, packet: QueuePacket): Promise<void>;
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: QueuePacket): Promise<void>;
  outgoingUpdate(client: { id: string }, packet: QueuePacket): Promise<void>;
  outgoingClearMessageId(
    client: { id: string },
    packet: QueuePacket,
  ): Promise<QueuePacket | undefined>;
  outgoingStream(client: { id: string }): Iterable<QueuePacket>;
}

function indexOutgoing(inner: AedesMemoryPersistence): void {
  const store = (inner as unknown as { asyncPersistence: OutgoingStore }).asyncPersistence;
  const queues = createOutgoingQueues<QueuePacket>((p) => new persistenceModule.Packet(p));
  store.outgoingEnqueue = async (sub, packet) => queues.enqueue(sub.clientId, packet);
  store.outgoingEnqueueCombi = async (subs, packet) => {
    for (const sub of subs) queues.enqueue(sub.clientId, packet);
  };
  store.outgoingUpdate = async (client, packet) => queues.update(client.id, packet);
  store.outgoingClearMessageId = async (client, packet) =>
    queues.clear(client.id, packet.messageId);
  store.outgoingStream = (client) => queues.snapshot(client.id);
}

const hasWildcard = (filter: string): boolean => filter.includes('+') || filter.includes('#');

export function indexedMemoryPersistence(): AedesMemoryPersistence {
  const inner = persistence();
  indexOutgoing(inner);
  const byTopic = new Map<string, Packet>();
  // aedes 1.x calls storeRetained(packet) and awaits the promise; the callback form remains.
  const store = inner.storeRetained.bind(inner) as unknown as (p: Packet) => Promise<void>;
  const scan = inner.createRetainedStreamCombi.bind(inner);
  const remember = (packet: Packet): void => {
    if (!('topic' in packet) || !('payload' in packet)) return;
    // An empty retained payload deletes the topic's retained message (MQTT 3.3.1.3).
    if (packet.payload.length === 0) byTopic.delete(packet.topic);
    else byTopic.set(packet.topic, { ...packet });
  };
  function storeRetained(packet: Packet, cb?: (err: CallbackError) => void): Promise<void> | void {
    const done = store(packet).then(() => remember(packet));
    if (!cb) return done;
    done.then(() => cb(null), cb);
  }
  inner.storeRetained = storeRetained as AedesMemoryPersistence['storeRetained'];
  inner.createRetainedStreamCombi = (filters: string[]) =>
    filters.some(hasWildcard)
      ? scan(filters)
      : Readable.from(filters.flatMap((f) => byTopic.get(f) ?? []));
  return inner;
}
