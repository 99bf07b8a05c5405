// The golden-set row never holds or decides a verdict (controller/experiment/golden.ts): looks
// at the README demo's experiment, from the fixture, through the real rollup and summary.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { analyzeExperiment, type ArmTelemetry } from '../../../controller/experiment/analyze.js';
import { GOLDEN_KEY, GOLDEN_MISSING } from '../../../controller/experiment/golden.js';
import type { ExperimentSpec } from '../../../controller/experiment/model.js';
import { addReport, emptyRollup } from '../../../controller/telemetry/rollup.js';
import { summarize } from '../../../controller/telemetry/summary.js';
import { lognormalSamples, reportValue } from '../../../harness/controller/telemetry-reports.js';
import { DIGEST_A, DIGEST_B, runningState } from './helpers.js';

interface ArmCase {
  readonly requests: number;
  readonly feedback: [number, number];
  readonly golden: [number, number];
}
interface LookCase {
  readonly why: string;
  readonly ranMs: number;
  readonly A: ArmCase;
  readonly B: ArmCase;
  readonly expect: {
    readonly verdict: string;
    readonly winner?: 'A' | 'B';
    readonly golden: string;
    readonly goldenWaits: boolean;
  };
}
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/experiment/golden-looks.json', import.meta.url), 'utf8'),
) as {
  spec: Pick<ExperimentSpec, 'minSamples' | 'minDurationMs' | 'guardrails'>;
  cases: LookCase[];
};

const spec: ExperimentSpec = {
  id: 'demo-like',
  bundleA: DIGEST_A,
  bundleB: DIGEST_B,
  population: {},
  allocation: { kind: 'traffic', weightB: 0.5 },
  metrics: { stages: ['infer', 'e2e'] },
  ...fixture.spec,
};

/** One arm as ingested: modeled infer (a constant, as the demo's fleet reports it). */
function arm(c: ArmCase, bundle: string, inferMs: number, seed: number): ArmTelemetry {
  const rollup = emptyRollup();
  const pre = lognormalSamples(c.requests, 0.8, 0.3, seed);
  const infer = pre.map(() => inferMs);
  addReport(rollup, {
    ...reportValue({
      deviceId: 'se7-001',
      bundleDigest: bundle,
      intervalStartMs: 0,
      latency: { infer, e2e: infer.map((x, i) => x + (pre[i] ?? 0)) },
      feedback: c.feedback,
      golden: c.golden,
    }),
    runtime: 'sim',
    timingMode: 'modeled',
  });
  return { sketches: Object.fromEntries(rollup.sketches), summary: summarize(rollup, 1) };
}

const NOW = 10_000_000;
for (const [i, c] of fixture.cases.entries()) {
  t.test(c.why, async (t) => {
    const a = analyzeExperiment({
      spec,
      state: runningState({ startedAt: NOW - c.ranMs }),
      now: NOW,
      arms: {
        A: arm(c.A, DIGEST_A, 0.0307, 10 * i + 1),
        B: arm(c.B, DIGEST_B, 0.0181, 10 * i + 2),
      },
    });
    t.equal(a.overall.verdict, c.expect.verdict, a.overall.reason);
    t.equal(a.overall.winner, c.expect.winner, 'the winner, when the look decides');
    const golden = a.metrics.find((m) => m.key === GOLDEN_KEY);
    t.ok(golden, 'the golden row is shown');
    t.equal(golden?.descriptive, true, 'and never decides');
    t.equal(golden?.verdict, c.expect.golden);
    t.equal(
      golden?.missing === GOLDEN_MISSING,
      c.expect.goldenWaits,
      `missing: ${golden?.missing}`,
    );
    t.notOk(
      (a.overall.missing ?? []).some((m) => m.includes('golden')),
      `what the verdict waits for never names the golden row: ${a.overall.missing?.join('; ')}`,
    );
    t.equal(a.guardrails.breached, false, a.guardrails.reasons.join('; '));
    t.ok(
      a.metrics.some((m) => m.key === 'accuracy.feedback' && !m.descriptive),
      'feedback accuracy is still tested',
    );
  });
}
