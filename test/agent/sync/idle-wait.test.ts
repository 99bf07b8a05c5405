// The reconcile loop's idle wait (waitForKick) must leave nothing behind on the agent's stop
// signal: one listener per idle pass used to pile up until Node printed
// MaxListenersExceededWarning on every agent that handled more than ten changes.
import { getEventListeners } from 'node:events';
import t from 'tap';
import { createManualClock, createSystemClock } from '../../../agent/clock.js';
import { waitForKick } from '../../../agent/sync/reconcile.js';

for (const [name, clock] of [
  ['system clock', createSystemClock()],
  ['manual clock', createManualClock()],
] as const) {
  t.test(`${name}: many idle passes leave no listener on the stop signal`, async (t) => {
    const stop = new AbortController();
    for (let i = 0; i < 50; i++) {
      let kick: () => void = () => undefined;
      const waiting = waitForKick(clock, 30_000, stop.signal, (wake) => (kick = wake));
      t.equal(getEventListeners(stop.signal, 'abort').length, 1, 'one listener while waiting');
      kick();
      await waiting;
    }
    t.equal(getEventListeners(stop.signal, 'abort').length, 0, 'none after the passes');
    if ('pendingSleeps' in clock) t.equal(clock.pendingSleeps(), 0, 'no sleep left pending');
  });
}

t.test('the wait ends on abort, and at once when already aborted', async (t) => {
  const clock = createManualClock();
  const stop = new AbortController();
  const waiting = waitForKick(clock, 30_000, stop.signal, () => undefined);
  stop.abort();
  await waiting;
  t.equal(clock.pendingSleeps(), 0);
  await waitForKick(clock, 30_000, stop.signal, () => undefined);
  t.pass('an aborted signal does not wait');
});

t.test('the wait ends when its time is up', async (t) => {
  const clock = createManualClock();
  const stop = new AbortController();
  let done = false;
  const waiting = waitForKick(clock, 1000, stop.signal, () => undefined).then(() => (done = true));
  await clock.advance(999);
  t.equal(done, false, 'not before');
  await clock.advance(1);
  await waiting;
  t.equal(done, true, 'at 1000 ms');
});
