// The timers both programs build on the injected clock: they fire when the clock reaches them,
// not before, and never after being cancelled.
import t from 'tap';
import type { Test } from 'tap';
import { createManualClock, createSystemClock, runAfter, runEvery } from '../../shared/clock.js';

const noError = (t: Test) => ({ onError: (e: unknown) => t.fail(`timer error: ${String(e)}`) });

t.test('runAfter fires once at its deadline and not after cancel', async (t) => {
  const clock = createManualClock();
  const fired: number[] = [];
  runAfter(clock, 10, () => fired.push(clock.now()), noError(t));
  const cancelled = runAfter(clock, 10, () => fired.push(-1), noError(t));
  cancelled.cancel();
  await clock.advance(9);
  t.same(fired, [], 'not before the deadline');
  await clock.advance(1);
  t.same(fired, [10], 'once at the deadline; the cancelled one never');
  cancelled.cancel(); // idempotent
  await clock.advance(100);
  t.same(fired, [10]);
  t.equal(clock.pendingSleeps(), 0, 'nothing left waiting');
});

t.test('runEvery repeats, reports errors without stopping, stops on cancel', async (t) => {
  const clock = createManualClock();
  const at: number[] = [];
  const errors: unknown[] = [];
  const timer = runEvery(
    clock,
    5,
    () => {
      at.push(clock.now());
      if (at.length === 2) throw new Error('boom');
    },
    { onError: (e) => errors.push(e) },
  );
  await clock.advance(4);
  t.same(at, []);
  // The next wait starts when a run ends (a jump of the clock fires a timer once, as a late
  // setInterval would): step through three periods.
  for (let i = 0; i < 3; i++) await clock.advance(i === 0 ? 1 : 5);
  t.same(at, [5, 10, 15], 'every 5 ms, also after a run that threw');
  t.equal(errors.length, 1);
  timer.cancel();
  await clock.advance(50);
  t.same(at, [5, 10, 15], 'nothing after cancel');
  t.equal(clock.pendingSleeps(), 0);
});

t.test('the system clock runs a background timer and cancels it', async (t) => {
  const clock = createSystemClock();
  // Something else keeps the process alive while waiting: the timer under test does not.
  const guard = setInterval(() => undefined, 1000);
  const fired = await new Promise<boolean>((resolve) =>
    runAfter(clock, 1, () => resolve(true), { keepAlive: false, ...noError(t) }),
  );
  clearInterval(guard);
  t.ok(fired, 'a background timer fires while something else keeps the process alive');
  const timer = runEvery(clock, 1, () => t.fail('cancelled timer ran'), {
    keepAlive: false,
    ...noError(t),
  });
  timer.cancel();
});

t.test('a timer says where its errors go: onError is required and gets them', async (t) => {
  const clock = createManualClock();
  const run = (): void => {
    throw new Error('flush failed');
  };
  // Type checks (tsc -p tsconfig.json): a timer without onError does not compile.
  // @ts-expect-error onError is required
  runAfter(clock, 1, run, { keepAlive: false }).cancel();
  // @ts-expect-error onError is required
  runEvery(clock, 1, run).cancel();
  const errors: string[] = [];
  const onError = (e: unknown) => errors.push((e as Error).message);
  runAfter(clock, 1, run, { onError });
  const every = runEvery(clock, 1, run, { onError });
  await clock.advance(1);
  every.cancel();
  t.same(errors, ['flush failed', 'flush failed'], 'both timers hand their error over');
});
