import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  assessDrift,
  mergeDriftStats,
  parseCalibrationStats,
} from '../../../shared/stats/drift.js';
import type { DriftStats } from '../../../shared/wire/messages.js';

interface Live {
  channel: number;
  count: number;
  mean: number;
  std: number;
  clipped: number;
}
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/experiment/drift.json', import.meta.url), 'utf8'),
) as {
  calibration: unknown[];
  cases: {
    why: string;
    int8Input: boolean;
    live: Live[];
    suspect: boolean;
    reasonIncludes: string | null;
  }[];
};

/** DriftStats with the given mean and sample std, split across two "devices" to exercise merging. */
function stats(l: Live): DriftStats[] {
  const half = Math.floor(l.count / 2);
  return [half, l.count - half].map((n) => ({
    input: 'input',
    channel: l.channel,
    count: n,
    sum: n * l.mean,
    sumSq: (l.count - 1) * l.std * l.std * (n / l.count) + n * l.mean * l.mean,
    min: l.mean - 4 * l.std,
    max: l.mean + 4 * l.std,
    clippedLow: Math.floor(l.clipped * (n / l.count)),
    clippedHigh: Math.ceil(l.clipped * (n / l.count)) - Math.floor(l.clipped * (n / l.count)),
  }));
}

const calibration = parseCalibrationStats({
  calibrationStats: [...fixture.calibration, { input: 'x', channel: 'bad' }, 'junk'],
});

t.test('calibration stats parse defensively', async (t) => {
  t.equal(calibration.length, 2);
  t.same(parseCalibrationStats({}), []);
});

for (const c of fixture.cases) {
  t.test(c.why, async (t) => {
    const live = c.live.flatMap(stats);
    t.equal(mergeDriftStats(live).length, c.live.length);
    const v = assessDrift(live, calibration, { int8Input: c.int8Input });
    t.equal(v.suspect, c.suspect, v.reasons.join('; '));
    if (c.reasonIncludes) t.match(v.reasons.join('; '), c.reasonIncludes);
  });
}

t.test(
  'merging sums per channel; a report with no values changes neither min nor max',
  async (t) => {
    const d = (count: number, min: number, max: number, clippedHigh = 0): DriftStats => ({
      input: 'input',
      channel: 0,
      count,
      sum: count * 2,
      sumSq: count * 5,
      min,
      max,
      clippedLow: 0,
      clippedHigh,
    });
    t.same(mergeDriftStats([d(10, 1, 3, 1), d(0, 0, 0), d(5, 0.5, 2, 2)]), [
      { ...d(15, 0.5, 3), clippedHigh: 3 },
    ]);
    t.same(mergeDriftStats([d(0, 0, 0), d(4, 1, 2)]), [d(4, 1, 2)], 'an empty first report');
  },
);
