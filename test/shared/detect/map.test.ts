// COCO mAP against the figures pycocotools computes on the same data
// (test/fixtures/detect/make-map-cases.py), including a hand-worked case.
import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  computeMap,
  IOU_THRESHOLDS,
  RECALL_THRESHOLDS,
  toCocoBox,
  type DetectedBox,
  type GroundTruthBox,
} from '../../../shared/detect/map.js';

interface MapCase {
  name: string;
  groundTruth: GroundTruthBox[];
  detections: DetectedBox[];
  categoryIds: number[];
  expected: {
    map: number;
    map50: number;
    map75: number;
    perClass: Record<string, { ap: number; ap50: number }>;
  };
  handWorked?: { map: number; map50: number };
}
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/detect/map-cases.json', import.meta.url), 'utf8'),
) as { tolerance: number; iouThresholds: number[]; recallThresholds: number[]; cases: MapCase[] };
const tol = fixture.tolerance;
const near = (a: number, b: number) => Math.abs(a - b) <= tol;

for (const c of fixture.cases) {
  t.test(c.name, async (t) => {
    const r = computeMap(c.groundTruth, c.detections, { categoryIds: c.categoryIds });
    t.ok(near(r.map, c.expected.map), `mAP ${r.map} ~ pycocotools ${c.expected.map}`);
    t.ok(near(r.map50, c.expected.map50), `mAP50 ${r.map50} ~ ${c.expected.map50}`);
    t.ok(near(r.map75, c.expected.map75), `mAP75 ${r.map75} ~ ${c.expected.map75}`);
    for (const pc of r.perClass) {
      const want = c.expected.perClass[String(pc.categoryId)];
      t.ok(want, `category ${pc.categoryId} in the reference`);
      if (!want) continue;
      t.ok(near(pc.ap, want.ap), `category ${pc.categoryId}: AP ${pc.ap} ~ ${want.ap}`);
      t.ok(near(pc.ap50, want.ap50), `category ${pc.categoryId}: AP50 ${pc.ap50} ~ ${want.ap50}`);
    }
    if (c.handWorked) {
      t.ok(near(r.map, c.handWorked.map), 'hand-worked mAP');
      t.ok(near(r.map50, c.handWorked.map50), 'hand-worked mAP50');
    }
  });
}

t.test("thresholds are pycocotools' own (np.linspace), element for element", async (t) => {
  t.same(IOU_THRESHOLDS, fixture.iouThresholds);
  t.same(RECALL_THRESHOLDS, fixture.recallThresholds);
});

t.test('detections in a different order give the same figures', async (t) => {
  const c = fixture.cases[1] as MapCase;
  const a = computeMap(c.groundTruth, c.detections, { categoryIds: c.categoryIds });
  // Ties between equal scores depend on order in pycocotools too; compare with ties broken.
  const untied = (ds: DetectedBox[]) => ds.map((d, i) => ({ ...d, score: d.score + i * 1e-9 }));
  const b = computeMap(c.groundTruth, untied(c.detections), { categoryIds: c.categoryIds });
  const rev = computeMap(c.groundTruth, untied(c.detections).reverse(), {
    categoryIds: c.categoryIds,
  });
  t.ok(near(b.map, rev.map), 'order does not matter once scores are distinct');
  t.ok(Math.abs(a.map - b.map) < 0.01, 'tie-breaking moves mAP only slightly');
});

t.test('toCocoBox and bad input', async (t) => {
  t.same(toCocoBox(1, 2, 11, 7), [1, 2, 10, 5]);
  t.throws(() => computeMap([{ imageId: 1, categoryId: 1, bbox: [0, 0, -1, 5] }], []), {
    code: 'BMF_ERR_DETECTION_DATA',
    details: { field: 'groundTruth[0].bbox' },
  });
  t.throws(
    () => computeMap([], [{ imageId: 1, categoryId: 1, bbox: [0, 0, 1, 1], score: Number.NaN }]),
    { code: 'BMF_ERR_DETECTION_DATA', details: { field: 'detections[0].score' } },
  );
  t.equal(computeMap([], []).map, -1, 'no ground truth: -1 as pycocotools prints');
});
