// EXIF orientation read from a JPEG's APP1 segment (decides native decode vs sharp's rotation).
import t from 'tap';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { jpegOrientation } from '../../../shared/preprocess/jpeg-orientation.js';

const tagged = readFileSync(
  new URL('../../fixtures/preprocess/opencv/orientation6.jpg', import.meta.url),
);

t.test('orientation tag, absent tag, other APP1 segments, damaged files', async (t) => {
  t.equal(jpegOrientation(tagged), 6, 'big-endian EXIF written by generate.py');
  const raw = { raw: { width: 8, height: 8, channels: 3 as const } };
  const pixels = Buffer.alloc(8 * 8 * 3, 90);
  const plain = await sharp(pixels, raw).jpeg().toBuffer();
  t.equal(jpegOrientation(plain), 1, 'no EXIF');
  for (const o of [1, 3, 8]) {
    const withTag = await sharp(pixels, raw).jpeg().withMetadata({ orientation: o }).toBuffer();
    t.equal(jpegOrientation(withTag), o, `sharp-written orientation ${o} (little-endian EXIF)`);
  }
  t.equal(jpegOrientation(tagged.subarray(0, 30)), undefined, 'cut inside the EXIF segment');
  const broken = Buffer.from(tagged);
  broken[2] = 0x00;
  t.equal(jpegOrientation(broken), undefined, 'no marker where one must be');
});
