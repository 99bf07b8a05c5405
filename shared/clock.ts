// Time for the agent and the controller, injected everywhere so tests control it: reading it
// (`now`, `wallNow`) and waiting on it (`sleep`, and the timers below built on it) go through one
// interface, so a manual clock moves every wait a part has. `sleep` rejects with BMF_ERR_ABORTED
// when the signal fires.
import { bmfError } from './errors.js';

export interface Clock {
  /** Milliseconds; only differences are meaningful (monotonic for the system clock). */
  now(): number;
  /** Wall-clock milliseconds since the epoch (expiry checks, report timestamps). */
  wallNow(): number;
  sleep(ms: number, signal?: AbortSignal, options?: SleepOptions): Promise<void>;
}

export interface SleepOptions {
  /**
   * False for background timers (flushes, prunes, ticks) that must not keep the process alive on
   * their own, as an unref'd Node timer. Default true.
   */
  readonly keepAlive?: boolean;
}

function abortedError(signal: AbortSignal): Error {
  return bmfError('BMF_ERR_ABORTED', { reason: String(signal.reason ?? 'aborted') });
}

export function createSystemClock(): Clock {
  return {
    now: () => performance.now(),
    wallNow: () => Date.now(),
    sleep: (ms, signal, options) =>
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
        if (options?.keepAlive === false) timer.unref();
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

/** A pending timer; `cancel()` is idempotent and safe after it fired. */
export interface Timer {
  cancel(): void;
}

const quietAbort = (): void => undefined;

/**
 * A timer's options. `onError` is required: a timer's callback has no caller to throw to, and an
 * error it drops silently (a failed flush, prune or look) is found only when its effect is.
 */
export interface TimerOptions extends SleepOptions {
  readonly onError: (e: unknown) => void;
}

/**
 * Runs `run` once after `ms` on `clock`, unless cancelled first. An error thrown by `run` goes to
 * `onError`, as runEvery's do: never to an unhandled rejection, which ends the process.
 */
export function runAfter(
  clock: Pick<Clock, 'sleep'>,
  ms: number,
  run: () => void,
  options: TimerOptions,
): Timer {
  const ac = new AbortController();
  clock.sleep(ms, ac.signal, options).then(() => {
    if (ac.signal.aborted) return;
    try {
      run();
    } catch (e) {
      options.onError(e);
    }
  }, quietAbort);
  return { cancel: () => ac.abort() };
}

/**
 * Runs `run` every `ms` on `clock` until cancelled (the next wait starts when `run` returns, as
 * setInterval's would for a synchronous callback). An error thrown by `run` goes to `onError`
 * and the timer keeps running.
 */
export function runEvery(
  clock: Pick<Clock, 'sleep'>,
  ms: number,
  run: () => void,
  options: TimerOptions,
): Timer {
  const ac = new AbortController();
  const loop = async (): Promise<void> => {
    for (;;) {
      await clock.sleep(ms, ac.signal, options);
      if (ac.signal.aborted) return;
      try {
        run();
      } catch (e) {
        options.onError(e);
      }
    }
  };
  loop().catch(quietAbort);
  return { cancel: () => ac.abort() };
}

/** What a part that only stamps and compares times needs (the controller's stored times). */
export type WallClock = Pick<Clock, 'wallNow'>;
