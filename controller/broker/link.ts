// The controller's own MQTT connection, to the embedded broker or an external one (Mosquitto,
// EMQX, HiveMQ...). Incoming messages are routed by topic kind to one handler each; a message on
// a malformed topic or one whose handler throws is counted and dropped, never fatal.
//
// The session is persistent so that QoS 1 reports published while the controller is away are
// queued for it. Under MQTT 5 that takes a session expiry: clean start = 0 alone ends the
// session at disconnect (MQTT 5 section 3.1.2.11.2). The broker delivers that queue right after
// CONNACK, before the caller can register its handlers, so messages of a kind without a handler
// yet are held here and handed over when the handler arrives.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { mqttServers } from '../../shared/config/broker-url.js';
import { bmfError, toBmfError, type BmfError } from '../../shared/errors.js';
import type { DeviceId } from '../../shared/ids.js';
import { endConnection } from '../../shared/wire/end-connection.js';
import {
  controllerSubscriptions,
  parseTopic,
  TOPIC_SPECS,
  type DeviceTopicKind,
} from '../../shared/wire/topics.js';

/** `deviceId` is the one the topic named, checked when the topic was parsed. */
export type DeviceMessageHandler = (
  deviceId: DeviceId,
  payload: Uint8Array,
) => void | Promise<void>;

export interface ControllerLinkOptions {
  readonly url: string;
  /** Further nodes of a clustered broker, tried in turn after `url` when a connection is lost. */
  readonly failoverUrls?: readonly string[];
  readonly username: string;
  readonly password: string;
  readonly clientId: string;
  /** 4 (MQTT 3.1.1) for the embedded aedes broker; 5 for brokers that speak it. */
  readonly protocolVersion?: 4 | 5;
  /**
   * Publish-only connection (no subscriptions, clean session): the controller's second link
   * for blob chunks, so megabytes of chunk data queued on one TCP stream never delay the QoS 1
   * control messages (assignments, offers) on the other.
   */
  readonly publishOnly?: boolean;
  readonly onDropped?: (reason: string, err: BmfError) => void;
  /** Connection trouble after the first connect (broker restarting, refused reconnects). */
  readonly onConnectionError?: (err: BmfError) => void;
  /** Messages held for kinds without a handler yet (the queue of a resumed session). */
  readonly holdLimit?: number;
}

/** One week: a controller down for longer than that starts from retained state only. */
export const CONTROLLER_SESSION_EXPIRY_S = 7 * 24 * 3600;

export interface ControllerLink {
  /** The MQTT connection (absent for the in-process link of the embedded broker). */
  readonly client?: MqttClient;
  on(kind: DeviceTopicKind, handler: DeviceMessageHandler): void;
  publish(
    topic: string,
    payload: Uint8Array,
    opts: { qos: 0 | 1; retain?: boolean },
  ): Promise<void>;
  close(): Promise<void>;
}

/**
 * Messages of device topic kinds that have no handler yet, in arrival order (both links: a
 * resumed session or a durable consumer delivers before the caller has registered its handlers).
 */
export function createHeldMessages<M>() {
  const held: [DeviceTopicKind, DeviceId, M][] = [];
  return {
    get size(): number {
      return held.length;
    },
    hold(kind: DeviceTopicKind, deviceId: DeviceId, message: M): void {
      held.push([kind, deviceId, message]);
    },
    /** Takes out what is held for `kind`, oldest first; the rest stays. */
    release(kind: DeviceTopicKind): [DeviceTopicKind, DeviceId, M][] {
      const mine = held.filter(([k]) => k === kind);
      if (mine.length > 0) held.splice(0, held.length, ...held.filter(([k]) => k !== kind));
      return mine;
    },
  };
}

/** Handlers are set only for what devices publish; anything else is a programming error. */
export function assertDevicePublished(kind: DeviceTopicKind): void {
  if (TOPIC_SPECS[kind].publisher !== 'device') {
    throw bmfError('BMF_ERR_INTERNAL', { reason: `${kind} is not published by devices` });
  }
}

/**
 * Routing shared by both links: device messages by topic kind to one handler each, held until
 * the kind's handler exists (up to `holdLimit`), dropped and counted when the topic is malformed
 * or the handler throws.
 */
