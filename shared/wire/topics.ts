// The MQTT topic layout, in one place, under the versioned prefix bmf/v1. Both programs build
// topics here, the controller parses incoming topics here, and the broker's ACLs derive from
// TOPIC_SPECS (who publishes each kind), so the three can never disagree.
//
//   bmf/v1/d/{deviceId}/{leaf}    per-device topics (leaf below)
//   bmf/v1/blob/{digest}/chunk    chunks broadcast to every device fetching that blob
import { bmfError } from '../errors.js';
import type { DeviceId } from '../ids.js';
import { isDeviceId, isHexDigest } from './ids.js';
import type { WireMessageType } from './schema.js';

export const TOPIC_PREFIX = 'bmf/v1';
/** MQTT allows 65,535 bytes; ours are short and anything longer is hostile. */
const MAX_TOPIC_CHARS = 256;

export type DeviceTopicKind =
  | 'hello'
  | 'state'
  | 'presence'
  | 'assignment'
  | 'blobRequest'
  | 'blobOffer'
  | 'blobChunk'
  | 'telemetry'
  | 'event'
  | 'command'
  | 'ack';

export type TopicKind = DeviceTopicKind | 'broadcastChunk';

export type Topic =
  | { readonly kind: DeviceTopicKind; readonly deviceId: DeviceId }
  | { readonly kind: 'broadcastChunk'; readonly digest: string };

export interface TopicSpec {
  /** Path below bmf/v1/d/{id}/ (device kinds) or bmf/v1/blob/{digest}/ (broadcast). */
  readonly leaf: string;
  readonly publisher: 'device' | 'controller';
  /** Published with the MQTT retain flag (the latest value is what a newcomer needs). */
  readonly retained: boolean;
  /** QoS 1 for control (issue 4); chunks are QoS 0, gaps are repaired by request. */
  readonly qos: 0 | 1;
  readonly message: WireMessageType;
}

export const TOPIC_SPECS: { readonly [K in TopicKind]: TopicSpec } = Object.freeze({
  hello: { leaf: 'hello', publisher: 'device', retained: true, qos: 1, message: 'DeviceHello' },
  state: { leaf: 'state', publisher: 'device', retained: true, qos: 1, message: 'DeviceState' },
  // Also the device's MQTT will topic: the broker publishes { online: false } on a lost session.
  presence: { leaf: 'presence', publisher: 'device', retained: true, qos: 1, message: 'Presence' },
  assignment: {
    leaf: 'assignment',
    publisher: 'controller',
    retained: true,
    qos: 1,
    message: 'SignedAssignment',
  },
  blobRequest: {
    leaf: 'blob/req',
    publisher: 'device',
    retained: false,
    qos: 1,
    message: 'BlobChunkRequest',
  },
  blobOffer: {
    leaf: 'blob/offer',
    publisher: 'controller',
    retained: false,
    qos: 1,
    message: 'BlobOffer',
  },
  blobChunk: {
    leaf: 'blob/chunk',
    publisher: 'controller',
    retained: false,
    qos: 0,
    message: 'BlobChunk',
  },
  telemetry: {
    leaf: 'telemetry',
    publisher: 'device',
    retained: false,
    qos: 1,
    message: 'TelemetryReport',
  },
  event: { leaf: 'events', publisher: 'device', retained: false, qos: 1, message: 'Event' },
  command: { leaf: 'cmd', publisher: 'controller', retained: false, qos: 1, message: 'Command' },
  ack: { leaf: 'ack', publisher: 'device', retained: false, qos: 1, message: 'Ack' },
  broadcastChunk: {
    leaf: 'chunk',
    publisher: 'controller',
    retained: false,
    qos: 0,
    message: 'BlobChunk',
  },
});

const DEVICE_KINDS = (Object.keys(TOPIC_SPECS) as TopicKind[]).filter(
  (k): k is DeviceTopicKind => k !== 'broadcastChunk',
);
const KIND_BY_LEAF = new Map<string, DeviceTopicKind>(
  DEVICE_KINDS.map((k) => [TOPIC_SPECS[k].leaf, k]),
);

