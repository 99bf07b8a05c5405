import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  allConfirmed,
  confirm,
  covers,
  coversAfterEnd,
  join,
  newCarousel,
  next,
  type Carousel,
} from '../../../controller/distribution/carousel.js';

interface Case {
  name: string;
  chunkCount: number;
  starters: string[];
  steps: [string, string | number][];
  published: number[];
}

const { cases } = JSON.parse(
  readFileSync(
    new URL('../../fixtures/controller/distribution/carousel.json', import.meta.url),
    'utf8',
  ),
) as { cases: Case[] };

/** Publish until the run is over (bounded, so a carousel that never stops fails the test). */
function drain(c: Carousel, out: number[]): void {
  for (let i = next(c); i !== undefined; i = next(c)) {
    out.push(i);
    if (out.length > 1000) throw new Error('the carousel does not stop');
  }
}

for (const k of cases) {
  t.test(k.name, async (t) => {
    const c = newCarousel(k.chunkCount, k.starters);
    const published: number[] = [];
    for (const [op, arg] of k.steps) {
      if (op === 'join') join(c, String(arg));
      else if (op === 'confirm') confirm(c, String(arg));
      else if (op === 'next') {
        for (let n = 0; n < Number(arg); n++) published.push(next(c) as number);
      } else throw new Error(`unknown step ${op}`);
    }
    drain(c, published);
    t.same(published, k.published);
    t.equal(next(c), undefined, 'over means over');
    // Every participant got every index at least once since its turn started.
    for (const [id, p] of c.joined) {
      const seen = new Set(published.slice(p.from));
      t.equal(seen.size, k.chunkCount, `${id} had a full turn`);
    }
  });
}

t.test('participants are covered; strangers are not; confirmation is tracked', async (t) => {
  const c = newCarousel(4, ['a', 'b']);
  t.ok(covers(c, 'a'));
  t.notOk(covers(c, 'z'), 'a device outside the run is served per device');
  t.notOk(allConfirmed(c));
  confirm(c, 'a');
  t.notOk(allConfirmed(c), 'b has not asked for chunks yet');
  confirm(c, 'b');
  t.ok(allConfirmed(c));
  join(c, 'c');
  t.notOk(allConfirmed(c), 'a new participant has to confirm too');
  t.ok(coversAfterEnd(c, 'a'), 'after the end, a confirmed turn is left to the run');
  t.notOk(coversAfterEnd(c, 'c'), 'an unconfirmed (provisional) turn is served per device');
  t.notOk(coversAfterEnd(c, 'z'));
});
