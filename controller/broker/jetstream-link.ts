// The controller's link when it is one of several replicas behind a NATS cluster: devices speak
// MQTT 3.1.1 to the NATS server's MQTT listener, as to any broker; each replica
// - publishes over MQTT (connectControllerLink, publish only, its own client id), because only an
//   MQTT publish keeps QoS 1 and the retain flag towards MQTT subscribers: a message published
//   with the NATS protocol reaches them as QoS 0 and is never retained
//   (https://docs.nats.io/running-a-nats-service/configuration/mqtt, "MQTT Implementation
//   details" in nats-server's server/README-MQTT.md);
// - takes device messages from one JetStream stream over the device-to-controller subjects,
//   through one durable consumer that every replica pulls from (competing consumers): each
//   message goes to one replica, and stays in the stream until that replica acknowledges it,
//   after its handler has settled. A replica that dies with messages in hand has them
//   redelivered to another after `ackWaitMs`, so delivery is at least once; the store
//   deduplicates (telemetry by report key, telemetry_seen), so a report is stored once.
//
// An MQTT topic becomes a NATS subject with `/` turned into `.` (and a `.` inside a level into
// `//`, which device ids never contain): bmf/v1/d/se7-001/telemetry is bmf.v1.d.se7-001.telemetry.
import { AckPolicy, connect, nanos, RetentionPolicy, StorageType } from 'nats';
import type { ConsumerMessages, JsMsg, NatsConnection } from 'nats';
import type { DeviceId } from '../../shared/ids.js';
import { bmfError, toBmfError, type BmfError } from '../../shared/errors.js';
import {
  parseTopic,
  TOPIC_PREFIX,
  TOPIC_SPECS,
  type DeviceTopicKind,
} from '../../shared/wire/topics.js';
import {
  connectControllerLink,
  type ControllerLink,
  type ControllerLinkOptions,
  type DeviceMessageHandler,
} from './link.js';

export interface JetStreamIntakeOptions {
  /** nats://host:port of the cluster's nodes; the client fails over between them. */
  readonly servers: readonly string[];
  /** Stream over the device-to-controller subjects (made if absent). */
  readonly stream?: string;
  /** The durable consumer every replica shares. */
  readonly consumer?: string;
  /** Copies of the stream across nodes (1 to 5; 3 survives one node's loss). */
  readonly replicas?: number;
  /** Redelivery to another replica after this long without an acknowledgement. */
  readonly ackWaitMs?: number;
  /** Messages a replica holds unacknowledged at most. */
  readonly maxInFlight?: number;
  /** Deliveries of a message whose handler fails, before it is removed and counted. */
  readonly maxDeliveries?: number;
  /** Delay before a message whose handler failed is delivered again. */
  readonly retryDelayMs?: number;
  readonly user?: string;
  readonly pass?: string;
}

export const JETSTREAM_DEFAULTS = Object.freeze({
  stream: 'BMFLEET_DEVICE',
  consumer: 'bmfleet-controller',
  replicas: 3,
  ackWaitMs: 30_000,
  maxInFlight: 512,
  maxDeliveries: 5,
  retryDelayMs: 1000,
});

/** The NATS subject of an MQTT topic (see the head of this file). */
export function topicToSubject(topic: string): string {
  return topic
    .split('/')
    .map((level) => level.replaceAll('.', '//'))
    .join('.');
}

/** The MQTT topic of a subject made by topicToSubject. */
export function subjectToTopic(subject: string): string {
  return subject
    .split('//')
    .map((part) => part.replaceAll('.', '/'))
    .join('.');
}

/** The stream's subjects: every kind a device publishes, for any device. */
export function deviceSubjects(): string[] {
  return (Object.keys(TOPIC_SPECS) as (keyof typeof TOPIC_SPECS)[])
    .filter((k) => k !== 'broadcastChunk' && TOPIC_SPECS[k].publisher === 'device')
    .map((k) => topicToSubject(`${TOPIC_PREFIX}/d/*/${TOPIC_SPECS[k].leaf}`));
}

/** Makes (or updates) the stream and its shared durable consumer; idempotent across replicas. */
export async function ensureDeviceStream(
  nc: NatsConnection,
  o: Required<Pick<JetStreamIntakeOptions, 'stream' | 'consumer' | 'replicas' | 'ackWaitMs'>> & {
    maxInFlight: number;
  },
): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const config = {
    name: o.stream,
    subjects: deviceSubjects(),
    // A work queue: a message is removed once acknowledged, and one consumer shares it out.
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: o.replicas,
    // Reports older than a day are of no use to a rollout's health gate.
    max_age: nanos(24 * 3600_000),
  };
  try {
    await jsm.streams.info(o.stream);
    await jsm.streams.update(o.stream, config);
  } catch (e) {
    if (!/stream not found/i.test((e as Error).message)) throw e;
    await jsm.streams.add(config);
  }
  await jsm.consumers.add(o.stream, {
    durable_name: o.consumer,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(o.ackWaitMs),
    max_ack_pending: o.maxInFlight * 8,
  });
}

