// Chunks of a blob over HTTP Range from the controller (controller/distribution/http.ts,
// `GET /v1/blobs/:digest`, Basic auth with device id + secret). The chunk table still comes from
// the MQTT offer, so every chunk is checked against its sha256 and length by
// PartialBlob.writeChunk exactly as an MQTT chunk is. This source only fills what it can: a chunk
// that fails is left missing for the MQTT loop, and the first refusal (401/403/404, a server that
// ignores Range) or outage (refused connection, timeout, 5xx) ends the HTTP pass for this fetch.
// A body longer than the range asked for is cut off and rejected (TUF "endless data").
import { bmfError, isBmfError, toBmfError } from '../../shared/errors.js';
import type { BmfError } from '../../shared/errors.js';
import type { Clock } from '../clock.js';
import type { PartialBlob } from '../store/partial.js';

/** What the fetcher asks of a second chunk source (see fetcher.ts). */
export interface ChunkSource {
  /** Writes as many missing chunks as it can into `partial`; throws only when `signal` aborts. */
  fill(partial: PartialBlob, signal: AbortSignal): Promise<ChunkSourceResult>;
}

export interface ChunkSourceResult {
  readonly written: number;
  /** Why the pass ended before every chunk was tried; the rest comes over MQTT. */
  readonly stopped?: BmfError;
}

export interface HttpChunkSourceOptions {
  /** Controller base URL, e.g. `http://controller:8480`. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly clock: Clock;
  readonly maxInFlight?: number;
  readonly timeoutMs?: number;
  /** Chunks rejected by their hash or length before this pass gives up on HTTP. */
  readonly maxBadChunks?: number;
  /** Refusals and bad chunks: reported as events (the agent's one error-to-event mapping). */
  readonly onBadInput?: (error: BmfError) => void;
  /** Outages: expected when the controller is down, so logged rather than reported. */
  readonly log?: (message: string) => void;
}

/** How a failed request ends the pass: refused is reported, unavailable only logged. */
type Failure = { kind: 'refused' | 'unavailable' | 'bad-chunk'; error: BmfError };

class RequestFailed extends Error {
  constructor(readonly failure: Failure) {
    super(failure.error.message);
  }
}

function httpError(digest: string, status: number | string, reason: string): BmfError {
  return bmfError('BMF_ERR_AGENT_FETCH', { digest, reason, source: 'http', status });
}

/** Reads at most `length` bytes; more is cut off (the stream is cancelled) and rejected. */
async function readExactly(
  body: ReadableStream<Uint8Array> | null,
  length: number,
  where: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let got = 0;
  const reader = body?.getReader();
  try {
    for (;;) {
      const next = await reader?.read();
      if (!next || next.done) break;
      if (got + next.value.length > length) {
        throw bmfError('BMF_ERR_TRUST_SIZE_MISMATCH', {
          path: where,
          expected: length,
          reason: 'the response is longer than the range asked for',
        });
      }
      out.set(next.value, got);
      got += next.value.length;
    }
  } finally {
    await reader?.cancel().catch(() => undefined);
  }
  if (got !== length) {
    throw bmfError('BMF_ERR_TRUST_SIZE_MISMATCH', {
      path: where,
      expected: length,
      reason: `the response has ${got} bytes`,
    });
  }
  return out;
}

