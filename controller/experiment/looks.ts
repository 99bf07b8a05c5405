// Guardrails watched on a timer: every `intervalMs` the lease holder looks at each running
// experiment as GET /v1/experiments/:id/analysis does (service.look saves the look and aborts a
// breached guardrail back to A). The decision stays in the service; this part only says when.
// A look never promotes: the experiment spec has no auto-promote option, promotion is asked for.
//
// A pass re-reads every minute of telemetry since each experiment started, so its cost grows with
// the experiment's age; the scheduler bounds its own duty cycle instead of trusting the interval:
// after a pass that took D ms, the next starts no sooner than max(intervalMs, LOOK_DUTY_FACTOR x D)
// after it started (at most 1/LOOK_DUTY_FACTOR of a core on looks), and says so in `onStretch`.
//
// INVARIANTS: one pass at a time (the next wait starts when a pass ends, so slow telemetry reads
// never pile up); after close() resolves no look starts or runs.
import { runAfter, type Clock, type Timer } from '../../shared/clock.js';
import { eventCode } from '../../shared/events.js';
import type { Leadership } from '../store/leadership.js';
import type { ExperimentService } from './service.js';

/** What a scheduled look did that an operator must hear of (docs/events.md). */
export interface ExperimentLookEvent {
  readonly code: 'BMF_EVT_EXPERIMENT_ABORTED';
  readonly experiment: string;
  readonly reason: string;
}

/** The next pass waits at least this many times the last pass's duration: <= 5 % of a core. */
export const LOOK_DUTY_FACTOR = 20;

/** Milliseconds from the start of a pass that took `passMs` to the start of the next one. */
export function nextLookInMs(intervalMs: number, passMs: number): number {
  return Math.max(intervalMs, LOOK_DUTY_FACTOR * passMs);
}

/** A pass long enough that the next one is pushed past the interval. */
export interface ExperimentLookStretch {
  readonly passMs: number;
  readonly intervalMs: number;
  /** From the start of the pass that took `passMs` to the start of the next. */
  readonly nextInMs: number;
}

export interface ExperimentLooksDeps {
  readonly experiments: Pick<ExperimentService, 'list' | 'look'>;
  /** Only the lease holder looks; always, when absent (one process). */
  readonly leadership?: Leadership;
  readonly clock: Pick<Clock, 'sleep' | 'now'>;
  readonly intervalMs: number;
  readonly onEvent: (e: ExperimentLookEvent) => void;
  /** The duty-cycle bound pushed the next pass past the interval (an operator should see it). */
  readonly onStretch: (s: ExperimentLookStretch) => void;
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

  const timerOptions = { keepAlive: false, onError: (e: unknown) => deps.onError(e) };

  function schedule(ms: number): void {
    if (closed) return;
    timer = runAfter(deps.clock, ms, tick, timerOptions);
  }

  function tick(): void {
    if (pass || closed) return;
    const started = deps.clock.now();
    pass = lookAll()
      .catch((e: unknown) => deps.onError(e))
      .finally(() => {
        pass = undefined;
        const passMs = Math.max(0, deps.clock.now() - started);
        const nextInMs = nextLookInMs(deps.intervalMs, passMs);
        if (nextInMs > deps.intervalMs && !closed) {
          try {
            deps.onStretch({ passMs, intervalMs: deps.intervalMs, nextInMs });
          } catch (e) {
            deps.onError(e);
          }
        }
        schedule(nextInMs - passMs);
      });
  }

  return {
    /** One pass now (what the timer runs). */
    lookAll,
    start(): void {
      if (timer || closed) return;
      schedule(deps.intervalMs);
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
