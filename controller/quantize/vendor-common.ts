// What both vendor INT8 paths (vendor.ts for tpu-mlir, vendor-nntc.ts for tpu-nntc) share: the
// net a produced BMODEL must describe, reading a user's file with a typed error, and the options and
// result both paths take and give.
import { readFile } from 'node:fs/promises';
import { bmfError } from '../../shared/errors.js';
import { parseChip, vendorChipName } from '../compile/chip.js';
import type { PreprocessSpec } from '../../shared/preprocess/index.js';
import type { SimilarityTolerance } from '../../shared/stats/similarity.js';
import type { CheckedBmodel, ExpectedNet } from '../compile/toolchains/check-output.js';
import type { ToolEnv } from '../compile/toolchains/runner.js';
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

export interface VendorQuantizeOptions {
  readonly target: 'tpu-mlir' | 'tpu-nntc';
  readonly modelPath: string;
  /** Net name in the BMODEL and file names (default: the model file's name). */
  readonly netName?: string;
  readonly spec: PreprocessSpec;
  readonly chip: string;
  readonly outDir: string;
  /** Images for run_calibration.py; also the source of the one test input for model_deploy. */
  readonly calibrationDir?: string;
  /** A calibration table to use instead of run_calibration.py (checked against the model). */
  readonly calibrationTable?: string;
  readonly quantizeTable?: string;
  /** Passed as model_deploy --tolerance only when given (else the vendor's default 0.8,0.5). */
  readonly tolerance?: SimilarityTolerance;
  /** run_calibration.py --input_num (default: every calibration image). */
  readonly inputNum?: number;
  readonly env: ToolEnv;
  readonly signal?: AbortSignal;
}

export interface VendorQuantizeResult {
  /** The release's capabilities as probed (TpuMlirCaps or, for tpu-nntc, TpuNntcCaps). */
  readonly caps: { readonly version: string };
  readonly bmodelPath: string;
  readonly checked: CheckedBmodel;
  readonly calibrationTable: {
    readonly path: string;
    readonly from: 'run_calibration' | 'calibration_use_pb' | 'user';
  };
  readonly steps: readonly string[];
  readonly logFile: string;
  readonly text: string;
}
