// A size check on every MQTT packet a client sends, made on the fixed header (and, for PUBLISH,
// the topic that follows it) before aedes buffers the packet. mqtt-packet's parser accumulates a
// whole packet, whatever length its header declares, before it emits it, and aedes parses the
// CONNECT before it authenticates: without this guard an anonymous peer declaring a 100 MB
// CONNECT made the controller hold every byte it sent.
//
// The scanner is pure (bytes in, verdict out); frameGuard puts it on the socket's reads, before
// aedes' parser sees them. MQTT 3.1.1 has no "packet too large" reason code (MQTT 5 adds
// 0x95), so a refused packet closes the network connection (section 4.8 allows the server to
// close on a protocol violation; so does every broker with a size limit).
import type { Duplex } from 'node:stream';

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
  /** The stream to hand to aedes (the socket itself, its reads passing through the scanner). */
  readonly conn: Duplex;
  /** Change the limit (after authentication). */
  setLimit(limit: PacketLimit): void;
}

/**
 * Put a scanner on `socket`'s reads. aedes reads its connection in paused mode (`read()` on
 * 'readable'), so every byte it gets comes through `read`; the socket itself is handed on, with
 * all its stream behaviour (backpressure, close, errors) unchanged. A refused packet destroys
 * the socket after `onRefused`; the chunk that declared it is never returned.
 */
export function frameGuard(
  socket: Duplex,
  initial: PacketLimit,
  onRefused: (r: PacketRefusal) => void,
): GuardedConnection {
  let limit = initial;
  const scanner = createPacketScanner((head) => limit(head));
  const read = socket.read.bind(socket);
  socket.read = (size?: number) => {
    const chunk = read(size) as Buffer | string | null;
    if (chunk === null || socket.destroyed) return chunk;
    const refusal = scanner.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (!refusal) return chunk;
    onRefused(refusal);
    socket.destroy();
    return null;
  };
  return { conn: socket, setLimit: (l) => (limit = l) };
}
