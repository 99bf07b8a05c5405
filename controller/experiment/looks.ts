// Guardrails watched on a timer: every `intervalMs` the lease holder looks at each running
// experiment as GET /v1/experiments/:id/analysis does (service.look saves the look and aborts a
// breached guardrail back to A). The decision stays in the service; this part only says when.
// A look never promotes: the experiment spec has no auto-promote option, promotion is asked for.
//
// INVARIANTS: one pass at a time (a tick that finds the previous pass still reading is skipped,
// so slow telemetry reads do not pile up); after close() resolves no look starts or runs.
import { runEvery, type Clock, type Timer } from '../../shared/clock.js';
import { eventCode } from '../../shared/events.js';
import type { Leadership } from '../store/leadership.js';
import type { ExperimentService } from './service.js';

/** What a scheduled look did that an operator must hear of (docs/events.md). */
export interface ExperimentLookEvent {
  readonly code: 'BMF_EVT_EXPERIMENT_ABORTED';
  readonly experiment: string;
  readonly reason: string;
}

export interface ExperimentLooksDeps {
  readonly experiments: Pick<ExperimentService, 'list' | 'look'>;
  /** Only the lease holder looks; always, when absent (one process). */
  readonly leadership?: Leadership;
  readonly clock: Pick<Clock, 'sleep'>;
  readonly intervalMs: number;
  readonly onEvent: (e: ExperimentLookEvent) => void;
  /** A failed pass or a failed look of one experiment (the others are still looked at). */
  readonly onError: (e: unknown, experiment?: string) => void;
}

export function createExperimentLooks(deps: ExperimentLooksDeps) {
  let timer: Timer | undefined;
  let pass: Promise<void> | undefined;
  let closed = false;

  async function lookAll(): Promise<void> {
    if (deps.leadership && !(await deps.leadership.hold())) return;
    for (const { spec, state } of await deps.experiments.list()) {
      if (closed) return;
      if (state.status !== 'running') continue;
      try {
        const { aborted } = await deps.experiments.look(spec.id);
        if (aborted !== undefined) {
          deps.onEvent({
            code: eventCode('BMF_EVT_EXPERIMENT_ABORTED'),
            experiment: spec.id,
            reason: aborted,
          });
        }
      } catch (e) {
        deps.onError(e, spec.id);
      }
    }
  }

  function tick(): void {
    if (pass || closed) return;
    pass = lookAll()
      .catch((e: unknown) => deps.onError(e))
      .finally(() => (pass = undefined));
  }

  return {
    /** One pass now (what the timer runs). */
    lookAll,
    start(): void {
      if (timer || closed) return;
      timer = runEvery(deps.clock, deps.intervalMs, tick, {
        keepAlive: false,
        onError: (e) => deps.onError(e),
      });
    },
    /** Stops the timer and waits for a pass under way. */
    async close(): Promise<void> {
      closed = true;
      timer?.cancel();
      timer = undefined;
      await pass;
    },
  };
}

export type ExperimentLooks = ReturnType<typeof createExperimentLooks>;
