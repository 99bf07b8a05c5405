// Demo step: the controller's first job on the Fashion-MNIST sample: compile to an FP32
// simulator BMODEL, quantize to INT8 from the 200 calibration images, pack each with its golden
// set, labels, calibration statistics and provenance, and sign with the controller's bundle key.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { compileModel } from '../controller/compile/index.js';
import { packBundle, sha256File } from '../controller/package/pack.js';
import { quantizeModel } from '../controller/quantize/quantize-model.js';
import { parseLabels } from '../controller/quantize/dataset.js';
import { signBundleDir } from '../shared/bundle/dir.js';
import type { Signer } from '../shared/trust/keys.js';
import { parseAuthoredPreprocessSpec } from '../shared/preprocess/index.js';
import { bmfError } from '../shared/errors.js';
import { isDetector, parseDecoderSpec } from '../shared/detect/index.js';
import { readBoxDataset } from '../controller/quantize/box-dataset.js';

export interface BuiltModels {
  readonly fp32: { readonly dir: string; readonly cosine: number; readonly modeledMs?: number };
  readonly int8: {
    readonly dir: string;
    readonly top1Fp32?: number | null;
    readonly top1Int8?: number | null;
    readonly agreement?: number;
    /** Detectors: COCO mAP@[.5:.95] on the eval set. */
    readonly mapFp32?: number;
    readonly mapInt8?: number;
    readonly modeledMs?: number;
  };
}

/** The examples folder, whether running from the sources or from dist/. */
export async function exampleDir(): Promise<string> {
  for (const rel of ['../examples/fashion-mnist/', '../../examples/fashion-mnist/']) {
    const dir = new URL(rel, import.meta.url).pathname;
    try {
      await readFile(join(dir, 'model.onnx'));
      return dir;
    } catch {
      // try the next layout
    }
  }
  throw new Error('examples/fashion-mnist/model.onnx not found');
}

async function goldenImages(example: string, perClass: number) {
  const out: { path: string; label: number }[] = [];
  for (let label = 0; label < 10; label++) {
    const dir = join(example, 'eval', String(label));
    for (const f of (await readdir(dir)).sort().slice(0, perClass)) {
      out.push({ path: join(dir, f), label });
    }
  }
  return out;
}

/** What both bundles share: the sample's paths, preprocessing, golden set and provenance. */
async function sample() {
  const example = await exampleDir();
  const modelPath = join(example, 'model.onnx');
  const preprocess = parseAuthoredPreprocessSpec(
    JSON.parse(await readFile(join(example, 'preprocess.json'), 'utf8')) as unknown,
  );
  return {
    example,
    modelPath,
    preprocess,
    spec: preprocess.spec,
    golden: await goldenImages(example, 5),
    calibration: (await readdir(join(example, 'calibration')))
      .sort()
      .map((f) => join(example, 'calibration', f)),
    sourceModelSha256: await sha256File(modelPath),
  };
}

type Sample = Awaited<ReturnType<typeof sample>>;

function bundleCommon(s: Sample, chip: 'bm1684x', now: Date) {
  return {
    name: 'fashion-mnist',
    chips: [chip],
    preprocess: s.preprocess,
    labelsPath: join(s.example, 'labels.txt'),
    golden: s.golden,
    calibrationImages: s.calibration,
    now,
  };
}

/**
 * The FP32 simulator bundle of the sample (compiled, packed, signed) in `workDir/bundle-fp32`;
 * also what the real-agent fleet benchmark rolls out.
 */
export async function buildFp32Bundle(
  opts: BuildOptions,
  s?: Sample,
): Promise<BuiltModels['fp32']> {
  const smp = s ?? (await sample());
  const compiled = await compileModel({
    modelPath: smp.modelPath,
    chip: opts.chip,
    precision: 'fp32',
    preprocess: smp.spec,
    outDir: join(opts.workDir, 'fp32'),
  });
  const dir = join(opts.workDir, 'bundle-fp32');
  await packBundle({
    ...bundleCommon(smp, opts.chip, opts.now),
    bmodelPath: compiled.bmodelPath,
    version: '1.0.0',
    sequence: 1,
    precision: 'fp32',
    provenance: {
      sourceModelSha256: smp.sourceModelSha256,
      toolchain: 'bmfleet-sim',
      toolchainVersion: '0.1.0',
    },
    metadata: { modeledLatency: compiled.report.modeledLatency },
    outDir: dir,
  });
  await signBundleDir(dir, opts.signers);
  const cosine = Math.min(...(compiled.report.validation?.outputs ?? []).map((o) => o.cosine));
  const latency = compiled.report.modeledLatency;
  return {
    dir,
    cosine,
    ...(latency && 'perImageMs' in latency && latency.perImageMs !== undefined
      ? { modeledMs: latency.perImageMs }
      : {}),
  };
}

export interface BuildOptions {
  readonly workDir: string;
  readonly signers: readonly Signer[];
  readonly chip: 'bm1684x';
  readonly now: Date;
}

