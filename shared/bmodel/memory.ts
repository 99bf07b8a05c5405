// Device and host memory a BMODEL needs, computed the way the vendor model tool's `--info`
// computes them (tpu-mlir ModelCtx::get_bmodel_mem_info):
// - coeff: binary_coeff sizes, each distinct coefficient block (by check_code) counted once;
// - instruct: per static TPU command group, (bdc_num + gdma_num) * 128 bytes on BM1684 (fixed
//   command size there); on later chips commands vary in length, so the binary sizes are used;
//   dynamic stages add their IR (sub-net ir_len * 4, or binary_ir when there are no sub-nets);
// - runtime: neuron memory (max ctx_size per net, summed for multi-sub-net nets) plus the middle
//   buffer (largest input/output at 4 bytes per element);
// - host: cpu_mem_size * 4 per stage. Host coefficients of CPU layers are not parsed (reported 0).
import type { Bmodel, BmodelCmdGroup, BmodelStage } from './types.js';

export interface BmodelMemInfo {
  readonly coeff: number;
  readonly instruct: number;
  readonly runtime: number;
  readonly device: number;
  readonly hostCoeff: number;
  readonly hostRuntime: number;
  readonly host: number;
}

const BM1684_CMD_BYTES = 128;

function cmdBytes(chip: string, g: BmodelCmdGroup): number {
  if (chip === 'BM1684') return (g.bdcNum + g.gdmaNum) * BM1684_CMD_BYTES;
  return g.binaryBdc.size + g.binaryGdma.size;
}

function stageInstructBytes(chip: string, s: BmodelStage): number {
  let total = 0;
  if (s.subNets.length > 0) {
    for (const sn of s.subNets) {
      if (sn.subnetMode !== 0) continue;
      if (sn.isDynamic) total += sn.irLen * 4;
      else for (const g of sn.cmdGroups) total += cmdBytes(chip, g);
    }
  } else if (s.isDynamic) {
    total += s.binaryIr?.size ?? 0;
  } else {
    for (const g of s.cmdGroups) total += cmdBytes(chip, g);
  }
  return total;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function bmodelMemInfo(b: Bmodel): BmodelMemInfo {
  const seenCoeff = new Set<string>();
  let coeff = 0;
  let instruct = 0;
  let middle = 0;
  let hostRuntime = 0;
  let neuronShared = 0;
  let neuronSummed = 0;
  for (const net of b.nets) {
    let maxCtx = 0;
    let multiSubnet = false;
    for (const s of net.stages) {
      maxCtx = Math.max(maxCtx, s.ctxSize);
      if (s.subNets.length > 1) multiSubnet = true;
      if (s.coeffMem) {
        const key =
          s.coeffMem.checkCode || `${s.coeffMem.binaryCoeff.start}+${s.coeffMem.binaryCoeff.size}`;
        if (!seenCoeff.has(key)) {
          seenCoeff.add(key);
          coeff += s.coeffMem.binaryCoeff.size;
        }
      }
      instruct += stageInstructBytes(b.chip, s);
      hostRuntime += s.cpuMemSize * 4;
      for (const t of [...s.inputs, ...s.outputs])
        middle = Math.max(middle, 4 * elementCount(t.shape));
    }
    if (multiSubnet) neuronSummed += maxCtx;
    else neuronShared = Math.max(neuronShared, maxCtx);
  }
  const runtime = neuronSummed + neuronShared + middle;
  const hostCoeff = 0;
  return {
    coeff,
    instruct,
    runtime,
    device: coeff + instruct + runtime,
    hostCoeff,
    hostRuntime,
    host: hostCoeff + hostRuntime,
  };
}
