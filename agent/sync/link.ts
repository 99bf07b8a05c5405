// The agent's MQTT connection (mqtt.js): a clean session on every connection, QoS 1 for
// control, a retained presence will, and one handler per incoming topic kind. Every payload is
// decoded and validated at this edge (shared/wire); a malformed one is reported and dropped,
// never thrown into the agent.
//
// Why clean: on NATS 2.9 a persistent session resumed on another node after its node was killed
// can deliver nothing at all while its publishes and pings work (docs/scaling.md). A clean
// session never resumes one, on whichever node mqtt.js reconnects to (it takes the next server
// of its list on every reconnect, so a failover is not told apart from a reconnect). The rule
// that makes this safe: nothing the agent subscribes to relies on the broker's queue.
// - assignment: retained, sent on every SUBSCRIBE; and the controller sends it again when the
//   state the agent reports after subscribing is behind (controller/distribution/catch-up.ts).
// - blobOffer, blobChunk: answers to the fetcher's requests, asked again after a request with
//   no progress (agent/sync/fetcher.ts).
// - broadcast chunks of a blob being fetched: QoS 0, never queued; the subscription is made
//   again on every connection below, gaps are asked again per device.
// - command: the controller publishes none yet; the agent takes any as a kick of its reconcile
//   pass, which runs at least every 30 s anyway. A future command that must not be lost needs
//   a retained copy or a catch-up of its own.
import { connect } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { mqttServers } from '../../shared/config/broker-url.js';
import { applyConnectionRules } from './connection-rules.js';
import type { BmfError } from '../../shared/errors.js';
import { toBmfError } from '../../shared/errors.js';
import { decodeMessage, encodeMessage } from '../../shared/wire/codec.js';
import { endConnection } from '../../shared/wire/end-connection.js';
import type { WireMessages } from '../../shared/wire/messages.js';
import {
  TOPIC_SPECS,
  broadcastChunkTopic,
  deviceTopic,
  parseTopic,
  willTopic,
} from '../../shared/wire/topics.js';
import type { DeviceTopicKind } from '../../shared/wire/topics.js';
import type { DeviceId, Digest } from '../../shared/ids.js';

/** Topic kinds the controller publishes to a device, each with its handler. */
export interface LinkHandlers {
  /**
   * The QoS 1 acknowledgement is sent when the returned promise settles: resolve it once the
   * assignment is on disk. A crash before that is made good on the next connection by the
   * retained copy and the controller's catch-up.
   */
  assignment(m: WireMessages['SignedAssignment']): void | Promise<void>;
  blobOffer(m: WireMessages['BlobOffer']): void;
  blobChunk(m: WireMessages['BlobChunk']): void;
  command(m: WireMessages['Command']): void;
}

type Incoming = keyof LinkHandlers;
const INCOMING: readonly Incoming[] = ['assignment', 'blobOffer', 'blobChunk', 'command'];

export interface AgentLinkOptions {
  readonly url: string;
  /**
   * Further nodes of a clustered broker (NATS): after a lost connection mqtt.js tries the next
   * one in turn, so a device whose node died reaches a survivor and subscribes there.
   */
  readonly failoverUrls?: readonly string[];
  readonly deviceId: DeviceId;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** 5 by default; 4 for brokers without MQTT 5 (the embedded aedes broker). */
  readonly protocolVersion?: 4 | 5;
  /** The first reconnect's ceiling (equal jitter below it, doubling per attempt to 30 s). */
  readonly reconnectMs?: number;
  /** Uniform in [0, 1): the reconnect jitter; tests pass their own. */
  readonly random?: () => number;
  readonly handlers: LinkHandlers;
  readonly onMalformed?: (topic: string, error: BmfError) => void;
  /**
   * Once per connection, after the broker answered its SUBSCRIBE (granted, or refused on the
   * first try): what the agent publishes here (its state) may make the controller send the
   * assignment again, and that copy must find the subscription in place.
   */
  readonly onConnect?: () => void;
  /** A subscription refused on this connection was granted on a later try. */
  readonly onResubscribed?: () => void;
  /**
   * A SUBSCRIBE unanswered this long ends the connection, which mqtt.js then makes again (to
   * the next node of a cluster). 30 s by default.
   */
  readonly subscribeTimeoutMs?: number;
  readonly onOffline?: () => void;
  /** Connection news for the log: connects, refused CONNACKs, lost connections. */
  readonly onBrokerEvent?: (e: LinkEvent) => void;
}

