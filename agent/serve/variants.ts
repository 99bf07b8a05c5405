// The variants an assignment runs (A, and optionally B): one ModelSlot each, the last-known-good
// spec to roll back to, and the health window after each activation. Activation, gate failures,
// health verdicts and rollbacks are reported as ServeEvents.
//
// INVARIANT: the variant set executes, it never decides. A regressed health window is a fact
// (`regressed()` and a `regressed` event); going back to last-known-good is the planner's
// `rollback` step (agent/sync/plan.ts), run through `rollbackTo`, which announces the rollback
// only once the swap has happened.
import { isBmfError } from '../../shared/errors.js';
import type { Clock } from '../clock.js';
import type { RuntimeBackend } from '../runtime/types.js';
import { judgeHealth, openWindow, recordSample } from './health.js';
import type { HealthSample, HealthWindowState } from './health.js';
import { runGate } from './gate.js';
import { ModelSlot } from './model-slot.js';
import type { SwapResult } from './model-slot.js';
import { notify } from './observe.js';
import type { ServeObserver } from './observe.js';
import type { HealthThresholds, ModelSpec, VariantName } from './types.js';
import type { Digest } from '../../shared/ids.js';

interface Watch {
  state: HealthWindowState;
  readonly thresholds: HealthThresholds;
  readonly bundleDigest: Digest;
  readonly stop: AbortController;
  /**
   * Opened at the switch, so it counts every request the new model answers; judged only once
   * the activation is announced, so a verdict never comes before its `activated` event.
   */
  announced: boolean;
}

interface Variant {
  readonly slot: ModelSlot;
  lastKnownGood: ModelSpec | undefined;
  watch: Watch | undefined;
  /** Bundle whose health window regressed, and why (cleared by the next activation). */
  regressed: { readonly bundleDigest: Digest; readonly reason: string } | undefined;
}

export interface InstallOptions {
  /** The model was already verified and healthy (restart from state): no gate, no window. */
  readonly knownGood?: boolean;
  readonly health?: HealthThresholds;
  readonly signal?: AbortSignal;
}

export interface VariantSetDeps {
  readonly runtime: RuntimeBackend;
  readonly clock: Clock;
  readonly observers: readonly ServeObserver[];
}

export class VariantSet {
  private readonly variants = new Map<VariantName, Variant>();
  private readonly background = new Set<Promise<unknown>>();

  constructor(private readonly deps: VariantSetDeps) {}

  slot(name: VariantName): ModelSlot | undefined {
    return this.variants.get(name)?.slot;
  }

  names(): ReadonlySet<VariantName> {
    return new Set([...this.variants].filter(([, v]) => v.slot.current()).map(([n]) => n));
  }

  lastKnownGood(name: VariantName): ModelSpec | undefined {
    return this.variants.get(name)?.lastKnownGood;
  }

  private variant(name: VariantName): Variant {
    let v = this.variants.get(name);
    if (!v) {
      v = {
        slot: new ModelSlot(this.deps.runtime),
        lastKnownGood: undefined,
        watch: undefined,
        regressed: undefined,
      };
      this.variants.set(name, v);
    }
    return v;
  }

  async install(
    name: VariantName,
    spec: ModelSpec,
    options: InstallOptions = {},
  ): Promise<SwapResult> {
    const v = this.variant(name);
    let result: SwapResult;
    try {
      result = await v.slot.swap(spec, {
        skipGate: options.knownGood === true,
        ...(options.signal && { signal: options.signal }),
        onSwitch: (m) => this.atSwitch(v, m.spec, options),
      });
    } catch (e) {
      this.reportGateFailure(name, spec.bundleDigest, e);
      throw e;
    }
    this.afterCommit(name, v, result, options);
    return result;
  }

  /** Step `load`: the candidate loads and warms up beside the serving model. */
  async prepare(name: VariantName, spec: ModelSpec, signal?: AbortSignal): Promise<void> {
    await this.variant(name).slot.prepare(spec, signal ? { signal } : {});
  }

