// compileModel: ONNX -> BMODEL + compile report. Order: refuse what cannot work (chip, precision,
// ONNX, unsupported ops, dynamic shapes, preprocessing mismatch) before any work; build with the
// chosen target; read the written BMODEL back; validate the artefact itself against the original;
// only then report success.
import { createHash } from 'node:crypto';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { env as ortEnv } from 'onnxruntime-node';
import { isSimulatorBmodel, readBmodel, simulatorPayload } from '../../shared/bmodel/index.js';
import { bmfError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import type { PreprocessSpec } from '../../shared/preprocess/index.js';
import {
  describeGraph,
  encodeOnnx,
  graphInputs,
  graphOutputs,
  loadOnnx,
  resolveInputShapes,
} from '../onnx/index.js';
import type { GraphNodeInfo, OnnxModel, OnnxSessionOptions } from '../onnx/index.js';
import { parseChip, parsePrecision, vendorChipName } from './chip.js';
import type { CompilePrecision } from './chip.js';
import { costConfidence, estimateGroupLatency, layersFromGraph } from './cost/index.js';
import { emulatePrecision, TOLERANCES } from './precision.js';
import { describeHalfEmulation, emulateHalfActivations } from './half-activations.js';
import type { PrecisionEmulation } from './half-activations.js';
import type { CompileReport } from './report.js';
import { coefficientBytes } from './coeff-memory.js';
import { buildSimBmodel } from './sim-target.js';
import { checkSpecMatchesInput, imageFeeds, randomFeeds } from './test-inputs.js';
import type { Feeds } from './test-inputs.js';
import { buildWithToolchain } from './toolchains/build.js';
import type { ToolEnv } from './toolchains/runner.js';
import { convertTorchScript, isTorchFile, requireTorchShapes } from './torchscript/index.js';
import type { TorchConversion } from './torchscript/index.js';
import { compareModels, compareWithReferences } from './validate.js';
import type { ValidationResult } from './validate.js';

export type CompileTarget = 'sim' | 'tpu-mlir' | 'tpu-nntc';
export const COMPILE_TARGETS: readonly CompileTarget[] = ['sim', 'tpu-mlir', 'tpu-nntc'];

export interface CompileOptions {
  readonly modelPath?: string;
  readonly bytes?: Uint8Array;
  /** Net name; defaults to the model file's base name, else the graph name. */
  readonly modelName?: string;
  readonly chip: string;
  readonly precision: string;
  readonly preprocess: PreprocessSpec;
  readonly inputShapes?: readonly (readonly number[])[];
  readonly outDir: string;
  readonly target?: CompileTarget;
  /** Image files for validation; without them, seeded random inputs in the declared range. */
  readonly testInputs?: readonly string[];
  readonly randomSamples?: number;
  readonly seed?: number;
  /** Environment for finding vendor tools (PATH, BMFLEET_TPU_MLIR_DIR, BMFLEET_TPU_NNTC_DIR). */
  readonly env?: ToolEnv;
  readonly session?: OnnxSessionOptions;
  readonly now?: () => number;
  readonly signal?: AbortSignal;
  /** TorchScript input only: the ONNX opset of the export (default: the installed torch's). */
  readonly opset?: number;
}

/** model_transform.py's default --tolerance: how close the ONNX export must stay to TorchScript. */
export const EXPORT_TOLERANCE = Object.freeze({ cosine: 0.99, euclidean: 0.99 });

export interface CompileResult {
  readonly bmodelPath: string;
  readonly reportPath: string;
  readonly report: CompileReport;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function netNameOf(o: CompileOptions, model: OnnxModel): string {
  const raw =
    o.modelName ??
    (o.modelPath ? basename(o.modelPath, extname(o.modelPath)) : model.graph.name) ??
    'model';
  return raw.replace(/[^A-Za-z0-9_.-]/g, '_') || 'model';
}

async function readModelBytes(o: CompileOptions): Promise<Uint8Array> {
  if (o.bytes) return o.bytes;
  if (!o.modelPath)
    throw bmfError('BMF_ERR_USAGE', { reason: 'compileModel needs modelPath or bytes' });
  try {
    return new Uint8Array(await readFile(o.modelPath));
  } catch (e) {
    throw bmfError('BMF_ERR_IO', { path: o.modelPath, reason: (e as Error).message }, { cause: e });
  }
}

/** Shapes of the graph outputs as onnxruntime produced them while describing the graph. */
function outputShapes(
  model: OnnxModel,
  nodes: readonly GraphNodeInfo[],
): { name: string; shape: number[] }[] {
  const produced = new Map(nodes.flatMap((n) => n.outputs.map((o) => [o.name, o.shape] as const)));
  return graphOutputs(model).map((io) => ({
    name: io.name,
    shape: [...(produced.get(io.name) ?? io.dims.map((d) => (typeof d === 'number' ? d : 0)))],
  }));
}

function activationBytes(nodes: readonly GraphNodeInfo[]): number {
  let total = 0;
  for (const n of nodes) for (const o of n.outputs) total += 4 * o.shape.reduce((a, b) => a * b, 1);
  return total;
}

function modeledLatency(
  nodes: readonly GraphNodeInfo[],
  chip: string,
  precision: CompilePrecision,
  batch: number,
): CompileReport['modeledLatency'] {
  try {
    const layers = layersFromGraph(nodes);
    const est = estimateGroupLatency(layers, chip, precision, { batch });
    return {
      modeled: true,
      perImageMs: est.perImageMs,
      batch,
      confidence: costConfidence(layers, est),
    };
  } catch (e) {
    return { modeled: true, unavailable: (e as Error).message };
  }
}

async function packageVersion(): Promise<string> {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return (
        JSON.parse(await readFile(new URL(rel, import.meta.url), 'utf8')) as { version: string }
      ).version;
    } catch {
      // try the next layout (source tree vs dist/)
    }
  }
  return 'unknown';
}