/** What happened to the connection, as the agent logs it. */
export type LinkEvent =
  | { readonly kind: 'connected'; readonly reconnect: boolean; readonly sessionPresent: boolean }
  | { readonly kind: 'refused'; readonly reasonCode: number; readonly reason: string }
  | { readonly kind: 'lost'; readonly reason: string };

/** Device-published topic kinds. */
export type Outgoing =
  'hello' | 'state' | 'presence' | 'blobRequest' | 'telemetry' | 'event' | 'ack';

export interface AgentLink {
  connected(): boolean;
  publish<K extends Outgoing>(
    kind: K,
    message: WireMessages[(typeof TOPIC_SPECS)[K]['message']],
  ): Promise<void>;
  /** Also receive the chunks the controller broadcasts for `digest` to every fetching device. */
  subscribeBroadcast(digest: Digest): Promise<void>;
  unsubscribeBroadcast(digest: Digest): Promise<void>;
  close(): Promise<void>;
}

export function createAgentLink(options: AgentLinkOptions): AgentLink {
  const { deviceId, handlers } = options;
  const protocolVersion = options.protocolVersion ?? 5;
  const presence = (online: boolean): Uint8Array =>
    encodeMessage('Presence', { deviceId, online, timeMs: Date.now() });
  const clientOptions: IClientOptions = {
    clientId: deviceId,
    clean: true, // see the top of this file; under MQTT 5 no session expiry, so none outlives us
    // The link subscribes on every connect itself (below): mqtt.js's own resubscription would
    // ask a second time, and drops for good a topic whose SUBACK refused it.
    resubscribe: false,
    protocolVersion,
    reconnectPeriod: options.reconnectMs ?? 1000,
    // A refused CONNACK (credentials not yet on an external broker, the broker's auth back end
    // restarting) is tried again: without this mqtt.js never reconnects after one.
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    // mqtt-packet otherwise pre-builds a 2-byte Buffer for every 16-bit number (65536 objects,
    // ~6 MB of heap for the life of the process) to save one small allocation per packet id.
    // The switch is process-wide in mqtt-packet (a broker in the same process follows it).
    writeCache: false,
    ...(options.username !== undefined && { username: options.username }),
    ...(options.password !== undefined && { password: options.password }),
    will: {
      topic: willTopic(deviceId),
      payload: Buffer.from(presence(false)),
      qos: 1,
      retain: true,
    },
  };
  const servers = mqttServers(options.url, options.failoverUrls);
  if (servers.length > 0) clientOptions.servers = servers;
  const client: MqttClient = connect(options.url, clientOptions);
  // Blobs whose broadcast chunks the fetcher wants: a clean session drops the subscription with
  // the connection, so it is made again with the device topics on every connect.
  const broadcasts = new Set<Digest>();
  const subscriptions = (): Record<string, { qos: 0 | 1 }> => ({
    ...Object.fromEntries(
      INCOMING.map((k) => [deviceTopic(k as DeviceTopicKind, deviceId), { qos: 1 }]),
    ),
    ...Object.fromEntries([...broadcasts].map((d) => [broadcastChunkTopic(d), { qos: 0 }])),
  });

  const dispatch: { [K in Incoming]: (bytes: Uint8Array) => void | Promise<void> } = {
    assignment: (b) => handlers.assignment(decodeMessage('SignedAssignment', b)),
    blobOffer: (b) => handlers.blobOffer(decodeMessage('BlobOffer', b)),
    blobChunk: (b) => handlers.blobChunk(decodeMessage('BlobChunk', b)),
    command: (b) => handlers.command(decodeMessage('Command', b)),
  };

  // mqtt.js sends a QoS 1 PUBACK when handleMessage calls back; the work a message started
  // (persisting an assignment) is awaited first, so the broker hears "received" only after it.
  const pending = new Map<number, Promise<void>>();
  const defaultHandleMessage = client.handleMessage.bind(client);
  client.handleMessage = (packet, callback) => {
    const id = packet.messageId;
    const work = id !== undefined ? pending.get(id) : undefined;
    if (!work) {
      defaultHandleMessage(packet, callback);
      return;
    }
    if (id !== undefined) pending.delete(id);
    void work.then(() => defaultHandleMessage(packet, callback));
  };

  const news = options.onBrokerEvent ?? (() => undefined);
  let closing = false;
  // Reconnect waits and SUBSCRIBE on every connection, as simulated devices do too
  // (agent/sync/connection-rules.ts): jittered reconnects, a refused subscription asked again
  // for as long as the connection lasts (without it a connected device would never hear of an
  // assignment), an unanswered one ends the connection.
  const subscribeTimeoutMs = options.subscribeTimeoutMs ?? 30_000;
  const rules = applyConnectionRules(client, {
    retryBaseMs: options.reconnectMs ?? 1000,
    random: options.random ?? Math.random,
    subscriptions,
    subscribeTimeoutMs,
    onStep(step, error) {
      if (step.kind === 'subscribed') {
        (step.first ? options.onConnect : options.onResubscribed)?.();
      } else if (step.kind === 'askAgain') {
        news({ kind: 'lost', reason: `subscribe refused (${error?.message}); asking again` });
        // The device still reports (hello, state, telemetry) while it asks again.
        if (step.first) options.onConnect?.();
      } else {
        news({
          kind: 'lost',
          reason: `no answer to SUBSCRIBE within ${subscribeTimeoutMs} ms; connecting again`,
        });
      }
    },
  });
  let connects = 0;
  let up = false; // a loss is news once per connection, not once per failed reconnect
  client.on('connect', (ack) => {
    up = true;
    news({ kind: 'connected', reconnect: connects++ > 0, sessionPresent: ack.sessionPresent });
    // The rules above subscribe on every connect (a clean session holds none): the broker then
    // sends the retained assignment, the current one, which the agent orders by sequence.
    void client
      .publishAsync(willTopic(deviceId), Buffer.from(presence(true)), { qos: 1, retain: true })
      .catch(() => undefined);
  });
  client.on('offline', () => {
    if (up && !closing)
      news({ kind: 'lost', reason: 'lost the connection to the broker; reconnecting' });
    up = false;
    options.onOffline?.();
  });
  client.on('disconnect', (packet) => {
    // MQTT 5 only: the broker says why it ends the connection (0x8E: session taken over).
    const code = packet.reasonCode ?? 0;
    news({
      kind: 'lost',
      reason:
        code === 0x8e
          ? `the broker handed this client id (${deviceId}) to another connection`
          : `the broker disconnected this client (reason code ${code})`,
    });
  });
  // mqtt.js reconnects on its own; refusals are reported for the log, the rest is connected().
  client.on('error', (e: Error & { code?: unknown }) => {
    if (closing) return;
    if (typeof e.code === 'number')
      news({ kind: 'refused', reasonCode: e.code, reason: e.message });
    else news({ kind: 'lost', reason: `broker connection error: ${e.message}` });
  });
  client.on('message', (topic, payload, packet) => {
    try {
      const t = parseTopic(topic);
      const kind: Incoming | undefined =
        t.kind === 'broadcastChunk'
          ? 'blobChunk'
          : (INCOMING as readonly string[]).includes(t.kind)
            ? (t.kind as Incoming)
            : undefined;
      if (!kind || (t.kind !== 'broadcastChunk' && t.deviceId !== deviceId)) return;
      const work = dispatch[kind](payload);
      if (work && packet.messageId !== undefined && packet.qos > 0) {
        pending.set(
          packet.messageId,
          work.catch(() => undefined),
        );
      }
    } catch (e) {
      options.onMalformed?.(topic, toBmfError(e));
    }
  });

  return {
    connected: () => client.connected,
    async publish(kind, message) {
      const spec = TOPIC_SPECS[kind];
      const bytes = encodeMessage(spec.message, message as never);
      await client.publishAsync(deviceTopic(kind, deviceId), Buffer.from(bytes), {
        qos: spec.qos,
        retain: spec.retained,
      });
    },
    async subscribeBroadcast(digest) {
      broadcasts.add(digest);
      await client.subscribeAsync(broadcastChunkTopic(digest), { qos: 0 });
    },
    async unsubscribeBroadcast(digest) {
      broadcasts.delete(digest);
      await client.unsubscribeAsync(broadcastChunkTopic(digest)).catch(() => undefined);
    },
    async close() {
      closing = true;
      rules.stop();
      // Bounded whatever the broker's state (a SIGTERM must end the agent within seconds).
      await endConnection(client, {
        last: () =>
          client.publishAsync(willTopic(deviceId), Buffer.from(presence(false)), {
            qos: 1,
            retain: true,
          }),
      });
    },
  };
}