  /** Step `gate`: the candidate runs the golden set; failure unloads it and is reported. */
  async gate(name: VariantName, options: InstallOptions = {}): Promise<void> {
    const v = this.variant(name);
    // No candidate: the slot's gate reports nothing (already committed) or fails internally.
    const bundleDigest = v.slot.candidateState()?.bundleDigest;
    try {
      const report = await v.slot.gate({
        skipGate: options.knownGood === true,
        ...(options.signal && { signal: options.signal }),
      });
      if (report && bundleDigest) {
        notify(this.deps.observers, 'onGate', {
          variant: name,
          bundleDigest,
          passed: true,
          samples: report.samples,
          correct: report.correct,
          accuracy: report.accuracy,
          cosine: report.cosine,
        });
      }
    } catch (e) {
      if (bundleDigest) this.reportGateFailure(name, bundleDigest, e);
      throw e;
    }
  }

  /**
   * Re-run the golden set on every serving variant (accuracy in the field, on a schedule): the
   * active model is pinned like a request, so a swap in the meantime waits for it to finish.
   * Results are reported like gate results; a failing score does not unload anything (the health
   * window and the controller's gates decide what to do about it).
   */
  async goldenRun(signal?: AbortSignal): Promise<number> {
    let ran = 0;
    for (const [name, v] of this.variants) {
      if (!v.slot.current()) continue;
      const pinned = v.slot.pin();
      try {
        const { spec, handle } = pinned.model;
        if (!spec.golden || !spec.gate) continue;
        const report = await runGate(this.deps.runtime, handle, spec.golden, spec.gate, signal);
        notify(this.deps.observers, 'onGate', {
          variant: name,
          bundleDigest: spec.bundleDigest,
          passed: report.passed,
          samples: report.samples,
          correct: report.correct,
          accuracy: report.accuracy,
          cosine: report.cosine,
        });
        ran += 1;
      } finally {
        pinned.release();
      }
    }
    return ran;
  }

  /** Step `activate`: the atomic switch, drain and unload of the old model. */
  async activate(name: VariantName, options: InstallOptions = {}): Promise<SwapResult> {
    const v = this.variant(name);
    const result = await v.slot.commit({ onSwitch: (m) => this.atSwitch(v, m.spec, options) });
    // The gate report was already announced by `gate`.
    this.afterCommit(name, v, { ...result, gate: undefined }, options);
    return result;
  }

  candidate(name: VariantName): { bundleDigest: Digest; gated: boolean } | undefined {
    return this.variants.get(name)?.slot.candidateState();
  }

  /** Variants whose health window regressed while they still serve the regressed bundle. */
  regressed(): ReadonlySet<VariantName> {
    return new Set(
      [...this.variants]
        .filter(
          ([, v]) =>
            v.regressed !== undefined &&
            v.slot.current()?.spec.bundleDigest === v.regressed.bundleDigest,
        )
        .map(([n]) => n),
    );
  }

  private reportGateFailure(name: VariantName, bundleDigest: Digest, e: unknown): void {
    if (!isBmfError(e, 'BMF_ERR_AGENT_GATE_FAILED')) return;
    notify(this.deps.observers, 'onGate', {
      variant: name,
      bundleDigest,
      passed: false,
      samples: 0,
      correct: undefined,
      accuracy: undefined,
      cosine: undefined,
    });
    notify(this.deps.observers, 'onEvent', {
      kind: 'gate-failed',
      variant: name,
      bundleDigest,
      reason: String(e.details.reason),
    });
  }

  /**
   * At the slot's switch (ModelSlot invariant 6), before the old model drains: the previous
   * window ends and the new model's opens, so requests it answers while the old one unloads count
   * in its window (they were lost when the window opened after the drain).
   */
  private atSwitch(v: Variant, spec: ModelSpec, options: InstallOptions): void {
    v.watch?.stop.abort();
    v.watch = undefined;
    v.regressed = undefined;
    if (options.knownGood || !options.health) return;
    v.watch = {
      state: openWindow(this.deps.clock.now()),
      thresholds: options.health,
      bundleDigest: spec.bundleDigest,
      stop: new AbortController(),
      announced: false,
    };
  }

  private afterCommit(
    name: VariantName,
    v: Variant,
    result: SwapResult,
    options: InstallOptions,
  ): void {
    if (!result.changed) return;
    const spec = result.activated.spec;
    if (result.gate) {
      notify(this.deps.observers, 'onGate', {
        variant: name,
        bundleDigest: spec.bundleDigest,
        passed: true,
        samples: result.gate.samples,
        correct: result.gate.correct,
        accuracy: result.gate.accuracy,
        cosine: result.gate.cosine,
      });
    }
    notify(this.deps.observers, 'onEvent', {
      kind: 'activated',
      variant: name,
      bundleDigest: spec.bundleDigest,
    });
    if (options.knownGood || !options.health) {
      v.lastKnownGood = spec;
    } else if (v.watch?.bundleDigest === spec.bundleDigest && !v.watch.announced) {
      this.startWatch(name, v, v.watch);
    }
  }

