// tpu-mlir command lines (docs/vendor.md section 1), built as argv arrays by pure functions so the
// exact commands are tested as data (test/fixtures/compile/commands.json) and run without a shell.
import { toModelTransformArgs } from '../../../shared/preprocess/index.js';
import type { PreprocessSpec } from '../../../shared/preprocess/index.js';

export type TpuMlirQuantize = 'F32' | 'F16' | 'BF16' | 'INT8';

/** `[[1,3,224,224]]`: model_transform parses --input_shapes as a Python list of lists. */
export function shapesArg(shapes: readonly (readonly number[])[]): string {
  return `[${shapes.map((s) => `[${s.join(',')}]`).join(',')}]`;
}

export interface ModelTransformArgs {
  readonly modelName: string;
  readonly modelDef: string;
  readonly inputShapes: readonly (readonly number[])[];
  readonly preprocess: PreprocessSpec;
  readonly testInput?: string;
  readonly testResult?: string;
  readonly mlir: string;
}

export function modelTransformArgv(a: ModelTransformArgs): string[] {
  return [
    'model_transform.py',
    '--model_name',
    a.modelName,
    '--model_def',
    a.modelDef,
    '--input_shapes',
    shapesArg(a.inputShapes),
    ...toModelTransformArgs(a.preprocess),
    ...(a.testInput ? ['--test_input', a.testInput] : []),
    ...(a.testResult ? ['--test_result', a.testResult] : []),
    '--mlir',
    a.mlir,
  ];
}

export interface ModelDeployArgs {
  readonly mlir: string;
  readonly quantize: TpuMlirQuantize;
  /** Lower-case chip name as model_deploy takes it (bm1684x). */
  readonly chip: string;
  readonly calibrationTable?: string;
  readonly quantizeTable?: string;
  readonly testInput?: string;
  readonly testReference?: string;
  /** cosine,euclidean pair; model_deploy's default is 0.8,0.5. */
  readonly tolerance?: { cosine: number; euclidean: number };
  readonly model: string;
}

export function modelDeployArgv(a: ModelDeployArgs): string[] {
  return [
    'model_deploy.py',
    '--mlir',
    a.mlir,
    '--quantize',
    a.quantize,
    ...(a.calibrationTable ? ['--calibration_table', a.calibrationTable] : []),
    ...(a.quantizeTable ? ['--quantize_table', a.quantizeTable] : []),
    '--chip',
    a.chip,
    ...(a.testInput ? ['--test_input', a.testInput] : []),
    ...(a.testReference ? ['--test_reference', a.testReference] : []),
    ...(a.tolerance ? ['--tolerance', `${a.tolerance.cosine},${a.tolerance.euclidean}`] : []),
    '--model',
    a.model,
  ];
}

export interface RunCalibrationArgs {
  readonly mlir: string;
  readonly dataset: string;
  readonly inputNum: number;
  readonly output: string;
}

export function runCalibrationArgv(a: RunCalibrationArgs): string[] {
  return [
    'run_calibration.py',
    a.mlir,
    '--dataset',
    a.dataset,
    '--input_num',
    String(a.inputNum),
    '-o',
    a.output,
  ];
}