export function createHttpChunkSource(options: HttpChunkSourceOptions): ChunkSource {
  const maxInFlight = options.maxInFlight ?? 4;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxBadChunks = options.maxBadChunks ?? 3;
  const base = options.url.replace(/\/+$/, '');
  const authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;

  async function getChunk(
    partial: PartialBlob,
    index: number,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    const { digest, size, chunkSize } = partial.table;
    const start = index * chunkSize;
    const end = Math.min(size, start + chunkSize) - 1;
    const where = `${digest}#${index}`;
    // The request ends on the caller's abort or on this request's own deadline (injected clock).
    const deadline = new AbortController();
    const timer = new AbortController();
    void options.clock.sleep(timeoutMs, timer.signal).then(
      () => deadline.abort(),
      () => undefined,
    );
    try {
      let res: Response;
      try {
        res = await fetch(`${base}/v1/blobs/${digest}`, {
          headers: { authorization, range: `bytes=${start}-${end}` },
          signal: AbortSignal.any([signal, deadline.signal]),
        });
      } catch (e) {
        signal.throwIfAborted();
        const reason = deadline.signal.aborted
          ? `no response in ${timeoutMs} ms`
          : String((e as Error).cause ?? (e as Error).message);
        throw new RequestFailed({ kind: 'unavailable', error: httpError(digest, 'none', reason) });
      }
      if (res.status !== 206) {
        await res.body?.cancel().catch(() => undefined);
        const kind = res.status >= 500 ? 'unavailable' : 'refused';
        const reason =
          res.status === 200
            ? 'the server ignored the Range header'
            : `HTTP ${res.status} from ${base}`;
        throw new RequestFailed({ kind, error: httpError(digest, res.status, reason) });
      }
      const expectedRange = `bytes ${start}-${end}/${size}`;
      const declared = res.headers.get('content-length');
      if (res.headers.get('content-range') !== expectedRange) {
        await res.body?.cancel().catch(() => undefined);
        const reason = `Content-Range ${res.headers.get('content-range')}, asked for ${expectedRange}`;
        throw new RequestFailed({ kind: 'refused', error: httpError(digest, 206, reason) });
      }
      if (declared !== null && Number(declared) !== end - start + 1) {
        await res.body?.cancel().catch(() => undefined);
        const error = bmfError('BMF_ERR_TRUST_SIZE_MISMATCH', {
          path: where,
          expected: end - start + 1,
          reason: `Content-Length says ${declared}`,
        });
        throw new RequestFailed({ kind: 'bad-chunk', error });
      }
      try {
        return await readExactly(res.body, end - start + 1, where);
      } catch (e) {
        signal.throwIfAborted();
        if (isBmfError(e)) throw new RequestFailed({ kind: 'bad-chunk', error: e });
        const error = httpError(digest, 206, `body: ${(e as Error).message}`);
        throw new RequestFailed({ kind: 'unavailable', error });
      }
    } finally {
      timer.abort();
    }
  }

  return {
    async fill(partial, signal) {
      const queue = partial.missing();
      let written = 0;
      let bad = 0;
      let stopped: BmfError | undefined;
      const stop = (f: Failure): void => {
        if (stopped) return;
        stopped = f.error;
        if (f.kind === 'unavailable') options.log?.(`HTTP blob source: ${f.error.message}`);
        else options.onBadInput?.(f.error);
      };
      const worker = async (): Promise<void> => {
        for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
          if (stopped || signal.aborted) return;
          try {
            const bytes = await getChunk(partial, index, signal);
            // Length and sha256 against the chunk table from the offer, as for MQTT chunks.
            if ((await partial.writeChunk(index, bytes)) === 'written') written++;
          } catch (e) {
            if (signal.aborted) return;
            const failure: Failure =
              e instanceof RequestFailed ? e.failure : { kind: 'bad-chunk', error: toBmfError(e) };
            if (failure.kind !== 'bad-chunk') return stop(failure);
            // Discarded and reported like a tampered MQTT chunk; the MQTT loop fetches it again.
            options.onBadInput?.(failure.error);
            if (++bad >= maxBadChunks) {
              stopped = httpError(partial.table.digest, 206, `${bad} bad chunks`);
              options.log?.(`HTTP blob source: ${stopped.message}`);
            }
          }
        }
      };
      // Every worker settles before returning, so no write races the fetcher closing the blob.
      await Promise.allSettled(Array.from({ length: maxInFlight }, worker));
      signal.throwIfAborted();
      return stopped ? { written, stopped } : { written };
    },
  };
}
