// INT8 through the vendor's tpu-nntc, step by step (docs/vendor.md section 1, "tpu-nntc INT8
// path"): bmfleet preprocesses the calibration images itself and stores the tensors in an LMDB
// with the vendor's own ufw.io API, so the calibration sees exactly what the agent will feed;
// `ufw.tools.on_to_umodel` makes the FP32 UMODEL whose data layer reads that LMDB;
// `calibration_use_pb quantize` makes the INT8 UMODEL (a bmfleet quantize table becomes its
// `-fpfwd_outputs`, the layers kept in float); `bmnetu -prec=INT8` compiles the BMODEL. The
// release is probed first (`--help` of bmnetu and calibration_use_pb: gflags lists every flag)
// and what it cannot do is refused with BMF_ERR_TOOLCHAIN_VERSION before anything runs.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { BmfError, bmfError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { parseChip, vendorChipName } from '../compile/chip.js';
import { readToolOutput } from '../compile/toolchains/check-output.js';
import { encodeNpyFloat32 } from '../compile/toolchains/npy.js';
import { runToolStep } from '../compile/toolchains/runner.js';
import {
  bmnetuArgv,
  calibrationUsePbArgv,
  onToUmodelArgv,
} from '../compile/toolchains/tpu-nntc.js';
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

/** What a tpu-nntc release can do, read from its tools' gflags `--help`. */
export interface TpuNntcCaps {
  /** As the help text names it (`... version 3.1.7 ...`), or 'unknown'. */
  readonly version: string;
  /** Chips bmnetu's `-target` flag lists. */
  readonly targets: readonly string[];
  /** calibration_use_pb defines `-fpfwd_outputs` (layers kept in float). */
  readonly fpfwdOutputs: boolean;
}

/** The lines of one gflags flag: `-name (description) type: T default: D`, possibly wrapped. */
function gflagsEntry(help: string, flag: string): string | undefined {
  const lines = help.split(/\r?\n/);
  const start = lines.findIndex((l) => new RegExp(`^\\s*-{1,2}${flag}\\s\\(`).test(l));
  if (start < 0) return undefined;
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => /^\s*-{1,2}\w+\s\(/.test(l) || l.trim() === '');
  return [lines[start], ...rest.slice(0, end < 0 ? rest.length : end)].join(' ');
}

/** Pure: the capabilities the tools' help texts show. */
export function tpuNntcCaps(bmnetuHelp: string, calibrationHelp: string): TpuNntcCaps {
  const version =
    /version\s+v?(\d[\w.-]*)/i.exec(`${bmnetuHelp}\n${calibrationHelp}`)?.[1] ?? 'unknown';
  const target = gflagsEntry(bmnetuHelp, 'target') ?? '';
  return {
    version,
    targets: [...new Set(target.match(/BM\d{4}X?/g) ?? [])],
    fpfwdOutputs: gflagsEntry(calibrationHelp, 'fpfwd_outputs') !== undefined,
  };
}

/**
 * The script bmfleet runs with the toolchain's python3 to fill the LMDB. ufw.io's LMDB writer is
 * the Quantization-Tools guide's documented way to make calibration data ("LMDB API": put()
 * takes CHW arrays, float or uint8, one image each; close() flushes); the guide recommends
 * storing already-preprocessed data so the prototxt needs no transform_param.
 */
export const LMDB_SCRIPT = `# Written by bmfleet: stores bmfleet's preprocessed calibration tensors (one .npy per image,
# CHW float32) in an LMDB through the vendor's ufw.io API.
import os
import sys

import numpy as np
import ufw.io

src, dst = sys.argv[1], sys.argv[2]
Dataset = getattr(ufw.io, "LMDB_Dataset", None) or getattr(ufw.io, "LMDBDataset")
db = Dataset(dst)
for name in sorted(os.listdir(src)):
    if name.endswith(".npy"):
        db.put(np.load(os.path.join(src, name)))
db.close()
`;

