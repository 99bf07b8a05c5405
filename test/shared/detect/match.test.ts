// TP/FP/FN at IoU 0.5 for field feedback, cases as data.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { matchDetections, type MatchBox } from '../../../shared/detect/index.js';

const { cases } = JSON.parse(
  readFileSync(new URL('../../fixtures/detect/match-cases.json', import.meta.url), 'utf8'),
) as {
  cases: {
    name: string;
    detections: (MatchBox & { score: number })[];
    groundTruth: MatchBox[];
    expected: { tp: number; fp: number; fn: number };
  }[];
};

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.same(matchDetections(c.detections, c.groundTruth, 0.5), c.expected);
  });
}
