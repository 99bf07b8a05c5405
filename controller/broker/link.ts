// The controller's own MQTT connection, to the embedded broker or an external one (Mosquitto,
// EMQX, HiveMQ...). Incoming messages are routed by topic kind to one handler each; a message on
// a malformed topic or one whose handler throws is counted and dropped, never fatal.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { bmfError, toBmfError, type BmfError } from '../../shared/errors.js';
import {
  controllerSubscriptions,
  parseTopic,
  TOPIC_SPECS,
  type DeviceTopicKind,
} from '../../shared/wire/topics.js';

export type DeviceMessageHandler = (deviceId: string, payload: Uint8Array) => void | Promise<void>;

export interface ControllerLinkOptions {
  readonly url: string;
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
}

export interface ControllerLink {
  readonly client: MqttClient;
  on(kind: DeviceTopicKind, handler: DeviceMessageHandler): void;
  publish(
    topic: string,
    payload: Uint8Array,
    opts: { qos: 0 | 1; retain?: boolean },
  ): Promise<void>;
  close(): Promise<void>;
}

export async function connectControllerLink(opts: ControllerLinkOptions): Promise<ControllerLink> {
  const handlers = new Map<DeviceTopicKind, DeviceMessageHandler>();
  const mqttOpts: IClientOptions = {
    clientId: opts.clientId,
    username: opts.username,
    password: opts.password,
    protocolVersion: opts.protocolVersion ?? 4,
    // Persistent session: QoS 1 reports sent while the controller restarts are queued for it.
    clean: opts.publishOnly === true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  };
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(opts.url, mqttOpts);
  } catch (e) {
    throw bmfError('BMF_ERR_BROKER', {
      reason: `cannot connect to ${opts.url}: ${(e as Error).message}`,
    });
  }
  const dropped = opts.onDropped ?? (() => undefined);

  client.on('message', (topic, payload) => {
    let parsed;
    try {
      parsed = parseTopic(topic);
    } catch (e) {
      dropped('topic', toBmfError(e));
      return;
    }
    if (parsed.kind === 'broadcastChunk') return;
    const handler = handlers.get(parsed.kind);
    if (!handler) return;
    const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
    try {
      const r = handler(parsed.deviceId, bytes);
      if (r) r.catch((e: unknown) => dropped(parsed.kind, toBmfError(e)));
    } catch (e) {
      dropped(parsed.kind, toBmfError(e));
    }
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
    on(kind, handler) {
      if (TOPIC_SPECS[kind].publisher !== 'device') {
        throw bmfError('BMF_ERR_INTERNAL', { reason: `${kind} is not published by devices` });
      }
      handlers.set(kind, handler);
    },
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
      await client.endAsync();
    },
  };
}
