// Serves blob chunks over MQTT. A device asks on its blob/req topic for a blob's offer (chunk
// table) and then for chunks; answers go to its own blob/offer and blob/chunk topics. Only blobs
// of bundles in the device's latest assignment are served, so a rogue device cannot pull
// arbitrary blobs. When `broadcastThreshold` devices start fetching the same blob within
// `broadcastWindowMs`, a broadcast run starts: a carousel (carousel.ts) publishes the chunks on
// bmf/v1/blob/{digest}/chunk (QoS 0), and every device asking for the offer while it turns joins
// it and gets one full turn, so a rollout wave is served by one run. A participant's chunk
// requests are left to the run while it turns; after it, whatever a device still misses (QoS 0
// may lose messages) is repaired per device. Publishing awaits the link's write callback
// (mqtt.js calls it once its socket drained; aedes answers the next message only after writing
// this one to every subscriber's socket), so nothing piles up in the controller; it does not
// mean delivered: loopback socket buffers hold seconds of chunks for slow devices (measured by
// the fleet benchmark), which is why repair waits for the run's end.
//
// INVARIANTS: at most one broadcast run per blob at a time; per device at most
// `maxInFlightPerDevice` and over all devices at most `maxRepairsInFlight` chunk reads+publishes
// run at once (bounding the chunk bytes buffered in the controller), and per device at most
// `maxQueuedPerDevice` wait.
import { runAfter, type Clock } from '../../shared/clock.js';
import { toBmfError, type BmfError } from '../../shared/errors.js';
import { decodeMessage, encodeMessage } from '../../shared/wire/codec.js';
import type { BlobChunkRequest } from '../../shared/wire/messages.js';
import { broadcastChunkTopic, deviceTopic } from '../../shared/wire/topics.js';
import type { Registry } from '../registry/registry.js';
import type { AssignmentService, Publish } from './assignments.js';
import {
  allConfirmed,
  confirm,
  covers,
  coversAfterEnd,
  join,
  newCarousel,
  next,
  type Carousel,
} from './carousel.js';
import { computeChunkTable, readChunk, type ChunkTable } from './chunk-table.js';
import type { Digest } from '../../shared/ids.js';

export const DEFAULT_CHUNK_SIZE = 256 * 1024;

export interface BlobServerOptions {
  readonly registry: Pick<Registry, 'blobPath' | 'blobSize' | 'blobsOf'>;
  readonly assignments: Pick<AssignmentService, 'latest'>;
  readonly publish: Publish;
  /** For chunk data (broadcast and per device); defaults to `publish`. */
  readonly publishChunk?: Publish;
  /** Stamps fetch starts and settle windows and times a run's start delay. */
  readonly clock: Pick<Clock, 'wallNow' | 'sleep'>;
  readonly chunkSize?: number;
  /** Distinct devices starting a fetch of one blob within the window that trigger a broadcast. */
  readonly broadcastThreshold?: number;
  readonly broadcastWindowMs?: number;
  /**
   * After a run ends, its participants' chunk requests are ignored for this long: requests sent
   * during the run reach the controller late when it is busy (measured by the fleet benchmark:
   * serving them sent hundreds of MiB of chunks the devices already had). A device that really
   * misses a chunk asks again after its own timeout.
   */
  readonly broadcastSettleMs?: number;
  /**
   * A run publishes its first chunk once every device that joined so far holds the offer, or
   * after this long: offers sent before the chunks reach devices ahead of them (an offer sent
   * during a run queues behind the chunks already on the way, which the device must drop, and
   * the run turns longer for it).
   */
  readonly broadcastStartDelayMs?: number;
  /** Indices beyond this in one request are ignored (the device asks again). */
  readonly maxChunksPerRequest?: number;
  readonly maxInFlightPerDevice?: number;
  readonly maxQueuedPerDevice?: number;
  /** Per-device chunk publishes in flight over all devices. */
  readonly maxRepairsInFlight?: number;
  readonly onDropped?: (reason: string, err: BmfError) => void;
}

