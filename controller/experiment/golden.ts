// The golden-set row of an experiment. Pure.
//
// Golden counts are not samples of the experiment's traffic: they come from the agent's gate
// when a bundle is activated and from its golden schedule (telemetry.goldenIntervalMs, hourly by
// default), and every run scores the same fixed golden set, so repeated runs and more devices
// add counts but no independent observations. An experiment that activates B on its devices
// therefore sees B's gate in its window and, for the first hour, nothing from A (activated
// before the experiment started): a row that waits for "more samples per arm" there waits for
// data the traffic never brings, and held the overall verdict at `not_enough_data` for good.
// So the row is descriptive (shown, never part of the verdict, the guardrails or promotion);
// the gate itself is the per-device guard on golden accuracy (agent/serve/gate.ts).
import type { MetricResult } from './metrics.js';

export const GOLDEN_KEY = 'accuracy.golden';

/** What a golden row without a run on both arms waits for, in words. */
export const GOLDEN_MISSING =
  'a golden run on both arms (at activation, or on the golden schedule of the agents)';

/** The golden row as shown: descriptive; `differs` where a test would have said better/worse. */
export function describeGolden(m: MetricResult): MetricResult {
  if (m.key !== GOLDEN_KEY) return m;
  const { missing: _missing, ...rest } = m;
  const noRun = m.nA === 0 || m.nB === 0;
  const verdict = m.verdict === 'better' || m.verdict === 'worse' ? 'differs' : m.verdict;
  return {
    ...rest,
    descriptive: true,
    verdict,
    ...(noRun ? { missing: GOLDEN_MISSING } : m.missing ? { missing: m.missing } : {}),
  };
}
