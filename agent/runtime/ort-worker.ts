// One simulator session on its own worker thread. onnxruntime-node builds a session and runs it
// synchronously on the calling thread (its async API only defers the work to a setImmediate), so
// on the event loop a MobileNetV2 session creation stalls every request for 25-40 ms and each
// inference for its whole duration (profiled for bench/agent.ts). Here the serving thread only
// posts tensors; a candidate model loads, warms up and runs its golden set on a different thread
// from the model that serves, which is what keeps request latency flat during a hot-swap.
// Sessions cannot move between threads: each session lives on one thread for its whole life; a
// thread whose session was released is kept as a spare for the next one (session-pool.ts).
//
// Per request the hop must cost next to nothing against the inference (issue 4: <= 1.10x a bare
// session). So buffers are transferred, never structured-cloned (a clone copies twice, and copies
// the whole ArrayBuffer behind a view), and a fresh 600 KB buffer per request is avoided too: its
// first write page-faults, ~0.25 ms on the bench machine, several times the copy itself. An input
// the caller keeps is copied once into a recycled buffer; one the caller hands over (`consume`) is
// moved as is. The thread sends the input buffers back with the outputs, and they are recycled.
// The model's bytes are copied once for the thread too, in slices with event-loop turns between
// (agent/slices.ts): the copy of a 14 MB payload in one go stalled requests 10-14 ms per swap.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { bmfError } from '../../shared/errors.js';
import type { Tensor, TensorDtype } from '../../shared/tensor.js';
import type { GraphOptimizationLevel } from '../../shared/simulator/graph-level.js';
import { copyInSlices } from '../slices.js';
import type { SliceOptions } from '../slices.js';
import { createBufferRecycler } from './buffer-recycler.js';

// Message layouts, kept in step with WORKER_SOURCE; flat arrays of a fixed shape, keyed by an
// integer id, so a call allocates nothing per request beyond its promise:
//   to the thread:   [OP_CREATE, id, onnx: Uint8Array, options]
//                    [OP_RUN, id, feeds: (name, ortType, data, dims) x n]
//                    [OP_RELEASE, id]
//   from the thread: [id, 1, outputs: (name, ortType, data, dims) x n | undefined, input buffers]
//                    [id, 0, message]
const OP_CREATE = 0;
const OP_RUN = 1;
const OP_RELEASE = 2;

