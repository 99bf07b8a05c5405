// What both vendor INT8 paths (vendor.ts for tpu-mlir, vendor-nntc.ts for tpu-nntc) share: the
// net a produced BMODEL must describe, and reading a user's file with a typed error.
import { readFile } from 'node:fs/promises';
import { bmfError } from '../../shared/errors.js';
import { parseChip, vendorChipName } from '../compile/chip.js';
import type { ExpectedNet } from '../compile/toolchains/check-output.js';
import { createOnnxSession } from '../onnx/index.js';
import { zeroInput, type PreparedModel } from './prepared-model.js';

export async function expectedNet(pm: PreparedModel, chip: string): Promise<ExpectedNet> {
  const session = await createOnnxSession(pm.bytes);
  try {
    const out = await session.run({ [pm.input.name]: zeroInput(pm.input.shape) });
    return {
      chip: vendorChipName(parseChip(chip)),
      inputs: [{ name: pm.input.name, shape: [...pm.input.shape] }],
      outputs: pm.outputs.map((name) => ({ name, shape: [...out[name]!.shape] })),
    };
  } finally {
    await session.release();
  }
}

export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message }, { cause: e });
  }
}
