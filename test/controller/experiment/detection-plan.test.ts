// `experiment plan` for the descriptive detection rows (box agreement, detections per image):
// requests and expected sample sizes from test/fixtures/experiment/detection-plan-cases.json,
// worked out by its script from the formulas; the CLI prints them; bad input gets typed codes.
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import {
  parsePlanRequest,
  planCohortExperiment,
  renderPlanText,
} from '../../../controller/experiment/plan.js';
import { gatherPlanEstimates } from '../../../controller/experiment/plan-source.js';
import type { DeviceInfo } from '../../../controller/experiment/model.js';
import { emptyRollup, mergeCounters } from '../../../controller/telemetry/rollup.js';
import type { TelemetryFilter } from '../../../controller/telemetry/store.js';
import { summarize } from '../../../controller/telemetry/summary.js';
import {
  addBoxAgreement,
  addDetectionOutput,
  emptyDetectionOutput,
} from '../../../shared/detect/agreement.js';
import { DIGEST_A } from './helpers.js';
import { runCli, type CliRun } from '../../../harness/cli.js';

interface Case {
  why: string;
  request: Record<string, unknown>;
  expect: Record<string, unknown>;
}
interface Estimates {
  devices: { boxes: number[]; shadow: [number, number, number][] }[];
  boxes: { images: number; baseline: number; sd: number };
  agreement: { images: number; baseline: number; sd: number };
}
const cases = JSON.parse(
  readFileSync(
    new URL('../../fixtures/experiment/detection-plan-cases.json', import.meta.url),
    'utf8',
  ),
) as { agreement: Case[]; boxes: Case[]; estimates: Estimates };

