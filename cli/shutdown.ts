// How the long-running commands (`agent`, `controller`) end. The first SIGTERM or SIGINT stops
// the program in order (each part's own waits are bounded); a second one, or a stop that takes
// longer than `graceMs`, ends the process at once with a non-zero code. Handles that outlive a
// finished stop (a socket a peer never closed) cannot keep the process alive either.
import type { Logger } from '../shared/log.js';

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
type StopSignal = keyof typeof SIGNALS;

export interface ShutdownOptions {
  readonly log: Logger;
  readonly stop: () => Promise<void>;
  /** The whole shutdown, from the first signal to exit (service managers wait about this). */
  readonly graceMs?: number;
}

/** Waits for the first signal, stops, and returns the exit code (0 when the stop finished). */
export async function runUntilSignal(opts: ShutdownOptions): Promise<number> {
  const graceMs = opts.graceMs ?? 5000;
  const names = Object.keys(SIGNALS) as StopSignal[];
  const first = await new Promise<StopSignal>((resolve) => {
    const handlers = names.map((s) => [s, () => done(s)] as const);
    const done = (s: StopSignal): void => {
      for (const [name, h] of handlers) process.off(name, h);
      resolve(s);
    };
    for (const [name, h] of handlers) process.on(name, h);
  });
  // From here on, any signal ends the process at once (the listeners stay until exit).
  for (const s of names) {
    process.on(s, () => {
      opts.log.warn({ signal: s }, `${s} again: exiting at once`);
      process.exit(128 + SIGNALS[s]);
    });
  }
  opts.log.info({ signal: first }, `${first}: stopping (a second signal ends at once)`);
  const watchdog = setTimeout(() => {
    opts.log.error({ graceMs }, `stop did not finish within ${graceMs} ms: exiting`);
    process.exit(1);
  }, graceMs);
  try {
    await opts.stop();
  } finally {
    clearTimeout(watchdog);
  }
  // Unreferenced: fires only if something else still holds the event loop open.
  setTimeout(() => {
    opts.log.warn('handles still open after the stop: exiting');
    process.exit(0);
  }, 500).unref();
  return 0;
}
