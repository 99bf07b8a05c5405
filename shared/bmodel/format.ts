// Text and JSON summaries of a BMODEL in the layout of the vendor model tool's `--info`
// (`tpu_model --info`, `model_tool --info`; docs/vendor.md section 2), plus the store mode, which
// the vendor tool leaves out but INT8 BM1684 models need (4N batching).
import { bmodelMemInfo } from './memory.js';
import type { BmodelMemInfo } from './memory.js';
import { VENDOR_DTYPE_NAMES } from './types.js';
import type { Bmodel, BmodelTensor } from './types.js';
import { isSimulatorBmodel } from './simulator.js';

/** C++ ostream default formatting of a float (6 significant digits, no trailing zeros). */
export function formatFloat(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return String(Number(x.toPrecision(6)));
}

function tensorLine(kind: 'input' | 'output', t: BmodelTensor, dynamic: boolean): string {
  const prefix = dynamic ? 'max:' : '';
  const dims = t.shape.length === 0 ? '[ ]' : `[${t.shape.map((d) => prefix + d).join(', ')}]`;
  return (
    `${kind}: ${t.name}, ${dims}, ${VENDOR_DTYPE_NAMES[t.dtype]}, scale: ${formatFloat(t.scale)}, ` +
    `zero_point: ${t.zeroPoint}, store_mode: ${t.storeMode}`
  );
}

export function formatBmodelInfo(b: Bmodel): string {
  const lines: string[] = [];
  lines.push(`bmodel version: ${b.type}.${b.version}`);
  lines.push(`chip: ${b.chip}${b.deviceNum > 1 ? `,  device num: ${b.deviceNum}` : ''}`);
  // The vendor time string ends with ctime's newline; print it once.
  lines.push(`create time: ${b.time.replace(/\n$/, '')}`);
  if (isSimulatorBmodel(b)) lines.push('simulator BMODEL: runs only on the bmfleet sim runtime');
  if (b.kernelModule) {
    lines.push(`kernel_module name: ${b.kernelModule.fileName}`);
    lines.push(`kernel_module size: ${b.kernelModule.binary.size}`);
  } else {
    lines.push('no kernel_module');
  }
  b.nets.forEach((net, i) => {
    const dynamic = net.stages[0]?.isDynamic ?? false;
    lines.push('==========================================');
    lines.push(`net ${i}: [${net.name}]  ${dynamic ? 'dynamic' : 'static'}`);
    net.stages.forEach((s, j) => {
      lines.push('------------');
      lines.push(`stage ${j}:`);
      if (s.subNets.length > 1) lines.push(`subnet number: ${s.subNets.length}`);
      const inDynamic = s.nDynamic || s.hwDynamic;
      for (const t of s.inputs) lines.push(tensorLine('input', t, inDynamic));
      for (const t of s.outputs) lines.push(tensorLine('output', t, false));
    });
  });
  const m = bmodelMemInfo(b);
  lines.push('');
  lines.push(
    `device mem size: ${m.device} (coeff: ${m.coeff}, instruct: ${m.instruct}, runtime: ${m.runtime})`,
  );
  lines.push(`host mem size: ${m.host} (coeff: ${m.hostCoeff}, runtime: ${m.hostRuntime})`);
  return `${lines.join('\n')}\n`;
}

export interface BmodelInfoJson {
  readonly version: string;
  readonly type: string;
  readonly chip: string;
  readonly deviceNum: number;
  readonly time: string;
  readonly simulator: boolean;
  readonly kernelModule: { readonly name: string; readonly size: number } | null;
  readonly nets: readonly {
    readonly name: string;
    readonly dynamic: boolean;
    readonly stages: readonly {
      readonly inputs: readonly TensorInfoJson[];
      readonly outputs: readonly TensorInfoJson[];
      readonly ctxSize: number;
      readonly coeffSize: number;
      readonly subnets: number;
    }[];
  }[];
  readonly memory: BmodelMemInfo;
  readonly header: { readonly flatbuffersSize: number; readonly binarySize: number };
}

export interface TensorInfoJson {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly dataType: number;
  readonly scale: number;
  readonly zeroPoint: number;
  readonly storeMode: string;
  readonly size: number;
}

function tensorJson(t: BmodelTensor): TensorInfoJson {
  return {
    name: t.name,
    shape: t.shape,
    dtype: t.dtype,
    dataType: t.dataType,
    scale: t.scale,
    zeroPoint: t.zeroPoint,
    storeMode: t.storeMode,
    size: t.size,
  };
}

export function bmodelInfoJson(b: Bmodel): BmodelInfoJson {
  return {
    version: `${b.type}.${b.version}`,
    type: b.type,
    chip: b.chip,
    deviceNum: b.deviceNum,
    time: b.time.replace(/\n$/, ''),
    simulator: isSimulatorBmodel(b),
    kernelModule: b.kernelModule
      ? { name: b.kernelModule.fileName, size: b.kernelModule.binary.size }
      : null,
    nets: b.nets.map((n) => ({
      name: n.name,
      dynamic: n.stages[0]?.isDynamic ?? false,
      stages: n.stages.map((s) => ({
        inputs: s.inputs.map(tensorJson),
        outputs: s.outputs.map(tensorJson),
        ctxSize: s.ctxSize,
        coeffSize: s.coeffMem?.binaryCoeff.size ?? 0,
        subnets: s.subNets.length,
      })),
    })),
    memory: bmodelMemInfo(b),
    header: { flatbuffersSize: b.header.flatbuffersSize, binarySize: b.header.binarySize },
  };
}
