// Work on a model's bytes is done in slices with an event-loop turn between them: between two
// turns no more than one slice is copied or hashed. Checked structurally (what ran before each
// injected turn), never by timing.
import { createHash } from 'node:crypto';
import t from 'tap';
import { copyInSlices, copyIntoInSlices, sha256InSlices } from '../../agent/slices.js';
import type { SliceHash } from '../../agent/slices.js';

const SLICE = 1000;

function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i % 251) + 1); // never 0
}

t.test('a copy writes at most one slice between two turns', async (t) => {
  const backing = pattern(10_500);
  const view = backing.subarray(250, 10_250); // a view: its buffer is larger than its bytes
  const target = new Uint8Array(view.byteLength);
  const writtenAtTurn: number[] = [];
  const written = (): number => {
    const i = target.indexOf(0);
    return i < 0 ? target.length : i; // the source has no zero byte
  };
  await copyIntoInSlices(target, view, {
    sliceBytes: SLICE,
    yieldTurn: async () => void writtenAtTurn.push(written()),
  });
  t.same(
    writtenAtTurn,
    [1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => k * SLICE),
    'one slice more at each turn, never more',
  );
  t.same(Buffer.from(target), Buffer.from(view), 'same bytes in the end');
});

t.test('copyInSlices returns a buffer of exactly the view, not its whole backing', async (t) => {
  const backing = pattern(5_000);
  const view = backing.subarray(100, 3_100);
  let turns = 0;
  const out = await copyInSlices(view, { sliceBytes: SLICE, yieldTurn: async () => void turns++ });
  t.equal(out.byteLength, 3_000);
  t.same(Buffer.from(out), Buffer.from(view));
  t.equal(turns, 2, 'three slices, two turns');
  t.equal(backing.byteLength, 5_000, 'the source is left as it was');
});

t.test('sha256InSlices hashes at most one slice per turn, same digest as one update', async (t) => {
  const bytes = pattern(12_345);
  const events: string[] = [];
  const inner = createHash('sha256');
  const hash: SliceHash = {
    update(d) {
      events.push(`update ${d.byteLength}`);
      return inner.update(d);
    },
    digest: (e) => inner.digest(e),
  };
  const hex = await sha256InSlices(bytes, {
    sliceBytes: SLICE,
    hash,
    yieldTurn: async () => void events.push('turn'),
  });
  t.equal(hex, createHash('sha256').update(bytes).digest('hex'), 'same digest');
  const updates = events.filter((e) => e.startsWith('update'));
  t.equal(updates.length, 13, 'thirteen slices');
  t.ok(
    updates.every((u) => Number(u.split(' ')[1]) <= SLICE),
    'no update larger than a slice',
  );
  t.same(
    events.slice(1).filter((e, i) => e.startsWith('update') && events[i] !== 'turn'),
    [],
    'every update after the first follows a turn',
  );
});

t.test('an aborted signal stops between slices', async (t) => {
  const ac = new AbortController();
  let turns = 0;
  await t.rejects(
    sha256InSlices(pattern(5_000), {
      sliceBytes: SLICE,
      signal: ac.signal,
      yieldTurn: async () => {
        turns += 1;
        if (turns === 2) ac.abort();
      },
    }),
    { name: 'AbortError' },
  );
  t.equal(turns, 2, 'stopped at the turn that saw the abort');
});

t.test('empty input: no slice, no turn', async (t) => {
  let turns = 0;
  const yieldTurn = async () => void (turns += 1);
  t.equal((await copyInSlices(new Uint8Array(0), { yieldTurn })).byteLength, 0);
  t.equal(
    await sha256InSlices(new Uint8Array(0), { yieldTurn }),
    createHash('sha256').digest('hex'),
  );
  t.equal(turns, 0);
});
