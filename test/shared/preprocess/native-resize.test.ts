// The native INTER_LINEAR kernel (native/cv-resize.cc) and the JavaScript one give identical bytes;
// the OpenCV fixtures (opencv-fixtures.test.ts) then hold for whichever one runs.
import t from 'tap';
import { cvResize, nativeResizeAvailable } from '../../../shared/preprocess/index.js';

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
  t.plan(0, 'native addon not built (npm run build:native): only the JavaScript kernel exists');
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
