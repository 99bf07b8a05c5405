// Loads the Node-API binding to libsophon (native/sophon, `npm run build:sophon`) and turns its
// errors into catalogue errors. The binding itself dlopens libsophon from BMFLEET_LIBSOPHON_DIR.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { bmfError, BmfError } from '../../../shared/errors.js';
import { libsophonFailureKind } from './failure-policy.js';

/** libsophon installs under /opt/sophon/libsophon-<ver> with a -current symlink. */
export const DEFAULT_LIBSOPHON_DIR = '/opt/sophon/libsophon-current';

export function libsophonDir(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return env.BMFLEET_LIBSOPHON_DIR || DEFAULT_LIBSOPHON_DIR;
}

export interface NativeTensorInfo {
  readonly name: string;
  readonly dtype: number;
  readonly scale: number;
  readonly zeroPoint: number;
  readonly maxBytes: number;
}

export interface NativeNetInfo {
  readonly name: string;
  readonly isDynamic: boolean;
  readonly inputs: readonly NativeTensorInfo[];
  readonly outputs: readonly NativeTensorInfo[];
  readonly stages: readonly {
    readonly inputShapes: readonly (readonly number[])[];
    readonly outputShapes: readonly (readonly number[])[];
  }[];
}

export interface NativeOutput {
  /** Owned by the binding's pool; handed back for reuse when collected. */
  readonly data: ArrayBuffer;
  readonly shape: readonly number[];
  readonly dtype: number;
}

export interface DeviceStat {
  readonly memTotalMiB: number;
  readonly memUsedMiB: number;
  readonly tpuUtilPercent: number;
}

/** What only the libsophon emulator reports (null on a real libsophon). */
export interface EmulatorCounters {
  readonly liveBlocks: number;
  readonly liveBytes: number;
  readonly launches: number;
  readonly readBeforeSync: number;
  readonly freeBeforeSync: number;
  readonly badAddress: number;
}

export interface NativeModel {
  describe(): NativeNetInfo[];
  infer(net: string, inputs: Uint8Array[], shapes: number[][]): Promise<NativeOutput[]>;
  unload(): void;
  /** bmrt_destroy on a worker thread (it waits for the device to go idle). */
  unloadAsync(): Promise<void>;
  poolStats(): { free: number };
}

export interface NativeDevice {
  readonly deviceCount: number;
  load(bytes: Uint8Array): Promise<NativeModel>;
  stat(): DeviceStat;
  emulatorCounters(): EmulatorCounters | null;
  close(): void;
}

export interface SophonAddon {
  open(dir: string, devid: number): NativeDevice;
}

const CANDIDATES = [
  '../../../build/sophon/bmfleet_sophon.node', // source checkout (tsx)
  '../../../../build/sophon/bmfleet_sophon.node', // compiled into dist/
  '../../../../native/bmfleet_sophon.node', // board package (dist/ beside native/)
];

/** The binding file: $BMFLEET_SOPHON_BINDING, else the first built one found. */
export function sophonBindingPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BMFLEET_SOPHON_BINDING) return env.BMFLEET_SOPHON_BINDING;
  const paths = CANDIDATES.map((c) => fileURLToPath(new URL(c, import.meta.url)));
  return paths.find((p) => existsSync(p)) ?? paths[0]!;
}

let cached: { path: string; addon: SophonAddon } | undefined;

export function loadSophonAddon(path = sophonBindingPath()): SophonAddon {
  if (cached?.path === path) return cached.addon;
  if (!existsSync(path)) {
    throw bmfError('BMF_ERR_LIBSOPHON_MISSING', {
      what: `binding ${path}`,
      reason: 'not built (npm run build:sophon)',
    });
  }
  try {
    const addon = createRequire(import.meta.url)(path) as SophonAddon;
    cached = { path, addon };
    return addon;
  } catch (e) {
    throw bmfError(
      'BMF_ERR_LIBSOPHON_MISSING',
      { what: `binding ${path}`, reason: e instanceof Error ? e.message : String(e) },
      { cause: e },
    );
  }
}

/** The binding's errors carry `code`, `call`, `status`; anything else passes through. */
export function fromNativeError(e: unknown): unknown {
  if (e instanceof BmfError || !(e instanceof Error)) return e;
  const n = e as Error & {
    code?: string;
    call?: string;
    status?: number | string;
    detail?: string;
  };
  if (n.code === 'BMF_ERR_LIBSOPHON') {
    const status = n.status === 'false' ? 'false' : Number(n.status);
    const kind = n.call !== undefined ? libsophonFailureKind(n.call, status) : 'device';
    return bmfError(
      // A refusal of the model rejects the bundle; a device condition is retried (failure-policy.ts).
      kind === 'model' ? 'BMF_ERR_LIBSOPHON_MODEL' : 'BMF_ERR_LIBSOPHON',
      { call: n.call, status: n.status, reason: n.detail || undefined },
      { cause: e },
    );
  }
  if (n.code === 'BMF_ERR_LIBSOPHON_MISSING') {
    return bmfError('BMF_ERR_LIBSOPHON_MISSING', { what: n.call, reason: n.detail }, { cause: e });
  }
  return e;
}
