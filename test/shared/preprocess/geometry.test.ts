import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  inversePlacement,
  planPlacement,
  toSourceX,
  toSourceY,
} from '../../../shared/preprocess/geometry.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';

interface PlacementCase {
  name: string;
  src: [number, number];
  spec: unknown;
  expected: Record<string, unknown>;
}
const cases = JSON.parse(
  readFileSync(new URL('../../fixtures/preprocess/placement-cases.json', import.meta.url), 'utf8'),
) as PlacementCase[];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const place = planPlacement(c.src[0], c.src[1], parsePreprocessSpec(c.spec));
    t.match(place, c.expected);
    // Invariants: the window fits both the resized image and the output.
    t.ok(
      place.srcX + place.width <= place.resizeWidth &&
        place.srcY + place.height <= place.resizeHeight,
    );
    t.ok(
      place.dstX + place.width <= place.outWidth && place.dstY + place.height <= place.outHeight,
    );
  });
}

// The inverse mapping (used by detection decoders): the window's corners in the tensor go back
// to where the window was read in the resized image, scaled to source pixels.
for (const c of cases) {
  t.test(`${c.name}: inverse mapping`, async (t) => {
    const [sw, sh] = c.src;
    const place = planPlacement(sw, sh, parsePreprocessSpec(c.spec));
    const m = inversePlacement(place, sw, sh);
    const kx = sw / place.resizeWidth;
    const ky = sh / place.resizeHeight;
    const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
    t.ok(near(toSourceX(m, place.dstX), place.srcX * kx), 'left edge');
    t.ok(near(toSourceY(m, place.dstY), place.srcY * ky), 'top edge');
    t.ok(near(toSourceX(m, place.dstX + place.width), (place.srcX + place.width) * kx), 'right');
    t.ok(near(toSourceY(m, place.dstY + place.height), (place.srcY + place.height) * ky), 'bottom');
    if (!place.padded && place.srcX === 0 && place.srcY === 0) {
      t.ok(near(toSourceX(m, place.outWidth), sw) && near(toSourceY(m, place.outHeight), sh));
    }
  });
}
