// The `bmrt` backend: runs vendor BMODELs on a Sophon TPU through libsophon (the binding in
// native/sophon, wrapped by libsophon.ts). BMODELs are validated at the edge (shared/bmodel), a
// simulator BMODEL is refused naming the runtime it needs, and feeds are checked against the
// net's stages before the device sees them. `modeled` timing pads to the cost model's latency
// like the simulator does; `host` reports what the call took (device time included).
import { bmodelMemInfo } from '../../../shared/bmodel/memory.js';
import { readBmodel } from '../../../shared/bmodel/read.js';
import type { Bmodel, BmodelDtype } from '../../../shared/bmodel/types.js';
import { bmfError, isBmfError } from '../../../shared/errors.js';
import { tensorBytes } from '../../../shared/tensor.js';
import type { Tensor, TensorDtype } from '../../../shared/tensor.js';
import type { Clock } from '../../clock.js';
import { refuseSimulatorBmodel } from '../sim-bmodel.js';
import type {
  InferResult,
  ModelDescription,
  ModelHandle,
  RuntimeBackend,
  TensorDescription,
  TimingMode,
} from '../types.js';
import type { DeviceStat, LibsophonDevice, LibsophonModel, LibsophonNet } from './libsophon.js';

export interface BmrtBackendOptions {
  readonly device: LibsophonDevice;
  readonly clock: Clock;
  readonly timing: TimingMode;
}

export interface BmrtBackend extends RuntimeBackend {
  /** bm_get_stat: device memory and TPU utilisation since the previous call. */
  deviceStat(): DeviceStat;
  close(): Promise<void>;
}

const TENSOR_DTYPES: Partial<Record<BmodelDtype, TensorDtype>> = {
  FP32: 'float32',
  FP16: 'float16',
  INT8: 'int8',
  UINT8: 'uint8',
  INT32: 'int32',
};

interface BmrtModel {
  readonly handle: ModelHandle;
  readonly model: LibsophonModel;
  readonly net: LibsophonNet;
  readonly modeledLatencyMs: number | undefined;
  readonly inflight: Set<Promise<unknown>>;
}

function tensorDtype(net: LibsophonNet, name: string, dtype: BmodelDtype): TensorDtype {
  const d = TENSOR_DTYPES[dtype];
  if (!d) {
    throw bmfError('BMF_ERR_BMODEL_UNSUPPORTED', {
      reason: `net ${net.name} tensor ${name} has data type ${dtype}, which the agent cannot feed`,
    });
  }
  return d;
}

