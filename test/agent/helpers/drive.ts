// Moves a manual clock forward in small steps until a promise settles (modeled-latency sleeps,
// health windows), so tests that wait on "device time" run instantly.
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
    await new Promise((r) => setImmediate(r));
    if (!settled) await clock.advance(stepMs);
  }
  return watched;
}
