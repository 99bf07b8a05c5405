// The INT8 simulator BMODEL: the real container (shared/bmodel writeBmodel) carrying the QDQ ONNX
// graph as its executable payload, marked as a simulator BMODEL. Inputs and outputs are FP32 with
// scale 1, as model_deploy.py writes them without --quant_input/--quant_output: the INT8 model
// quantizes its input and dequantizes its output inside the net.
import { writeBmodel, vendorTime, type BmodelTensorSpec } from '../../shared/bmodel/index.js';
import { parseChip, vendorChipName } from '../compile/chip.js';
import { coefficientBytes } from '../compile/coeff-memory.js';
import { simCoefficients } from '../compile/sim-target.js';
import { createOnnxSession, encodeOnnx } from '../onnx/index.js';
import type { PreparedModel } from './prepared-model.js';
import type { Int8Graph } from './qdq.js';
import { zeroInput } from './prepared-model.js';

export interface Int8BmodelOptions {
  readonly netName: string;
  readonly chip: string;
  readonly now?: Date;
}

export async function int8BmodelBytes(
  pm: PreparedModel,
  int8: Int8Graph,
  options: Int8BmodelOptions,
): Promise<{ bmodel: Uint8Array; payload: Uint8Array }> {
  const chip = parseChip(options.chip);
  const payload = encodeOnnx(int8.model);
  // Output shapes as the runtime produces them (one run on zeros), so the BMODEL is truthful.
  const session = await createOnnxSession(payload);
  let outputs: BmodelTensorSpec[];
  try {
    const out = await session.run({ [pm.input.name]: zeroInput(pm.input.shape) });
    outputs = pm.outputs.map((name) => ({ name, dtype: 'FP32', shape: [...out[name]!.shape] }));
  } finally {
    await session.release();
  }
  // Weight memory as the vendor lays it out (INT8 weights, INT32 biases), compile/coeff-memory.ts.
  const coeff = simCoefficients(payload, coefficientBytes(int8.model));
  const bmodel = writeBmodel({
    chip: vendorChipName(chip),
    time: vendorTime(options.now ?? new Date()),
    ...(coeff ? { binary: coeff.binary } : {}),
    nets: [
      {
        name: options.netName,
        stages: [
          {
            inputs: [{ name: pm.input.name, dtype: 'FP32', shape: [...pm.input.shape] }],
            outputs,
            ...(coeff ? { coeffMem: coeff.coeffMem } : {}),
          },
        ],
      },
    ],
    simulator: { payload },
  });
  return { bmodel, payload };
}
