// .npy files written by NumPy itself (test/fixtures/preprocess/npy/generate.py) read back, and
// ours written byte for byte as NumPy writes them.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { decodeNpy, encodeNpy, npyToTensor } from '../../shared/npy.js';

const dir = new URL('../fixtures/preprocess/npy/', import.meta.url);
const file = (name: string): Buffer => readFileSync(new URL(name, dir));
const expected = JSON.parse(file('values.json').toString('utf8')) as {
  files: Record<string, { descr: string; shape: number[]; values: number[] }>;
};

for (const [name, want] of Object.entries(expected.files)) {
  if (name === 'fortran.npy') continue;
  t.test(`reads ${name} (${want.descr})`, async (t) => {
    const a = decodeNpy(file(name));
    t.equal(a.descr, want.descr);
    t.same(a.shape, want.shape);
    t.same([...a.values], want.values);
  });
}

t.test('writes what numpy.save writes (header, padding, dtype, C order)', async (t) => {
  for (const name of ['f4.npy', 'u1.npy', 'i1.npy']) {
    const bytes = file(name);
    const again = encodeNpy(npyToTensor(decodeNpy(bytes)));
    t.ok(Buffer.from(again).equals(bytes), `${name} round-trips byte for byte`);
    t.equal((bytes.readUInt16LE(8) + 10) % 64, 0, `${name}: data starts 64-byte aligned`);
  }
});

t.test('bad files get BMF_ERR_NPY_INVALID with the offset', async (t) => {
  const f4 = file('f4.npy');
  const cases: [string, Uint8Array, RegExp][] = [
    ['Fortran order', file('fortran.npy'), /Fortran order/],
    ['no magic', Buffer.from('hello world, not numpy'), /magic/],
    ['truncated data', f4.subarray(0, f4.length - 3), /needs 24 bytes, got 21/],
    [
      'unknown version',
      Buffer.concat([f4.subarray(0, 6), Buffer.from([9, 0]), f4.subarray(8)]),
      /version 9/,
    ],
    ['header past the end', f4.subarray(0, 20), /header length/],
    [
      'unsupported dtype',
      Buffer.from(f4.toString('latin1').replace("'<f4'", "'<c8'"), 'latin1'),
      /dtype <c8/,
    ],
  ];
  for (const [name, bytes, reason] of cases) {
    t.throws(() => decodeNpy(bytes), { code: 'BMF_ERR_NPY_INVALID', message: reason }, name);
  }
});
