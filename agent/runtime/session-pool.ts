// Simulator sessions shared between the agents of one process (fleet simulation runs hundreds of
// agents that mostly hold the same few models). Keyed by the BMODEL's sha256 digest and reference
// counted: the first acquire creates the onnxruntime session on a thread of its own
// (ort-worker.ts), the last release frees it. Starting a thread and loading onnxruntime into it
// costs tens of milliseconds of CPU, so a released session's thread is kept as a spare for the
// next model (a swap loads B while A serves, then A's thread waits for the swap after) and ended
// when it has been idle for `spareIdleMs`. The pool is created by the caller and passed in; there
// is no module-level pool.
import { startOrtThread } from './ort-worker.js';
import type { OrtSessionOptions, OrtThread } from './ort-worker.js';

export type SimSession = Pick<OrtThread, 'run'>;

export interface SimSessionPool {
  /** Returns the shared session for `digest`, creating it from `onnx` the first time. */
  acquire(digest: string, onnx: () => Uint8Array): Promise<SimSession>;
  release(digest: string): Promise<void>;
  /** Digest -> reference count, for tests and /metrics. */
  snapshot(): ReadonlyMap<string, number>;
}

interface Entry {
  refs: number;
  readonly thread: OrtThread;
  readonly ready: Promise<SimSession>;
}

export interface SimSessionPoolOptions {
  /** onnxruntime threads per session; 1 keeps many agents on a small board from oversubscribing. */
  readonly intraOpNumThreads?: number;
  /** Threads kept for the next session after theirs was released (default 1). */
  readonly spareThreads?: number;
  /** How long a spare thread waits for a session before it ends (default 30 s). */
  readonly spareIdleMs?: number;
}

export function createSimSessionPool(options: SimSessionPoolOptions = {}): SimSessionPool {
  const entries = new Map<string, Entry>();
  const spares: { thread: OrtThread; timer: NodeJS.Timeout }[] = [];
  const maxSpares = options.spareThreads ?? 1;
  const spareIdleMs = options.spareIdleMs ?? 30_000;
  const sessionOptions: OrtSessionOptions = {
    intraOpNumThreads: options.intraOpNumThreads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };

  function takeThread(): OrtThread {
    const spare = spares.pop();
    if (!spare) return startOrtThread();
    clearTimeout(spare.timer);
    return spare.thread;
  }

  function keepSpare(thread: OrtThread): void {
    if (spares.length >= maxSpares) {
      void thread.terminate();
      return;
    }
    const spare = {
      thread,
      timer: setTimeout(() => {
        spares.splice(spares.indexOf(spare), 1);
        void thread.terminate();
      }, spareIdleMs),
    };
    spare.timer.unref();
    spares.push(spare);
  }

  return {
    async acquire(digest, onnx) {
      let entry = entries.get(digest);
      if (!entry) {
        const thread = takeThread();
        const ready = thread.create(onnx(), sessionOptions).then(
          () => thread,
          (e: unknown) => {
            entries.delete(digest);
            void thread.terminate();
            throw e;
          },
        );
        entry = { refs: 0, thread, ready };
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
      await entry.ready;
      try {
        await entry.thread.release();
      } catch {
        await entry.thread.terminate(); // a thread in doubt is not reused
        return;
      }
      keepSpare(entry.thread);
    },
    snapshot: () => new Map([...entries].map(([d, e]) => [d, e.refs])),
  };
}