export async function buildModels(opts: BuildOptions): Promise<BuiltModels> {
  const s = await sample();
  const labels = parseLabels(await readFile(join(s.example, 'labels.txt'), 'utf8'));
  const fp32 = await buildFp32Bundle(opts, s);
  const quantized = await quantizeModel({
    modelPath: s.modelPath,
    calibrationDir: join(s.example, 'calibration'),
    evalDir: join(s.example, 'eval'),
    chip: opts.chip,
    spec: s.spec,
    labels,
    outDir: join(opts.workDir, 'int8'),
    method: 'kl',
  });
  if (!quantized.written) {
    throw bmfError('BMF_ERR_QUANTIZE_DEGRADED', {
      reason: quantized.text.split('\n').at(-1) ?? '',
    });
  }
  const int8Dir = join(opts.workDir, 'bundle-int8');
  await packBundle({
    ...bundleCommon(s, opts.chip, opts.now),
    bmodelPath: quantized.files.bmodel,
    version: '1.0.0-int8',
    sequence: 2,
    precision: 'int8',
    provenance: {
      sourceModelSha256: s.sourceModelSha256,
      toolchain: 'bmfleet-sim',
      toolchainVersion: '0.1.0',
      calibrationMethod: 'kl',
    },
    metadata: { modeledLatency: quantized.report.modeledLatency },
    outDir: int8Dir,
  });
  await signBundleDir(int8Dir, opts.signers);
  const acc = quantized.report.accuracy;
  return {
    fp32,
    int8: {
      dir: int8Dir,
      ...(acc ? { top1Fp32: acc.top1Fp32, top1Int8: acc.top1Int8, agreement: acc.agreement } : {}),
      ...(quantized.report.modeledLatency.perImageMs !== undefined
        ? { modeledMs: quantized.report.modeledLatency.perImageMs }
        : {}),
    },
  };
}

/** The shapes detector sample (examples/shapes-detector), whether from the sources or dist/. */
export async function detectExampleDir(): Promise<string> {
  return join(await exampleDir(), '..', 'shapes-detector');
}

/**
 * `--model detect`: the shapes detector compiled FP32 and quantized INT8 (mAP on its 60 boxed
 * eval images), each packed with 16 boxed golden images, its decoder and an mAP gate, and signed.
 */
export async function buildDetectModels(opts: BuildOptions): Promise<BuiltModels> {
  const example = await detectExampleDir();
  const modelPath = join(example, 'model.onnx');
  const preprocess = parseAuthoredPreprocessSpec(
    JSON.parse(await readFile(join(example, 'preprocess.json'), 'utf8')) as unknown,
  );
  const decoderJson = JSON.parse(await readFile(join(example, 'decoder.json'), 'utf8')) as unknown;
  const decoder = parseDecoderSpec(decoderJson);
  if (!isDetector(decoder)) throw new Error('shapes-detector decoder.json is not a detector');
  const { spec } = preprocess;
  const labels = parseLabels(await readFile(join(example, 'labels.txt'), 'utf8'));
  const golden = (await readBoxDataset(join(example, 'eval'), 'eval'))
    .slice(0, 16)
    .map((b) => ({ path: b.path, boxes: b.image }));
  const common = {
    name: 'shapes-detector',
    chips: [opts.chip],
    preprocess,
    labelsPath: join(example, 'labels.txt'),
    decoder: decoderJson,
    golden,
    referenceModelPath: modelPath,
    maxMapDrop: 0.05,
    now: opts.now,
  };
  const sourceModelSha256 = await sha256File(modelPath);
  const compiled = await compileModel({
    modelPath,
    chip: opts.chip,
    precision: 'fp32',
    preprocess: spec,
    outDir: join(opts.workDir, 'fp32'),
  });
  const fp32Dir = join(opts.workDir, 'bundle-fp32');
  await packBundle({
    ...common,
    bmodelPath: compiled.bmodelPath,
    version: '1.0.0',
    sequence: 1,
    precision: 'fp32',
    provenance: { sourceModelSha256, toolchain: 'bmfleet-sim', toolchainVersion: '0.1.0' },
    metadata: { modeledLatency: compiled.report.modeledLatency },
    outDir: fp32Dir,
  });
  await signBundleDir(fp32Dir, opts.signers);
  const quantized = await quantizeModel({
    modelPath,
    calibrationDir: join(example, 'calibration'),
    evalDir: join(example, 'eval'),
    chip: opts.chip,
    spec,
    labels,
    decoder,
    outDir: join(opts.workDir, 'int8'),
    method: 'max',
  });
  const int8Dir = join(opts.workDir, 'bundle-int8');
  await packBundle({
    ...common,
    bmodelPath: quantized.files.bmodel,
    version: '1.0.0-int8',
    sequence: 2,
    precision: 'int8',
    provenance: {
      sourceModelSha256,
      toolchain: 'bmfleet-sim',
      toolchainVersion: '0.1.0',
      calibrationMethod: 'max',
    },
    metadata: { modeledLatency: quantized.report.modeledLatency },
    outDir: int8Dir,
  });
  await signBundleDir(int8Dir, opts.signers);
  const cosine = Math.min(...(compiled.report.validation?.outputs ?? []).map((o) => o.cosine));
  const latency = compiled.report.modeledLatency;
  const d = quantized.report.detection;
  return {
    fp32: {
      dir: fp32Dir,
      cosine,
      ...(latency && 'perImageMs' in latency && latency.perImageMs !== undefined
        ? { modeledMs: latency.perImageMs }
        : {}),
    },
    int8: {
      dir: int8Dir,
      ...(d ? { mapFp32: d.mapFp32, mapInt8: d.mapInt8 } : {}),
      ...(quantized.report.modeledLatency.perImageMs !== undefined
        ? { modeledMs: quantized.report.modeledLatency.perImageMs }
        : {}),
    },
  };
}
