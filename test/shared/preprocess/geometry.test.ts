import t from 'tap';
import { readFileSync } from 'node:fs';
import { planPlacement } from '../../../shared/preprocess/geometry.js';
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
