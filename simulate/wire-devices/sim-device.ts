// A lightweight simulated device that speaks the device side of the wire protocol with a real
// MQTT connection: receive the signed assignment, fetch every blob of the assigned bundle
// (offer -> chunk requests, accepting the broadcast chunks too, each checked against the offer's
// sha256 table, gaps re-requested), then report the bundle active in DeviceState. It keeps no
// blob bytes (only a bitmap), so hundreds fit in one process. Used until the agent program
// (agent/main.ts) exists; the bundle's file list comes from the controller API (`bundleFiles`),
// standing in for the manifest fetch the agent does.
import { createHash, randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { applyConnectionRules } from '../../agent/sync/connection-rules.js';
import { mqttServers } from '../../shared/config/broker-url.js';
import { decodeMessage, encodeMessage } from '../../shared/wire/codec.js';
import type { BlobOffer } from '../../shared/wire/messages.js';
import { createStateOrder } from '../../shared/wire/state-order.js';
import {
  broadcastChunkTopic,
  deviceTopic,
  parseTopic,
  willTopic,
} from '../../shared/wire/topics.js';
import { parseDeviceId, parseDigest } from '../../shared/ids.js';

export interface SimDeviceOptions {
  readonly brokerUrl: string;
  /** Further broker nodes, tried in turn when the connection is lost (as the agent's link). */
  readonly failoverUrls?: readonly string[];
  /**
   * Report the state again this often, as the agent does after every reconcile pass (at least
   * every 30 s); only on changes when absent.
   */
  readonly stateEveryMs?: number;
  readonly id: string;
  readonly secret: string;
  readonly bundleFiles: (bundleDigest: string) => Promise<readonly string[]>;
  readonly maxInFlight?: number;
  /** No chunk for this long: request the missing ones per device. */
  readonly repairAfterMs?: number;
  readonly onActive?: (id: string, bundle: string) => void;
  /** Every signed assignment received, redeliveries included, before it is judged. */
  readonly onAssignment?: (id: string, sequence: number, bundle: string) => void;
  /** The first reconnect's ceiling, as the agent's `reconnectMs` (1 s). */
  readonly reconnectMs?: number;
  /** Uniform in [0, 1): the reconnect and SUBSCRIBE retry jitter; tests pass their own. */
  readonly random?: () => number;
  /** A SUBSCRIBE unanswered this long ends the connection (30 s, as the agent's link). */
  readonly subscribeTimeoutMs?: number;
  /** Not subscribed (nor refused, as an agent reports then) this long after connecting: fail. */
  readonly startTimeoutMs?: number;
}

interface Fetch {
  readonly digest: string;
  offer?: BlobOffer;
  have: Uint8Array;
  got: number;
  requested: Set<number>;
  lastProgress: number;
  done: () => void;
}

export interface SimDevice {
  readonly id: string;
  /** The device's MQTT connection (the fleet benchmark's baseline subscribes with it). */
  readonly client: MqttClient;
  activeBundle(): string | undefined;
  /** Messages dropped as malformed. */
  malformed(): number;
  close(): Promise<void>;
}

// Hundreds of simulated devices share a process (and two cores with the broker), and each
// receives the same broadcast chunks: a chunk whose bytes equal ones that already passed the
// sha256 check in this process is accepted by comparing the bytes, not hashed again. Every
// device still checks every byte it accepts. Bounded: a few blobs' worth of chunks.
const verified = new Map<string, Buffer>();
const MAX_VERIFIED = 64;

function chunkMatches(expected: Uint8Array, data: Uint8Array): boolean {
  const key = Buffer.from(expected).toString('hex');
  const seen = verified.get(key);
  if (seen) return seen.equals(data);
  if (!createHash('sha256').update(data).digest().equals(expected)) return false;
  if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value as string);
  verified.set(key, Buffer.from(data));
  return true;
}