  /** Sets the last-known-good spec (restart: the state file names it, the store holds it). */
  setLastKnownGood(name: VariantName, spec: ModelSpec): void {
    this.variant(name).lastKnownGood = spec;
  }

  /** Feeds one finished request of `name` into its health window, if one is open. */
  record(name: VariantName, bundleDigest: Digest | undefined, sample: HealthSample): void {
    const v = this.variants.get(name);
    const w = v?.watch;
    if (!v || !w || w.bundleDigest !== bundleDigest) return;
    w.state = recordSample(w.state, sample);
    this.judge(name, v, w);
  }

  async remove(name: VariantName): Promise<void> {
    const v = this.variants.get(name);
    if (!v) return;
    v.watch?.stop.abort();
    this.variants.delete(name);
    const digest = v.slot.current()?.spec.bundleDigest;
    await v.slot.close();
    if (digest)
      notify(this.deps.observers, 'onEvent', {
        kind: 'unloaded',
        variant: name,
        bundleDigest: digest,
      });
  }

  async close(): Promise<void> {
    for (const v of this.variants.values()) v.watch?.stop.abort();
    await Promise.allSettled([...this.background]);
    await Promise.all([...this.variants.values()].map((v) => v.slot.close()));
    this.variants.clear();
  }

  /** The activation is announced: judge what the window counted so far, and arm its timer. */
  private startWatch(name: VariantName, v: Variant, watch: Watch): void {
    watch.announced = true;
    const t = watch.thresholds;
    this.judge(name, v, watch);
    // A window with no traffic still ends: wake up when it is due and judge it. A Node timer
    // counts whole milliseconds from a whole-millisecond start, so it can wake up to 1 ms before
    // now() says the window is over (docs/architecture.md, health window timer): then it sleeps
    // again for what is left instead of leaving the window open until traffic comes.
    const timer = (async () => {
      const { clock } = this.deps;
      for (let left = watch.state.startedAt + t.windowMs - clock.now(); v.watch === watch;) {
        await clock.sleep(left, watch.stop.signal);
        this.judge(name, v, watch);
        left = watch.state.startedAt + t.windowMs - clock.now();
      }
    })().catch(() => undefined);
    this.track(timer);
  }

  private judge(name: VariantName, v: Variant, w: Watch): void {
    if (v.watch !== w || !w.announced) return;
    const verdict = judgeHealth(w.state, w.thresholds, this.deps.clock.now());
    if (verdict.kind === 'watching') return;
    v.watch = undefined;
    w.stop.abort();
    if (verdict.kind === 'healthy') {
      v.lastKnownGood = v.slot.current()?.spec;
      notify(this.deps.observers, 'onEvent', {
        kind: 'healthy',
        variant: name,
        bundleDigest: w.bundleDigest,
      });
      return;
    }
    v.regressed = { bundleDigest: w.bundleDigest, reason: verdict.reason };
    notify(this.deps.observers, 'onEvent', {
      kind: 'regressed',
      variant: name,
      bundleDigest: w.bundleDigest,
      reason: verdict.reason,
    });
  }

  /**
   * Step `rollback`: swaps back to a known-good spec without the gate (it passed before). When it
   * replaces a regressed bundle, the rollback is announced after the swap, then the activation.
   */
  async rollbackTo(name: VariantName, target: ModelSpec): Promise<void> {
    const v = this.variant(name);
    const result = await v.slot.swap(target, { skipGate: true });
    if (!result.changed) return;
    const from = result.previous?.spec.bundleDigest;
    if (v.regressed && from === v.regressed.bundleDigest) {
      notify(this.deps.observers, 'onEvent', {
        kind: 'rolled-back',
        variant: name,
        from,
        to: target.bundleDigest,
        reason: v.regressed.reason,
      });
    }
    notify(this.deps.observers, 'onEvent', {
      kind: 'activated',
      variant: name,
      bundleDigest: target.bundleDigest,
    });
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    const done = (): void => void this.background.delete(p);
    p.then(done, done);
  }

  /** Resolves when the health-window timers have settled (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }
}