// Plain CommonJS, evaluated by the worker: it needs neither the TypeScript loader nor the package
// path (onnxruntime-node's resolved path comes in workerData, so the cwd does not matter).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session;
const fail = (id, e) => parentPort.postMessage([id, 0, String((e && e.message) || e)]);
const done = (id) => parentPort.postMessage([id, 1, undefined, undefined]);
function reply(id, out, inputs) {
  const flat = [];
  const transfer = inputs.slice();
  for (const name in out) {
    const t = out[name];
    // Transfer, not copy; a view on a larger buffer is copied out first.
    const own = t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength ? t.data : t.data.slice();
    flat.push(name, t.type, own, t.dims);
    transfer.push(own.buffer);
  }
  parentPort.postMessage([id, 1, flat, inputs], transfer);
}
parentPort.on('message', (m) => {
  const op = m[0];
  const id = m[1];
  if (op === ${OP_CREATE}) {
    ort.InferenceSession.create(m[2], m[3]).then((s) => { session = s; done(id); }, (e) => fail(id, e));
  } else if (op === ${OP_RELEASE}) {
    const s = session;
    session = undefined;
    (s ? s.release() : Promise.resolve()).then(() => done(id), (e) => fail(id, e));
  } else if (!session) {
    fail(id, 'no session');
  } else {
    const flat = m[2];
    const feeds = {};
    const inputs = [];
    for (let i = 0; i < flat.length; i += 4) {
      feeds[flat[i]] = new ort.Tensor(flat[i + 1], flat[i + 2], flat[i + 3]);
      inputs.push(flat[i + 2].buffer); // onnxruntime is done with them once run settles
    }
    session.run(feeds).then((out) => reply(id, out, inputs), (e) => fail(id, e));
  }
});
`;

export interface OrtSessionOptions {
  readonly intraOpNumThreads: number;
  readonly interOpNumThreads: number;
  readonly graphOptimizationLevel: GraphOptimizationLevel;
}

export interface WorkerOutput {
  readonly name: string;
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: Tensor['data'];
}

/** A thread that holds at most one session at a time; it can be reused for the next one. */
export interface OrtThread {
  /** Creates the session from `onnx` (copied once into the thread). */
  create(onnx: Uint8Array, options: OrtSessionOptions): Promise<void>;
  /**
   * Runs the session; outputs keep onnxruntime's type names (the caller maps them). With
   * `consume`, an input buffer a tensor fully owns moves to the thread and is left detached
   * (length 0): the caller must not read it again. Otherwise each input is copied once.
   */
  run(feeds: Readonly<Record<string, Tensor>>, consume?: boolean): Promise<WorkerOutput[]>;
  /** Frees the session; the thread stays up for another one. */
  release(): Promise<void>;
  terminate(): Promise<void>;
}

type Reply = [id: number, ok: 0 | 1, payload: unknown, inputs?: ArrayBuffer[]];

interface Pending {
  readonly resolve: (r: Reply) => void;
  readonly reject: (e: Error) => void;
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

const ARRAY_OF = {
  float32: Float32Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int32: Int32Array,
  int64: BigInt64Array,
} as const;

/** True when moving `data.buffer` to another thread takes exactly this tensor's bytes. */
function ownsWholeBuffer(data: Tensor['data']): data is Tensor['data'] & { buffer: ArrayBuffer } {
  return (
    data.byteOffset === 0 &&
    data.byteLength === data.buffer.byteLength &&
    data.buffer instanceof ArrayBuffer // a SharedArrayBuffer cannot be transferred
  );
}

export interface OrtThreadOptions {
  /** How the model's bytes are copied for the thread (slice size; tests inject the turn). */
  readonly slices?: SliceOptions;
}

export function startOrtThread(options: OrtThreadOptions = {}): OrtThread {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    execArgv: [], // the thread runs plain JS: no TypeScript loader to start
    workerData: { ortPath: ORT_PATH },
  });
  // Like an onnxruntime session on the main thread, an idle thread does not keep the process
  // alive; it is referenced only while a reply is awaited.
  worker.unref();
  const pending = new Map<number, Pending>();
  const buffers = createBufferRecycler();
  let nextId = 1;
  let gone: Error | undefined;

  const settleAll = (e: Error): void => {
    gone ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
    worker.unref();
  };
  worker.on('message', (r: Reply) => {
    for (const b of r[3] ?? []) buffers.give(b);
    const p = pending.get(r[0]);
    if (!p) return;
    pending.delete(r[0]);
    if (pending.size === 0) worker.unref();
    p.resolve(r);
  });
  worker.on('error', (e) => settleAll(e));
  worker.on('exit', (code) => settleAll(new Error(`simulator thread exited (code ${code})`)));

  function call(message: unknown[], transfer?: ArrayBuffer[]): Promise<Reply> {
    return new Promise((resolve, reject) => {
      if (gone) return reject(gone);
      const id = nextId++;
      message[1] = id;
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      worker.postMessage(message, transfer);
    });
  }

  /** Flat [name, type, data, dims, ...] plus the buffers to move (each at most once). */
  function wireFeeds(feeds: Readonly<Record<string, Tensor>>, consume: boolean) {
    const flat: unknown[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const name in feeds) {
      const t = feeds[name] as Tensor;
      let data: Tensor['data'];
      if (consume && ownsWholeBuffer(t.data) && !transfer.includes(t.data.buffer)) {
        data = t.data;
      } else {
        const copy = buffers.copy(t.data);
        data = new ARRAY_OF[t.dtype](copy) as Tensor['data'];
      }
      flat.push(name, ORT_TYPES[t.dtype], data, t.shape);
      transfer.push(data.buffer as ArrayBuffer);
    }
    return { flat, transfer };
  }

  return {
    async create(onnx, sessionOptions) {
      const own = await copyInSlices(onnx, options.slices);
      const r = await call([OP_CREATE, 0, new Uint8Array(own), sessionOptions], [own]).catch(
        (e: unknown) => {
          throw bmfError(
            'BMF_ERR_RUNTIME_LOAD',
            { reason: `simulator thread failed: ${(e as Error).message}` },
            { cause: e },
          );
        },
      );
      if (r[1] !== 1) {
        throw bmfError('BMF_ERR_RUNTIME_LOAD', {
          reason: `onnxruntime rejected the simulator payload: ${String(r[2])}`,
        });
      }
    },
    async run(feeds, consume = false) {
      const { flat, transfer } = wireFeeds(feeds, consume);
      let r: Reply;
      try {
        r = await call([OP_RUN, 0, flat], transfer);
      } catch (e) {
        throw bmfError('BMF_ERR_RUNTIME_INFER', { reason: (e as Error).message }, { cause: e });
      }
      if (r[1] !== 1) throw bmfError('BMF_ERR_RUNTIME_INFER', { reason: String(r[2]) });
      const out = r[2] as unknown[];
      const outputs: WorkerOutput[] = [];
      for (let i = 0; i < out.length; i += 4) {
        outputs.push({
          name: out[i] as string,
          type: out[i + 1] as string,
          data: out[i + 2] as Tensor['data'],
          dims: out[i + 3] as number[],
        });
      }
      return outputs;
    },
    async release() {
      const r = await call([OP_RELEASE, 0]);
      if (r[1] !== 1) throw bmfError('BMF_ERR_RUNTIME_INFER', { reason: String(r[2]) });
    },
    async terminate() {
      await worker.terminate();
    },
  };
}
