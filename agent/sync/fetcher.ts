// Chunked blob fetch over MQTT. Ask for the blob's offer (size, chunk size, per-chunk sha256
// table), then request missing chunks with several in flight, accept the same blob's chunks the
// controller broadcasts to many devices at once, check each chunk against the table and persist
// it with the bitmap (store/partial.ts), and move the finished blob into the store. A blob the
// store has is never fetched; a transfer interrupted by a disconnect or restart resumes from its
// bitmap. Never more than the declared size is accepted (TUF "endless data"). When a second
// chunk source is configured (HTTP Range, http-chunks.ts) it fills what it can after the offer,
// and the MQTT loop below fetches whatever it left missing.
import { randomUUID } from 'node:crypto';
import { bmfError, isBmfError, toBmfError } from '../../shared/errors.js';
import type { BmfError } from '../../shared/errors.js';
import { MAX_MANIFEST_BYTES } from '../../shared/trust/assignment.js';
import type { WireMessages } from '../../shared/wire/messages.js';
import type { Clock } from '../clock.js';
import type { BlobStore } from '../store/blob-store.js';
import { openPartial } from '../store/partial.js';
import type { ChunkTable, PartialBlob } from '../store/partial.js';
import type { ChunkSource } from './http-chunks.js';
import type { AgentLink } from './link.js';
import type { Digest } from '../../shared/ids.js';

const MAX_CHUNK_SIZE = 8 << 20;
const MAX_BLOB_SIZE = 4 * 1024 ** 3;

export interface BlobFetcherOptions {
  readonly link: Pick<AgentLink, 'publish' | 'subscribeBroadcast' | 'unsubscribeBroadcast'>;
  readonly store: BlobStore;
  readonly partialDir: string;
  readonly clock: Clock;
  readonly maxInFlight?: number;
  /** A request with no progress for this long is sent again. */
  readonly requestTimeoutMs?: number;
  /** Requests without any progress before the fetch fails (the loop retries later with backoff). */
  readonly maxStalls?: number;
  /** A chunk failed its hash, or the offer was unusable: reported as an event. */
  readonly onBadInput?: (error: BmfError) => void;
  /** Tried first for the missing chunks (HTTP Range from the controller), MQTT for the rest. */
  readonly chunkSource?: ChunkSource;
  /**
   * Bound on a blob fetched without a declared size (a manifest named by an assignment of an
   * older controller): MAX_MANIFEST_BYTES by default. Every other fetch has its exact size.
   */
  readonly maxUndeclaredBytes?: number;
}

interface Transfer {
  offer: ((o: WireMessages['BlobOffer']) => void) | undefined;
  partial: PartialBlob | undefined;
  /** Chunks that arrived before the offer was processed are dropped; they are requested again. */
  wake: () => void;
  inflight: Set<number>;
}

export interface BlobFetcher {
  fetch(digest: Digest, declaredSize: number | undefined, signal: AbortSignal): Promise<void>;
  handleOffer(offer: WireMessages['BlobOffer']): void;
  handleChunk(chunk: WireMessages['BlobChunk']): void;
}

/** The chunk table of blob `digest` (the offer was routed to its transfer by that digest). */
function tableFromOffer(
  digest: Digest,
  o: WireMessages['BlobOffer'],
  declared: number | undefined,
  undeclaredLimit: number,
): ChunkTable {
  if (o.errorCode) {
    throw bmfError('BMF_ERR_AGENT_FETCH', {
      digest: o.digest,
      reason: `controller: ${o.errorCode}`,
    });
  }
  if (declared !== undefined && o.size !== declared) {
    throw bmfError('BMF_ERR_TRUST_SIZE_MISMATCH', {
      path: o.digest,
      expected: declared,
      reason: `the offer says ${o.size} bytes`,
    });
  }
  if (declared === undefined && o.size > undeclaredLimit) {
    throw bmfError('BMF_ERR_AGENT_BLOB_TOO_LARGE', {
      digest: o.digest,
      size: o.size,
      limit: undeclaredLimit,
    });
  }
  if (o.size > MAX_BLOB_SIZE || o.chunkSize <= 0 || o.chunkSize > MAX_CHUNK_SIZE) {
    throw bmfError('BMF_ERR_AGENT_FETCH', {
      digest: o.digest,
      reason: `offer of ${o.size} bytes in chunks of ${o.chunkSize} is outside the limits`,
    });
  }
  return {
    digest,
    size: o.size,
    chunkSize: o.chunkSize,
    chunkHashes: o.chunkSha256.map((h) => Buffer.from(h).toString('hex')),
  };
}

