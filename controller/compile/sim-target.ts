// The built-in `sim` target: a BMODEL in the vendor container whose single net, stage, inputs and
// outputs describe the ONNX model as it was compiled (static shapes, FP32 I/O with scale 1, as
// model_deploy keeps float I/O unless told to quantize it) and whose payload is ONNX bytes for the
// simulator runtime, marked as a simulator BMODEL by shared/bmodel (kernel module `bmfleet-sim`).
import { writeBmodel } from '../../shared/bmodel/index.js';
import type { BmodelTensorSpec } from '../../shared/bmodel/index.js';

export interface SimNetDescription {
  readonly netName: string;
  /** Vendor spelling, e.g. BM1684X. */
  readonly chip: string;
  readonly inputs: readonly { name: string; shape: readonly number[] }[];
  readonly outputs: readonly { name: string; shape: readonly number[] }[];
  /** Bytes of every intermediate activation: the neuron (context) memory a device would need. */
  readonly activationBytes: number;
  readonly time?: string;
}

const fp32 = (io: { name: string; shape: readonly number[] }): BmodelTensorSpec => ({
  name: io.name,
  dtype: 'FP32',
  shape: [...io.shape],
  scale: 1,
});

export function buildSimBmodel(net: SimNetDescription, payload: Uint8Array): Uint8Array {
  return writeBmodel({
    chip: net.chip,
    ...(net.time ? { time: net.time } : {}),
    nets: [
      {
        name: net.netName,
        stages: [
          {
            inputs: net.inputs.map(fp32),
            outputs: net.outputs.map(fp32),
            ctxSize: net.activationBytes,
          },
        ],
      },
    ],
    simulator: { payload },
  });
}
