// Failures per arm, as a user comparing A and B looks for them: the requests each arm's bundle
// served and failed, beside the requests that failed before any model answered (wire
// failed_before_model). Those are keyed by variant, and an experiment's variant is its arm
// (allocate.ts names both so); whichever report carried them, bundle A's or B's, they count
// for the variant they failed on.
import type { TelemetrySummary } from '../telemetry/summary.js';
import type { Arm } from './model.js';

export interface ArmFailures {
  readonly requests: number;
  readonly errors: number;
  /** null when no report of either arm came in: nothing told whether any failed. */
  readonly failedBeforeModel: number | null;
}

export function armFailures(
  A: TelemetrySummary,
  B: TelemetrySummary,
): Readonly<Record<Arm, ArmFailures>> {
  const reported = A.reports + B.reports > 0;
  const failed = (arm: Arm): number | null =>
    reported
      ? (A.failedBeforeModel[arm]?.requests ?? 0) + (B.failedBeforeModel[arm]?.requests ?? 0)
      : null;
  return {
    A: { requests: A.requests, errors: A.errors, failedBeforeModel: failed('A') },
    B: { requests: B.requests, errors: B.errors, failedBeforeModel: failed('B') },
  };
}
