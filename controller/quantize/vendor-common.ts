// What both vendor INT8 paths (vendor.ts for tpu-mlir, vendor-nntc.ts for tpu-nntc) share: the
// net a produced BMODEL must describe, reading a user's file with a typed error, and the options and
// result both paths take and give.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { bmfError } from '../../shared/errors.js';
import { parseChip, vendorChipName } from '../compile/chip.js';
import type { PreprocessSpec } from '../../shared/preprocess/index.js';
import type { SimilarityTolerance } from '../../shared/stats/similarity.js';
import type { CheckedBmodel, ExpectedNet } from '../compile/toolchains/check-output.js';
import { runToolStep, type ToolEnv } from '../compile/toolchains/runner.js';
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

/**
 * The working directory, log file and step runner both vendor paths use: `<out>/work-<toolchain>`,
 * `<out>/<toolchain>.log` (emptied), and `run` that records each argv in `steps` before running it.
 */
export async function vendorWorkspace(
  o: Pick<VendorQuantizeOptions, 'outDir' | 'env' | 'signal'>,
  toolchain: 'tpu-mlir' | 'tpu-nntc',
) {
  const workDir = resolve(o.outDir, `work-${toolchain}`);
  const logFile = resolve(o.outDir, `${toolchain}.log`);
  await mkdir(workDir, { recursive: true });
  await writeFile(logFile, '');
  const step = { toolchain, cwd: workDir, env: o.env, logFile };
  const withSignal = o.signal ? { signal: o.signal } : {};
  const steps: string[] = [];
  const run = async (stepName: string, argv: string[]): Promise<void> => {
    steps.push(argv.join(' '));
    await runToolStep({ ...step, ...withSignal, step: stepName, argv });
  };
  return { workDir, logFile, step, withSignal, steps, run };
}
