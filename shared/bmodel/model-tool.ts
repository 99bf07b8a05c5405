// `model_tool --info` as the vendor prints it, line for line, in two layouts (docs/vendor.md
// section 2):
// - new: sophgo/libsophon v0.5.1 `tpu-bmodel/tools/tpu_model.cpp` show(): kernel_module and
//   cpuop_module lines (name, size, md5, or "not found!"), `addr mode` when set, `stage i, core
//   num: n`, one memory block after all nets with (weight, instruct, runtime); memory from the
//   vendor's current `ModelCtx::get_bmodel_mem_info`, whose middle buffer counts INT8/UINT8
//   tensors at 1 byte and everything else at 4;
// - old: sophgo/libsophon v23.05.01 `tpu-bmodel/tools/tpu_model.cpp` show(): `stage i:`, no
//   cpuop_module or addr mode, no device num, the memory block printed after each net with
//   (coeff, instruct, runtime); memory from that release's get_bmodel_mem_info (every tensor at
//   4 bytes, coefficient check codes per net, command sizes only for BM1684/BM1682).
// Both formulas are reproduced as written, including that every stage of a net is measured
// through its first stage (`net_params->Get(0)` in the loop) and that the neuron total keeps
// only the last net's multi-subnet term. Host coefficients of CPU subnets are not parsed (0).
import { createHash } from 'node:crypto';
import { formatFloat } from './format.js';
import type { Bmodel, BmodelModule, BmodelTensor } from './types.js';
import { BMODEL_HEADER_SIZE } from './types.js';

export type ModelToolLayout = 'old' | 'new';
export const MODEL_TOOL_LAYOUTS: readonly ModelToolLayout[] = ['old', 'new'];

export interface ModelToolMem {
  readonly weight: number;
  readonly instruct: number;
  readonly runtime: number;
  readonly device: number;
  readonly hostWeight: number;
  readonly hostRuntime: number;
  readonly host: number;
}

function tensorBytes(t: BmodelTensor, layout: ModelToolLayout): number {
  const unit = layout === 'new' && (t.dataType === 2 || t.dataType === 3) ? 1 : 4;
  return t.shape.reduce((n, d) => n * d, unit);
}

export function modelToolMem(b: Bmodel, layout: ModelToolLayout): ModelToolMem {
  let weight = 0;
  let instruct = 0;
  let middle = 0;
  let hostRuntime = 0;
  let neuron = 0;
  let netMaxNeuron = 0;
  const globalCodes = new Set<string>();
  for (const net of b.nets) {
    const codes = layout === 'new' ? globalCodes : new Set<string>();
    neuron = 0;
    let maxNeuron = 0;
    let multi = false;
    const first = net.stages[0];
    if (!first) continue;
    for (let k = 0; k < net.stages.length; k++) {
      const p = first;
      maxNeuron = Math.max(maxNeuron, p.ctxSize);
      if (p.subNets.length > 1) multi = true;
      if (p.coeffMem) {
        if (!codes.has(p.coeffMem.checkCode)) {
          codes.add(p.coeffMem.checkCode);
          weight += p.coeffMem.binaryCoeff.size;
        }
      }
      for (const sn of p.subNets) {
        if (sn.subnetMode !== 0) continue;
        if (sn.isDynamic) {
          instruct += sn.irLen * 4;
          continue;
        }
        for (const g of sn.cmdGroups) {
          if (b.chip === 'BM1682') instruct += (g.bdcNum + g.gdmaNum) * 256;
          else if (b.chip === 'BM1684') instruct += (g.bdcNum + g.gdmaNum) * 128;
          else if (layout === 'new') instruct += g.binaryBdc.size + g.binaryGdma.size;
        }
      }
      hostRuntime += p.cpuMemSize * 4;
      for (const t of [...p.inputs, ...p.outputs])
        middle = Math.max(middle, tensorBytes(t, layout));
    }
    if (multi) neuron += maxNeuron;
    else netMaxNeuron = Math.max(netMaxNeuron, maxNeuron);
  }
  neuron += netMaxNeuron;
  const runtime = neuron + middle;
  return {
    weight,
    instruct,
    runtime,
    device: weight + instruct + runtime,
    hostWeight: 0,
    hostRuntime,
    host: hostRuntime,
  };
}

