// The suffix scorer's images split over worker threads, one onnxruntime session per thread with
// one intra-op thread each. onnxruntime-node runs a session synchronously on the calling thread,
// and a suffix run is small work (a few late ResNet-50 layers at 7x7 on one image), which one
// session's intra-op pool splits poorly over two cores: images are independent, so each thread
// takes its share of them whole. Each thread keeps its images' stored int8 tensors (the cache a
// suffix starts from) and the values of the last candidate until the search adopts or drops it;
// only the candidate's bytes go in and the graph outputs come back.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { bmfError } from '../../shared/errors.js';
import { SIMULATOR_GRAPH_LEVEL } from '../../shared/simulator/graph-level.js';
import type { Tensor, TensorDtype } from '../../shared/tensor.js';

const ORT_PATH = createRequire(import.meta.url).resolve('onnxruntime-node');

// Messages: [op, id, model bytes | null, argument]; replies [id, 1, images, meta] or [id, 0, why].
//   init:  argument [inputName, inputs as (type, data, dims)]: run the exposed base graph, keep
//          every value; reply with the graph outputs per image and (name, type, dims) of each.
//   score: argument boundary names: run the suffix from the cache (no bytes: nothing to run);
//          keep the merged values as pending; reply with the graph outputs per image.
//   adopt: the pending values become the cache.
// Plain CommonJS evaluated by the thread: no TypeScript loader to start.
const SHARD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const options = {
  graphOptimizationLevel: workerData.graphLevel,
  intraOpNumThreads: 1,
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};
let cache = [];
let pending;
async function runAll(bytes, feeds) {
  const session = await ort.InferenceSession.create(bytes, options);
  try {
    const out = [];
    for (const f of feeds) out.push(await session.run(f));
    return out;
  } finally {
    await session.release();
  }
}
const wire = (t) => [t.type, t.data.slice(), t.dims];
const outputsOf = (values) => values.map((v) => workerData.outputs.map((n) => wire(v.get(n))));
parentPort.on('message', async ([op, id, bytes, arg]) => {
  try {
    if (op === 'init') {
      const [inputName, images] = arg;
      const inputs = images.map(([type, data, dims]) => new ort.Tensor(type, data, dims));
      const out = await runAll(bytes, inputs.map((x) => ({ [inputName]: x })));
      cache = out.map((o, k) => new Map([...Object.entries(o), [inputName, inputs[k]]]));
      const meta = [...cache[0]].map(([n, t]) => [n, t.type, t.dims]);
      parentPort.postMessage([id, 1, outputsOf(cache), meta]);
    } else if (op === 'score') {
      const fresh = bytes
        ? await runAll(bytes, cache.map((v) => Object.fromEntries(arg.map((b) => [b, v.get(b)]))))
        : cache.map(() => ({}));
      pending = cache.map((v, k) => new Map([...v, ...Object.entries(fresh[k])]));
      parentPort.postMessage([id, 1, outputsOf(pending)]);
    } else if (op === 'adopt') {
      cache = pending ?? cache;
      pending = undefined;
      parentPort.postMessage([id, 1, []]);
    }
  } catch (e) {
    parentPort.postMessage([id, 0, String((e && e.message) || e)]);
  }
});
`;

type Wire = [string, ArrayLike<number>, readonly number[]];
type Reply = [number, 1, Wire[][], [string, string, number[]][]?] | [number, 0, string];

/** dtype and shape of a cached value (what a suffix model's boundary inputs are typed from). */
export type ValueMeta = Pick<Tensor, 'dtype' | 'shape'>;

export interface ScoringShards {
  /** Run the exposed base graph; graph outputs per image, in input order. */
  init(
    exposedBase: Uint8Array,
    inputName: string,
    inputs: readonly Tensor[],
  ): Promise<{
    outputs: Record<string, Tensor>[];
    meta: Map<string, ValueMeta>;
  }>;
  /** Run a suffix model (null: nothing changed) from the cache; graph outputs per image. */
  score(suffix: Uint8Array | null, boundary: readonly string[]): Promise<Record<string, Tensor>[]>;
  /** The last scored candidate's values become the cache. */
  adopt(): Promise<void>;
  release(): Promise<void>;
}

function fromWire(w: Wire): Tensor {
  return { dtype: w[0] as TensorDtype, shape: [...w[2]], data: w[1] as never };
}

function startShard(outputs: readonly string[]) {
  const worker = new Worker(SHARD_SOURCE, {
    eval: true,
    execArgv: [],
    workerData: { ortPath: ORT_PATH, outputs, graphLevel: SIMULATOR_GRAPH_LEVEL.quantized },
  });
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const failAll = (e: Error): void => {
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.on('message', (r: Reply) => {
    const p = pending.get(r[0]);
    pending.delete(r[0]);
    p?.resolve(r);
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`scoring thread exited (code ${code})`)));
  const call = async (op: string, bytes: Uint8Array | null, arg: unknown) => {
    const id = nextId++;
    const r = await new Promise<Reply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage([op, id, bytes, arg]);
    });
    if (r[1] === 0) {
      throw bmfError('BMF_ERR_MODEL_UNSUPPORTED', { reason: `scoring a candidate: ${r[2]}` });
    }
    return r;
  };
  return { call, terminate: () => worker.terminate() };
}

/** `threads` scoring threads (at most one per image), each owning a contiguous share. */
export function startScoringShards(
  outputs: readonly string[],
  images: number,
  threads: number,
): ScoringShards {
  const count = Math.max(1, Math.min(threads, images));
  const shards = Array.from({ length: count }, () => startShard(outputs));
  const per = Math.ceil(images / count);
  const toRecords = (rs: Reply[]): Record<string, Tensor>[] =>
    rs.flatMap((r) =>
      (r[2] as Wire[][]).map((img) =>
        Object.fromEntries(outputs.map((n, i) => [n, fromWire(img[i]!)])),
      ),
    );
  return {
    async init(bytes, inputName, inputs) {
      const rs = await Promise.all(
        shards.map((s, k) =>
          s.call('init', bytes, [
            inputName,
            inputs.slice(k * per, (k + 1) * per).map((x) => [x.dtype, x.data, x.shape]),
          ]),
        ),
      );
      const meta = new Map(
        (rs[0]![3] as [string, string, number[]][]).map(([n, type, dims]) => [
          n,
          { dtype: type as TensorDtype, shape: dims },
        ]),
      );
      return { outputs: toRecords(rs), meta };
    },
    async score(suffix, boundary) {
      return toRecords(await Promise.all(shards.map((s) => s.call('score', suffix, boundary))));
    },
    async adopt() {
      await Promise.all(shards.map((s) => s.call('adopt', null, null)));
    },
    async release() {
      await Promise.all(shards.map((s) => s.terminate()));
    },
  };
}
