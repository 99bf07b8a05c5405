// Simulator sessions shared between the agents of one process (fleet simulation runs hundreds of
// agents that mostly hold the same few models). Keyed by the BMODEL's sha256 digest and reference
// counted: the first acquire creates the onnxruntime session on a thread of its own
// (ort-worker.ts), the last release frees it. Starting a thread and loading onnxruntime into it
// costs 50-100 ms of CPU on a small board; done during a hot-swap it competes with the serving
// thread and was the largest part of the p99 added by swaps (bench/agent.ts). So a spare thread
// is kept ready: a released session's thread is kept (a swap loads B on the spare while A serves,
// then A's thread is the spare for the swap after), and whenever the pool had to start a thread
// for a session (the first model, or two swaps at once), it starts a standby `standbyDelayMs`
// later, away from that model's warm-up and gate. Spares end after `spareIdleMs` only once no
// session is live. The pool is created by the caller and passed in; there is no module-level pool.
import { createSystemClock, runAfter, type Clock, type Timer } from '../clock.js';
import { simulatorGraphLevel } from '../../shared/simulator/graph-level.js';
import { startOrtThread } from './ort-worker.js';
import type { OrtSessionOptions, OrtThread, OrtThreadOptions } from './ort-worker.js';

export type SimSession = Pick<OrtThread, 'run'>;

export interface SimSessionPool {
  /** Returns the shared session for `digest`, creating it from `onnx` the first time. */
  acquire(digest: string, onnx: () => Uint8Array): Promise<SimSession>;
  release(digest: string): Promise<void>;
  /** Digest -> reference count, for tests and /metrics. */
  snapshot(): ReadonlyMap<string, number>;
  /** Threads holding a session, spare threads, and threads started since the pool was made. */
  threads(): { readonly busy: number; readonly spare: number; readonly started: number };
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
  /** How long a spare thread waits, once no session is live, before it ends (default 30 s). */
  readonly spareIdleMs?: number;
  /**
   * After a session had to start its own thread, a standby thread is started this long after
   * (default 1 s; none with `spareThreads` 0), so the next hot-swap finds a spare.
   */
  readonly standbyDelayMs?: number;
  /** How each thread takes a model's bytes (ort-worker.ts). */
  readonly thread?: OrtThreadOptions;
  /** Times the standby start and the spares' idle end (default: the system clock). */
  readonly clock?: Pick<Clock, 'sleep'>;
  /**
   * Where an error of the background timers goes (a standby thread that failed to start): the pool
   * goes on without the spare, and the next acquire starts its own thread and reports its error to
   * its caller. Default: a process warning, so it is seen, never an unhandled error.
   */
  readonly onBackgroundError?: (e: unknown) => void;
}

export function createSimSessionPool(options: SimSessionPoolOptions = {}): SimSessionPool {
  const entries = new Map<string, Entry>();
  const spares: { thread: OrtThread; timer: Timer }[] = [];
  const clock = options.clock ?? createSystemClock();
  // Background timers: a pool waiting to end a spare does not keep the process alive.
  const after = (ms: number, run: () => void): Timer =>
    runAfter(clock, ms, run, {
      keepAlive: false,
      onError:
        options.onBackgroundError ??
        ((e) => process.emitWarning(`session pool: ${String(e)}`, 'BmfleetSessionPool')),
    });
  const maxSpares = options.spareThreads ?? 1;
  const spareIdleMs = options.spareIdleMs ?? 30_000;
  // The graph decides the level (shared/simulator/graph-level.ts): INT8 payloads unfused, so a
  // board simulated on any x86 host answers with the same numbers as the quantize verdict.
  const sessionOptions = (onnx: Uint8Array): OrtSessionOptions => ({
    intraOpNumThreads: options.intraOpNumThreads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: simulatorGraphLevel(onnx),
  });

  const standbyDelayMs = options.standbyDelayMs ?? 1000;
  let started = 0;
  let standbyTimer: Timer | undefined;

  function startThread(): OrtThread {
    started += 1;
    return startOrtThread(options.thread);
  }

  function takeThread(): OrtThread {
    const spare = spares.pop();
    if (!spare) {
      scheduleStandby();
      return startThread();
    }
    spare.timer.cancel();
    return spare.thread;
  }

  function keepSpare(thread: OrtThread): void {
    if (spares.length >= maxSpares) {
      void thread.terminate();
      return;
    }
    const expire = (): void => {
      // Kept while a session is live: the next swap needs it then.
      if (entries.size > 0) {
        spare.timer = after(spareIdleMs, expire);
        return;
      }
      spares.splice(spares.indexOf(spare), 1);
      void thread.terminate();
    };
    const spare = { thread, timer: after(spareIdleMs, expire) };
    spares.push(spare);
  }

  function scheduleStandby(): void {
    if (maxSpares === 0 || standbyTimer) return;
    standbyTimer = after(standbyDelayMs, () => {
      standbyTimer = undefined;
      if (entries.size > 0 && spares.length === 0) keepSpare(startThread());
    });
  }

  return {
    async acquire(digest, onnx) {
      let entry = entries.get(digest);
      if (!entry) {
        const bytes = onnx();
        // Before a thread is taken: a payload the level rule cannot read throws here.
        const created = sessionOptions(bytes);
        const thread = takeThread();
        const ready = thread.create(bytes, created).then(
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
    threads: () => ({ busy: entries.size, spare: spares.length, started }),
  };
}
