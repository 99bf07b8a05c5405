// Packet size limits of the embedded broker, per principal and (for device publishes) per topic.
// They derive from the wire limits (shared/wire/limits.ts) and the topic table, so a message the
// codec would accept always fits and one it would refuse is stopped before it is buffered.
import { WIRE_SIZE_LIMITS } from '../../shared/wire/limits.js';
import { parseTopic, TOPIC_SPECS } from '../../shared/wire/topics.js';
import type { Principal } from './acl.js';
import type { PacketHead, PacketLimit } from './packet-guard.js';

/**
 * Before authentication only a CONNECT may arrive (MQTT-3.1.0-1). Ours carries a client id and
 * username of at most 64 characters, a 43-character secret and a will on the presence topic
 * (a Presence message, at most 1 KiB): well under 4 KiB, so 8 KiB leaves room for other clients.
 */
export const PRE_AUTH_MAX_PACKET_BYTES = 8 * 1024;
/** Packets other than PUBLISH from a device (SUBSCRIBE of a few filters, PUBACK, PINGREQ). */
export const DEVICE_MAX_CONTROL_PACKET_BYTES = 8 * 1024;
/** Topic name, its length field and a packet id, on top of a message's own limit. */
const PUBLISH_OVERHEAD_BYTES = 2 + 256 + 2;
/** The controller publishes every message type, chunks (4 MiB + header) the largest. */
export const CONTROLLER_MAX_PACKET_BYTES = Math.max(...Object.values(WIRE_SIZE_LIMITS)) + 64 * 1024;

export const preAuthLimit: PacketLimit = () => PRE_AUTH_MAX_PACKET_BYTES;

/** The largest PUBLISH a device may send on `topic`: its message's wire limit, or a control size. */
export function devicePublishLimit(topic: string): number {
  try {
    const t = parseTopic(topic);
    const spec = TOPIC_SPECS[t.kind];
    // Topics the device may not publish on are refused by the ACL; keep them small until then.
    if (spec.publisher !== 'device') return DEVICE_MAX_CONTROL_PACKET_BYTES;
    return WIRE_SIZE_LIMITS[spec.message] + PUBLISH_OVERHEAD_BYTES;
  } catch {
    return DEVICE_MAX_CONTROL_PACKET_BYTES;
  }
}

/** The limit that applies once `p` has authenticated. */
export function limitFor(p: Principal): PacketLimit {
  if (p.kind === 'controller') return () => CONTROLLER_MAX_PACKET_BYTES;
  return (head: PacketHead) =>
    head.type === 3 && head.topic !== undefined
      ? devicePublishLimit(head.topic)
      : DEVICE_MAX_CONTROL_PACKET_BYTES;
}
