// The agent's notion of time, injected everywhere so tests control it (STYLE.md: clocks and
// AbortSignals are injected). `sleep` rejects with BMF_ERR_ABORTED when the signal fires.
import { bmfError } from '../shared/errors.js';

export interface Clock {
  /** Milliseconds; only differences are meaningful (monotonic for the system clock). */
  now(): number;
  /** Wall-clock milliseconds since the epoch (expiry checks, report timestamps). */
  wallNow(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function abortedError(signal: AbortSignal): Error {
  return bmfError('BMF_ERR_ABORTED', { reason: String(signal.reason ?? 'aborted') });
}

export function createSystemClock(): Clock {
  return {
    now: () => performance.now(),
    wallNow: () => Date.now(),
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(abortedError(signal));
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(abortedError(signal as AbortSignal));
        };
        const timer = setTimeout(
          () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          Math.max(0, ms),
        );
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
  };
}

/** A clock moved by hand: `advance(ms)` resolves every sleep whose deadline has passed. */
export interface ManualClock extends Clock {
  advance(ms: number): Promise<void>;
  pendingSleeps(): number;
}

export function createManualClock(start = 0, wallStart = Date.UTC(2026, 0, 1)): ManualClock {
  let t = start;
  const wallOffset = wallStart - start;
  const sleepers: { at: number; resolve: () => void }[] = [];
  return {
    now: () => t,
    wallNow: () => t + wallOffset,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(abortedError(signal));
        const entry = { at: t + ms, resolve };
        sleepers.push(entry);
        signal?.addEventListener(
          'abort',
          () => {
            const i = sleepers.indexOf(entry);
            if (i >= 0) sleepers.splice(i, 1);
            reject(abortedError(signal));
          },
          { once: true },
        );
      }),
    async advance(ms) {
      t += ms;
      for (;;) {
        const due = sleepers.filter((s) => s.at <= t);
        if (due.length === 0) break;
        for (const s of due) {
          sleepers.splice(sleepers.indexOf(s), 1);
          s.resolve();
        }
        // Let the woken tasks run (and possibly sleep again) before looking once more.
        await new Promise((r) => setImmediate(r));
      }
    },
    pendingSleeps: () => sleepers.length,
  };
}
