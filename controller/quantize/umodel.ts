// bmfleet's FP32 UMODEL, the step-by-step path's intermediate model (the vendor's *.fp32umodel,
// docs/vendor.md section 1): a folder `NAME.fp32umodel/` holding
//   model.onnx   the FP32 graph with BatchNorm folded (what calibration runs and INT8 is built from)
//   umodel.json  format tag and version, source file digest, the PreprocessSpec, input and output
//                names and shapes, the activation tensors (calibration table names) and layers
//                (quantize table names), optional labels.
// Everything a later step needs travels in the folder, so calibrate/evaluate/build take only it.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bmfError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { parsePreprocessSpec, type PreprocessSpec } from '../../shared/preprocess/index.js';
import { prepareModel, type PreparedModel } from './prepared-model.js';

export const UMODEL_FORMAT = 'bmfleet-fp32umodel';
export const UMODEL_VERSION = 1;

export interface UmodelManifest {
  readonly format: typeof UMODEL_FORMAT;
  readonly version: number;
  readonly name: string;
  readonly source: { readonly file: string; readonly sha256: string };
  readonly preprocess: PreprocessSpec;
  readonly labels?: readonly string[];
  readonly input: { readonly name: string; readonly shape: readonly number[] };
  readonly outputs: readonly string[];
  readonly activations: readonly string[];
  readonly layers: readonly { name: string; opType: string; int8Capable: boolean }[];
  readonly foldedBatchNorms: readonly string[];
}

export interface Umodel {
  readonly dir: string;
  readonly manifest: UmodelManifest;
  readonly prepared: PreparedModel;
  readonly spec: PreprocessSpec;
}

export async function exportUmodel(options: {
  readonly modelPath: string;
  readonly modelBytes: Uint8Array;
  readonly spec: PreprocessSpec;
  readonly labels?: readonly string[];
  readonly name: string;
  readonly outDir: string;
}): Promise<Umodel> {
  const pm = await prepareModel(options.modelBytes, options.modelPath);
  const manifest: UmodelManifest = {
    format: UMODEL_FORMAT,
    version: UMODEL_VERSION,
    name: options.name,
    source: {
      file: options.modelPath,
      sha256: createHash('sha256').update(options.modelBytes).digest('hex'),
    },
    preprocess: options.spec,
    ...(options.labels ? { labels: options.labels } : {}),
    input: pm.input,
    outputs: pm.outputs,
    activations: pm.activations,
    layers: pm.layers.map((l) => ({ name: l.name, opType: l.opType, int8Capable: l.int8Capable })),
    foldedBatchNorms: pm.foldedBatchNorms,
  };
  await mkdir(options.outDir, { recursive: true });
  await writeFileAtomic(join(options.outDir, 'model.onnx'), pm.bytes);
  await writeFileAtomic(
    join(options.outDir, 'umodel.json'),
    `${JSON.stringify(manifest, null, 2)}\n`,
  );
  return { dir: options.outDir, manifest, prepared: pm, spec: options.spec };
}

function invalid(reason: string): never {
  throw bmfError('BMF_ERR_UMODEL_INVALID', { reason });
}

export async function loadUmodel(dir: string): Promise<Umodel> {
  let text: string;
  let bytes: Uint8Array;
  try {
    text = await readFile(join(dir, 'umodel.json'), 'utf8');
    bytes = await readFile(join(dir, 'model.onnx'));
  } catch (e) {
    return invalid(`${dir} is not a readable UMODEL folder: ${(e as Error).message}`);
  }
  let m: UmodelManifest;
  try {
    m = JSON.parse(text) as UmodelManifest;
  } catch (e) {
    return invalid(`umodel.json is not JSON: ${(e as Error).message}`);
  }
  if (m?.format !== UMODEL_FORMAT)
    invalid(`format is ${String(m?.format)}, expected ${UMODEL_FORMAT}`);
  if (m.version !== UMODEL_VERSION) invalid(`version ${m.version} is not ${UMODEL_VERSION}`);
  if (!Array.isArray(m.activations) || !Array.isArray(m.layers))
    invalid('activations/layers missing');
  const spec = parsePreprocessSpec(m.preprocess);
  const pm = await prepareModel(bytes, join(dir, 'model.onnx'));
  const same = (a: readonly string[], b: readonly string[]): boolean =>
    a.length === b.length && a.every((x, i) => x === b[i]);
  if (
    !same(pm.activations, m.activations) ||
    !same(
      pm.layers.map((l) => l.name),
      m.layers.map((l) => l.name),
    )
  ) {
    invalid('model.onnx does not match the tensors and layers listed in umodel.json');
  }
  return { dir, manifest: m, prepared: pm, spec };
}
