// Simulator sessions shared between the agents of one process (fleet simulation runs hundreds of
// agents that mostly hold the same few models). Keyed by the BMODEL's sha256 digest and reference
// counted: the first acquire creates the onnxruntime session, the last release frees it. The pool
// is created by the caller and passed in; there is no module-level pool.
import * as ort from 'onnxruntime-node';
import { bmfError } from '../../shared/errors.js';

export interface SimSession {
  readonly session: ort.InferenceSession;
}

export interface SimSessionPool {
  /** Returns the shared session for `digest`, creating it from `onnx` the first time. */
  acquire(digest: string, onnx: () => Uint8Array): Promise<SimSession>;
  release(digest: string): Promise<void>;
  /** Digest -> reference count, for tests and /metrics. */
  snapshot(): ReadonlyMap<string, number>;
}

interface Entry {
  refs: number;
  ready: Promise<SimSession>;
}

export interface SimSessionPoolOptions {
  /** onnxruntime threads per session; 1 keeps many agents on a small board from oversubscribing. */
  readonly intraOpNumThreads?: number;
}

export function createSimSessionPool(options: SimSessionPoolOptions = {}): SimSessionPool {
  const entries = new Map<string, Entry>();
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.intraOpNumThreads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };

  return {
    async acquire(digest, onnx) {
      let entry = entries.get(digest);
      if (!entry) {
        const ready = ort.InferenceSession.create(onnx(), sessionOptions).then(
          (session) => ({ session }),
          (e: unknown) => {
            entries.delete(digest);
            throw bmfError(
              'BMF_ERR_RUNTIME_LOAD',
              { reason: `onnxruntime rejected the simulator payload: ${(e as Error).message}` },
              { cause: e },
            );
          },
        );
        entry = { refs: 0, ready };
        entries.set(digest, entry);
      }
      entry.refs += 1;
      try {
        return await entry.ready;
      } catch (e) {
        entry.refs -= 1;
        throw e;
      }
    },
    async release(digest) {
      const entry = entries.get(digest);
      if (!entry) return;
      entry.refs -= 1;
      if (entry.refs > 0) return;
      entries.delete(digest);
      const { session } = await entry.ready;
      await session.release();
    },
    snapshot: () => new Map([...entries].map(([d, e]) => [d, e.refs])),
  };
}
