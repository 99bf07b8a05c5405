import t from 'tap';
import { readFileSync } from 'node:fs';
import { isBmfError } from '../../../shared/errors.js';
import {
  formatCalibrationTable,
  parseCalibrationTable,
} from '../../../controller/quantize/calibration-table.js';
import {
  formatQuantizeTable,
  parseQuantizeTable,
} from '../../../controller/quantize/quantize-table.js';

interface Case {
  name: string;
  kind: 'calibration' | 'quantize';
  text: string;
  expect: { entries?: unknown[][]; code?: string; line?: number; match?: string };
}
const { cases } = JSON.parse(
  readFileSync(new URL('../../fixtures/quantize/table-cases.json', import.meta.url), 'utf8'),
) as { cases: Case[] };
const tensors = new Set(['input', 'relu_out', 'pool_out', 'flat', 'logits']);
const layers = new Set(['relu_out', 'pool_out', 'flat', 'logits']);

for (const c of cases) {
  t.test(c.name, async (t) => {
    const parse = (): unknown[][] =>
      c.kind === 'calibration'
        ? [...parseCalibrationTable(c.text, tensors).values()].map((e) => [
            e.name,
            e.threshold,
            e.min,
            e.max,
          ])
        : [...parseQuantizeTable(c.text, layers)];
    if (c.expect.entries) {
      t.same(parse(), c.expect.entries);
      return;
    }
    try {
      parse();
      t.fail('expected an error');
    } catch (e) {
      t.ok(isBmfError(e), 'a BmfError');
      const err = e as { code: string; details: { line: number }; message: string };
      t.equal(err.code, c.expect.code);
      t.equal(err.details.line, c.expect.line);
      t.match(err.message, c.expect.match ?? '');
    }
  });
}

t.test('calibration table round trip uses 7 decimals', async (t) => {
  const text = formatCalibrationTable([{ name: 'input', threshold: 1 / 3, min: -0.25, max: 2 }], {
    generatedAt: 'x',
    sampleNumber: 200,
    histogramBins: 2048,
    method: 'kl',
  });
  t.match(text, /^input 0\.3333333 -0\.2500000 2\.0000000$/m);
  t.ok(
    text
      .split('\n')
      .slice(0, 7)
      .every((l) => l.startsWith('#')),
    'header lines start with #',
  );
  t.same(parseCalibrationTable(text, tensors).get('input')?.threshold, 0.3333333);
  const q = formatQuantizeTable(new Map([['logits', 'F32' as const]]));
  t.same([...parseQuantizeTable(q, layers)], [['logits', 'F32']]);
});
