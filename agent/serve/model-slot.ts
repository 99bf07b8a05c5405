// One variant's model slot: the model that serves, and the swap that replaces it.
import { bmfError } from '../../shared/errors.js';
import type { Tensor, TensorDataMap, TensorDtype } from '../../shared/tensor.js';
import type { ModelHandle, RuntimeBackend } from '../runtime/types.js';
import { runGate } from './gate.js';
import type { GateReport } from './gate.js';
import type { ModelSpec } from './types.js';
import type { Digest } from '../../shared/ids.js';

export interface ServingModel {
  readonly spec: ModelSpec;
  readonly handle: ModelHandle;
}

interface Resident extends ServingModel {
  inflight: number;
  retired: boolean;
  drained: Promise<void>;
  markDrained: () => void;
}

export interface Pinned {
  readonly model: ServingModel;
  release(): void;
}

export interface SwapOptions {
  /** Skip the golden-set gate (rolling back to a model that already passed it). */
  readonly skipGate?: boolean;
  readonly warmupRuns?: number;
  readonly signal?: AbortSignal;
  /** Runs at the switch (invariant 6), before the old model drains. */
  readonly onSwitch?: (activated: ServingModel) => void;
}

export interface SwapResult {
  readonly activated: ServingModel;
  readonly previous: ServingModel | undefined;
  readonly gate: GateReport | undefined;
  /** false when the bundle was already active (nothing loaded, nothing switched). */
  readonly changed: boolean;
}

/**
 * INVARIANTS (the reason this class exists):
 * 1. Slot changes are serialised: `prepare`, `gate`, `commit`, `swap`, `discard` and `close` run
 *    one at a time through `this.queue`; a request never waits on that queue.
 * 2. The switch is one synchronous assignment of `this.active` (in `commit`). Every request pins
 *    the model it starts on (`pin`) and releases it when done, so a request finishes on the
 *    model it began on.
 * 3. A candidate is loaded beside the active model and becomes active only after it warmed up and
 *    passed the gate (or the gate was skipped for a known-good model). Any failure before the
 *    switch unloads the candidate and leaves `this.active` exactly as it was.
 * 4. A model is unloaded only when it is no longer active AND its in-flight count is zero; the
 *    commit waits for that drain before it resolves, so at most two models are resident.
 * 5. Preparing or swapping to the bundle that is already active is a no-op; preparing the bundle
 *    that is already the candidate is a no-op (executors may repeat a step after a crash).
 * 6. `onSwitch` runs synchronously right after the switch, so what it sets up (the new model's
 *    health window) sees every request the new model answers, also those answered while the old
 *    one drains and unloads, before the commit resolves.
 */
