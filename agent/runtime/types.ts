// One interface for every runtime backend (the simulator today, libsophon's bmrt in its own
// issue). A backend loads BMODEL bytes into a handle, describes the net's inputs and outputs,
// runs inference on shared `Tensor`s and unloads. Handles are opaque to callers.
import type { Tensor, TensorDtype } from '../../shared/tensor.js';

export type RuntimeName = 'sim' | 'bmrt';
export type RuntimeChoice = 'auto' | RuntimeName;

/** `host`: latency as measured on this machine; `modeled`: padded to the cost model's device latency. */
export type TimingMode = 'host' | 'modeled';

export interface TensorDescription {
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  /** Quantisation scale and zero point from the BMODEL (1 and 0 for float tensors). */
  readonly scale: number;
  readonly zeroPoint: number;
}

export interface ModelDescription {
  readonly netName: string;
  readonly chip: string;
  readonly inputs: readonly TensorDescription[];
  readonly outputs: readonly TensorDescription[];
}

export interface LoadOptions {
  /** sha256 (hex) of the BMODEL bytes; sessions are shared by it. */
  readonly digest: string;
  /** Device latency from the bundle's cost-model metadata; used by `modeled` timing. */
  readonly modeledLatencyMs?: number;
}

export interface ModelHandle {
  readonly id: number;
  readonly digest: string;
  readonly description: ModelDescription;
}

export interface InferResult {
  readonly outputs: Readonly<Record<string, Tensor>>;
  /**
   * The infer stage's latency: measured on this host (`host`), or the cost model's device
   * latency (`modeled`; the call itself never returns sooner than that).
   */
  readonly inferMs: number;
  /** What this host measured for the call, whatever the timing mode. */
  readonly hostMs: number;
  /** Which timing the figure follows: `modeled` only when a modeled latency was known. */
  readonly timing: TimingMode;
}

export interface RuntimeInferOptions {
  /**
   * The caller hands the input buffers over: the backend may move them (a buffer a tensor fully
   * owns is transferred to the inference thread and left detached, length 0) instead of copying
   * them. Only for feeds nothing reads after the call; golden sets and caller-owned tensors are
   * never consumed. Default false: the inputs are left as they were.
   */
  readonly consumeInputs?: boolean;
}

/** What the device says about itself (bmrt: libsophon's bm_get_stat). */
export interface RuntimeDeviceStat {
  readonly memTotalMiB: number;
  readonly memUsedMiB: number;
  /** TPU busy share since the previous reading, percent. */
  readonly tpuUtilPercent: number;
}

export interface RuntimeBackend {
  readonly name: RuntimeName;
  readonly timing: TimingMode;
  /** Device figures; absent where the runtime cannot know them (the simulator). */
  deviceStat?(): RuntimeDeviceStat;
  /** Releases the device; the simulator has nothing to release. */
  close?(): Promise<void>;
  load(bmodel: Uint8Array, options: LoadOptions): Promise<ModelHandle>;
  describe(handle: ModelHandle): ModelDescription;
  infer(
    handle: ModelHandle,
    feeds: Readonly<Record<string, Tensor>>,
    signal?: AbortSignal,
    options?: RuntimeInferOptions,
  ): Promise<InferResult>;
  unload(handle: ModelHandle): Promise<void>;
}
