// One simulator session on its own worker thread. onnxruntime-node builds a session and runs it
// synchronously on the calling thread (its async API only defers the work to a setImmediate), so
// on the event loop a MobileNetV2 session creation stalls every request for 25-40 ms and each
// inference for its whole duration (profiled for bench/agent.ts). Here the serving thread only
// posts tensors; a candidate model loads, warms up and runs its golden set on a different thread
// from the model that serves, which is what keeps request latency flat during a hot-swap.
// Sessions cannot move between threads: each session lives on one thread for its whole life; a
// thread whose session was released is kept as a spare for the next one (session-pool.ts).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { bmfError } from '../../shared/errors.js';
import type { Tensor, TensorDtype } from '../../shared/tensor.js';

/** [name, onnxruntime type, data, dims]: what crosses the thread boundary. */
type WireTensor = [string, string, Tensor['data'], number[]];

// Plain CommonJS, evaluated by the worker: it needs neither the TypeScript loader nor the package
// path (onnxruntime-node's resolved path comes in workerData, so the cwd does not matter).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session;
const ok = (id, extra, transfer) => parentPort.postMessage({ id, ok: true, ...extra }, transfer);
const fail = (id, e) => parentPort.postMessage({ id, ok: false, message: String((e && e.message) || e) });
parentPort.on('message', (m) => {
  if (m.op === 'create') {
    ort.InferenceSession.create(m.onnx, m.options).then((s) => { session = s; ok(m.id); }, (e) => fail(m.id, e));
  } else if (m.op === 'release') {
    const s = session;
    session = undefined;
    (s ? s.release() : Promise.resolve()).then(() => ok(m.id), (e) => fail(m.id, e));
  } else if (!session) {
    fail(m.id, 'no session');
  } else {
    const feeds = {};
    for (const [name, type, data, dims] of m.feeds) feeds[name] = new ort.Tensor(type, data, dims);
    session.run(feeds).then((out) => {
      const outputs = [];
      const transfer = [];
      for (const [name, t] of Object.entries(out)) {
        // Transfer, not copy; a view on a shared buffer is copied out first.
        const own = t.data.byteLength === t.data.buffer.byteLength ? t.data : t.data.slice();
        outputs.push([name, t.type, own, t.dims]);
        transfer.push(own.buffer);
      }
      ok(m.id, { outputs }, transfer);
    }, (e) => fail(m.id, e));
  }
});
`;

export interface OrtSessionOptions {
  readonly intraOpNumThreads: number;
  readonly interOpNumThreads: number;
  readonly graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface WorkerOutput {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: Tensor['data'];
}

/** A thread that holds at most one session at a time; it can be reused for the next one. */
export interface OrtThread {
  /** Creates the session from `onnx` (copied once into the thread). */
  create(onnx: Uint8Array, options: OrtSessionOptions): Promise<void>;
  /** Runs the session; outputs keep onnxruntime's type names (the caller maps them). */
  run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, WorkerOutput>>;
  /** Frees the session; the thread stays up for another one. */
  release(): Promise<void>;
  terminate(): Promise<void>;
}

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly message?: string;
  readonly outputs?: WireTensor[];
}

const ORT_PATH = createRequire(import.meta.url).resolve('onnxruntime-node');

export const ORT_TYPES: Record<TensorDtype, string> = {
  float32: 'float32',
  float16: 'float16',
  int8: 'int8',
  uint8: 'uint8',
  int32: 'int32',
  int64: 'int64',
};

export function startOrtThread(): OrtThread {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    execArgv: [], // the thread runs plain JS: no TypeScript loader to start
    workerData: { ortPath: ORT_PATH },
  });
  // Like an onnxruntime session on the main thread, an idle thread does not keep the process
  // alive; it is referenced only while a reply is awaited.
  worker.unref();
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let gone: Error | undefined;

  const settleAll = (e: Error): void => {
    gone ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
    worker.unref();
  };
  worker.on('message', (r: Reply) => {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (pending.size === 0) worker.unref();
    p.resolve(r);
  });
  worker.on('error', (e) => settleAll(e));
  worker.on('exit', (code) => settleAll(new Error(`simulator thread exited (code ${code})`)));

  function call(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    return new Promise((resolve, reject) => {
      if (gone) return reject(gone);
      const id = nextId++;
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...message }, transfer);
    });
  }

  return {
    async create(onnx, options) {
      const own = onnx.slice();
      const r = await call({ op: 'create', onnx: own, options }, [own.buffer]).catch(
        (e: unknown) => {
          throw bmfError(
            'BMF_ERR_RUNTIME_LOAD',
            { reason: `simulator thread failed: ${(e as Error).message}` },
            { cause: e },
          );
        },
      );
      if (!r.ok) {
        throw bmfError('BMF_ERR_RUNTIME_LOAD', {
          reason: `onnxruntime rejected the simulator payload: ${r.message ?? '?'}`,
        });
      }
    },
    async run(feeds) {
      const wire: WireTensor[] = Object.entries(feeds).map(([name, t]) => [
        name,
        ORT_TYPES[t.dtype],
        t.data,
        [...t.shape],
      ]);
      // Inputs are copied (structured clone): callers reuse them (golden sets, shadow runs).
      const r = await call({ op: 'run', feeds: wire }).catch((e: unknown) => {
        throw bmfError('BMF_ERR_RUNTIME_INFER', { reason: (e as Error).message }, { cause: e });
      });
      if (!r.ok) throw bmfError('BMF_ERR_RUNTIME_INFER', { reason: r.message ?? 'failed' });
      const outputs: Record<string, WorkerOutput> = {};
      for (const [name, type, data, dims] of r.outputs ?? []) outputs[name] = { type, dims, data };
      return outputs;
    },
    async release() {
      const r = await call({ op: 'release' });
      if (!r.ok) throw bmfError('BMF_ERR_RUNTIME_INFER', { reason: r.message ?? 'release failed' });
    },
    async terminate() {
      await worker.terminate();
    },
  };
}
