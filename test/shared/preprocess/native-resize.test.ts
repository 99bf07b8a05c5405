// The native kernels and their fallbacks give identical bytes: INTER_LINEAR (native/cv-resize.cc
// vs JavaScript) and JPEG decoding (native/jpeg-decode.cc, system libjpeg, vs sharp). The OpenCV
// fixtures (opencv-fixtures.test.ts) then hold for whichever one runs.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodePixels } from '../../../shared/preprocess/decode.js';
import {
  cvResize,
  nativeJpegAvailable,
  nativeResizeAvailable,
} from '../../../shared/preprocess/index.js';

/** Deterministic pseudo-random pixels (xorshift), so a failure reproduces. */
function pixels(width: number, height: number, channels: number, seed: number) {
  const data = new Uint8Array(width * height * channels);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 255;
  }
  return { data, width, height, channels };
}

// [src w, src h, channels, dst w, dst h]: shrinks, enlargements, odd and mixed, exact 2x, 1 pixel.
const cases: [number, number, number, number, number][] = [
  [1920, 1080, 3, 224, 224],
  [451, 300, 3, 997, 613],
  [300, 451, 1, 131, 97],
  [600, 400, 3, 300, 200],
  [37, 5, 3, 700, 3],
  [1, 1, 3, 5, 7],
  [64, 48, 4, 64, 48],
  [7, 9, 1, 1, 1],
];

if (!nativeResizeAvailable()) {
  const skip = 'addon not built (npm run build:native): JavaScript kernel only';
  t.test('native INTER_LINEAR', { skip }, async () => {});
} else {
  for (const [sw, sh, cn, dw, dh] of cases) {
    t.test(`${sw}x${sh}x${cn} -> ${dw}x${dh}`, async (t) => {
      const src = pixels(sw, sh, cn, sw * 31 + dh);
      for (const interpolation of ['INTER_LINEAR', 'INTER_AREA'] as const) {
        const js = cvResize(src, dw, dh, interpolation, { native: false });
        const native = cvResize(src, dw, dh, interpolation);
        t.ok(Buffer.from(js).equals(Buffer.from(native)), `${interpolation}: identical bytes`);
      }
    });
  }
}

const photos = process.env.BMFLEET_PHOTO_DIR ?? '/var/cache/bmfleet-testdata/photos';
if (!nativeJpegAvailable()) {
  t.test(
    'native JPEG decode',
    { skip: 'addon built without libjpeg, or not built' },
    async () => {},
  );
} else if (!existsSync(join(photos, 'rocket.jpg'))) {
  t.test('native JPEG decode', { skip: `photo folder ${photos} missing` }, async () => {});
} else {
  t.test('native JPEG decode equals sharp with the ICC profile ignored', async (t) => {
    for (const name of ['rocket.jpg', 'hubble_deep_field.jpg', 'retina.jpg']) {
      const bytes = readFileSync(join(photos, name));
      const native = await decodePixels(bytes, 5e7, 'ignore');
      const viaSharp = await sharp(bytes, { ignoreIcc: true }).raw().toBuffer();
      t.equal(native.channels, 3, `${name}: RGB`);
      t.ok(Buffer.from(native.data).equals(viaSharp), `${name}: identical pixels`);
    }
  });
  t.test('files libjpeg warns about fall back to sharp and its typed errors', async (t) => {
    const jpeg = readFileSync(join(photos, 'hubble_deep_field.jpg'));
    await t.rejects(decodePixels(jpeg.subarray(0, jpeg.length >> 1), 5e7, 'ignore'), {
      code: 'BMF_ERR_IMAGE_CORRUPT',
    });
    await t.rejects(decodePixels(jpeg, 1000, 'ignore'), { code: 'BMF_ERR_IMAGE_TOO_LARGE' });
  });
}
