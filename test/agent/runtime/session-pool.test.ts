// The simulator's session pool keeps a spare thread ready while a session is live, so a hot-swap
// (acquire B while A serves, then release A) never starts a thread itself; with no session live,
// spares end after their idle time.
import t from 'tap';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { goldenInputs, sha256, tinyOnnx } from '../../../harness/agent/models.js';
import { createManualClock } from '../../../agent/clock.js';

const feeds = goldenInputs().inputs[0]!;

t.test('a standby thread is ready before a swap and the swap starts none', async (t) => {
  const clock = createManualClock();
  const pool = createSimSessionPool({ standbyDelayMs: 10, spareIdleMs: 50, clock });
  const [a, b] = [tinyOnnx('tiny-a'), tinyOnnx('tiny-b')];
  const serving = await pool.acquire(sha256(a), () => a);
  t.equal(pool.threads().busy, 1, 'the first session starts a thread');
  t.equal(pool.threads().spare, 0, 'no standby before its delay');
  await clock.advance(10);
  t.equal(pool.threads().spare, 1, 'a standby thread after it');
  t.equal(pool.threads().started, 2, 'and one standby');

  // The swap: the candidate loads on the standby thread beside the serving session.
  const candidate = await pool.acquire(sha256(b), () => b);
  t.same(pool.threads(), { busy: 2, spare: 0, started: 2 }, 'the swap took the standby');
  t.ok((await candidate.run(feeds)).length > 0, 'the candidate runs on it');
  await pool.release(sha256(a));
  t.same(pool.threads(), { busy: 1, spare: 1, started: 2 }, "the old model's thread is spare");
  t.equal(clock.pendingSleeps(), 1, "only the spare's idle timer is pending, no standby");
  await clock.advance(10);
  t.equal(pool.threads().started, 2, 'no thread started for a standby that was given back');
  t.ok((await serving.run(feeds).catch((e: unknown) => e)) instanceof Error, 'A is released');

  // The spare outlives its idle time while a session is live, and ends once none is.
  await clock.advance(120);
  t.equal(pool.threads().spare, 1, 'kept while B serves');
  await pool.release(sha256(b));
  t.equal(pool.threads().spare, 1, 'kept until its idle time has passed');
  await clock.advance(50);
  t.same(pool.threads(), { busy: 0, spare: 0, started: 2 }, 'and ended after it');
});

t.test('spareThreads 0 keeps no standby', async (t) => {
  const clock = createManualClock();
  const pool = createSimSessionPool({ spareThreads: 0, standbyDelayMs: 0, clock });
  const a = tinyOnnx('tiny-a');
  await pool.acquire(sha256(a), () => a);
  t.equal(clock.pendingSleeps(), 0, 'no standby timer');
  await clock.advance(1000);
  t.same(pool.threads(), { busy: 1, spare: 0, started: 1 });
  await pool.release(sha256(a));
  t.same(pool.threads(), { busy: 0, spare: 0, started: 1 });
});

t.test('a payload the level rule cannot read is refused before a thread is taken', async (t) => {
  const pool = createSimSessionPool({ spareThreads: 0 });
  const garbage = Uint8Array.from([0x3a, 0xff, 0xff, 0x03, 0x01]);
  await t.rejects(
    pool.acquire(sha256(garbage), () => garbage),
    {
      code: 'BMF_ERR_BMODEL_UNSUPPORTED',
    },
  );
  t.same(pool.threads(), { busy: 0, spare: 0, started: 0 }, 'no thread started or held');
  t.equal(pool.snapshot().size, 0);
});
