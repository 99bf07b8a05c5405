// The built-in `sim` target: a BMODEL in the vendor container whose single net, stage, inputs and
// outputs describe the ONNX model as it was compiled (static shapes, FP32 I/O with scale 1, as
// model_deploy keeps float I/O unless told to quantize it) and whose payload is ONNX bytes for the
// simulator runtime, marked as a simulator BMODEL by shared/bmodel (kernel module `bmfleet-sim`).
import { createHash } from 'node:crypto';
import { writeBmodel } from '../../shared/bmodel/index.js';
import type { BmodelCoeffMem, BmodelTensorSpec } from '../../shared/bmodel/index.js';

export interface SimNetDescription {
  readonly netName: string;
  /** Vendor spelling, e.g. BM1684X. */
  readonly chip: string;
  readonly inputs: readonly { name: string; shape: readonly number[] }[];
  readonly outputs: readonly { name: string; shape: readonly number[] }[];
  /** Bytes of every intermediate activation: the neuron (context) memory a device would need. */
  readonly activationBytes: number;
  /** Coefficient memory as the vendor would lay the weights out (coeff-memory.ts). */
  readonly coeffBytes?: number;
  readonly time?: string;
}

/**
 * The coefficient block of a simulator BMODEL, so `bmodel inspect` and the vendor's memory
 * formula report the weight memory the same net needs on the chip. Its range is the start of the
 * binary region, which holds the payload (the weights live in it); when the aligned size is
 * larger than the payload (tiny nets), zero bytes before the payload make up the difference. The
 * check code is the payload's sha256, so two nets share a block only if they share the payload.
 */
export function simCoefficients(
  payload: Uint8Array,
  coeffBytes: number,
): { binary: Uint8Array; coeffMem: BmodelCoeffMem } | undefined {
  if (coeffBytes <= 0) return undefined;
  return {
    binary: new Uint8Array(Math.max(0, coeffBytes - payload.length)),
    coeffMem: {
      address: 0,
      checkCode: createHash('sha256').update(payload).digest('hex'),
      binaryCoeff: { start: 0, size: coeffBytes },
      encryptMode: 0,
      decryptSize: 0,
    },
  };
}

const fp32 = (io: { name: string; shape: readonly number[] }): BmodelTensorSpec => ({
  name: io.name,
  dtype: 'FP32',
  shape: [...io.shape],
  scale: 1,
});

export function buildSimBmodel(net: SimNetDescription, payload: Uint8Array): Uint8Array {
  const coeff = simCoefficients(payload, net.coeffBytes ?? 0);
  return writeBmodel({
    chip: net.chip,
    ...(net.time ? { time: net.time } : {}),
    ...(coeff ? { binary: coeff.binary } : {}),
    nets: [
      {
        name: net.netName,
        stages: [
          {
            inputs: net.inputs.map(fp32),
            outputs: net.outputs.map(fp32),
            ctxSize: net.activationBytes,
            ...(coeff ? { coeffMem: coeff.coeffMem } : {}),
          },
        ],
      },
    ],
    simulator: { payload },
  });
}
