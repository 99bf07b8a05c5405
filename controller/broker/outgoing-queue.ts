// The QoS 1/2 messages queued for each persistent-session client, indexed. aedes' in-memory
// persistence keeps them in one array per client and finds a packet by scanning it: once when
// the packet gets its message id (outgoingUpdate: the packet is at the end, so the whole queue
// is scanned) and again at its PUBACK (outgoingClearMessageId, then a splice). A subscriber that
// falls behind (the controller ingesting telemetry at its limit, thousands in flight) made
// every delivery slower the further it fell behind. Here each queue is a Map in arrival order
// keyed by the packet's broker id and counter, with a second Map from message id to that key:
// every operation is O(1) and the order is kept for the resend after a reconnect.
//
// Semantics kept from aedes-persistence: enqueue stores a copy (new Packet) at the end; update
// gives the queued packet with the same broker id and counter the new message id, or, failing
// that, replaces a packet of another broker id with the same message id (a PUBREL taking its
// PUBLISH's place), else fails with "no such packet"; clear removes and returns the packet with
// that message id; the stream is a snapshot in order.

/** The fields of an aedes packet the queue relies on. */
export interface QueuedPacket {
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
}

interface ClientQueue<P extends QueuedPacket> {
  readonly byKey: Map<string, P>;
  readonly keyById: Map<number, string>;
  /** For packets without a broker id and counter (never from aedes itself). */
  anonymous: number;
}

export interface OutgoingQueues<P extends QueuedPacket> {
  enqueue(clientId: string, packet: P): void;
  update(clientId: string, packet: P): void;
  clear(clientId: string, messageId: number | undefined): P | undefined;
  snapshot(clientId: string): P[];
  /** Queued packets of a client (tests, metrics). */
  size(clientId: string): number;
}

export function createOutgoingQueues<P extends QueuedPacket>(
  copy: (packet: P) => P,
): OutgoingQueues<P> {
  const queues = new Map<string, ClientQueue<P>>();
  const queueOf = (clientId: string): ClientQueue<P> => {
    let q = queues.get(clientId);
    if (!q) {
      q = { byKey: new Map(), keyById: new Map(), anonymous: 0 };
      queues.set(clientId, q);
    }
    return q;
  };
  const brokerKey = (p: QueuedPacket): string | undefined =>
    p.brokerId !== undefined && p.brokerCounter !== undefined
      ? `${p.brokerId}\u0000${p.brokerCounter}`
      : undefined;
  const index = (q: ClientQueue<P>, key: string, p: P): void => {
    if (p.messageId !== undefined) q.keyById.set(p.messageId, key);
  };
  return {
    enqueue(clientId, packet) {
      const q = queueOf(clientId);
      const p = copy(packet);
      const key = brokerKey(p) ?? `\u0001${q.anonymous++}`;
      q.byKey.set(key, p);
      index(q, key, p);
    },
    update(clientId, packet) {
      const q = queueOf(clientId);
      const key = brokerKey(packet);
      const queued = key === undefined ? undefined : q.byKey.get(key);
      if (key !== undefined && queued) {
        if (queued.messageId !== undefined && q.keyById.get(queued.messageId) === key) {
          q.keyById.delete(queued.messageId);
        }
        queued.messageId = packet.messageId;
        index(q, key, queued);
        return;
      }
      const byId = packet.messageId === undefined ? undefined : q.keyById.get(packet.messageId);
      const other = byId === undefined ? undefined : q.byKey.get(byId);
      if (byId !== undefined && other && other.brokerId !== packet.brokerId) {
        q.byKey.set(byId, packet);
        return;
      }
      throw new Error('no such packet');
    },
    clear(clientId, messageId) {
      const q = queues.get(clientId);
      if (!q || messageId === undefined) return undefined;
      const key = q.keyById.get(messageId);
      if (key === undefined) return undefined;
      const p = q.byKey.get(key);
      q.byKey.delete(key);
      q.keyById.delete(messageId);
      return p;
    },
    snapshot(clientId) {
      return [...(queues.get(clientId)?.byKey.values() ?? [])];
    },
    size(clientId) {
      return queues.get(clientId)?.byKey.size ?? 0;
    },
  };
}
