// Opens a BMODEL for the simulator: parse and validate the container (shared/bmodel), make sure it
// is a simulator BMODEL, and take out its ONNX payload. Device BMODELs carry TPU command streams
// the simulator cannot execute; they need the bmrt backend.
import { readBmodel } from '../../shared/bmodel/read.js';
import { isSimulatorBmodel, simulatorPayload } from '../../shared/bmodel/simulator.js';
import type { Bmodel } from '../../shared/bmodel/types.js';
import { bmfError } from '../../shared/errors.js';

export interface OpenedSimulatorBmodel {
  readonly bmodel: Bmodel;
  readonly onnx: Uint8Array;
}

export function openSimulatorBmodel(bytes: Uint8Array): OpenedSimulatorBmodel {
  const bmodel = readBmodel(bytes);
  if (!isSimulatorBmodel(bmodel)) {
    throw bmfError('BMF_ERR_RUNTIME_LOAD', {
      reason: `BMODEL for ${bmodel.chip} carries TPU instructions and needs the bmrt runtime; the sim runtime runs only simulator BMODELs`,
    });
  }
  return { bmodel, onnx: simulatorPayload(bytes, bmodel) };
}

/** What a device runtime (bmrt) calls first: a simulator BMODEL has nothing a TPU can run. */
export function refuseSimulatorBmodel(bmodel: Bmodel): void {
  if (isSimulatorBmodel(bmodel)) {
    throw bmfError('BMF_ERR_RUNTIME_SIM_ONLY', {
      reason: `net ${bmodel.nets[0]?.name ?? '?'} was built by the sim target (ONNX payload, no TPU commands) and needs the sim runtime`,
    });
  }
}
