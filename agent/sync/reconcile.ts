// The thin shell around planSteps: gather facts, plan, run every step through the executor of its
// kind, look again; on failure wait (exponential backoff with jitter, injected clock) and retry.
// The executor record is keyed by step kind, so the compiler proves every kind has an executor.
import { bmfError, toBmfError } from '../../shared/errors.js';
import type { BmfError } from '../../shared/errors.js';
import type { Clock } from '../clock.js';
import { DEFAULT_BACKOFF, backoffDelay } from './backoff.js';
import type { BackoffPolicy } from './backoff.js';
import { planSteps } from './plan.js';
import type { Facts, Step, StepKind, Target } from './plan.js';

export type Executors = {
  readonly [K in StepKind]: (
    step: Extract<Step, { kind: K }>,
    signal: AbortSignal,
  ) => Promise<void>;
};

export interface ReconcileDeps {
  readonly gatherFacts: () => Promise<Facts>;
  readonly target: () => Target | undefined;
  readonly executors: Executors;
  readonly clock: Clock;
  readonly random?: () => number;
  readonly backoff?: BackoffPolicy;
  /** A step failed; the loop backs off and plans again. */
  readonly onError?: (step: Step, error: BmfError) => void;
  /** Safety bound on passes per `reconcileOnce` (a plan that never converges is a bug). */
  readonly maxPasses?: number;
  /**
   * Handed, for every pass, a function that aborts that pass (a new target made its work moot,
   * e.g. a stalled fetch for an abandoned bundle): the loop then plans again at once.
   */
  readonly onPass?: (interrupt: () => void) => void;
}

export function runStep(executors: Executors, step: Step, signal: AbortSignal): Promise<void> {
  const run = executors[step.kind] as (s: Step, sig: AbortSignal) => Promise<void>;
  return run(step, signal);
}

/** Plans and executes until nothing is left to do; throws the first step error. */
export async function reconcileOnce(deps: ReconcileDeps, signal: AbortSignal): Promise<number> {
  const maxPasses = deps.maxPasses ?? 100;
  let executed = 0;
  for (let pass = 0; pass < maxPasses; pass++) {
    signal.throwIfAborted();
    const steps = planSteps(await deps.gatherFacts(), deps.target());
    if (steps.length === 0) return executed;
    for (const step of steps) {
      try {
        await runStep(deps.executors, step, signal);
        executed += 1;
      } catch (e) {
        const err = toBmfError(e);
        if (!signal.aborted) deps.onError?.(step, err);
        throw err;
      }
    }
  }
  return executed;
}

/** Reconciles until aborted: after success waits for `wake`, after failure backs off. */
export async function reconcileLoop(
  deps: ReconcileDeps,
  wake: (signal: AbortSignal) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const random = deps.random ?? Math.random;
  let attempt = 0;
  while (!signal.aborted) {
    const pass = new AbortController();
    const stop = (): void => pass.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    let interrupted = false;
    deps.onPass?.(() => {
      interrupted = true;
      pass.abort(bmfError('BMF_ERR_ABORTED', { reason: 'the target changed' }));
    });
    try {
      await reconcileOnce(deps, pass.signal);
      attempt = 0;
      await wake(signal);
    } catch {
      if (signal.aborted) return;
      if (interrupted) {
        attempt = 0;
        continue;
      }
      const delay = backoffDelay(deps.backoff ?? DEFAULT_BACKOFF, attempt++, random());
      await deps.clock.sleep(delay, signal).catch(() => undefined);
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }
}

/**
 * The loop's idle wait: resolves on `kick` (handed to `setKick`), after `ms`, or on abort. Every
 * listener and timer it adds is removed when it resolves: the agent's stop signal lives as long
 * as the agent, and a listener left on it per idle pass is a leak (Node warns after 10).
 */
export async function waitForKick(
  clock: Clock,
  ms: number,
  signal: AbortSignal,
  setKick: (wake: () => void) => void,
): Promise<void> {
  if (signal.aborted) return;
  const done = new AbortController();
  const onAbort = (): void => done.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve) => {
      setKick(resolve);
      done.signal.addEventListener('abort', () => resolve(), { once: true });
      clock.sleep(ms, done.signal).then(resolve, resolve);
    });
  } finally {
    signal.removeEventListener('abort', onAbort);
    done.abort(); // ends the sleep (its timer and its listener)
  }
}

/** The same executors, announcing each step's start and end (logs, crash tests). */
export function announceSteps(executors: Executors, log: (line: string) => void): Executors {
  const wrapped: Record<string, (s: Step, signal: AbortSignal) => Promise<void>> = {};
  for (const [kind, run] of Object.entries(executors) as [
    StepKind,
    (s: Step, signal: AbortSignal) => Promise<void>,
  ][]) {
    wrapped[kind] = async (step, signal) => {
      log(`step ${kind} start ${JSON.stringify(step)}`);
      await run(step, signal);
      log(`step ${kind} done`);
    };
  }
  return wrapped as unknown as Executors;
}