export interface BlobServerStats {
  readonly offers: number;
  readonly refused: number;
  readonly dropped: number;
  readonly perDevice: { readonly chunks: number; readonly bytes: number };
  readonly broadcast: {
    readonly runs: number;
    readonly chunks: number;
    readonly bytes: number;
    /** Devices that joined a run (a device joins each run of a blob it fetches at most once). */
    readonly participants: number;
  };
  /** Per-device chunk requests left to a broadcast run that had yet to send them. */
  readonly coveredByBroadcast: number;
  /** Blob requests handled to the end (answered, their chunks queued), refused and bad ones too. */
  readonly requests: number;
  /** Per-device chunks queued or being read and published now. */
  readonly chunksPending: number;
}

interface Job {
  readonly digest: Digest;
  readonly index: number;
  readonly requestId: string;
}

interface DeviceQueue {
  readonly jobs: Job[];
  running: number;
}

interface BroadcastState {
  /** device id -> time it asked for the offer */
  readonly starters: Map<string, number>;
  run?: { readonly carousel: Carousel; readonly done: Promise<void>; onConfirm(): void };
  /** The last run that ended, and until when its participants' requests are still left to it. */
  ended?: { readonly carousel: Carousel; readonly settleUntil: number };
}

export function createBlobServer(opts: BlobServerOptions) {
  const { registry, assignments, publish, clock } = opts;
  const publishChunk = opts.publishChunk ?? publish;
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const threshold = opts.broadcastThreshold ?? 3;
  const windowMs = opts.broadcastWindowMs ?? 2000;
  const settleMs = opts.broadcastSettleMs ?? 1000;
  const startDelayMs = opts.broadcastStartDelayMs ?? 300;
  const maxPerRequest = opts.maxChunksPerRequest ?? 256;
  const maxInFlight = opts.maxInFlightPerDevice ?? 8;
  const maxQueued = opts.maxQueuedPerDevice ?? 1024;
  const maxRepairs = opts.maxRepairsInFlight ?? 16;
  let repairsRunning = 0;
  const dropped = (reason: string, e: unknown): void => {
    counts.dropped++;
    // After close() the sinks behind onDropped (the store) may be gone already.
    if (!closed) opts.onDropped?.(reason, toBmfError(e));
  };

  const tables = new Map<string, Promise<ChunkTable>>();
  const queues = new Map<string, DeviceQueue>();
  const broadcasts = new Map<string, BroadcastState>();
  const allowed = new Map<string, { sequence: number; blobs: Set<string> }>();
  let closed = false;
  const counts = {
    offers: 0,
    refused: 0,
    dropped: 0,
    perDevice: { chunks: 0, bytes: 0 },
    broadcast: { runs: 0, chunks: 0, bytes: 0, participants: 0 },
    coveredByBroadcast: 0,
    requests: 0,
  };

  /** Computed once per blob; a failed computation is forgotten so a later request retries. */
  function tableOf(digest: Digest): Promise<ChunkTable> {
    let t = tables.get(digest);
    if (!t) {
      t = (async () =>
        computeChunkTable(
          await registry.blobPath(digest),
          digest,
          await registry.blobSize(digest),
          chunkSize,
        ))();
      t.catch(() => tables.delete(digest));
      tables.set(digest, t);
    }
    return t;
  }

  async function mayFetch(deviceId: string, digest: string): Promise<boolean> {
    const latest = await assignments.latest(deviceId);
    if (!latest) return false;
    let entry = allowed.get(deviceId);
    if (!entry || entry.sequence !== latest.assignment.sequence) {
      const blobs = new Set<string>();
      for (const v of latest.assignment.variants) {
        for (const b of await registry.blobsOf(v.bundle.digest)) blobs.add(b);
      }
      entry = { sequence: latest.assignment.sequence, blobs };
      allowed.set(deviceId, entry);
    }
    return entry.blobs.has(digest);
  }

  async function refuse(deviceId: string, req: BlobChunkRequest, code: string): Promise<void> {
    counts.refused++;
    await publish(
      deviceTopic('blobOffer', deviceId),
      encodeMessage('BlobOffer', {
        digest: req.digest,
        size: 0,
        chunkSize: 0,
        chunkSha256: [],
        requestId: req.requestId,
        errorCode: code,
      }),
      { qos: 1 },
    );
  }

  function chunkMessage(table: ChunkTable, index: number, data: Uint8Array, requestId: string) {
    return encodeMessage('BlobChunk', {
      digest: table.digest,
      index,
      data,
      chunkCount: table.chunkCount,
      requestId,
    });
  }

  function startBroadcast(digest: string, state: BroadcastState, table: ChunkTable): void {
    const carousel = newCarousel(table.chunkCount, state.starters.keys());
    counts.broadcast.participants += carousel.joined.size;
    state.starters.clear();
    let ready!: () => void;
    const started = new Promise<void>((resolve) => (ready = resolve));
    // Resolving a promise cannot throw: nothing reaches onError.
    const timer = runAfter(clock, startDelayMs, ready, {
      keepAlive: false,
      onError: () => undefined,
    });
    const run = {
      carousel,
      done: Promise.resolve(),
      onConfirm: () => {
        if (allConfirmed(carousel)) ready();
      },
    };
    state.run = run;
    counts.broadcast.runs++;
    run.done = (async () => {
      try {
        const path = await registry.blobPath(digest);
        const topic = broadcastChunkTopic(digest);
        await started;
        timer.cancel();
        for (let i = next(carousel); i !== undefined && !closed; i = next(carousel)) {
          const bytes = chunkMessage(table, i, await readChunk(path, table, i), '');
          await publishChunk(topic, bytes, { qos: 0 });
          counts.broadcast.chunks++;
          counts.broadcast.bytes += bytes.length;
        }
      } catch (e) {
        dropped('broadcast', e);
      } finally {
        state.run = undefined;
        state.ended = { carousel, settleUntil: clock.wallNow() + settleMs };
      }
    })();
  }

  function noteStarter(deviceId: string, table: ChunkTable): void {
    const digest = table.digest;
    let state = broadcasts.get(digest);
    if (!state) {
      state = { starters: new Map() };
      broadcasts.set(digest, state);
    }
    if (state.run) {
      const before = state.run.carousel.joined.size;
      join(state.run.carousel, deviceId);
      counts.broadcast.participants += state.run.carousel.joined.size - before;
      return;
    }
    const now = clock.wallNow();
    state.starters.set(deviceId, now);
    for (const [id, at] of state.starters) if (now - at > windowMs) state.starters.delete(id);
    if (state.starters.size >= threshold) startBroadcast(digest, state, table);
  }

  /** Start queued jobs within the per-device and the overall limits. */
  function pump(deviceId: string, q: DeviceQueue): void {
    while (q.running < maxInFlight && repairsRunning < maxRepairs && q.jobs.length > 0) {
      if (closed) return;
      const job = q.jobs.shift() as Job;
      q.running++;
      repairsRunning++;
      serveChunk(deviceId, job)
        .catch((e: unknown) => dropped('chunk', e))
        .finally(() => {
          q.running--;
          repairsRunning--;
          if (q.running === 0 && q.jobs.length === 0) queues.delete(deviceId);
          else pump(deviceId, q);
          pumpOthers();
        });
    }
  }

  /** A freed overall slot goes to the devices waiting longest (Map order = arrival order). */
  function pumpOthers(): void {
    if (closed) return;
    const waiting = [...queues].filter(([, q]) => q.running === 0 && q.jobs.length > 0);
    for (const [id, q] of waiting) {
      if (repairsRunning >= maxRepairs) return;
      // To the back of the line, so devices take turns.
      queues.delete(id);
      queues.set(id, q);
      pump(id, q);
    }
  }

  /** A running broadcast run, or one that ended moments ago, answers this device's requests. */
  function leftToBroadcast(deviceId: string, digest: string): boolean {
    const state = broadcasts.get(digest);
    if (state?.run) return covers(state.run.carousel, deviceId);
    const ended = state?.ended;
    if (!state || !ended) return false;
    if (clock.wallNow() >= ended.settleUntil) {
      state.ended = undefined;
      return false;
    }
    return coversAfterEnd(ended.carousel, deviceId);
  }

  async function serveChunk(deviceId: string, job: Job): Promise<void> {
    if (leftToBroadcast(deviceId, job.digest)) {
      counts.coveredByBroadcast++;
      return;
    }
    const table = await tableOf(job.digest);
    const data = await readChunk(await registry.blobPath(job.digest), table, job.index);
    const bytes = chunkMessage(table, job.index, data, job.requestId);
    await publishChunk(deviceTopic('blobChunk', deviceId), bytes, { qos: 0 });
    counts.perDevice.chunks++;
    counts.perDevice.bytes += bytes.length;
  }

  async function handle(deviceId: string, req: BlobChunkRequest): Promise<void> {
    if (!(await mayFetch(deviceId, req.digest))) {
      await refuse(deviceId, req, 'BMF_ERR_FORBIDDEN');
      return;
    }
    let table: ChunkTable;
    try {
      table = await tableOf(req.digest);
    } catch (e) {
      await refuse(deviceId, req, toBmfError(e).code);
      return;
    }
    if (req.wantOffer) {
      counts.offers++;
      await publish(
        deviceTopic('blobOffer', deviceId),
        encodeMessage('BlobOffer', {
          digest: req.digest,
          size: table.size,
          chunkSize: table.chunkSize,
          chunkSha256: [...table.chunkSha256],
          requestId: req.requestId,
          errorCode: '',
        }),
        { qos: 1 },
      );
      noteStarter(deviceId, table);
    }
    if (req.indices.length === 0) return;
    const run = broadcasts.get(req.digest)?.run;
    if (run) {
      confirm(run.carousel, deviceId);
      run.onConfirm();
    }
    if (leftToBroadcast(deviceId, req.digest)) {
      counts.coveredByBroadcast += req.indices.length;
      return;
    }
    let q = queues.get(deviceId);
    if (!q) {
      q = { jobs: [], running: 0 };
      queues.set(deviceId, q);
    }
    const wanted = req.indices.slice(0, maxPerRequest);
    for (const index of wanted) {
      if (index >= table.chunkCount || q.jobs.length >= maxQueued) {
        counts.dropped++;
        continue;
      }
      q.jobs.push({ digest: req.digest, index, requestId: req.requestId });
    }
    pump(deviceId, q);
  }

  async function decodeAndHandle(deviceId: string, payload: Uint8Array): Promise<void> {
    let req: BlobChunkRequest;
    try {
      req = decodeMessage('BlobChunkRequest', payload);
    } catch (e) {
      dropped('blobRequest', e);
      return;
    }
    try {
      await handle(deviceId, req);
    } catch (e) {
      dropped('blobRequest', e);
    }
  }

  /** The link's blobRequest handler. Never throws: bad input is counted and dropped. */
  async function handleRequest(deviceId: string, payload: Uint8Array): Promise<void> {
    if (closed) return;
    await decodeAndHandle(deviceId, payload);
    counts.requests++;
  }

  return {
    handleRequest,
    attach(link: {
      on(kind: 'blobRequest', h: (id: string, p: Uint8Array) => Promise<void>): void;
    }) {
      link.on('blobRequest', handleRequest);
    },
    /** Whether `digest` belongs to a bundle of the device's latest assignment. */
    mayFetch,
    stats(): BlobServerStats {
      return {
        ...counts,
        perDevice: { ...counts.perDevice },
        broadcast: { ...counts.broadcast },
        chunksPending: [...queues.values()].reduce((n, q) => n + q.jobs.length + q.running, 0),
      };
    },
    /** Stop serving; waits for running broadcasts to stop. */
    async close(): Promise<void> {
      closed = true;
      await Promise.all([...broadcasts.values()].map((s) => s.run?.done));
    },
  };
}
export type BlobServer = ReturnType<typeof createBlobServer>;
