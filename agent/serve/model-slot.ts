// One variant's model slot: the model that serves, and the swap that replaces it.
import { bmfError } from '../../shared/errors.js';
import type { Tensor, TensorDataMap, TensorDtype } from '../../shared/tensor.js';
import type { ModelHandle, RuntimeBackend } from '../runtime/types.js';
import { runGate } from './gate.js';
import type { GateReport } from './gate.js';
import type { ModelSpec } from './types.js';

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
 * 1. Swaps are serialised: `swap`/`close` run one at a time through `this.queue`; a request never
 *    waits on that queue.
 * 2. The switch is one synchronous assignment of `this.active`. Every request pins the model it
 *    starts on (`pin`) and releases it when done, so a request finishes on the model it began on.
 * 3. A candidate becomes active only after it loaded, warmed up and passed the gate. Any failure
 *    before the switch unloads the candidate and leaves `this.active` exactly as it was.
 * 4. A model is unloaded only when it is no longer active AND its in-flight count is zero; the
 *    swap waits for that drain before it resolves, so at most two models are resident per slot.
 * 5. Swapping to the bundle that is already active is a no-op (steps are idempotent).
 */
export class ModelSlot {
  private active: Resident | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly backend: RuntimeBackend) {}

  current(): ServingModel | undefined {
    return this.active;
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

  swap(spec: ModelSpec, options: SwapOptions = {}): Promise<SwapResult> {
    return this.serialise(() => this.doSwap(spec, options));
  }

  /** Unloads the active model after its requests finish (agent shutdown). */
  close(): Promise<void> {
    return this.serialise(async () => {
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

  private async doSwap(spec: ModelSpec, options: SwapOptions): Promise<SwapResult> {
    const current = this.active;
    if (current && current.spec.bundleDigest === spec.bundleDigest) {
      return { activated: current, previous: undefined, gate: undefined, changed: false };
    }
    const handle = await this.backend.load(spec.bmodel, {
      digest: spec.bmodelDigest,
      ...(spec.modeledLatencyMs !== undefined && { modeledLatencyMs: spec.modeledLatencyMs }),
    });
    let gate: GateReport | undefined;
    try {
      await this.warmUp(spec, handle, options);
      if (!options.skipGate && spec.golden && spec.gate) {
        gate = await runGate(this.backend, handle, spec.golden, spec.gate, options.signal);
        if (!gate.passed) {
          throw bmfError('BMF_ERR_AGENT_GATE_FAILED', {
            bundle: spec.bundleDigest,
            reason: gate.reasons.join('; '),
          });
        }
      }
      options.signal?.throwIfAborted();
    } catch (e) {
      await this.backend.unload(handle);
      throw e;
    }
    let markDrained = (): void => undefined;
    const drained = new Promise<void>((r) => (markDrained = r));
    const next: Resident = { spec, handle, inflight: 0, retired: false, drained, markDrained };
    const previous = this.active;
    this.active = next; // the one atomic switch (invariant 2)
    if (previous) await this.retire(previous);
    return { activated: next, previous, gate, changed: true };
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