export interface JetStreamLinkOptions {
  /** The MQTT publishing side: a client id of its own per replica. */
  readonly mqtt: Omit<ControllerLinkOptions, 'publishOnly' | 'onDropped'>;
  readonly intake: JetStreamIntakeOptions;
  /** Publish only (the chunk link): no intake. */
  readonly publishOnly?: boolean;
  readonly onDropped?: (reason: string, err: BmfError) => void;
}

export interface JetStreamLink extends ControllerLink {
  /** Messages this replica has taken from the stream and acknowledged. */
  readonly acked: () => number;
}

export async function connectJetStreamLink(opts: JetStreamLinkOptions): Promise<JetStreamLink> {
  const mqttLink = await connectControllerLink({
    ...opts.mqtt,
    publishOnly: true,
    ...(opts.onDropped ? { onDropped: opts.onDropped } : {}),
  });
  if (opts.publishOnly) return { ...mqttLink, acked: () => 0 };
  const o = { ...JETSTREAM_DEFAULTS, ...opts.intake };
  const dropped = opts.onDropped ?? (() => undefined);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: [...o.servers],
      name: opts.mqtt.clientId,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...(o.user !== undefined ? { user: o.user, pass: o.pass ?? '' } : {}),
    });
    await ensureDeviceStream(nc, o);
  } catch (e) {
    await mqttLink.close();
    throw bmfError('BMF_ERR_BROKER', {
      reason: `JetStream intake on ${o.servers.join(', ')}: ${(e as Error).message}`,
    });
  }

  const handlers = new Map<DeviceTopicKind, DeviceMessageHandler>();
  // Messages of kinds without a handler yet: not acknowledged, handed over when it arrives.
  const held: [DeviceTopicKind, DeviceId, JsMsg][] = [];
  let acked = 0;
  const run = async (kind: DeviceTopicKind, deviceId: DeviceId, m: JsMsg) => {
    try {
      await handlers.get(kind)!(deviceId, m.data);
      m.ack();
      acked++;
    } catch (e) {
      // A failing handler may have met a passing trouble (the store busy or restarting): the
      // message is given back for redelivery, `maxDeliveries` times in all; then removed and
      // counted, so a message no handler can take does not circle for ever.
      if (m.info.redeliveryCount < o.maxDeliveries) m.nak(o.retryDelayMs);
      else {
        m.term();
        dropped(kind, toBmfError(e));
      }
    }
  };
  const take = (m: JsMsg) => {
    let parsed;
    try {
      parsed = parseTopic(subjectToTopic(m.subject));
    } catch (e) {
      m.term();
      dropped('topic', toBmfError(e));
      return;
    }
    if (parsed.kind === 'broadcastChunk' || TOPIC_SPECS[parsed.kind].publisher !== 'device') {
      m.term();
      return;
    }
    if (!handlers.has(parsed.kind)) held.push([parsed.kind, parsed.deviceId, m]);
    else void run(parsed.kind, parsed.deviceId, m);
  };

  const js = nc.jetstream();
  const consumer = await js.consumers.get(o.stream, o.consumer);
  let messages: ConsumerMessages | undefined = await consumer.consume({
    max_messages: o.maxInFlight,
  });
  const loop = (async () => {
    for await (const m of messages!) take(m);
  })().catch((e: unknown) => dropped('intake', toBmfError(e)));

  return {
    client: mqttLink.client!,
    acked: () => acked,
    on(kind, handler) {
      if (TOPIC_SPECS[kind].publisher !== 'device') {
        throw bmfError('BMF_ERR_INTERNAL', { reason: `${kind} is not published by devices` });
      }
      handlers.set(kind, handler);
      const mine = held.filter(([k]) => k === kind);
      if (mine.length === 0) return;
      held.splice(0, held.length, ...held.filter(([k]) => k !== kind));
      for (const [k, id, m] of mine) void run(k, id, m);
    },
    publish: (topic, payload, p) => mqttLink.publish(topic, payload, p),
    async close() {
      // Held messages are left unacknowledged: the stream gives them to another replica.
      const m = messages;
      messages = undefined;
      m?.stop();
      await loop;
      await nc.drain().catch(() => undefined);
      await mqttLink.close();
    },
  };
}