export async function startSimDevice(o: SimDeviceOptions): Promise<SimDevice> {
  const maxInFlight = o.maxInFlight ?? 8;
  const repairAfterMs = o.repairAfterMs ?? 5000;
  // The ids as the wire carries them, checked once here.
  const deviceId = parseDeviceId(o.id);
  const presence = (online: boolean) =>
    Buffer.from(encodeMessage('Presence', { deviceId, online, timeMs: Date.now() }));
  const servers = mqttServers(o.brokerUrl, o.failoverUrls);
  const client: MqttClient = await mqtt.connectAsync(o.brokerUrl, {
    ...(servers.length > 0 ? { servers } : {}),
    clientId: o.id,
    username: o.id,
    password: o.secret,
    protocolVersion: 4,
    // Drawn before every reconnect by the connection rules below; never 0 (no reconnect).
    reconnectPeriod: o.reconnectMs ?? 1000,
    // A clean session on every connection, as the agent's link (agent/sync/link.ts says why and
    // what makes up for the queue it drops).
    clean: true,
    // Subscribed on every connect below: mqtt.js's own resubscription drops a topic whose
    // SUBACK refused it, and never asks again.
    resubscribe: false,
    will: { topic: willTopic(o.id), payload: presence(false), qos: 1, retain: true },
  });
  let active: string | undefined;
  let current: Fetch | undefined;
  let sequence = 0;

  const request = (digest: string, indices: number[], wantOffer: boolean) =>
    client.publishAsync(
      deviceTopic('blobRequest', o.id),
      Buffer.from(
        encodeMessage('BlobChunkRequest', {
          requestId: randomUUID(),
          digest: parseDigest(digest),
          indices,
          wantOffer,
        }),
      ),
      { qos: 1 },
    );

  function topUp(f: Fetch): void {
    if (!f.offer) return;
    const want: number[] = [];
    const outstanding = [...f.requested].filter((i) => !f.have[i]).length;
    for (let i = 0; i < f.have.length && outstanding + want.length < maxInFlight; i++) {
      if (!f.have[i] && !f.requested.has(i)) want.push(i);
    }
    for (const i of want) f.requested.add(i);
    if (want.length) void request(f.digest, want, false);
  }

  function onChunk(digest: string, index: number, data: Uint8Array, perDevice: boolean): void {
    const f = current;
    if (!f?.offer || f.digest !== digest || index >= f.have.length || f.have[index]) return;
    const expected = f.offer.chunkSha256[index];
    if (!expected || !chunkMatches(expected, data)) return; // corrupt: re-requested later
    f.have[index] = 1;
    f.got++;
    f.lastProgress = Date.now();
    if (f.got === f.have.length) f.done();
    // Served per device: keep the window full. A broadcast chunk asks for nothing (the run
    // owes this device a full turn; the repair timer covers what it loses).
    else if (perDevice) topUp(f);
  }

  async function fetchBlob(digest: string): Promise<void> {
    await client.subscribeAsync(broadcastChunkTopic(digest), { qos: 0 });
    await new Promise<void>((resolve) => {
      const f: Fetch = {
        digest,
        have: new Uint8Array(0),
        got: 0,
        requested: new Set(),
        lastProgress: Date.now(),
        done: resolve,
      };
      current = f;
      void request(digest, [], true);
      // Repair: no progress for a while (QoS 0 chunks lost, offer lost) -> ask again.
      const timer = setInterval(() => {
        if (Date.now() - f.lastProgress < repairAfterMs) return;
        f.lastProgress = Date.now();
        f.requested.clear();
        if (!f.offer) void request(digest, [], true);
        else topUp(f);
      }, 100);
      const finish = f.done;
      f.done = () => {
        clearInterval(timer);
        finish();
      };
    });
    current = undefined;
    // Not awaited: the UNSUBACK queues behind whatever broadcast chunks the broker still has
    // for this device, and the install must not wait for it.
    client.unsubscribe(broadcastChunkTopic(digest));
  }

  // What the agent reports (agent/sync/device-state.ts): the installed assignment's sequence,
  // which the controller compares with the one it persisted to send a lost copy again.
  let installed: { bundleSequence: number; assignmentSequence: number } | undefined;
  // Ordered as an agent orders its reports, one boot per device.
  const nextStateOrder = createStateOrder();
  const publishState = () =>
    client.publishAsync(
      deviceTopic('state', o.id),
      Buffer.from(
        encodeMessage('DeviceState', {
          deviceId,
          active:
            active !== undefined && installed
              ? [
                  {
                    variant: 'A',
                    bundleDigest: parseDigest(active),
                    bundleSequence: installed.bundleSequence,
                  },
                ]
              : [],
          lastKnownGood: [],
          assignmentSequence: installed?.assignmentSequence ?? 0,
          status: installed ? 'active' : sequence > 0 ? 'syncing' : 'idle',
          lastErrorCode: '',
          uptimeMs: 0,
          timeMs: Date.now(),
          ...nextStateOrder(),
        }),
      ),
      { qos: 1, retain: true },
    );

  async function install(bundle: string, bundleSequence: number, assignmentSequence: number) {
    for (const blob of await o.bundleFiles(bundle)) await fetchBlob(blob);
    active = bundle;
    installed = { bundleSequence, assignmentSequence };
    await publishState();
    o.onActive?.(o.id, bundle);
  }

  let malformed = 0;
  let closed = false;
  client.on('message', (topic, payload) => {
    try {
      handleMessage(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    } catch {
      malformed++; // like the agent: bad input is dropped, never fatal
    }
  });

  function handleMessage(topic: string, bytes: Uint8Array): void {
    const t = parseTopic(topic);
    if (t.kind === 'assignment') {
      const { envelope } = decodeMessage('SignedAssignment', bytes);
      const doc = JSON.parse(Buffer.from(envelope).toString('utf8')) as {
        signed: { sequence: number; variants: { bundle: { digest: string; sequence: number } }[] };
      };
      const v = doc.signed.variants[0];
      if (v) o.onAssignment?.(o.id, doc.signed.sequence, v.bundle.digest);
      if (!v || doc.signed.sequence <= sequence) return;
      const before = sequence;
      sequence = doc.signed.sequence;
      if (v.bundle.digest === active) return;
      // A failed install (the broker or the controller replica it asked went away) is tried
      // again a little later, like the agent's reconcile loop, unless a newer assignment came.
      const mine = sequence;
      install(v.bundle.digest, v.bundle.sequence, sequence).catch(() => {
        if (sequence !== mine) return;
        current = undefined;
        sequence = before;
        setTimeout(() => {
          if (sequence === before && !closed) handleMessage(topic, bytes);
        }, 2_000).unref();
      });
    } else if (t.kind === 'blobOffer') {
      const offer = decodeMessage('BlobOffer', bytes);
      const f = current;
      if (!f || f.digest !== offer.digest || f.offer || offer.errorCode) return;
      f.offer = offer;
      f.have = new Uint8Array(offer.chunkSha256.length);
      // Ask right away, like the agent: the controller serves the chunks per device, or leaves
      // them to a broadcast run this device joined (and then starts its turn of the run here);
      // the repair timer asks again for whatever has not arrived.
      f.lastProgress = Date.now();
      topUp(f);
    } else if (t.kind === 'blobChunk' || t.kind === 'broadcastChunk') {
      const c = decodeMessage('BlobChunk', bytes);
      onChunk(c.digest, c.index, c.data, t.kind === 'blobChunk');
    }
  }

  // Connections behave as the agent's link's (agent/sync/connection-rules.ts), so a simulated
  // reconnect storm is the agents' storm: jittered reconnect waits; a subscription on every
  // connection (the clean session holds none; the retained assignment comes with it), asked
  // again with the same jitter when refused (NATS 2.9 answers 0x80 when it cannot make a
  // JetStream consumer within 4 s), the connection given up when a SUBSCRIBE goes unanswered.
  // Where the agent reports (a granted subscription, or the first refusal) the device says it is
  // online and reports its state: a device behind the controller gets its assignment sent again.
  const topics = () => ({
    [deviceTopic('assignment', o.id)]: { qos: 1 as const },
    [deviceTopic('blobOffer', o.id)]: { qos: 1 as const },
    [deviceTopic('blobChunk', o.id)]: { qos: 0 as const },
    ...(current && { [broadcastChunkTopic(current.digest)]: { qos: 0 as const } }),
  });
  let reported: () => void = () => undefined;
  const firstReport = new Promise<void>((resolve) => (reported = resolve));
  const report = async () => {
    await client
      .publishAsync(deviceTopic('presence', o.id), presence(true), { qos: 1, retain: true })
      .catch(() => undefined);
    await publishState().catch(() => undefined);
    reported();
  };
  const rules = applyConnectionRules(client, {
    retryBaseMs: o.reconnectMs ?? 1000,
    random: o.random ?? Math.random,
    subscriptions: topics,
    subscribeTimeoutMs: o.subscribeTimeoutMs ?? 30_000,
    onStep(step) {
      if (step.kind === 'subscribed' || (step.kind === 'askAgain' && step.first)) void report();
    },
  });
  // A device that never reaches the point where an agent reports is not started: the caller
  // connects it again (its own retries), as `bmfleet simulate` does.
  let startTimer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'gave up'>((resolve) => {
    startTimer = setTimeout(() => resolve('gave up'), o.startTimeoutMs ?? 60_000);
  });
  const started = await Promise.race([firstReport, gaveUp]);
  clearTimeout(startTimer);
  if (started === 'gave up') {
    rules.stop();
    closed = true;
    await client.endAsync(true);
    throw new Error(`${o.id}: not subscribed within ${o.startTimeoutMs ?? 60_000} ms`);
  }

  // Two reports of one device may be handled by two controller replicas at once and stored in
  // either order: a later report puts the device's current state back, as the agent's does.
  const restate =
    o.stateEveryMs === undefined
      ? undefined
      : setInterval(() => void publishState().catch(() => undefined), o.stateEveryMs).unref();

  return {
    id: o.id,
    client,
    activeBundle: () => active,
    malformed: () => malformed,
    close: () => {
      closed = true;
      rules.stop();
      clearInterval(restate);
      return client.endAsync();
    },
  };
}
