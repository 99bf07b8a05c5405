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
    t.match((caught as Error).message, /--alpha takes a number, got/, `"${raw}" names the flag`);
  }
});

t.test('numberFlag holds a value to its range', async (t) => {
  const whole = { integer: true, min: 1 };
  t.equal(numberFlag('devices', '3', whole), 3);
  t.equal(numberFlag('opset', '22', { integer: true, min: 7, max: 22 }), 22);
  t.equal(numberFlag('max-map-drop', '0', { min: 0, max: 1 }), 0);
  const refused: [string, Parameters<typeof numberFlag>[2], RegExp][] = [
    ['0', whole, /--x takes a whole number of at least 1, got "0"/],
    ['1.5', whole, /whole number/],
    ['abc', whole, /got "abc"/],
    ['23', { integer: true, min: 7, max: 22 }, /from 7 to 22/],
    ['1.01', { min: 0, max: 1 }, /--x takes a number from 0 to 1, got "1.01"/],
    ['-2', { min: -1, max: 1 }, /from -1 to 1/],
    ['5', { max: 4 }, /of at most 4/],
  ];
  for (const [raw, range, message] of refused) {
    t.throws(() => numberFlag('x', raw, range), { code: 'BMF_ERR_USAGE', message }, raw);
  }
});