export function createBlobFetcher(options: BlobFetcherOptions): BlobFetcher {
  const { link, store, clock } = options;
  const maxInFlight = options.maxInFlight ?? 8;
  const timeoutMs = options.requestTimeoutMs ?? 5000;
  const maxStalls = options.maxStalls ?? 5;
  const transfers = new Map<Digest, Transfer>();

  async function waitFor(t: Transfer, signal: AbortSignal): Promise<boolean> {
    // Aborted before the wait began (during a publish): no 'abort' event would come.
    signal.throwIfAborted();
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let progressed = false;
    const progress = new Promise<void>((resolve) => {
      t.wake = () => {
        progressed = true;
        resolve();
      };
    });
    try {
      await Promise.race([progress, clock.sleep(timeoutMs, stop.signal).catch(() => undefined)]);
    } finally {
      stop.abort();
      signal.removeEventListener('abort', onAbort);
      t.wake = () => undefined;
    }
    signal.throwIfAborted();
    return progressed;
  }

  async function getOffer(
    t: Transfer,
    digest: Digest,
    signal: AbortSignal,
  ): Promise<WireMessages['BlobOffer']> {
    for (let stall = 0; stall < maxStalls; stall++) {
      let got: WireMessages['BlobOffer'] | undefined;
      t.offer = (o) => {
        got = o;
        t.wake();
      };
      await link.publish('blobRequest', {
        requestId: randomUUID(),
        digest,
        indices: [],
        wantOffer: true,
      });
      await waitFor(t, signal);
      if (got) return got;
    }
    throw bmfError('BMF_ERR_AGENT_FETCH', { digest, reason: 'no offer from the controller' });
  }

  async function fetch(
    digest: Digest,
    declaredSize: number | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    if (await store.has(digest)) return;
    if (transfers.has(digest)) {
      throw bmfError('BMF_ERR_AGENT_FETCH', { digest, reason: 'already being fetched' });
    }
    const t: Transfer = {
      offer: undefined,
      partial: undefined,
      wake: () => undefined,
      inflight: new Set(),
    };
    transfers.set(digest, t);
    try {
      await link.subscribeBroadcast(digest);
      const offer = await getOffer(t, digest, signal);
      let table: ChunkTable;
      try {
        table = tableFromOffer(
          digest,
          offer,
          declaredSize,
          options.maxUndeclaredBytes ?? MAX_MANIFEST_BYTES,
        );
      } catch (e) {
        options.onBadInput?.(toBmfError(e));
        throw e;
      }
      t.partial = await openPartial(store, options.partialDir, table);
      if (options.chunkSource && t.partial.missing().length > 0) {
        await options.chunkSource.fill(t.partial, signal);
      }
      let stalls = 0;
      for (;;) {
        const missing = t.partial.missing();
        if (missing.length === 0) break;
        const ask = missing
          .filter((i) => !t.inflight.has(i))
          .slice(0, Math.max(0, maxInFlight - t.inflight.size));
        if (ask.length > 0) {
          for (const i of ask) t.inflight.add(i);
          await link.publish('blobRequest', {
            requestId: randomUUID(),
            digest,
            indices: ask,
            wantOffer: false,
          });
        }
        if (await waitFor(t, signal)) {
          stalls = 0;
        } else {
          // Nothing arrived in time: whatever was in flight is asked for again.
          t.inflight.clear();
          if (++stalls >= maxStalls) {
            throw bmfError('BMF_ERR_AGENT_FETCH', {
              digest,
              reason: `no chunk for ${stalls} requests`,
            });
          }
        }
      }
      await t.partial.complete();
    } finally {
      await t.partial?.close();
      transfers.delete(digest);
      await link.unsubscribeBroadcast(digest);
    }
  }

  return {
    fetch,
    handleOffer(offer) {
      transfers.get(offer.digest)?.offer?.(offer);
    },
    handleChunk(chunk) {
      const t = transfers.get(chunk.digest);
      const partial = t?.partial;
      if (!t || !partial) return; // not fetching it (yet): a broadcast for others, or early
      partial.writeChunk(chunk.index, chunk.data).then(
        () => {
          t.inflight.delete(chunk.index);
          t.wake();
        },
        (e: unknown) => {
          // Not progress: the chunk is asked for again when this round times out.
          t.inflight.delete(chunk.index);
          if (isBmfError(e)) options.onBadInput?.(e);
        },
      );
    },
  };
}