// 1e-9 relative: the same arithmetic in another order (hours, shifts, sums against lists).
const close = (t: Test, got: number, want: number, what: string) =>
  t.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: ${got} vs ${want}`);

t.test('agreement: shadowed images for the always-valid F1 interval', async (t) => {
  for (const c of cases.agreement) {
    const plan = planCohortExperiment(parsePlanRequest(c.request));
    const a = plan.agreement!;
    const want = c.expect as {
      images: object;
      requests: object;
      hours?: { fixed: number; sequential: number };
    };
    t.same(a.images, want.images, `${c.why}: images`);
    t.same(a.requests, want.requests, `${c.why}: requests`);
    if (want.hours) {
      close(t, a.hours!.fixed, want.hours.fixed, `${c.why}: hours fixed`);
      close(t, a.hours!.sequential, want.hours.sequential, `${c.why}: hours sequential`);
    } else t.equal(a.hours, undefined, `${c.why}: no rate, no hours`);
    t.equal(plan.devicesPerArm, undefined, `${c.why}: images are the unit, not devices`);
  }
});

t.test('boxes per image: a difference of means per image, devices with an ICC', async (t) => {
  for (const c of cases.boxes) {
    const plan = planCohortExperiment(parsePlanRequest(c.request));
    const b = plan.boxesPerImage!;
    const want = c.expect as {
      shift: number;
      imagesPerArm: object;
      designEffect?: number;
      devicesPerArm?: object;
    };
    close(t, b.shift, want.shift, `${c.why}: shift`);
    t.same(b.imagesPerArm, want.imagesPerArm, `${c.why}: images per arm`);
    if (want.devicesPerArm) {
      close(t, b.designEffect!, want.designEffect!, `${c.why}: design effect`);
      t.same(plan.devicesPerArm, want.devicesPerArm, `${c.why}: devices per arm`);
    } else t.equal(plan.devicesPerArm, undefined, `${c.why}: no ICC, no devices`);
  }
});

t.test('the text names the unit and the figures', async (t) => {
  const agreement = renderPlanText(
    planCohortExperiment(parsePlanRequest(cases.agreement[1]!.request)),
  );
  t.match(agreement, /shadowed images +332 always-valid/);
  t.match(agreement, /requests +3320 always-valid/);
  t.match(agreement, /hours at the given rate/);
  t.notMatch(agreement, /devices per arm/);
  const boxes = renderPlanText(planCohortExperiment(parsePlanRequest(cases.boxes[2]!.request)));
  t.match(boxes, /images per arm +1353 always-valid, 698 fixed horizon/);
  t.match(boxes, /devices per arm: 16 for one look at the end/);
});

t.test('bmfleet experiment plan --metric agreement|boxes-per-image', async (t) => {
  // No data source: computed locally, an unreachable controller does not matter.
  const cli = (...argv: string[]): Promise<CliRun> =>
    runCli(argv, { BMFLEET_URL: 'http://127.0.0.1:1' });
  const plan = ['experiment', 'plan'];
  const agreement = await cli(
    ...plan,
    ...['--metric', 'agreement', '--mde', '0.05', '--per-image-sd', '0.3'],
    ...['--shadow-share', '0.1', '--requests-per-second', '20', '--json'],
  );
  t.equal(agreement.code, 0, agreement.err);
  t.same(JSON.parse(agreement.out).agreement.images, cases.agreement[1]!.expect['images']);
  const boxes = await cli(
    ...plan,
    ...['--metric', 'boxes-per-image', '--mde', '0.1', '--baseline', '3', '--per-image-sd', '2'],
    ...['--requests-per-device', '500', '--icc', '0.02'],
  );
  t.equal(boxes.code, 0, boxes.err);
  t.match(boxes.out, 'devices per arm: 16');

  const unknown = await cli(...plan, '--metric', 'boxes_per_image', '--mde', '0.1');
  t.equal(unknown.code, 1);
  t.match(unknown.err, /^BMF_ERR_BAD_REQUEST: .*\/metric/);
  for (const margin of ['0', '-0.05']) {
    const bad = await cli(
      ...plan,
      '--metric',
      'agreement',
      `--mde=${margin}`,
      '--per-image-sd',
      '0.3',
    );
    t.equal(bad.code, 1, `margin ${margin}`);
    t.match(bad.err, /^BMF_ERR_BAD_REQUEST: .*\/mde/);
  }
  const share = await cli(
    ...plan,
    ...['--metric', 'agreement', '--mde', '0.05', '--per-image-sd', '0.3', '--shadow-share', '0'],
  );
  t.match(share.err, /^BMF_ERR_BAD_REQUEST: .*\/shadowShare/);
  const noSd = await cli(...plan, '--metric', 'agreement', '--mde', '0.05');
  t.equal(noSd.code, 1);
  t.match(noSd.err, /^BMF_ERR_EXPERIMENT_PLAN: .*perImageSd is needed/);
  const noBaseline = await cli(
    ...plan,
    '--metric',
    'boxes-per-image',
    '--mde',
    '0.1',
    '--per-image-sd',
    '2',
  );
  t.match(noBaseline.err, /^BMF_ERR_EXPERIMENT_PLAN: .*baseline is needed/);
});

t.test('per-image SD and baseline estimated from a bundle telemetry', async (t) => {
  const est = cases.estimates;
  // Each device's images go through the agent's accumulators and the controller's rollup.
  const summaries = est.devices.map((d) => {
    const rollup = emptyRollup();
    const from = emptyRollup().counters;
    const out = emptyDetectionOutput();
    for (const n of d.boxes)
      addDetectionOutput(
        out,
        Array.from({ length: n }, () => ({ score: 0.5 })),
      );
    from.detectionOutput = out;
    for (const [matched, aOnly, bOnly] of d.shadow)
      addBoxAgreement(from.shadow.boxes, { matched, aOnly, bOnly });
    mergeCounters(rollup.counters, from);
    rollup.requests = d.boxes.length;
    return summarize(rollup, 1);
  });
  const ids = summaries.map((_, i) => `dev-${i}`);
  const deps = {
    telemetry: {
      query: (f: TelemetryFilter) => summaries[ids.indexOf(f.deviceIds![0]!)]!,
      sketches: () => ({}),
      timeline: () => [],
    },
    devices: () => ids.map((id) => ({ id }) as DeviceInfo),
    experiment: () => {
      throw new Error('no experiment source in this test');
    },
    now: 10_000_000,
  };
  for (const [metric, want] of [
    ['boxes-per-image', est.boxes],
    ['agreement', est.agreement],
  ] as const) {
    const req = parsePlanRequest({ metric, mde: 0.1, from: { bundle: DIGEST_A } });
    const e = await gatherPlanEstimates(req, deps);
    t.equal(e?.perImage?.images, want.images, `${metric}: images`);
    // Running sums against per-image lists: 1e-9 relative.
    close(t, e!.perImage!.baseline, want.baseline, `${metric}: baseline`);
    close(t, e!.perImage!.sd, want.sd, `${metric}: per-image SD`);
    const plan = planCohortExperiment(req, e);
    t.equal(plan.inputs['perImageSd']!.from, 'estimated', `${metric}: SD from telemetry`);
  }
});
