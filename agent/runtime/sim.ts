// The `sim` backend: runs the ONNX payload a simulator BMODEL carries (built by the compiler's
// `sim` target) with onnxruntime-node. Timing `host` reports what this machine measured;
// `modeled` waits until the cost model's device latency (bundle metadata) has passed and reports
// that latency as the infer stage, so fleet tests see board-like latencies. Which one applied is
// reported with every result. The session runs on its own worker thread (ort-worker.ts), so
// inference does not hold up the event loop; `consumeInputs` lets the input buffers move to that
// thread instead of being copied.
import { bmfError } from '../../shared/errors.js';
import type { Tensor, TensorDtype } from '../../shared/tensor.js';
import type { Clock } from '../clock.js';
import { checkFeeds, describeBmodel } from './describe.js';
import { ORT_TYPES } from './ort-worker.js';
import type { WorkerOutput } from './ort-worker.js';
import type { SimSession, SimSessionPool } from './session-pool.js';
import { openSimulatorBmodel } from './sim-bmodel.js';
import type {
  InferResult,
  ModelDescription,
  ModelHandle,
  RuntimeBackend,
  TimingMode,
} from './types.js';

export interface SimBackendOptions {
  readonly pool: SimSessionPool;
  readonly clock: Clock;
  readonly timing: TimingMode;
}

interface SimModel {
  readonly handle: ModelHandle;
  readonly session: SimSession;
  readonly modeledLatencyMs: number | undefined;
}

const DTYPE_OF_ORT_TYPE = new Map(
  (Object.keys(ORT_TYPES) as TensorDtype[]).map((k) => [ORT_TYPES[k], k] as const),
);

function toShared(t: WorkerOutput): Tensor {
  const dtype = DTYPE_OF_ORT_TYPE.get(t.type);
  if (!dtype) {
    throw bmfError('BMF_ERR_RUNTIME_INFER', { reason: `output ${t.name} has type ${t.type}` });
  }
  return { dtype, shape: [...t.dims], data: t.data as Tensor['data'] };
}

export function createSimBackend(options: SimBackendOptions): RuntimeBackend {
  const { pool, clock, timing } = options;
  const models = new Map<number, SimModel>();
  let nextId = 1;

  function get(handle: ModelHandle): SimModel {
    const m = models.get(handle.id);
    if (!m) throw bmfError('BMF_ERR_RUNTIME_INFER', { reason: `model ${handle.id} not loaded` });
    return m;
  }

  return {
    name: 'sim',
    timing,
    async load(bytes, { digest, modeledLatencyMs }) {
      const { bmodel, onnx } = openSimulatorBmodel(bytes);
      const description: ModelDescription = describeBmodel(bmodel);
      const session = await pool.acquire(digest, () => onnx);
      const handle: ModelHandle = { id: nextId++, digest, description };
      models.set(handle.id, { handle, session, modeledLatencyMs });
      return handle;
    },
    describe: (handle) => get(handle).handle.description,
    async infer(handle, feeds, signal, options): Promise<InferResult> {
      const model = get(handle);
      checkFeeds(model.handle.description, feeds);
      const start = clock.now();
      const raw = await model.session.run(feeds, options?.consumeInputs === true);
      const outputs: Record<string, Tensor> = {};
      for (const t of raw) outputs[t.name] = toShared(t);
      const hostMs = clock.now() - start;
      if (timing === 'modeled' && model.modeledLatencyMs !== undefined) {
        // Behave like the board: never answer sooner than it would, and report its latency. This
        // host's own time for the simulator graph says nothing about the TPU (an INT8 QDQ graph
        // runs slower than FP32 on a CPU, the opposite of the chip), so it is not reported.
        const remaining = model.modeledLatencyMs - hostMs;
        if (remaining > 0) await clock.sleep(remaining, signal);
        return { outputs, inferMs: model.modeledLatencyMs, hostMs, timing: 'modeled' };
      }
      return { outputs, inferMs: hostMs, hostMs, timing: 'host' };
    },
    async unload(handle) {
      const model = models.get(handle.id);
      if (!model) return; // unloading twice is a no-op: executors may repeat a step
      models.delete(handle.id);
      await pool.release(model.handle.digest);
    },
  };
}
