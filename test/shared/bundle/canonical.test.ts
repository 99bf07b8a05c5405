import t from 'tap';
import { readFileSync } from 'node:fs';
import { canonicalBytes, canonicalJson } from '../../../shared/bundle/canonical.js';

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/trust/canonical.json', import.meta.url), 'utf8'),
) as { encodes: { name: string; value: unknown; text: string }[] };

for (const row of fixture.encodes) {
  t.test(row.name, async (t) => {
    t.equal(canonicalJson(row.value), row.text);
    t.same(Buffer.from(canonicalBytes(row.value)), Buffer.from(row.text, 'utf8'));
    // Re-encoding the parsed output is a fixed point.
    t.equal(canonicalJson(JSON.parse(row.text)), row.text);
  });
}

t.test('same value in any key order gives the same bytes', async (t) => {
  const a = { name: 'm', files: [{ sha256: 'x', size: 1 }], meta: { p: 1, q: [1, 2] } };
  const b = { meta: { q: [1, 2], p: 1 }, files: [{ size: 1, sha256: 'x' }], name: 'm' };
  t.same(canonicalBytes(a), canonicalBytes(b));
  t.not(canonicalJson({ q: [2, 1] }), canonicalJson({ q: [1, 2] }), 'array order is significant');
  t.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}', 'undefined member = absent');
});

const rejects: [string, unknown][] = [
  ['NaN', { x: NaN }],
  ['Infinity', [1, Infinity]],
  ['-Infinity', -Infinity],
  ['bigint', { n: 1n }],
  ['function', { f: () => 1 }],
  ['undefined array item', [1, undefined]],
  ['Date', { d: new Date(0) }],
  ['typed array', { b: new Uint8Array(2) }],
];
for (const [name, value] of rejects) {
  t.test(`rejects ${name}`, async (t) => {
    t.throws(() => canonicalBytes(value), { code: 'BMF_ERR_TRUST_DOCUMENT_INVALID' });
  });
}

t.test('rejects nesting past the depth limit', async (t) => {
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = [deep];
  t.throws(() => canonicalBytes(deep), { code: 'BMF_ERR_TRUST_DOCUMENT_INVALID' });
});