function malformed(topic: string, reason: string): never {
  throw bmfError('BMF_ERR_WIRE_TOPIC', { topic: topic.slice(0, MAX_TOPIC_CHARS), reason });
}

export function assertDeviceId(deviceId: string): void {
  if (!isDeviceId(deviceId)) {
    malformed(`${TOPIC_PREFIX}/d/${deviceId}`, `invalid device id "${deviceId.slice(0, 80)}"`);
  }
}

/** The topic of `kind` for one device. Throws BMF_ERR_WIRE_TOPIC for an unsafe device id. */
export function deviceTopic(kind: DeviceTopicKind, deviceId: string): string {
  assertDeviceId(deviceId);
  return `${TOPIC_PREFIX}/d/${deviceId}/${TOPIC_SPECS[kind].leaf}`;
}

/** The topic on which the controller broadcasts the chunks of one blob. */
export function broadcastChunkTopic(digest: string): string {
  if (!isHexDigest(digest)) malformed(`${TOPIC_PREFIX}/blob/${digest}`, 'digest is not 64 hex');
  return `${TOPIC_PREFIX}/blob/${digest}/${TOPIC_SPECS.broadcastChunk.leaf}`;
}

/** The MQTT will topic a device sets at connect (its presence topic). */
export function willTopic(deviceId: string): string {
  return deviceTopic('presence', deviceId);
}

export function formatTopic(t: Topic): string {
  return t.kind === 'broadcastChunk'
    ? broadcastChunkTopic(t.digest)
    : deviceTopic(t.kind, t.deviceId);
}

/** Parse a concrete topic (no wildcards). Throws BMF_ERR_WIRE_TOPIC on anything else. */
export function parseTopic(topic: string): Topic {
  if (topic.length > MAX_TOPIC_CHARS) malformed(topic, 'too long');
  const parts = topic.split('/');
  if (parts[0] !== 'bmf' || parts[1] !== 'v1') malformed(topic, `prefix is not ${TOPIC_PREFIX}`);
  const [, , scope, id, ...rest] = parts;
  const leaf = rest.join('/');
  if (scope === 'd' && id !== undefined) {
    if (!isDeviceId(id)) malformed(topic, 'invalid device id');
    const kind = KIND_BY_LEAF.get(leaf);
    if (!kind) malformed(topic, `unknown device topic "${leaf}"`);
    return { kind, deviceId: id };
  }
  if (scope === 'blob' && id !== undefined) {
    if (!isHexDigest(id)) malformed(topic, 'digest is not 64 hex');
    if (leaf !== TOPIC_SPECS.broadcastChunk.leaf) malformed(topic, `unknown blob topic "${leaf}"`);
    return { kind: 'broadcastChunk', digest: id };
  }
  return malformed(topic, 'unknown scope');
}

function tryParse(topic: string): Topic | undefined {
  try {
    return parseTopic(topic);
  } catch {
    return undefined;
  }
}

/** Broker ACL: a device publishes only device-published kinds on its own topics. */
export function deviceMayPublish(deviceId: string, topic: string): boolean {
  const t = tryParse(topic);
  if (!t || t.kind === 'broadcastChunk' || !isDeviceId(deviceId)) return false;
  return TOPIC_SPECS[t.kind].publisher === 'device' && t.deviceId === deviceId;
}

/**
 * Broker ACL: a device subscribes only to exact (wildcard-free) controller-published topics of
 * its own, and to the broadcast chunks of one blob at a time. Wildcard filters, $share and $SYS
 * filters are refused: they would let a device read other devices' assignments or commands.
 */
export function deviceMaySubscribe(deviceId: string, filter: string): boolean {
  const t = tryParse(filter);
  if (!t || !isDeviceId(deviceId)) return false;
  if (t.kind === 'broadcastChunk') return true;
  return TOPIC_SPECS[t.kind].publisher === 'controller' && t.deviceId === deviceId;
}

/** Filters the controller subscribes to: every device-published kind, for all devices. */
export function controllerSubscriptions(): string[] {
  return DEVICE_KINDS.filter((k) => TOPIC_SPECS[k].publisher === 'device').map(
    (k) => `${TOPIC_PREFIX}/d/+/${TOPIC_SPECS[k].leaf}`,
  );
}