function shapeText(shape: readonly number[], dynamic: boolean): string {
  if (shape.length === 0) return '[ ]';
  const prefix = dynamic ? 'max:' : '';
  return `[${shape.map((d) => `${prefix}${d}`).join(', ')}]`;
}

// The vendor's type_name(): data_type indexes this list; anything past it prints "unkown".
const TYPE_NAMES = [
  'float32',
  'float16',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'bfloat16',
  'int4',
  'uint4',
];

function tensorText(kind: 'input' | 'output', t: BmodelTensor, dynamic: boolean): string {
  const type = TYPE_NAMES[t.dataType] ?? 'unkown';
  return `${kind}: ${t.name}, ${shapeText(t.shape, dynamic)}, ${type}, scale: ${formatFloat(t.scale)}, zero point: ${t.zeroPoint}\n`;
}

function moduleText(label: string, m: BmodelModule | undefined, bytes: Uint8Array, b: Bmodel) {
  if (!m) return `${label}: not found!\n`;
  const from = BMODEL_HEADER_SIZE + b.header.flatbuffersSize + m.binary.start;
  const md5 = createHash('md5')
    .update(bytes.subarray(from, from + m.binary.size))
    .digest('hex');
  return `${label} name: ${m.fileName}\n${label} size: ${m.binary.size}\n${label} md5: ${md5}\n`;
}

function memText(m: ModelToolMem, label: 'weight' | 'coeff'): string {
  return (
    `device mem size: ${m.device} (${label}: ${m.weight}, instruct: ${m.instruct}, runtime: ${m.runtime})\n` +
    `host mem size: ${m.host} (${label}: ${m.hostWeight}, runtime: ${m.hostRuntime})\n`
  );
}

/** Pure: the text `model_tool --info FILE` prints for this BMODEL (`bytes`: the whole file). */
export function formatModelToolInfo(
  b: Bmodel,
  bytes: Uint8Array,
  layout: ModelToolLayout = 'new',
): string {
  let out = `bmodel version: ${b.type}.${b.version}\n`;
  if (layout === 'new') {
    out += `chip: ${b.chip}${b.deviceNum > 1 ? `,  device num: ${b.deviceNum}` : ''}`;
    // The vendor time string keeps ctime's newline, so the tool prints an empty line after it.
    out += `\ncreate time: ${b.time}\n`;
    out += moduleText('kernel_module', b.kernelModule, bytes, b);
    out += moduleText('cpuop_module', b.cpuopModule, bytes, b);
  } else {
    out += `chip: ${b.chip}\ncreate time: ${b.time}\n`;
    out += moduleText('kernel_module', b.kernelModule, bytes, b);
  }
  const oldMem = layout === 'old' ? memText(modelToolMem(b, 'old'), 'coeff') : '';
  b.nets.forEach((net, i) => {
    const first = net.stages[0];
    if (!first) return;
    out += '==========================================\n';
    out += `net ${i}: [${net.name}]  ${first.isDynamic ? 'dynamic' : 'static'}\n`;
    if (layout === 'new' && net.addrMode) out += `addr mode: ${net.addrMode}\n`;
    net.stages.forEach((s, j) => {
      out += '------------\n';
      out +=
        layout === 'new'
          ? `stage ${j}, core num: ${s.coreNum === 0 ? 1 : s.coreNum}\n`
          : `stage ${j}:\n`;
      if (s.subNets.length > 1) out += `subnet number: ${s.subNets.length}\n`;
      const dynamicInput = s.nDynamic || s.hwDynamic;
      for (const t of s.inputs) out += tensorText('input', t, dynamicInput);
      for (const t of s.outputs) out += tensorText('output', t, false);
    });
    if (layout === 'old') out += `\n${oldMem}`;
  });
  if (layout === 'new') out += `\n\n${memText(modelToolMem(b, 'new'), 'weight')}`;
  return out;
}