export function createDeviceRouter(opts: {
  readonly onDropped?: (reason: string, err: BmfError) => void;
  readonly holdLimit?: number;
}) {
  const handlers = new Map<DeviceTopicKind, DeviceMessageHandler>();
  const held = createHeldMessages<Uint8Array>();
  const holdLimit = opts.holdLimit ?? 100_000;
  const dropped = opts.onDropped ?? (() => undefined);
  const deliver = (kind: DeviceTopicKind, deviceId: DeviceId, bytes: Uint8Array) => {
    const handler = handlers.get(kind);
    if (!handler) {
      if (held.size < holdLimit) held.hold(kind, deviceId, bytes);
      else dropped('held_overflow', bmfError('BMF_ERR_BROKER', { reason: 'hold limit reached' }));
      return;
    }
    try {
      const r = handler(deviceId, bytes);
      if (r) r.catch((e: unknown) => dropped(kind, toBmfError(e)));
    } catch (e) {
      dropped(kind, toBmfError(e));
    }
  };
  return {
    /** A message as it arrived on `topic`. */
    route(topic: string, payload: Uint8Array): void {
      let parsed;
      try {
        parsed = parseTopic(topic);
      } catch (e) {
        dropped('topic', toBmfError(e));
        return;
      }
      if (parsed.kind === 'broadcastChunk') return;
      if (TOPIC_SPECS[parsed.kind].publisher !== 'device') return;
      deliver(parsed.kind, parsed.deviceId, payload);
    },
    on(kind: DeviceTopicKind, handler: DeviceMessageHandler): void {
      assertDevicePublished(kind);
      handlers.set(kind, handler);
      for (const [k, id, bytes] of held.release(kind)) deliver(k, id, bytes);
    },
  };
}

export async function connectControllerLink(opts: ControllerLinkOptions): Promise<ControllerLink> {
  const router = createDeviceRouter(opts);
  const protocolVersion = opts.protocolVersion ?? 4;
  const persistent = opts.publishOnly !== true;
  const mqttOpts: IClientOptions = {
    clientId: opts.clientId,
    username: opts.username,
    password: opts.password,
    protocolVersion,
    clean: !persistent,
    ...(persistent && protocolVersion === 5
      ? { properties: { sessionExpiryInterval: CONTROLLER_SESSION_EXPIRY_S } }
      : {}),
    reconnectPeriod: 1000,
    // A broker that refuses a reconnect (restarting, its auth back end not up yet) is tried
    // again; without this mqtt.js stops reconnecting after the first refused CONNACK.
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
  };
  const servers = mqttServers(opts.url, opts.failoverUrls);
  if (servers.length > 0) mqttOpts.servers = servers;
  // Listeners go on before CONNACK can arrive: a resumed session's queue follows it at once.
  const client: MqttClient = mqtt.connect(opts.url, mqttOpts);
  client.on('message', (topic, payload) =>
    router.route(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      // With failover URLs the first connect tries each node once (mqtt.js takes the next on
      // every reconnect): a controller starting while one node is down starts on another.
      let failures = 0;
      const settle = (err?: Error) => {
        if (err && ++failures < Math.max(1, servers.length)) return;
        client.off('connect', onConnect);
        client.off('error', settle);
        if (err) reject(err);
        else resolve();
      };
      const onConnect = () => settle();
      client.on('connect', onConnect);
      client.on('error', settle);
    });
  } catch (e) {
    await client.endAsync(true).catch(() => undefined);
    throw bmfError('BMF_ERR_BROKER', {
      reason: `cannot connect to ${[opts.url, ...(opts.failoverUrls ?? [])].join(', ')}: ${(e as Error).message}`,
    });
  }
  // Refused reconnects while an external broker is away or restarting: reported, not silent.
  const trouble = (reason: string, cause?: Error) =>
    opts.onConnectionError?.(bmfError('BMF_ERR_BROKER', { reason }, cause ? { cause } : {}));
  client.on('error', (e) => trouble(e.message, e));
  // A broker hands a client id to the newest connection ([MQTT-3.1.4-2]): two connections with
  // one id (e.g. Mosquitto's use_username_as_clientid) take each other over, again and again.
  client.on('disconnect', (packet) => {
    if (packet.reasonCode === 0x8e) {
      trouble(`session taken over: another connection uses client id ${opts.clientId}`);
    }
  });
  let connectedAt = Date.now();
  let closing = false;
  client.on('connect', () => (connectedAt = Date.now()));
  client.on('close', () => {
    if (closing) return;
    const after = Date.now() - connectedAt;
    trouble(
      after < 5000
        ? `connection closed ${after} ms after it was made (is another connection using client id ${opts.clientId}?); reconnecting`
        : 'connection lost; reconnecting',
    );
  });

  const filters = opts.publishOnly ? [] : controllerSubscriptions();
  if (filters.length > 0)
    await client.subscribeAsync(
      filters
        .map((f) => ({ topic: f, qos: 1 as const }))
        .reduce(
          (acc, s) => ({ ...acc, [s.topic]: { qos: s.qos } }),
          {} as Record<string, { qos: 0 | 1 }>,
        ),
    );

  return {
    client,
    on: router.on,
    async publish(topic, payload, { qos, retain }) {
      await client.publishAsync(
        topic,
        Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        {
          qos,
          retain: retain ?? false,
        },
      );
    },
    async close() {
      closing = true;
      await endConnection(client); // bounded: the broker may already be gone
    },
  };
}
