// A libsophon device as typed values: open it, load BMODEL bytes, describe the nets (read field by
// field from bm_net_info_t by the binding), infer on a net, read device statistics. Every failure
// is a BMF_ERR_LIBSOPHON* error naming the call and its status.
import { BMODEL_DTYPES } from '../../../shared/bmodel/types.js';
import type { BmodelDtype } from '../../../shared/bmodel/types.js';
import { bmfError } from '../../../shared/errors.js';
import { fromNativeError, libsophonDir, loadSophonAddon } from './native.js';
import type { DeviceStat, EmulatorCounters, NativeModel, SophonAddon } from './native.js';

export type { DeviceStat, EmulatorCounters } from './native.js';

export interface LibsophonTensor {
  readonly name: string;
  /** bm_data_type_t code and its name (FP32, FP16, INT8, ...). */
  readonly dataType: number;
  readonly dtype: BmodelDtype;
  readonly scale: number;
  readonly zeroPoint: number;
  readonly maxBytes: number;
}

export interface LibsophonStage {
  readonly inputShapes: readonly (readonly number[])[];
  readonly outputShapes: readonly (readonly number[])[];
}

export interface LibsophonNet {
  readonly name: string;
  readonly isDynamic: boolean;
  readonly inputs: readonly LibsophonTensor[];
  readonly outputs: readonly LibsophonTensor[];
  readonly stages: readonly LibsophonStage[];
}

export interface LibsophonOutput {
  readonly name: string;
  readonly dataType: number;
  readonly dtype: BmodelDtype;
  readonly shape: readonly number[];
  readonly data: ArrayBuffer;
}

export interface LibsophonModel {
  readonly nets: readonly LibsophonNet[];
  /** Inputs in the net's order, bytes in 1N layout; the stage is the one the shapes match. */
  infer(
    net: string,
    inputs: readonly { bytes: Uint8Array; shape: readonly number[] }[],
  ): Promise<LibsophonOutput[]>;
  unload(): void;
  /** unload off the event loop: bmrt_destroy waits for the device to go idle. */
  unloadAsync(): Promise<void>;
}

export interface LibsophonDevice {
  readonly dir: string;
  readonly devid: number;
  readonly deviceCount: number;
  load(bytes: Uint8Array): Promise<LibsophonModel>;
  stat(): DeviceStat;
  emulatorCounters(): EmulatorCounters | null;
  close(): void;
}

export interface OpenLibsophonOptions {
  readonly dir?: string;
  readonly devid?: number;
  readonly addon?: SophonAddon;
}

function dtypeName(code: number): BmodelDtype {
  const name = BMODEL_DTYPES[code];
  if (name === undefined) {
    throw bmfError('BMF_ERR_LIBSOPHON_MODEL', {
      call: 'bmrt_get_network_info',
      status: `dtype ${code}`,
    });
  }
  return name;
}

function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fromNativeError(e);
  }
}

async function guardAsync<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw fromNativeError(e);
  }
}

function wrapModel(native: NativeModel): LibsophonModel {
  const nets: LibsophonNet[] = guard(() => native.describe()).map((n) => ({
    name: n.name,
    isDynamic: n.isDynamic,
    inputs: n.inputs.map((t) => ({ ...t, dataType: t.dtype, dtype: dtypeName(t.dtype) })),
    outputs: n.outputs.map((t) => ({ ...t, dataType: t.dtype, dtype: dtypeName(t.dtype) })),
    stages: n.stages,
  }));
  return {
    nets,
    async infer(net, inputs) {
      const info = nets.find((n) => n.name === net);
      const outs = await guardAsync(() =>
        native.infer(
          net,
          inputs.map((i) => i.bytes),
          inputs.map((i) => [...i.shape]),
        ),
      );
      return outs.map((o, k) => ({
        name: info?.outputs[k]?.name ?? `output${k}`,
        dataType: o.dtype,
        dtype: dtypeName(o.dtype),
        shape: o.shape,
        data: o.data,
      }));
    },
    unload: () => guard(() => native.unload()),
    unloadAsync: () => guardAsync(() => native.unloadAsync()),
  };
}

export function openLibsophon(options: OpenLibsophonOptions = {}): LibsophonDevice {
  const dir = options.dir ?? libsophonDir();
  const devid = options.devid ?? 0;
  const addon = options.addon ?? loadSophonAddon();
  const native = guard(() => addon.open(dir, devid));
  return {
    dir,
    devid,
    deviceCount: native.deviceCount,
    load: (bytes) => guardAsync(() => native.load(bytes)).then(wrapModel),
    stat: () => guard(() => native.stat()),
    emulatorCounters: () => guard(() => native.emulatorCounters()),
    close: () => native.close(),
  };
}
