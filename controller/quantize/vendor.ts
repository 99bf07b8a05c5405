// INT8 through the vendor's tpu-mlir (docs/vendor.md section 1): model_transform.py, then
// run_calibration.py (or a calibration table the user brings, such as one tuned in bmfleet's step
// mode), then model_deploy.py --quantize INT8 --calibration_table [--quantize_table]. The release
// is probed first (`--help` of each script) so bmfleet passes only flags that release defines and
// refuses, with BMF_ERR_TOOLCHAIN_VERSION, what it cannot express. The BMODEL the vendor wrote is
// read back and checked (check-output.ts) before it is copied to the output folder.
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { bmfError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { toModelTransformArgs, type PreprocessSpec } from '../../shared/preprocess/index.js';
import { parseChip } from '../compile/chip.js';
import { readToolOutput } from '../compile/toolchains/check-output.js';
import { encodeNpyFloat32 } from '../compile/toolchains/npy.js';
import { runToolStep } from '../compile/toolchains/runner.js';
import {
  modelDeployArgv,
  modelTransformArgv,
  runCalibrationArgv,
} from '../compile/toolchains/tpu-mlir.js';
import { planFromTables } from './build.js';
import { readDataset } from './dataset.js';
import { loadDatasetInputs } from './inputs.js';
import { prepareModel } from './prepared-model.js';
import { netNameOf, readModelFile } from './quantize-model.js';
import { parseQuantizeTable } from './quantize-table.js';
import {
  expectedNet,
  readText,
  vendorWorkspace,
  type VendorQuantizeOptions,
  type VendorQuantizeResult,
} from './vendor-common.js';
import { nntcQuantize } from './vendor-nntc.js';

/** What a tpu-mlir release can do, read from its scripts' `--help`. */
export interface TpuMlirCaps {
  /** As the scripts log it on start (`TPU-MLIR v1.x...`), or 'unknown'. */
  readonly version: string;
  /** model_deploy.py takes `--processor` (current releases; `--chip` is accepted by all). */
  readonly processorFlag: boolean;
  /** model_transform.py takes `--keep_ratio_mode` (absent from old releases). */
  readonly keepRatioMode: boolean;
  readonly quantizeTable: boolean;
}

const flagIn = (help: string, flag: string): boolean =>
  new RegExp(`(^|[\\s,\\[])${flag}(?=[\\s,=\\]]|$)`, 'm').test(help);

/** Pure: the capabilities a release's help texts show. */
export function tpuMlirCaps(transformHelp: string, deployHelp: string): TpuMlirCaps {
  const version = /TPU-MLIR\s+(\S+)/.exec(`${transformHelp}\n${deployHelp}`)?.[1] ?? 'unknown';
  return {
    version,
    processorFlag: flagIn(deployHelp, '--processor'),
    keepRatioMode: flagIn(transformHelp, '--keep_ratio_mode'),
    quantizeTable: flagIn(deployHelp, '--quantize_table'),
  };
}

/**
 * Pure: model_transform's preprocessing flags for this release. An old release lacks
 * `--keep_ratio_mode` and resizes with letterbox when `--keep_aspect_ratio` is given, so letterbox
 * is expressed without the flag; other modes are refused (model_transform takes unknown flags as
 * mean values, utils/preprocess.py `unknown_params`, so passing it anyway would corrupt the mean).
 */
export function transformPreprocessArgs(spec: PreprocessSpec, caps: TpuMlirCaps): string[] {
  const args = toModelTransformArgs(spec);
  if (caps.keepRatioMode) return args;
  const at = args.indexOf('--keep_ratio_mode');
  if (at < 0) return args;
  if (args[at + 1] !== 'letterbox') {
    throw bmfError('BMF_ERR_TOOLCHAIN_VERSION', {
      toolchain: 'tpu-mlir',
      version: caps.version,
      reason: `keep_ratio_mode ${args[at + 1]}: model_transform.py of this release has no --keep_ratio_mode (letterbox only)`,
    });
  }
  return [...args.slice(0, at), ...args.slice(at + 2)];
}

export type { VendorQuantizeOptions, VendorQuantizeResult };

export async function vendorQuantize(o: VendorQuantizeOptions): Promise<VendorQuantizeResult> {
  if (o.target === 'tpu-nntc') return nntcQuantize(o);
  parseChip(o.chip);
  if (!o.calibrationTable && !o.calibrationDir) {
    throw bmfError('BMF_ERR_USAGE', {
      reason: 'the vendor path needs --calibration DIR (run_calibration.py) or --calibration-table',
    });
  }
  const modelPath = resolve(o.modelPath);
  const pm = await prepareModel(await readModelFile(modelPath), modelPath);
  // A user's tables are checked against the model before any vendor tool runs.
  if (o.calibrationTable) {
    planFromTables(
      pm,
      await readText(o.calibrationTable),
      o.quantizeTable ? await readText(o.quantizeTable) : undefined,
    );
  } else if (o.quantizeTable) {
    parseQuantizeTable(await readText(o.quantizeTable), new Set(pm.layers.map((l) => l.name)));
  }
  const calibSet = o.calibrationDir
    ? await readDataset(o.calibrationDir, 'calibration')
    : undefined;
  const name = o.netName ?? netNameOf(modelPath);
  const { workDir, logFile, step, withSignal, steps, run } = await vendorWorkspace(o, 'tpu-mlir');

  // Probe the release.
  const help = async (tool: string): Promise<string> => {
    const file = join(workDir, `${tool}.help.txt`);
    await writeFile(file, '');
    await runToolStep({
      ...step,
      ...withSignal,
      logFile: file,
      step: `${tool} --help`,
      argv: [tool, '--help'],
    });
    return readFile(file, 'utf8');
  };
  const caps = tpuMlirCaps(await help('model_transform.py'), await help('model_deploy.py'));
  if (o.quantizeTable && !caps.quantizeTable) {
    throw bmfError('BMF_ERR_TOOLCHAIN_VERSION', {
      toolchain: 'tpu-mlir',
      version: caps.version,
      reason: 'use a quantize table: model_deploy.py of this release has no --quantize_table',
    });
  }
  const preprocessArgs = transformPreprocessArgs(o.spec, caps);

  // One preprocessed calibration image: model_transform's test input, model_deploy's comparison.
  let testInput: string | undefined;
  if (calibSet) {
    const [first] = await loadDatasetInputs(calibSet, o.spec, undefined, 1);
    if (first) {
      testInput = join(workDir, `${name}_test_input.npy`);
      await writeFile(testInput, encodeNpyFloat32(first.tensor as never));
    }
  }
  const mlir = join(workDir, `${name}.mlir`);
  const topOutputs = join(workDir, `${name}_top_outputs.npz`);
  const transformArgv = modelTransformArgv({
    modelName: name,
    modelDef: modelPath,
    inputShapes: [pm.input.shape],
    preprocess: o.spec,
    ...(testInput ? { testInput, testResult: topOutputs } : {}),
    mlir,
  });
  // Swap in the release's preprocessing flags (same position as the builder puts them).
  const generic = toModelTransformArgs(o.spec);
  const at = transformArgv.indexOf(generic[0]!);
  transformArgv.splice(at, generic.length, ...preprocessArgs);
  await run('model_transform', transformArgv);

  let table: VendorQuantizeResult['calibrationTable'];
  if (o.calibrationTable) {
    const copy = join(workDir, `${name}_cali_table`);
    await copyFile(o.calibrationTable, copy);
    table = { path: copy, from: 'user' };
  } else {
    const out = join(workDir, `${name}_cali_table`);
    await run(
      'run_calibration',
      runCalibrationArgv({
        mlir,
        dataset: resolve(o.calibrationDir!),
        inputNum: o.inputNum ?? calibSet!.items.length,
        output: out,
      }),
    );
    table = { path: out, from: 'run_calibration' };
  }
  const produced = join(workDir, `${name}_int8.bmodel`);
  await run(
    'model_deploy',
    modelDeployArgv({
      mlir,
      quantize: 'INT8',
      chip: o.chip.toLowerCase(),
      calibrationTable: table.path,
      ...(o.quantizeTable ? { quantizeTable: resolve(o.quantizeTable) } : {}),
      // model_transform writes the preprocessed input it used as <name>_in_f32.npz.
      ...(testInput
        ? { testInput: join(workDir, `${name}_in_f32.npz`), testReference: topOutputs }
        : {}),
      ...(o.tolerance ? { tolerance: o.tolerance } : {}),
      model: produced,
    }),
  );
  const checked = await readToolOutput('tpu-mlir', produced, await expectedNet(pm, o.chip));
  const bmodelPath = join(o.outDir, `${name}_int8.bmodel`);
  await writeFileAtomic(bmodelPath, checked.bytes);
  const tol = o.tolerance
    ? `${o.tolerance.cosine},${o.tolerance.euclidean} (given)`
    : '0.8,0.5 (model_deploy default)';
  const text = [
    `bmfleet quantize ${o.modelPath} -> ${bmodelPath} (${o.chip}, tpu-mlir ${caps.version})`,
    `release: --processor ${caps.processorFlag ? 'yes' : 'no'}, --keep_ratio_mode ${caps.keepRatioMode ? 'yes' : 'no'}`,
    `calibration table: ${table.from === 'user' ? `${o.calibrationTable} (given)` : `run_calibration.py on ${calibSet?.items.length ?? 0} images`}`,
    `quantize table: ${o.quantizeTable ?? 'none'}`,
    testInput
      ? `validation: model_deploy.py --test_reference at tolerance ${tol}; see ${logFile}`
      : 'validation: not run by model_deploy (no calibration image for a test input)',
    `BMODEL read back: chip ${checked.bmodel.chip}, ${checked.bmodel.nets.length} net, ${checked.bytes.length} bytes`,
    ...checked.warnings.map((w) => `warning: ${w}`),
  ].join('\n');
  return { caps, bmodelPath, checked, calibrationTable: table, steps, logFile, text };
}
