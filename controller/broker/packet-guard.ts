// A size check on every MQTT packet a client sends, made on the fixed header (and, for PUBLISH,
// the topic that follows it) before aedes buffers the packet. mqtt-packet's parser accumulates a
// whole packet, whatever length its header declares, before it emits it, and aedes parses the
// CONNECT before it authenticates: without this guard an anonymous peer declaring a 100 MB
// CONNECT made the controller hold every byte it sent.
//
// The scanner is pure (bytes in, verdict out); frameGuard wraps it in a Transform that sits
// between the socket and aedes. MQTT 3.1.1 has no "packet too large" reason code (MQTT 5 adds
// 0x95), so a refused packet closes the network connection (section 4.8 allows the server to
// close on a protocol violation; so does every broker with a size limit).
import { Duplex, Transform } from 'node:stream';

/** What the guard knows of a packet when it decides: its type, length and (PUBLISH) topic. */
export interface PacketHead {
  /** MQTT control packet type (1 CONNECT, 3 PUBLISH, 8 SUBSCRIBE...). */
  readonly type: number;
  /** The remaining length the fixed header declares (MQTT 3.1.1 section 2.2.3). */
  readonly remaining: number;
  /** PUBLISH only: the topic name. */
  readonly topic?: string;
}

/** The largest remaining length allowed for a packet; called once per packet. */
export type PacketLimit = (head: PacketHead) => number;

export interface PacketRefusal {
  readonly head: PacketHead;
  readonly limit: number;
  readonly reason: 'oversize' | 'topic_too_long' | 'malformed_length';
}

/** Longest topic the guard reads before deciding (ours are far shorter; see shared/wire). */
export const MAX_GUARDED_TOPIC_BYTES = 1024;

type Phase =
  | { readonly kind: 'type' }
  | { readonly kind: 'length'; readonly type: number; value: number; shift: number; n: number }
  | {
      readonly kind: 'topic';
      readonly type: number;
      readonly remaining: number;
      readonly bytes: number[];
    }
  | { readonly kind: 'body'; left: number };

/**
 * Follows packet boundaries through a byte stream. push() returns a refusal as soon as a
 * header declares more than the limit allows; the caller then drops the connection.
 */
export function createPacketScanner(limitOf: PacketLimit) {
  let phase: Phase = { kind: 'type' };
  const decide = (head: PacketHead, consumed: number): PacketRefusal | undefined => {
    const limit = limitOf(head);
    if (head.remaining > limit) return { head, limit, reason: 'oversize' };
    phase = { kind: 'body', left: head.remaining - consumed };
    return undefined;
  };
  return {
    push(chunk: Uint8Array): PacketRefusal | undefined {
      for (let i = 0; i < chunk.length;) {
        const p = phase;
        if (p.kind === 'body') {
          const step = Math.min(p.left, chunk.length - i);
          p.left -= step;
          i += step;
          if (p.left === 0) phase = { kind: 'type' };
          continue;
        }
        const byte = chunk[i++] as number;
        if (p.kind === 'type') {
          phase = { kind: 'length', type: byte >> 4, value: 0, shift: 0, n: 0 };
          continue;
        }
        if (p.kind === 'length') {
          p.value += (byte & 0x7f) * 2 ** p.shift;
          p.shift += 7;
          p.n++;
          if (byte & 0x80) {
            // At most four length bytes (section 2.2.3).
            if (p.n === 4) {
              return {
                head: { type: p.type, remaining: p.value },
                limit: 0,
                reason: 'malformed_length',
              };
            }
            continue;
          }
          if (p.type === 3 && p.value >= 2) {
            phase = { kind: 'topic', type: p.type, remaining: p.value, bytes: [] };
            continue;
          }
          const r = decide({ type: p.type, remaining: p.value }, 0);
          if (r) return r;
          if (p.value === 0) phase = { kind: 'type' };
          continue;
        }
        // PUBLISH topic: a two-byte length, then UTF-8 (section 3.3.2.1).
        p.bytes.push(byte);
        const b = p.bytes;
        if (b.length < 2) continue;
        const topicLen = ((b[0] as number) << 8) | (b[1] as number);
        if (topicLen > MAX_GUARDED_TOPIC_BYTES) {
          return {
            head: { type: p.type, remaining: p.remaining },
            limit: 0,
            reason: 'topic_too_long',
          };
        }
        if (b.length < 2 + topicLen && b.length < p.remaining) continue;
        const topic = Buffer.from(b.slice(2)).toString('utf8');
        const r = decide({ type: p.type, remaining: p.remaining, topic }, b.length);
        if (r) return r;
        if (phase.kind === 'body' && phase.left === 0) phase = { kind: 'type' };
      }
      return undefined;
    },
  };
}

export interface GuardedConnection {
  /** The stream to hand to aedes: reads pass through the scanner, writes go to the socket. */
  readonly conn: Duplex;
  /** Change the limit (after authentication). */
  setLimit(limit: PacketLimit): void;
}

/**
 * Put a scanner between `socket` and its reader. A refused packet destroys the socket after
 * `onRefused`; the bytes of the chunk that declared it are never passed on.
 */
export function frameGuard(
  socket: Duplex,
  initial: PacketLimit,
  onRefused: (r: PacketRefusal) => void,
): GuardedConnection {
  let limit = initial;
  const scanner = createPacketScanner((head) => limit(head));
  const inbound = new Transform({
    transform(chunk: Buffer, _enc, done) {
      const refusal = scanner.push(chunk);
      if (!refusal) return done(null, chunk);
      onRefused(refusal);
      socket.destroy();
      done(new Error(`packet refused: ${refusal.reason}`));
    },
  });
  socket.pipe(inbound);
  socket.on('error', (e) => inbound.destroy(e));
  socket.on('close', () => inbound.destroy());
  const conn = Duplex.from({ readable: inbound, writable: socket });
  conn.on('close', () => socket.destroy());
  // aedes raises the listener ceiling of the stream it is given; keep the socket's in step.
  const setMax = conn.setMaxListeners.bind(conn);
  conn.setMaxListeners = (n: number) => {
    socket.setMaxListeners(n);
    return setMax(n);
  };
  return { conn, setLimit: (l) => (limit = l) };
}
