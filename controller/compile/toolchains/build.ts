// Compile through a vendor toolchain: the step sequence of each (docs/vendor.md section 1), run by
// runner.ts, ending with the produced BMODEL read back and checked (check-output.ts).
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { bmfError } from '../../../shared/errors.js';
import type { PreprocessSpec } from '../../../shared/preprocess/index.js';
import type { Tensor } from '../../../shared/tensor.js';
import type { CompilePrecision } from '../chip.js';
import { readToolOutput } from './check-output.js';
import type { CheckedBmodel, ExpectedNet } from './check-output.js';
import { encodeNpyFloat32 } from './npy.js';
import { runToolStep } from './runner.js';
import type { ToolEnv, ToolchainName } from './runner.js';
import { bmnetoArgv, bmnetpArgv } from './tpu-nntc.js';
import { modelDeployArgv, modelTransformArgv } from './tpu-mlir.js';
import type { TpuMlirQuantize } from './tpu-mlir.js';

export interface ToolchainBuild {
  readonly toolchain: ToolchainName;
  readonly modelPath: string;
  /** What modelPath holds: ONNX (bmneto) or a TorchScript trace (bmnetp; model_transform .pt). */
  readonly source?: 'onnx' | 'torchscript';
  readonly netName: string;
  /** Lower-case chip (bm1684x). */
  readonly chip: string;
  readonly precision: CompilePrecision;
  readonly preprocess: PreprocessSpec;
  readonly inputShapes: readonly (readonly number[])[];
  readonly expected: ExpectedNet;
  /** The vendor tools' scratch directory. */
  readonly workDir: string;
  readonly bmodelPath: string;
  readonly logFile: string;
  readonly env: ToolEnv;
  /** One test input for the vendor's own comparison (single-input models only). */
  readonly testInput?: Tensor<'float32'>;
  readonly tolerance: { cosine: number; euclidean: number };
  readonly signal?: AbortSignal;
}

const QUANTIZE: Readonly<Record<CompilePrecision, TpuMlirQuantize>> = {
  fp32: 'F32',
  fp16: 'F16',
  bf16: 'BF16',
};

async function viaTpuMlir(b: ToolchainBuild): Promise<void> {
  const name = b.netName;
  const step = {
    toolchain: b.toolchain,
    cwd: b.workDir,
    env: b.env,
    logFile: b.logFile,
    signal: b.signal,
  };
  let testInput: string | undefined;
  if (b.testInput) {
    testInput = join(b.workDir, `${name}_test_input.npy`);
    await writeFile(testInput, encodeNpyFloat32(b.testInput));
  }
  // model_transform.py picks its front end by the file name: TorchScript must end in .pt.
  let modelDef = resolve(b.modelPath);
  if (b.source === 'torchscript' && extname(modelDef) !== '.pt') {
    modelDef = join(resolve(b.workDir), `${name}.pt`);
    await copyFile(b.modelPath, modelDef);
  }
  const mlir = join(b.workDir, `${name}.mlir`);
  const topOutputs = join(b.workDir, `${name}_top_outputs.npz`);
  await runToolStep({
    ...step,
    step: 'model_transform',
    argv: modelTransformArgv({
      modelName: name,
      modelDef,
      inputShapes: b.inputShapes,
      preprocess: b.preprocess,
      ...(testInput ? { testInput, testResult: topOutputs } : {}),
      mlir,
    }),
  });
  await runToolStep({
    ...step,
    step: 'model_deploy',
    argv: modelDeployArgv({
      mlir,
      quantize: QUANTIZE[b.precision],
      chip: b.chip,
      // model_transform writes the preprocessed input it used as <name>_in_f32.npz.
      ...(testInput
        ? {
            testInput: join(b.workDir, `${name}_in_f32.npz`),
            testReference: topOutputs,
            tolerance: b.tolerance,
          }
        : {}),
      model: resolve(b.bmodelPath),
    }),
  });
}

async function viaTpuNntc(b: ToolchainBuild): Promise<void> {
  if (b.precision !== 'fp32') {
    // bmneto/bmnetp emit FP32 BMODELs; reduced float precisions are a tpu-mlir feature.
    throw bmfError('BMF_ERR_PRECISION_UNSUPPORTED', {
      precision: b.precision,
      chip: `${b.chip} with tpu-nntc`,
    });
  }
  const outdir = join(b.workDir, 'compilation');
  const torch = b.source === 'torchscript';
  const front = {
    model: resolve(b.modelPath),
    shapes: b.inputShapes,
    target: b.chip.toUpperCase(),
    outdir,
    netName: b.netName,
    opt: 1 as const,
  };
  await runToolStep({
    toolchain: b.toolchain,
    cwd: b.workDir,
    env: b.env,
    logFile: b.logFile,
    signal: b.signal,
    step: torch ? 'bmnetp' : 'bmneto',
    argv: torch ? bmnetpArgv(front) : bmnetoArgv(front),
  });
  const produced = join(outdir, 'compilation.bmodel');
  try {
    await copyFile(produced, b.bmodelPath);
  } catch {
    throw bmfError('BMF_ERR_TOOLCHAIN_OUTPUT', { toolchain: b.toolchain, path: produced });
  }
}

export async function buildWithToolchain(b: ToolchainBuild): Promise<CheckedBmodel> {
  await mkdir(b.workDir, { recursive: true });
  await writeFile(b.logFile, '');
  if (b.toolchain === 'tpu-mlir') await viaTpuMlir(b);
  else await viaTpuNntc(b);
  return readToolOutput(b.toolchain, b.bmodelPath, b.expected);
}
