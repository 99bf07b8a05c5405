// Numeric flags: absent stays absent, a number is read, anything else (an empty value included)
// is a usage error naming the flag.
import t from 'tap';
import { numberFlag } from '../../cli/args.js';
import { isBmfError } from '../../shared/errors.js';

t.test('numberFlag reads numbers and refuses the rest', async (t) => {
  t.equal(numberFlag('alpha', undefined), undefined);
  t.equal(numberFlag('alpha', '0.05'), 0.05);
  t.equal(numberFlag('min-samples', '1e3'), 1000);
  t.equal(numberFlag('shift', '-2'), -2);
  for (const raw of ['', ' ', 'abc', 'NaN', 'Infinity', '5ms']) {
    let caught: unknown;
    try {
      numberFlag('alpha', raw);
    } catch (e) {
      caught = e;
    }
    t.ok(isBmfError(caught) && caught.code === 'BMF_ERR_USAGE', `"${raw}" is refused`);
    t.match((caught as Error).message, /--alpha: not a number/, `"${raw}" names the flag`);
  }
});
