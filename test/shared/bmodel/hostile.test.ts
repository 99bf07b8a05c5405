import t from 'tap';
import { readBmodel } from '../../../shared/bmodel/index.js';
import { isBmfError } from '../../../shared/errors.js';
import { fixtureJson, locate, mutate, syntheticBmodel } from './fixtures.js';
import type { Mutation } from './fixtures.js';

interface HostileCase {
  name: string;
  mutation: Mutation;
  code: string;
  offset?: number;
  offsetPath?: string;
}

const { cases } = fixtureJson<{ cases: HostileCase[] }>('hostile-cases.json');
const original = syntheticBmodel();

t.test('the unmutated synthetic BMODEL reads', async (t) => {
  t.equal(readBmodel(original).nets.length, 2);
});

for (const c of cases) {
  t.test(c.name, async (t) => {
    const bytes = mutate(original, c.mutation);
    let thrown: unknown;
    try {
      readBmodel(bytes);
    } catch (e) {
      thrown = e;
    }
    t.ok(isBmfError(thrown), `throws a BmfError, got ${String(thrown)}`);
    if (!isBmfError(thrown)) return;
    t.equal(thrown.code, c.code, thrown.message);
    const offset = thrown.details.offset;
    t.type(offset, 'number', 'details.offset names a byte offset');
    t.ok(
      (offset as number) >= 0 && (offset as number) <= Math.max(bytes.length, 64),
      'offset inside the file',
    );
    if (c.offset !== undefined) t.equal(offset, c.offset);
    if (c.offsetPath !== undefined) t.equal(offset, locate(original, c.offsetPath));
  });
}
