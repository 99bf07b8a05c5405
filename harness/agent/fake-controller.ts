// A real aedes broker on an ephemeral port and a small stand-in for the controller's
// distribution: it publishes signed assignments (retained) and answers blob requests with offers
// and chunks, optionally broadcasting chunks or tampering with one, as the real one will.
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { decodeMessage, encodeMessage } from '../../shared/wire/codec.js';
import { broadcastChunkTopic, deviceTopic, parseTopic } from '../../shared/wire/topics.js';
import { sha256 } from './models.js';

export interface FakeControllerOptions {
  readonly chunkSize?: number;
  /** Send chunks on the broadcast topic instead of the device's own topic. */
  readonly broadcast?: boolean;
  /** Called for every chunk request before the chunks are sent (crash tests kill the device here). */
  readonly onChunkRequest?: (deviceId: string, digest: string, indices: readonly number[]) => void;
}

export interface FakeController {
  readonly url: string;
  readonly port: number;
  readonly blobs: Map<string, Uint8Array>;
  readonly chunkRequests: { deviceId: string; digest: string; indices: number[] }[];
  readonly telemetry: Uint8Array[];
  readonly events: {
    code: string;
    message: string;
    variant: string;
    bundleDigest: string;
    details: Record<string, string>;
  }[];
  readonly states: { status: string; active: { variant: string; bundleDigest: string }[] }[];
  /** Requests for `digest` go unanswered (a stalled transfer). */
  ignore(digest: string): void;
  /** Offers of `digest` declare `size` bytes (and a chunk table to match) instead of the truth. */
  offerSize(digest: string, size: number): void;
  /** Corrupt the next send of chunk `index` of `digest` once. */
  tamperOnce(digest: string, index: number): void;
  /**
   * Publish a signed assignment, retained (QoS 1 by default; QoS 0 reaches only connected
   * devices and the retained copy, never a persistent session's queue).
   */
  assign(deviceId: string, envelope: Uint8Array, options?: { qos?: 0 | 1 }): Promise<void>;
  /** Called for every PUBACK a client sends (a QoS 1 message delivered to it was acknowledged). */
  onDeviceAck(listener: (clientId: string) => void): void;
  /** Publish arbitrary bytes (malformed-input tests). */
  publishRaw(topic: string, bytes: Uint8Array): Promise<void>;
  /** Stop and restart the broker's listener (an outage); retained state survives. */
  outage(): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export async function startFakeController(
  options: FakeControllerOptions = {},
  port = 0,
): Promise<FakeController> {
  const chunkSize = options.chunkSize ?? 1024;
  const broker = await Aedes.createBroker();
  const ackListeners: ((deviceId: string) => void)[] = [];
  broker.on('ack', (_packet, client) => {
    // aedes does not always hand back the acknowledged packet, so listeners get the device only.
    if (client?.id) for (const l of ackListeners) l(client.id);
  });
  let server: Server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const actualPort = (server.address() as AddressInfo).port;
  const url = `mqtt://127.0.0.1:${actualPort}`;
  const blobs = new Map<string, Uint8Array>();
  const tampered = new Set<string>();
  const offerSizes = new Map<string, number>();
  const ignored = new Set<string>();
  const chunkRequests: FakeController['chunkRequests'] = [];
  const telemetry: Uint8Array[] = [];
  const events: FakeController['events'] = [];
  const states: FakeController['states'] = [];
  const client: MqttClient = await connectAsync(url, {
    clientId: 'fake-controller',
    clean: false, // messages published while it reconnects are kept for it
    protocolVersion: 4,
    reconnectPeriod: 200,
  });
  await client.subscribeAsync(
    ['bmf/v1/d/+/blob/req', 'bmf/v1/d/+/telemetry', 'bmf/v1/d/+/events', 'bmf/v1/d/+/state'],
    { qos: 1 },
  );

  client.on('message', (topic, payload) => {
    const t = parseTopic(topic);
    if (t.kind === 'broadcastChunk') return;
    if (t.kind === 'telemetry') telemetry.push(payload);
    if (t.kind === 'event') {
      const e = decodeMessage('Event', payload);
      events.push({
        code: e.code,
        message: e.message,
        variant: e.variant,
        bundleDigest: e.bundleDigest,
        details: { ...e.details },
      });
    }
    if (t.kind === 'state') {
      const s = decodeMessage('DeviceState', payload);
      states.push({ status: s.status, active: s.active });
    }
    if (t.kind !== 'blobRequest') return;
    const req = decodeMessage('BlobChunkRequest', payload);
    const blob = blobs.get(req.digest);
    const deviceId = t.deviceId;
    if (ignored.has(req.digest)) return;
    const lie = offerSizes.get(req.digest);
    if (req.wantOffer && lie !== undefined) {
      const size = lie;
      const chunkSize8 = 4 << 20; // MAX_CHUNK_BYTES
      const offer = {
        digest: req.digest,
        size,
        chunkSize: chunkSize8,
        chunkSha256: Array.from({ length: Math.ceil(size / chunkSize8) }, () => Buffer.alloc(32)),
        requestId: req.requestId,
        errorCode: '',
      };
      void client.publishAsync(
        deviceTopic('blobOffer', deviceId),
        Buffer.from(encodeMessage('BlobOffer', offer)),
        { qos: 1 },
      );
      return;
    }
    if (req.wantOffer) {
      const chunks = blob ? Math.ceil(blob.length / chunkSize) : 0;
      const offer = blob
        ? {
            digest: req.digest,
            size: blob.length,
            chunkSize,
            chunkSha256: Array.from({ length: chunks }, (_, i) =>
              Buffer.from(sha256(blob.subarray(i * chunkSize, (i + 1) * chunkSize)), 'hex'),
            ),
            requestId: req.requestId,
            errorCode: '',
          }
        : {
            digest: req.digest,
            size: 0,
            chunkSize: 0,
            chunkSha256: [],
            requestId: req.requestId,
            errorCode: 'BMF_ERR_NOT_FOUND',
          };
      void client.publishAsync(
        deviceTopic('blobOffer', deviceId),
        Buffer.from(encodeMessage('BlobOffer', offer)),
        { qos: 1 },
      );
    }
    if (!blob || req.indices.length === 0) return;
    chunkRequests.push({ deviceId, digest: req.digest, indices: req.indices });
    options.onChunkRequest?.(deviceId, req.digest, req.indices);
    for (const index of req.indices) {
      let data = Uint8Array.from(blob.subarray(index * chunkSize, (index + 1) * chunkSize));
      const key = `${req.digest}:${index}`;
      if (tampered.delete(key)) {
        data = Uint8Array.from(data);
        data[0] = (data[0] ?? 0) ^ 0xff;
      }
      const chunk = encodeMessage('BlobChunk', {
        digest: req.digest,
        index,
        data,
        chunkCount: Math.ceil(blob.length / chunkSize),
        requestId: options.broadcast ? '' : req.requestId,
      });
      const topic = options.broadcast
        ? broadcastChunkTopic(req.digest)
        : deviceTopic('blobChunk', deviceId);
      void client.publishAsync(topic, Buffer.from(chunk), { qos: 0 });
    }
  });

  return {
    url,
    port: actualPort,
    blobs,
    chunkRequests,
    telemetry,
    events,
    states,
    tamperOnce: (digest, index) => void tampered.add(`${digest}:${index}`),
    offerSize: (digest, size) => void offerSizes.set(digest, size),
    ignore: (digest) => void ignored.add(digest),
    async assign(deviceId, envelope, opts = {}) {
      await client.publishAsync(
        deviceTopic('assignment', deviceId),
        Buffer.from(encodeMessage('SignedAssignment', { envelope })),
        { qos: opts.qos ?? 1, retain: true },
      );
    },
    onDeviceAck: (listener) => void ackListeners.push(listener),
    async publishRaw(topic, bytes) {
      await client.publishAsync(topic, Buffer.from(bytes), { qos: 1 });
    },
    async outage() {
      // Drop every connection and stop listening; the broker keeps its sessions and retained messages.
      await new Promise<void>((r) => {
        server.close(() => r());
        for (const c of Object.values(
          (broker as unknown as { clients: Record<string, { close: () => void }> }).clients,
        ))
          c.close();
      });
      return async () => {
        server = createServer(broker.handle);
        await new Promise<void>((r) => server.listen(actualPort, '127.0.0.1', r));
      };
    },
    async close() {
      await client.endAsync(true);
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}
