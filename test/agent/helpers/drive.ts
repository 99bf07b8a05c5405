// Moves a manual clock forward in small steps until a promise settles (modeled-latency sleeps,
// health windows), so tests that wait on "device time" run quickly. Between steps it waits a
// real millisecond, not just a turn of the event loop: inference replies come from a worker
// thread, and device time must not race ahead (past a health window) while one is on its way.
import type { ManualClock } from '../../../agent/clock.js';

export async function drive<T>(
  clock: ManualClock,
  p: Promise<T>,
  stepMs = 10,
  maxSteps = 10_000,
): Promise<T> {
  let settled = false;
  const watched = p.finally(() => {
    settled = true;
  });
  for (let i = 0; i < maxSteps && !settled; i++) {
    await new Promise((r) => setTimeout(r, 1));
    if (!settled) await clock.advance(stepMs);
  }
  return watched;
}