function failedOutputs(v: ValidationResult): string {
  return v.outputs
    .filter((o) => !o.pass)
    .map(
      (o) =>
        `${o.name}: cosine ${o.cosine} (need ${v.tolerance.cosine}), euclidean ${o.euclidean} (need ${v.tolerance.euclidean})`,
    )
    .join('; ');
}

async function validationFeeds(
  o: CompileOptions,
  inputs: readonly { name: string; shape: readonly number[] }[],
): Promise<Feeds[]> {
  if (inputs.length === 1 && inputs[0]) checkSpecMatchesInput(o.preprocess, inputs[0]);
  if (!o.testInputs?.length) {
    return randomFeeds(inputs, o.preprocess, o.randomSamples ?? 4, o.seed ?? 1);
  }
  const [only, ...rest] = inputs;
  if (!only || rest.length) {
    throw bmfError('BMF_ERR_USAGE', { reason: 'test images need a model with exactly one input' });
  }
  return imageFeeds(o.testInputs, only, o.preprocess);
}

/** TorchScript input: PyTorch runs the model on the validation inputs and exports ONNX. */
async function fromTorchScript(
  o: CompileOptions,
  source: Uint8Array,
  stem: string,
): Promise<TorchConversion> {
  const path = o.modelPath ?? '<bytes>';
  const shapes = requireTorchShapes(path, o.inputShapes);
  const feeds = await validationFeeds(
    o,
    shapes.map((shape, k) => ({ name: `input_${k}`, shape })),
  );
  const workDir = join(o.outDir, 'work-torchscript');
  await mkdir(workDir, { recursive: true });
  let modelPath = o.modelPath;
  if (!modelPath) {
    modelPath = join(workDir, `${stem}.pt`);
    await writeFileAtomic(modelPath, source);
  }
  return convertTorchScript({
    modelPath,
    bytes: source,
    inputShapes: shapes,
    feeds,
    workDir,
    onnxPath: join(o.outDir, `${stem}.onnx`),
    ...(o.opset ? { opset: o.opset } : {}),
    env: o.env ?? process.env,
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

export async function compileModel(o: CompileOptions): Promise<CompileResult> {
  const now = o.now ?? (() => performance.now());
  const started = now();
  const target = o.target ?? 'sim';
  const chip = parseChip(o.chip);
  const precision = parsePrecision(o.precision, chip);
  const source = await readModelBytes(o);
  const torch = isTorchFile(o.modelPath, source)
    ? await fromTorchScript(
        o,
        source,
        (
          o.modelName ?? (o.modelPath ? basename(o.modelPath, extname(o.modelPath)) : 'model')
        ).replace(/[^A-Za-z0-9_.-]/g, '_'),
      )
    : undefined;
  const bytes = torch?.onnx ?? source;
  const model = loadOnnx(bytes, torch?.provenance.onnxPath ?? o.modelPath ?? '<bytes>');
  const shapes = resolveInputShapes(model, o.inputShapes);
  const netName = netNameOf(o, model);
  const inputs = graphInputs(model).map((io, k) => ({ name: io.name, shape: shapes[k] ?? [] }));
  const feeds = torch?.feeds ?? (await validationFeeds(o, inputs));

  const nodes = await describeGraph(model, shapes, o.session);
  const outputs = outputShapes(model, nodes);
  await mkdir(o.outDir, { recursive: true });
  const bmodelPath = join(o.outDir, `${netName}_${chip}_${precision}.bmodel`);
  const tolerance = TOLERANCES[precision];

  let validation: ValidationResult | null = null;
  // The simulator's payload against the TorchScript outputs (vendor BMODELs cannot run here).
  let torchBmodelValidation: ValidationResult | undefined;
  let validationNote: string | undefined;
  let toolchain: CompileReport['toolchain'];
  let written: Uint8Array;
  let emulation: PrecisionEmulation | undefined;
  if (target === 'sim') {
    const half = emulateHalfActivations(model, nodes, precision, chip);
    const stored = emulatePrecision(half.model, precision);
    if (precision !== 'fp32') emulation = describeHalfEmulation(precision, half.plan);
    const payload = precision === 'fp32' ? bytes : encodeOnnx(stored);
    const bmodel = buildSimBmodel(
      {
        netName,
        chip: vendorChipName(chip),
        inputs,
        outputs,
        activationBytes: activationBytes(nodes),
        coeffBytes: coefficientBytes(stored),
      },
      payload,
    );
    await writeFileAtomic(bmodelPath, bmodel);
    // Validate the artefact as written: read the file back and run the payload it carries.
    written = new Uint8Array(await readFile(bmodelPath));
    const readBack = readBmodel(written);
    if (!isSimulatorBmodel(readBack)) {
      throw bmfError('BMF_ERR_INTERNAL', {
        reason: `${bmodelPath} is not marked as a simulator BMODEL`,
      });
    }
    validation = await compareModels(
      bytes,
      simulatorPayload(written, readBack),
      feeds,
      tolerance,
      o.session,
    );
    if (torch) {
      torchBmodelValidation = await compareWithReferences(
        simulatorPayload(written, readBack),
        feeds,
        torch.references,
        tolerance,
        o.session,
      );
    }
    toolchain = {
      name: 'bmfleet-sim',
      version: `${await packageVersion()} (onnxruntime-node ${ortEnv.versions.common})`,
    };
  } else {
    const single = inputs.length === 1 ? feeds[0]?.[inputs[0]?.name ?? ''] : undefined;
    const checked = await buildWithToolchain({
      toolchain: target,
      // The vendor front ends take the TorchScript file itself (bmnetp, model_transform .pt).
      modelPath:
        torch?.provenance.path ?? o.modelPath ?? (await writeTempModel(o.outDir, netName, bytes)),
      source: torch ? 'torchscript' : 'onnx',
      netName,
      chip,
      precision,
      preprocess: o.preprocess,
      inputShapes: shapes,
      expected: { chip: vendorChipName(chip), inputs, outputs },
      workDir: join(o.outDir, `work-${target}`),
      bmodelPath,
      logFile: join(o.outDir, `${target}.log`),
      env: o.env ?? process.env,
      ...(target === 'tpu-mlir' && single?.dtype === 'float32'
        ? { testInput: single as never }
        : {}),
      tolerance,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    written = checked.bytes;
    toolchain = { name: target, version: 'not detected' };
    validationNote =
      target === 'tpu-mlir' && single
        ? `by model_deploy.py --test_reference (tolerance ${tolerance.cosine},${tolerance.euclidean}); see ${target}.log`
        : 'not run: a vendor BMODEL executes only on a TPU';
    if (checked.warnings.length) validationNote += `; ${checked.warnings.join('; ')}`;
  }
  const torchscriptValidation: CompileReport['torchscriptValidation'] = torch && {
    export: await compareWithReferences(
      bytes,
      feeds,
      torch.references,
      EXPORT_TOLERANCE,
      o.session,
    ),
    ...(torchBmodelValidation ? { bmodel: torchBmodelValidation } : {}),
  };

  const report: CompileReport = {
    model: { path: o.modelPath ?? '<bytes>', sha256: sha256(source), netName },
    ...(torch ? { source: torch.provenance } : {}),
    chip: vendorChipName(chip),
    precision,
    target,
    toolchain,
    inputs: inputs.map((io) => ({ ...io, dtype: 'FP32' })),
    outputs: outputs.map((io) => ({ ...io, dtype: 'FP32' })),
    bmodel: { path: bmodelPath, sha256: sha256(written), bytes: written.length },
    validation,
    ...(torchscriptValidation ? { torchscriptValidation } : {}),
    ...(validationNote ? { validationNote } : {}),
    ...(emulation ? { emulation } : {}),
    modeledLatency: modeledLatency(nodes, chip, precision, shapes[0]?.[0] ?? 1),
    durationMs: now() - started,
  };
  const reportPath = join(o.outDir, 'compile-report.json');
  await writeFileAtomic(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  const failed = [validation, torchscriptValidation?.export, torchscriptValidation?.bmodel].filter(
    (v): v is ValidationResult => v !== undefined && v !== null && !v.pass,
  );
  if (failed.length) {
    // Never leave a BMODEL that failed validation where a bundle step could pick it up.
    await unlink(bmodelPath).catch(() => undefined);
    throw bmfError('BMF_ERR_COMPILE_VALIDATION', {
      reason: failed.map(failedOutputs).join('; '),
      report: reportPath,
    });
  }
  return { bmodelPath, reportPath, report };
}

async function writeTempModel(outDir: string, netName: string, bytes: Uint8Array): Promise<string> {
  const path = join(outDir, `${netName}.onnx`);
  await writeFileAtomic(path, bytes);
  return path;
}
