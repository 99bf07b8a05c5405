// Simulator BMODELs: what the built-in `sim` compile target emits. They are ordinary BMODEL
// containers (a real chip name, so chip checks work, and valid for any vendor-compatible reader)
// whose executable payload is ONNX bytes for the bmfleet sim runtime (onnxruntime-node).
//
// Marking: the kernel module is named SIMULATOR_MODULE_NAME and its Binary holds the payload.
// Why there: a BMODEL carries no "runtime kind" field, and the kernel module is the one place
// the vendor tool prints verbatim (`kernel_module name: bmfleet-sim` in `--info`), so a person
// sees the mark too. Its stages carry no TPU command groups, and a libsophon runtime that loads
// kernel modules (BM1684X, BM1688) fails on an ONNX blob instead of running it; bmfleet's own
// device runtime refuses it up front with BMF_ERR_RUNTIME_SIM_ONLY via isSimulatorBmodel.
import { bmfError } from '../errors.js';
import type { Bmodel } from './types.js';
import { BMODEL_HEADER_SIZE } from './types.js';

export const SIMULATOR_MODULE_NAME = 'bmfleet-sim';

export function isSimulatorBmodel(b: Bmodel): boolean {
  return b.kernelModule?.fileName === SIMULATOR_MODULE_NAME;
}

/** The payload (ONNX bytes) of a simulator BMODEL, a view into `bytes` (no copy). */
export function simulatorPayload(bytes: Uint8Array, b: Bmodel): Uint8Array {
  if (!isSimulatorBmodel(b) || !b.kernelModule) {
    throw bmfError('BMF_ERR_BMODEL_UNSUPPORTED', {
      reason: `not a simulator BMODEL (kernel module is ${b.kernelModule?.fileName ?? 'absent'})`,
    });
  }
  const { start, size } = b.kernelModule.binary;
  const from = BMODEL_HEADER_SIZE + b.header.flatbuffersSize + start;
  if (from + size > bytes.length || start + size > b.header.binarySize) {
    throw bmfError('BMF_ERR_BMODEL_OFFSET', {
      offset: from,
      reason: `simulator payload [${start}, +${size}) lies outside the file`,
    });
  }
  return bytes.subarray(from, from + size);
}