function describeNet(net: LibsophonNet, chip: string): ModelDescription {
  const stage = net.stages[0]!;
  const io = (kind: 'inputs' | 'outputs'): TensorDescription[] =>
    net[kind].map((t, i) => ({
      name: t.name,
      dtype: tensorDtype(net, t.name, t.dtype),
      shape: [...(kind === 'inputs' ? stage.inputShapes : stage.outputShapes)[i]!],
      scale: t.scale,
      zeroPoint: t.zeroPoint,
    }));
  return { netName: net.name, chip, inputs: io('inputs'), outputs: io('outputs') };
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** The stage whose input shapes the feeds match (each stage holds one batch size). */
function pickStage(net: LibsophonNet, feeds: Readonly<Record<string, Tensor>>): number {
  const extra = Object.keys(feeds).filter((k) => !net.inputs.some((i) => i.name === k));
  if (extra.length > 0) {
    throw bmfError('BMF_ERR_TENSOR_SHAPE', { reason: `unknown inputs ${extra.join(', ')}` });
  }
  for (const input of net.inputs) {
    const t = feeds[input.name];
    if (!t) throw bmfError('BMF_ERR_TENSOR_SHAPE', { reason: `missing input ${input.name}` });
    const want = TENSOR_DTYPES[input.dtype];
    if (t.dtype !== want) {
      throw bmfError('BMF_ERR_TENSOR_SHAPE', {
        reason: `input ${input.name} expects ${want ?? input.dtype}, got ${t.dtype}`,
      });
    }
  }
  const s = net.stages.findIndex((st) =>
    net.inputs.every((input, i) => sameShape(feeds[input.name]!.shape, st.inputShapes[i]!)),
  );
  if (s < 0) {
    const got = net.inputs.map((i) => `${i.name}[${feeds[i.name]!.shape.join(',')}]`).join(' ');
    const have = net.stages
      .map((st) => st.inputShapes.map((sh) => `[${sh.join(',')}]`).join(' '))
      .join(' | ');
    throw bmfError('BMF_ERR_TENSOR_SHAPE', {
      reason: `net ${net.name} has no stage for ${got} (stages: ${have})`,
    });
  }
  return s;
}

function toTensor(dtype: TensorDtype, shape: readonly number[], data: ArrayBuffer): Tensor {
  switch (dtype) {
    case 'float32':
      return { dtype, shape, data: new Float32Array(data) };
    case 'float16':
      return { dtype, shape, data: new Uint16Array(data) };
    case 'int8':
      return { dtype, shape, data: new Int8Array(data) };
    case 'uint8':
      return { dtype, shape, data: new Uint8Array(data) };
    case 'int32':
      return { dtype, shape, data: new Int32Array(data) };
    case 'int64':
      return { dtype, shape, data: new BigInt64Array(data) };
  }
}

/**
 * libbmrt's `bmrt_load_bmodel_data` says only `false`, for a BMODEL it cannot read and for one
 * that does not fit in the device memory left (another model still loaded during a swap). The
 * second is the device's state, not the model's: retried, not rejected (failure-policy.ts).
 */
function loadFailure(e: unknown, bmodel: Bmodel, stat: DeviceStat): unknown {
  if (!isBmfError(e, 'BMF_ERR_LIBSOPHON_MODEL') || e.details.call !== 'bmrt_load_bmodel_data') {
    return e;
  }
  const needMiB = bmodelMemInfo(bmodel).device / 2 ** 20;
  const freeMiB = stat.memTotalMiB - stat.memUsedMiB;
  if (needMiB <= freeMiB) return e;
  return bmfError(
    'BMF_ERR_LIBSOPHON',
    {
      call: 'bmrt_load_bmodel_data',
      status: 'false',
      reason: `device memory: the BMODEL needs ${needMiB.toFixed(1)} MiB, ${freeMiB.toFixed(1)} MiB free`,
    },
    { cause: e },
  );
}

export function createBmrtBackend(options: BmrtBackendOptions): BmrtBackend {
  const { device, clock, timing } = options;
  const models = new Map<number, BmrtModel>();
  let nextId = 1;

  function get(handle: ModelHandle): BmrtModel {
    const m = models.get(handle.id);
    if (!m) throw bmfError('BMF_ERR_RUNTIME_INFER', { reason: `model ${handle.id} not loaded` });
    return m;
  }

  async function unloadModel(m: BmrtModel): Promise<void> {
    models.delete(m.handle.id);
    // libbmrt must not be destroyed under a running launch: let in-flight calls finish first.
    await Promise.allSettled([...m.inflight]);
    await m.model.unloadAsync();
  }

  return {
    name: 'bmrt',
    timing,
    async load(bytes, { digest, modeledLatencyMs }) {
      const bmodel = readBmodel(bytes);
      refuseSimulatorBmodel(bmodel);
      if (bmodel.nets.length !== 1) {
        throw bmfError('BMF_ERR_BMODEL_UNSUPPORTED', {
          reason: `${bmodel.nets.length} nets; the agent serves single-net BMODELs`,
        });
      }
      const model = await device.load(bytes).catch((e: unknown) => {
        throw loadFailure(e, bmodel, device.stat());
      });
      try {
        const net = model.nets[0]!;
        const description = describeNet(net, bmodel.chip);
        const handle: ModelHandle = { id: nextId++, digest, description };
        models.set(handle.id, { handle, model, net, modeledLatencyMs, inflight: new Set() });
        return handle;
      } catch (e) {
        model.unload();
        throw e;
      }
    },
    describe: (handle) => get(handle).handle.description,
    async infer(handle, feeds, signal): Promise<InferResult> {
      const m = get(handle);
      const stage = pickStage(m.net, feeds);
      const start = clock.now();
      const call = m.model.infer(
        m.net.name,
        m.net.inputs.map((i) => ({
          bytes: tensorBytes(feeds[i.name]!),
          shape: feeds[i.name]!.shape,
        })),
      );
      m.inflight.add(call);
      let outs;
      try {
        outs = await call;
      } finally {
        m.inflight.delete(call);
      }
      const outputs: Record<string, Tensor> = {};
      const shapes = m.net.stages[stage]!.outputShapes;
      outs.forEach((o, k) => {
        outputs[o.name] = toTensor(m.handle.description.outputs[k]!.dtype, shapes[k]!, o.data);
      });
      const hostMs = clock.now() - start;
      if (timing === 'modeled' && m.modeledLatencyMs !== undefined) {
        const remaining = m.modeledLatencyMs - hostMs;
        if (remaining > 0) await clock.sleep(remaining, signal);
        return { outputs, inferMs: m.modeledLatencyMs, hostMs, timing: 'modeled' };
      }
      return { outputs, inferMs: hostMs, hostMs, timing: 'host' };
    },
    async unload(handle) {
      const m = models.get(handle.id);
      if (m) await unloadModel(m); // unloading twice is a no-op: executors may repeat a step
    },
    deviceStat: () => device.stat(),
    async close() {
      await Promise.all([...models.values()].map(unloadModel));
      device.close();
    },
  };
}
