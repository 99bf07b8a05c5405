// The health window's timer against the clock that judges it. Node's setTimeout counts from the
// event loop's whole-millisecond time, so it can wake up to 1 ms before performance.now() (the
// system clock's now()) says the delay has passed; the window must end all the same.
import t from 'tap';
import { createManualClock, createSystemClock } from '../../../agent/clock.js';
import type { Clock } from '../../../agent/clock.js';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../agent/runtime/sim.js';
import type { ServeEvent } from '../../../agent/serve/types.js';
import { createInferenceService } from '../../../agent/serve/service.js';
import type { RuntimeBackend } from '../../../agent/runtime/types.js';
import { goldenInputs, tinyBundleDigest, tinySpec } from '../../../harness/agent/models.js';
import { waitFor } from '../../../harness/wait.js';
import { drive } from '../helpers/drive.js';

t.test('a window with no traffic ends healthy even when its timer wakes early', async (t) => {
  // Starts between two milliseconds, where a Node timer's whole-millisecond start is earliest.
  const manual = createManualClock(0.5);
  // A Node timer: due when the whole milliseconds since its whole-millisecond start reach the
  // delay (at least 1 ms), judged by a now() that keeps its fraction.
  const clock: Clock = {
    now: () => manual.now(),
    wallNow: () => manual.wallNow(),
    sleep: (ms, signal, options) => {
      const now = manual.now();
      return manual.sleep(Math.floor(now) + Math.max(1, ms) - now, signal, options);
    },
  };
  const events: ServeEvent[] = [];
  const runtime = createSimBackend({ pool: createSimSessionPool(), clock, timing: 'modeled' });
  const service = createInferenceService({
    runtime,
    clock,
    observers: [{ onEvent: (e) => events.push(e) }],
  });
  t.teardown(() => service.close());
  const health = { windowMs: 1000, minRequests: 3, maxErrorRate: 0.5, maxP95Ms: 10_000 };
  await drive(manual, service.variants.install('A', tinySpec('tiny-a'), { health }));
  const healthy = () =>
    events.some((e) => e.kind === 'healthy' && e.bundleDigest === tinyBundleDigest('tiny-a'));
  t.equal(service.variants.lastKnownGood('A'), undefined, 'not yet last-known-good');

  // No request in the window: only its timer can end it. Half-millisecond steps, so the timer
  // wakes at its earliest, half a millisecond before the window is over by now().
  const opened = manual.now();
  while (manual.now() < opened + 990) await manual.advance(0.5);
  t.notOk(healthy(), 'still watching before the window is over');
  while (manual.now() < opened + 1020) await manual.advance(0.5);
  await service.settle();
  t.ok(healthy(), 'the window ended healthy');
  t.equal(service.variants.lastKnownGood('A')?.bundleDigest, tinyBundleDigest('tiny-a'));
  t.equal(manual.pendingSleeps(), 0, 'no timer left behind');
});

t.test('requests the new model answers while the old one drains count in its window', async (t) => {
  // The order is held, not timed: the old model's unload waits until the test lets it go, so
  // the slot has switched to B (B answers requests) while B's activation is not yet announced.
  const clock = createSystemClock();
  const sim = createSimBackend({ pool: createSimSessionPool(), clock, timing: 'host' });
  // Nothing is unloaded before the activation of B: the one unload held is A's.
  let letGo = (): void => undefined;
  const held = new Promise<void>((r) => (letGo = r));
  const runtime: RuntimeBackend = {
    ...sim,
    unload: async (h) => {
      await held;
      return sim.unload(h);
    },
  };
  const events: ServeEvent[] = [];
  const service = createInferenceService({
    runtime,
    clock,
    observers: [{ onEvent: (e) => events.push(e) }],
  });
  t.teardown(() => {
    letGo(); // also when the test fails while it holds the unload
    return service.close();
  });
  await service.variants.install('A', tinySpec('tiny-a'), { knownGood: true });
  const b = tinyBundleDigest('tiny-b');
  await service.variants.prepare('A', tinySpec('tiny-b'));
  await service.variants.gate('A');

  // Any measured latency is above a p95 bound of a nanosecond: three requests regress B.
  const health = { windowMs: 3_600_000, minRequests: 3, maxErrorRate: 0.5, maxP95Ms: 1e-6 };
  const activating = service.variants.activate('A', { health });
  await waitFor(
    'the slot switched to B',
    () => service.variants.slot('A')?.current()?.spec.bundleDigest === b,
  );
  const answers = [];
  for (const feeds of goldenInputs().inputs.slice(0, 3)) {
    answers.push((await service.infer({ kind: 'tensor', feeds })).bundleDigest);
  }
  t.same(answers, [b, b, b], 'B answered all three before its activation was announced');
  t.notOk(
    events.some((e) => e.kind === 'activated' && e.bundleDigest === b),
    'not announced yet',
  );
  letGo();
  await activating;
  const kinds = events
    .filter((e) => 'bundleDigest' in e && e.bundleDigest === b)
    .map((e) => e.kind);
  t.same(kinds, ['activated', 'regressed'], 'the window counted them: announced, then judged');
  t.same([...service.variants.regressed()], ['A']);
});
