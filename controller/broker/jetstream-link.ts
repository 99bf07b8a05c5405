// The controller's link when it is one of several replicas behind a NATS cluster: devices speak
// MQTT 3.1.1 to the NATS server's MQTT listener, as to any broker; each replica
// - publishes over MQTT (connectControllerLink, publish only, its own client id), because only an
//   MQTT publish keeps QoS 1 and the retain flag towards MQTT subscribers: a message published
//   with the NATS protocol reaches them as QoS 0 and is never retained
//   (https://docs.nats.io/running-a-nats-service/configuration/mqtt, "MQTT Implementation
//   details" in nats-server's server/README-MQTT.md);
// - takes device messages from the MQTT listener's own QoS 1 stream, `$MQTT_msgs`, through one
//   durable consumer that every replica pulls from (competing consumers): each message goes to
//   one replica, and stays in the stream until that replica acknowledges it, after its handler
//   has settled. A replica that dies with messages in hand has them redelivered to another after
//   `ackWaitMs`, so delivery is at least once; the store deduplicates (telemetry by report key,
//   telemetry_seen), so a report is stored once.
//
// Why `$MQTT_msgs` and not a stream of our own over the device subjects: for a QoS 1 PUBLISH,
// nats-server 2.9 (server/mqtt.go, mqttProcessPub) first publishes the message as a plain NATS
// message, which a stream capturing the subject stores without anyone waiting for its
// acknowledgement, and then stores it in `$MQTT_msgs` under `$MQTT.msgs.<subject>` as a JetStream
// request whose replicated acknowledgement it awaits; only then does it send the PUBACK. So a
// PUBACK implies the copy in `$MQTT_msgs`, not the copy in a capturing stream: while that
// stream's leader moves (its node killed), the plain publish is lost and the device has its
// PUBACK all the same (docs/scaling.md, "What a PUBACK means").
//
// `$MQTT_msgs` has interest retention: a message is kept while a consumer whose filter matches
// has not acknowledged it, and a message no consumer matches is not kept at all. The durable
// consumer (filter `$MQTT.msgs.bmf.v1.d.>`) must therefore exist before devices publish; it is
// made by the first replica to start, and lives on (durable) while replicas come and go.
//
// An MQTT topic becomes a NATS subject with `/` turned into `.` (and a `.` inside a level into
// `//`, which device ids never contain): bmf/v1/d/se7-001/telemetry is bmf.v1.d.se7-001.telemetry.
import { AckPolicy, connect, nanos } from 'nats';
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
  assertDevicePublished,
  connectControllerLink,
  createHeldMessages,
  type ControllerLink,
  type ControllerLinkOptions,
  type DeviceMessageHandler,
} from './link.js';

export interface JetStreamIntakeOptions {
  /** nats://host:port of the cluster's nodes; the client fails over between them. */
  readonly servers: readonly string[];
  /** The durable consumer every replica shares. */
  readonly consumer?: string;
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

/**
 * The MQTT listener's stream of QoS 1 messages and the prefix of its subjects (nats-server
 * server/mqtt.go: mqttStreamName, mqttStreamSubjectPrefix). Its copies are the server's
 * `mqtt { stream_replicas }`.
 */
export const MQTT_MSGS_STREAM = '$MQTT_msgs';
export const MQTT_MSGS_PREFIX = '$MQTT.msgs.';

export const JETSTREAM_DEFAULTS = Object.freeze({
  consumer: 'bmfleet-controller',
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

/**
 * The consumer's filter in `$MQTT_msgs`: every per-device topic. NATS 2.9 takes one filter per
 * consumer, so the controller's own QoS 1 publishes to devices (assignments, commands) match it
 * too; the intake removes those at once (take, below).
 */
export const INTAKE_FILTER = `${MQTT_MSGS_PREFIX}${topicToSubject(`${TOPIC_PREFIX}/d`)}.>`;

/**
 * Makes (or updates) the durable consumer every replica shares on `$MQTT_msgs`; idempotent
 * across replicas. The stream is the MQTT listener's, made by the server when the account's
 * first MQTT client connects (the replica's own MQTT link has connected by now).
 */
export async function ensureDeviceStream(
  nc: NatsConnection,
  o: Required<Pick<JetStreamIntakeOptions, 'consumer' | 'ackWaitMs'>> & { maxInFlight: number },
): Promise<void> {
  const jsm = await nc.jetstreamManager();
  try {
    await jsm.streams.info(MQTT_MSGS_STREAM);
  } catch (e) {
    if (!/stream not found/i.test((e as Error).message)) throw e;
    throw new Error(
      `the MQTT listener's stream ${MQTT_MSGS_STREAM} is absent: the NATS server needs an ` +
        "mqtt { } block, and the controller's NATS user the account its MQTT clients are in",
      { cause: e },
    );
  }
  await jsm.consumers.add(MQTT_MSGS_STREAM, {
    durable_name: o.consumer,
    filter_subject: INTAKE_FILTER,
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
  const held = createHeldMessages<JsMsg>();
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
      parsed = parseTopic(subjectToTopic(m.subject.slice(MQTT_MSGS_PREFIX.length)));
    } catch (e) {
      m.term();
      dropped('topic', toBmfError(e));
      return;
    }
    // The controller's own publishes to devices: not for the intake (acknowledged, so the
    // stream keeps them only for the devices' subscriptions).
    if (parsed.kind === 'broadcastChunk' || TOPIC_SPECS[parsed.kind].publisher !== 'device') {
      m.ack();
      return;
    }
    if (!handlers.has(parsed.kind)) held.hold(parsed.kind, parsed.deviceId, m);
    else void run(parsed.kind, parsed.deviceId, m);
  };

  const js = nc.jetstream();
  const consumer = await js.consumers.get(MQTT_MSGS_STREAM, o.consumer);
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
      assertDevicePublished(kind);
      handlers.set(kind, handler);
      for (const [k, id, m] of held.release(kind)) void run(k, id, m);
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