export class ModelSlot {
  private active: Resident | undefined;
  private candidate:
    { resident: Resident; gated: boolean; gate: GateReport | undefined } | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly backend: RuntimeBackend) {}

  current(): ServingModel | undefined {
    return this.active;
  }

  candidateState(): { readonly bundleDigest: Digest; readonly gated: boolean } | undefined {
    const c = this.candidate;
    return c && { bundleDigest: c.resident.spec.bundleDigest, gated: c.gated };
  }

  /** Pins the active model for one request; throws BMF_ERR_AGENT_NOT_READY when empty. */
  pin(): Pinned {
    const model = this.active;
    if (!model) throw bmfError('BMF_ERR_AGENT_NOT_READY');
    model.inflight += 1;
    let released = false;
    return {
      model,
      release: () => {
        if (released) return;
        released = true;
        model.inflight -= 1;
        if (model.retired && model.inflight === 0) model.markDrained();
      },
    };
  }

  /** Loads and warms up `spec` beside the active model. */
  prepare(spec: ModelSpec, options: SwapOptions = {}): Promise<void> {
    return this.serialise(() => this.doPrepare(spec, options));
  }

  /** Runs the golden-set gate on the candidate; a failure unloads it (BMF_ERR_AGENT_GATE_FAILED). */
  gate(options: SwapOptions = {}): Promise<GateReport | undefined> {
    return this.serialise(() => this.doGate(options));
  }

  /** Switches to the gated candidate, waits for the old model to drain, unloads it. */
  commit(options: Pick<SwapOptions, 'onSwitch'> = {}): Promise<SwapResult> {
    return this.serialise(() => this.doCommit(options));
  }

  /** prepare + gate + commit as one serialised unit. */
  swap(spec: ModelSpec, options: SwapOptions = {}): Promise<SwapResult> {
    return this.serialise(async () => {
      if (this.active?.spec.bundleDigest === spec.bundleDigest) return this.unchanged();
      await this.doPrepare(spec, options);
      await this.doGate(options);
      return this.doCommit(options);
    });
  }

  /** Unloads a candidate that will not be committed. */
  discard(): Promise<void> {
    return this.serialise(async () => {
      const c = this.candidate;
      this.candidate = undefined;
      if (c) await this.backend.unload(c.resident.handle);
    });
  }

  /** Unloads everything after the requests in flight finish (agent shutdown). */
  close(): Promise<void> {
    return this.serialise(async () => {
      const c = this.candidate;
      this.candidate = undefined;
      if (c) await this.backend.unload(c.resident.handle);
      const old = this.active;
      this.active = undefined;
      if (old) await this.retire(old);
    });
  }

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private unchanged(): SwapResult {
    return {
      activated: this.active as Resident,
      previous: undefined,
      gate: undefined,
      changed: false,
    };
  }

  private async doPrepare(spec: ModelSpec, options: SwapOptions): Promise<void> {
    if (this.active?.spec.bundleDigest === spec.bundleDigest) return;
    if (this.candidate?.resident.spec.bundleDigest === spec.bundleDigest) return;
    if (this.candidate) {
      const old = this.candidate;
      this.candidate = undefined;
      await this.backend.unload(old.resident.handle);
    }
    const handle = await this.backend.load(spec.bmodel, {
      digest: spec.bmodelDigest,
      ...(spec.modeledLatencyMs !== undefined && { modeledLatencyMs: spec.modeledLatencyMs }),
    });
    try {
      await this.warmUp(spec, handle, options);
    } catch (e) {
      await this.backend.unload(handle);
      throw e;
    }
    let markDrained = (): void => undefined;
    const drained = new Promise<void>((r) => (markDrained = r));
    const resident: Resident = { spec, handle, inflight: 0, retired: false, drained, markDrained };
    this.candidate = { resident, gated: false, gate: undefined };
  }

  private async doGate(options: SwapOptions): Promise<GateReport | undefined> {
    const c = this.candidate;
    if (!c) {
      if (this.active) return undefined; // the bundle was committed already
      throw bmfError('BMF_ERR_INTERNAL', { reason: 'gate without a candidate' });
    }
    if (c.gated) return c.gate;
    const { spec, handle } = c.resident;
    try {
      if (!options.skipGate && spec.golden && spec.gate) {
        const report = await runGate(this.backend, handle, spec.golden, spec.gate, options.signal);
        if (!report.passed) {
          throw bmfError('BMF_ERR_AGENT_GATE_FAILED', {
            bundle: spec.bundleDigest,
            reason: report.reasons.join('; '),
          });
        }
        c.gate = report;
      }
      options.signal?.throwIfAborted();
    } catch (e) {
      this.candidate = undefined;
      await this.backend.unload(handle);
      throw e;
    }
    c.gated = true;
    return c.gate;
  }

  private async doCommit(options: Pick<SwapOptions, 'onSwitch'>): Promise<SwapResult> {
    const c = this.candidate;
    if (!c) {
      if (this.active) return this.unchanged();
      throw bmfError('BMF_ERR_INTERNAL', { reason: 'commit without a candidate' });
    }
    if (!c.gated) throw bmfError('BMF_ERR_INTERNAL', { reason: 'commit before the gate' });
    this.candidate = undefined;
    const previous = this.active;
    this.active = c.resident; // the one atomic switch (invariant 2)
    options.onSwitch?.(c.resident); // before any request can pin it (invariant 6)
    if (previous) await this.retire(previous);
    return { activated: c.resident, previous, gate: c.gate, changed: true };
  }

  private async warmUp(spec: ModelSpec, handle: ModelHandle, options: SwapOptions): Promise<void> {
    const runs = options.warmupRuns ?? 1;
    const feeds = spec.golden?.inputs[0] ?? zeroFeeds(handle);
    for (let i = 0; i < runs; i++) await this.backend.infer(handle, feeds, options.signal);
  }

  private async retire(model: Resident): Promise<void> {
    model.retired = true;
    if (model.inflight === 0) model.markDrained();
    await model.drained;
    await this.backend.unload(model.handle);
  }
}

const ZERO: { readonly [D in TensorDtype]: (n: number) => TensorDataMap[D] } = {
  float32: (n) => new Float32Array(n),
  float16: (n) => new Uint16Array(n),
  int8: (n) => new Int8Array(n),
  uint8: (n) => new Uint8Array(n),
  int32: (n) => new Int32Array(n),
  int64: (n) => new BigInt64Array(n),
};

/** Zero-filled inputs for warm-up when the bundle has no golden set. */
function zeroFeeds(handle: ModelHandle): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const input of handle.description.inputs) {
    const n = input.shape.reduce((a, b) => a * b, 1);
    feeds[input.name] = { dtype: input.dtype, shape: input.shape, data: ZERO[input.dtype](n) };
  }
  return feeds;
}
