import t from 'tap';
import { readFileSync } from 'node:fs';
import { isBmfError } from '../../../shared/errors.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';

interface Cases {
  valid: { name: string; input: unknown; expected: unknown }[];
  invalid: { name: string; input: unknown; field: string }[];
}
const cases = JSON.parse(
  readFileSync(new URL('../../fixtures/preprocess/spec-cases.json', import.meta.url), 'utf8'),
) as Cases;

t.test('valid specs come out complete and frozen', async (t) => {
  for (const c of cases.valid) {
    const spec = parsePreprocessSpec(c.input);
    t.same(spec, c.expected, c.name);
    t.ok(Object.isFrozen(spec) && Object.isFrozen(spec.mean), `${c.name}: frozen`);
  }
});

t.test('invalid specs name the bad field', async (t) => {
  for (const c of cases.invalid) {
    try {
      parsePreprocessSpec(c.input);
      t.fail(`${c.name}: accepted`);
    } catch (e) {
      t.ok(isBmfError(e, 'BMF_ERR_PREPROCESS_SPEC'), `${c.name}: code`);
      t.equal((e as { details: { field: string } }).details.field, c.field, c.name);
    }
  }
});

t.test('the input object is not modified', async (t) => {
  const input = { resize_dims: [4, 4], mean: [1] };
  parsePreprocessSpec(input);
  t.same(input, { resize_dims: [4, 4], mean: [1] });
});