export async function nntcQuantize(o: VendorQuantizeOptions): Promise<VendorQuantizeResult> {
  const chip = vendorChipName(parseChip(o.chip));
  if (o.calibrationTable) {
    throw bmfError('BMF_ERR_USAGE', {
      reason:
        'tpu-nntc takes no calibration table: calibration_use_pb computes its thresholds from the LMDB (its -load_dist reads only its own -dump_dist files); give --calibration DIR, or use --target tpu-mlir for a bmfleet calibration table',
    });
  }
  if (!o.calibrationDir) {
    throw bmfError('BMF_ERR_USAGE', { reason: 'the tpu-nntc path needs --calibration DIR' });
  }
  if (o.tolerance) {
    throw bmfError('BMF_ERR_USAGE', {
      reason:
        '--tolerance is model_deploy.py’s (tpu-mlir); bmnetu -cmp=1 checks each layer against its CPU result instead',
    });
  }
  const modelPath = resolve(o.modelPath);
  const pm = await prepareModel(await readModelFile(modelPath), modelPath);
  const floatLayers = o.quantizeTable
    ? [
        ...parseQuantizeTable(
          await readText(o.quantizeTable),
          new Set(pm.layers.map((l) => l.name)),
        ),
      ]
        .filter(([, p]) => p === 'F32')
        .map(([name]) => name)
    : [];
  const calibSet = await readDataset(o.calibrationDir, 'calibration');
  const name = o.netName ?? netNameOf(modelPath);
  const { workDir, logFile, step, withSignal, steps, run } = await vendorWorkspace(o, 'tpu-nntc');

  // Probe the release. gflags prints `--help` and exits 1 (gflags_reporting.cc), so exit 1 with
  // a flag list is the expected answer; anything else is a failure as usual.
  const help = async (tool: string): Promise<string> => {
    const file = join(workDir, `${tool}.help.txt`);
    await writeFile(file, '');
    try {
      await runToolStep({
        ...step,
        ...withSignal,
        logFile: file,
        step: `${tool} --help`,
        argv: [tool, '--help'],
      });
    } catch (e) {
      const text = await readFile(file, 'utf8');
      const gflagsHelp = /type: (string|bool|int32)/.test(text);
      if (!(e instanceof BmfError && e.details.exitCode === 1 && gflagsHelp)) throw e;
    }
    return readFile(file, 'utf8');
  };
  const caps = tpuNntcCaps(await help('bmnetu'), await help('calibration_use_pb'));
  const refuse = (reason: string): never => {
    throw bmfError('BMF_ERR_TOOLCHAIN_VERSION', {
      toolchain: 'tpu-nntc',
      version: caps.version,
      reason,
    });
  };
  if (!caps.targets.includes(chip)) {
    refuse(
      `${chip}: bmnetu -target of this release lists ${caps.targets.join(', ') || 'no chip'}${chip === 'BM1688' ? ' (BM1688 is built with tpu-mlir only)' : ''}`,
    );
  }
  if (floatLayers.length > 0 && !caps.fpfwdOutputs) {
    refuse('keep layers in float: calibration_use_pb of this release has no -fpfwd_outputs');
  }

  // Calibration data: bmfleet's preprocessing, one CHW float32 .npy per image, then the LMDB.
  const iterations = Math.min(o.inputNum ?? calibSet.items.length, calibSet.items.length);
  const tensors = await loadDatasetInputs(calibSet, o.spec, undefined, iterations);
  const npyDir = join(workDir, 'calibration-npy');
  await mkdir(npyDir, { recursive: true });
  for (const [i, { tensor }] of tensors.entries()) {
    const chw = { ...tensor, shape: tensor.shape.slice(1) } as typeof tensor;
    await writeFile(
      join(npyDir, `${String(i).padStart(6, '0')}.npy`),
      encodeNpyFloat32(chw as never),
    );
  }
  const lmdb = join(workDir, 'calibration-lmdb');
  const script = join(workDir, 'bmfleet_npy_to_lmdb.py');
  await writeFile(script, LMDB_SCRIPT);
  await run('npy to lmdb', ['python3', script, npyDir, lmdb]);

  // FP32 UMODEL, INT8 UMODEL, BMODEL. File names are the tools' own (from the model's stem).
  const stem = basename(modelPath, extname(modelPath));
  const umodelDir = join(workDir, 'umodel');
  await run(
    'on_to_umodel',
    onToUmodelArgv({ model: modelPath, shape: pm.input.shape, outdir: umodelDir, lmdb }),
  );
  const prefix = join(umodelDir, `${stem}_bmneto`);
  await run(
    'calibration_use_pb',
    calibrationUsePbArgv({
      model: `${prefix}_test_fp32.prototxt`,
      weights: `${prefix}.fp32umodel`,
      iterations,
      fpfwdOutputs: floatLayers,
    }),
  );
  const compiled = join(workDir, 'compilation');
  await run(
    'bmnetu',
    bmnetuArgv({
      model: `${prefix}_deploy_int8_unique_top.prototxt`,
      weight: `${prefix}.int8umodel`,
      target: chip,
      shapes: [pm.input.shape],
      netName: name,
      outdir: compiled,
    }),
  );
  const checked = await readToolOutput(
    'tpu-nntc',
    join(compiled, 'compilation.bmodel'),
    await expectedNet(pm, o.chip),
  );
  const bmodelPath = join(o.outDir, `${name}_int8.bmodel`);
  await writeFileAtomic(bmodelPath, checked.bytes);
  const text = [
    `bmfleet quantize ${o.modelPath} -> ${bmodelPath} (${chip}, tpu-nntc ${caps.version})`,
    `release: bmnetu -target ${caps.targets.join(', ')}; calibration_use_pb -fpfwd_outputs ${caps.fpfwdOutputs ? 'yes' : 'no'}`,
    `calibration: calibration_use_pb on ${iterations} of ${calibSet.items.length} images, preprocessed by bmfleet into ${lmdb}`,
    `layers kept in float: ${floatLayers.length > 0 ? floatLayers.join(', ') : 'none'}${o.quantizeTable ? ` (from ${o.quantizeTable})` : ''}`,
    `validation: bmnetu -cmp=1 (each layer's TPU result against its CPU result); see ${logFile}`,
    `BMODEL read back: chip ${checked.bmodel.chip}, ${checked.bmodel.nets.length} net, ${checked.bytes.length} bytes`,
    ...checked.warnings.map((w) => `warning: ${w}`),
  ].join('\n');
  return {
    caps,
    bmodelPath,
    checked,
    calibrationTable: { path: lmdb, from: 'calibration_use_pb' },
    steps,
    logFile,
    text,
  };
}
