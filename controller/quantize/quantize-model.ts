// `bmfleet quantize`: the automatic mode. Calibrate on the calibration images, pick thresholds
// (one method, or per-tensor search scored by output similarity on held-out calibration images,
// then, when the eval set has labels, the best of the searched and the single-method tables by
// top-1 on a validation half of the eval set; the reported accuracy is measured on the other
// half, which took no part in the choice), optionally keep the most sensitive layers in F32,
// check every output against FP32 (verdict.ts) and emit the INT8 BMODEL, the calibration table,
// the quantize table and a report (JSON + text). A failed verdict writes nothing unless the
// caller allows a degraded model.
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { bmfError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { simulatorGraphLevel } from '../../shared/simulator/graph-level.js';
import type { PreprocessSpec } from '../../shared/preprocess/index.js';
import type { Tensor } from '../../shared/tensor.js';
import { parseChip } from '../compile/chip.js';
import { int8BmodelInMemory, int8BmodelPath } from './build.js';
import { HOST_SESSION, runOutputs } from './score.js';
import { formatVerdict, outputVerdict, type QuantizeVerdict } from './verdict.js';
import type { SimilarityTolerance } from '../../shared/stats/similarity.js';
import type { Progress } from './calibrate.js';
import { calibrationEntries } from './calibrate.js';
import { runCalibration, type MethodChoice } from './calibration-run.js';
import { formatCalibrationTable, type CalibrationEntry } from './calibration-table.js';
import { readDataset } from './dataset.js';
import {
  evaluateAccuracy,
  fp32Reference,
  layerSimilarity,
  type AccuracyReport,
  type EvalInput,
} from './evaluate.js';
import { readBoxDataset } from './box-dataset.js';
import {
  evaluateDetection,
  fp32DetectionOutputs,
  type DetectionInput,
  type DetectionReport,
} from './evaluate-detect.js';
import { HISTOGRAM_BINS } from './histogram.js';
import { checkSpecMatchesInput, loadImageTensor } from './image-input.js';
import { loadDatasetInputs, splitHeldOut } from './inputs.js';
import { prepareModel, type PreparedModel } from './prepared-model.js';
import { buildInt8Graph } from './qdq.js';
import { formatQuantizeTable } from './quantize-table.js';
import {
  formatAccuracy,
  formatDetection,
  formatLayerSimilarity,
  formatSensitivity,
} from './report-text.js';
import type { DetectorSpec } from '../../shared/detect/index.js';
import { THRESHOLD_METHODS, type ThresholdMethod } from './thresholds.js';
import { describeGraph, encodeOnnx } from '../onnx/index.js';
import { estimateGroupLatency, layersFromGraph } from '../compile/cost/index.js';

export interface QuantizeOptions {
  readonly modelPath: string;
  readonly calibrationDir: string;
  readonly evalDir?: string;
  readonly chip: string;
  readonly spec: PreprocessSpec;
  readonly labels?: readonly string[];
  /**
   * A detector's output decoder (shared/detect): the eval set is then images with boxes (YOLO
   * txt beside each image, or `evalBoxes` COCO JSON) and the report gives FP32 and INT8 mAP.
   */
  readonly decoder?: DetectorSpec;
  readonly evalBoxes?: string;
  readonly outDir: string;
  readonly method: MethodChoice;
  readonly maxFloatLayers?: number;
  /** Images used for the per-layer similarity table (default 20). */
  readonly similarityImages?: number;
  /** Output similarity the INT8 model must reach (model_deploy's default 0.8,0.5). */
  readonly tolerance?: SimilarityTolerance;
  /** Write the BMODEL even when an output is below tolerance (the verdict still says FAIL). */
  readonly allowDegraded?: boolean;
  readonly onProgress?: (p: Progress) => void;
  readonly now?: () => Date;
  readonly signal?: AbortSignal;
}

export interface QuantizeFiles {
  readonly bmodel: string;
  readonly calibrationTable: string;
  readonly quantizeTable: string;
  readonly reportJson: string;
  readonly reportText: string;
}

export async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message }, { cause: e });
  }
}

export function netNameOf(path: string): string {
  return basename(path).replace(/\.(onnx|fp32umodel)$/i, '') || 'net';
}

interface Choice {
  readonly label: string;
  readonly entries: readonly CalibrationEntry[];
  accuracy?: AccuracyReport;
  detection?: DetectionReport;
}

/**
 * The cost model's device latency for this graph at INT8, and at FP32 beside it
 * (controller/compile/cost), labelled modeled; the agent's `modeled` timing mode and the bundle
 * metadata read `perImageMs` (the INT8 figure).
 */
async function modeledLatencies(
  model: PreparedModel['model'],
  chip: string,
): Promise<{
  modeled: true;
  perImageMs?: number;
  fp32PerImageMs?: number;
  batch?: number;
  unavailable?: string;
}> {
  try {
    const layers = layersFromGraph(await describeGraph(model));
    const int8 = estimateGroupLatency(layers, chip, 'int8', { batch: 1 });
    const fp32 = estimateGroupLatency(layers, chip, 'fp32', { batch: 1 });
    return {
      modeled: true,
      perImageMs: int8.perImageMs,
      fp32PerImageMs: fp32.perImageMs,
      batch: 1,
    };
  } catch (e) {
    return { modeled: true, unavailable: (e as Error).message };
  }
}

/**
 * Eval images split for an honest automatic choice: even positions choose the table
 * (validation), odd positions measure the chosen one (held out). One image serves both.
 */
export function splitValidation<T>(all: readonly T[]): { validation: T[]; heldOut: T[] } {
  if (all.length < 2) return { validation: [...all], heldOut: [...all] };
  return {
    validation: all.filter((_, i) => i % 2 === 0),
    heldOut: all.filter((_, i) => i % 2 === 1),
  };
}

function formatLatency(l: Awaited<ReturnType<typeof modeledLatencies>>, chip: string): string {
  if (l.perImageMs === undefined || l.fp32PerImageMs === undefined) {
    return `modeled latency: not available (${l.unavailable ?? 'unknown'})`;
  }
  return `modeled latency (${chip}, batch 1, cost model, not measured): FP32 ${l.fp32PerImageMs.toFixed(3)} ms, INT8 ${l.perImageMs.toFixed(3)} ms (${(l.fp32PerImageMs / l.perImageMs).toFixed(2)}x)`;
}

export async function quantizeModel(options: QuantizeOptions) {
  const progress = options.onProgress ?? (() => undefined);
  const now = options.now ?? (() => new Date());
  parseChip(options.chip);
  const pm = await prepareModel(await readModelFile(options.modelPath), options.modelPath);
  checkSpecMatchesInput(options.spec, pm.input.shape);
  const calibSet = await readDataset(options.calibrationDir, 'calibration', options.labels);
  const decoder = options.decoder;
  const evalSet =
    options.evalDir && !decoder
      ? await readDataset(options.evalDir, 'eval', options.labels)
      : undefined;
  const boxSet =
    options.evalDir && decoder
      ? await readBoxDataset(options.evalDir, 'eval', options.evalBoxes)
      : undefined;
  const detectionInputs: DetectionInput[] = [];
  for (const [k, item] of (boxSet ?? []).entries()) {
    detectionInputs.push({ tensor: await loadImageTensor(item.path, options.spec, 'eval'), item });
    progress({ stage: 'load eval images', done: k + 1, total: boxSet?.length ?? 0 });
  }
  const calibInputs = (await loadDatasetInputs(calibSet, options.spec, progress)).map(
    (x) => x.tensor,
  );
  const evalInputs: EvalInput[] = evalSet
    ? await loadDatasetInputs(evalSet, options.spec, progress)
    : [];

  const run = await runCalibration(pm, calibInputs, {
    method: options.method,
    ...(options.maxFloatLayers ? { maxFloatLayers: options.maxFloatLayers } : {}),
    onProgress: progress,
    ...(options.signal ? { signal: options.signal } : {}),
  });

  // With labels, the searched table competes with each single-method table on top-1 of the
  // validation half; the held-out half then measures only the chosen table.
  const choices: Choice[] = [{ label: options.method, entries: run.entries }];
  if (options.method === 'auto' && (evalSet?.labelled || detectionInputs.length > 0)) {
    for (const m of THRESHOLD_METHODS) {
      choices.push({ label: m, entries: calibrationEntries(run.stats, m as ThresholdMethod) });
    }
  }
  const selecting = choices.length > 1;
  const split = selecting
    ? splitValidation(evalInputs)
    : { validation: [] as EvalInput[], heldOut: evalInputs };
  const accuracyOf = async (c: Choice, inputs: readonly EvalInput[], reference?: Tensor[]) =>
    evaluateAccuracy(
      pm,
      buildInt8Graph(pm.model, pm.layers, {
        thresholds: new Map(c.entries.map((e) => [e.name, e.threshold])),
        precisions: run.precisions,
      }),
      inputs,
      {
        ...(reference ? { reference } : {}),
        onProgress: progress,
        ...(options.labels ? { classNames: options.labels } : {}),
      },
    );
  if (selecting) {
    const reference = await fp32Reference(pm, split.validation);
    for (const c of choices) c.accuracy = await accuracyOf(c, split.validation, reference);
  }
  if (decoder && detectionInputs.length > 0) {
    const reference = await fp32DetectionOutputs(pm, detectionInputs);
    for (const c of choices) {
      const graph = buildInt8Graph(pm.model, pm.layers, {
        thresholds: new Map(c.entries.map((e) => [e.name, e.threshold])),
        precisions: run.precisions,
      });
      c.detection = await evaluateDetection(pm, graph, detectionInputs, decoder, options.spec, {
        reference,
        onProgress: progress,
        ...(options.labels ? { classNames: options.labels } : {}),
      });
    }
  }
  const score = (c: Choice): number =>
    c.detection?.mapInt8 ?? c.accuracy?.top1Int8 ?? c.accuracy?.agreement ?? 0;
  const chosen = choices.reduce((best, c) => (score(c) > score(best) ? c : best), choices[0]!);
  const thresholds = new Map(chosen.entries.map((e) => [e.name, e.threshold]));
  const heldOutAccuracy =
    split.heldOut.length > 0 ? await accuracyOf(chosen, split.heldOut) : undefined;

  const netName = netNameOf(options.modelPath);
  progress({ stage: 'build bmodel', done: 0, total: 1 });
  const built = await int8BmodelInMemory(
    pm,
    { thresholds, requested: run.precisions },
    { chip: options.chip, netName, now: now() },
  );
  const simInputs = splitHeldOut(calibInputs).heldOut.slice(0, options.similarityImages ?? 20);
  progress({ stage: 'layer similarity', done: 0, total: simInputs.length });
  const layers = await layerSimilarity(pm, built.graph, simInputs);
  progress({ stage: 'verdict', done: 0, total: simInputs.length });
  // The similarity images are the first held-out images, whose FP32 outputs the calibration run
  // already computed with the same session options.
  const fp32Sim =
    run.reference.length >= simInputs.length
      ? run.reference.slice(0, simInputs.length)
      : await runOutputs(pm.bytes, pm.input.name, simInputs);
  const int8Payload = encodeOnnx(built.graph.model);
  const verdict: QuantizeVerdict = outputVerdict(
    pm.outputs,
    fp32Sim,
    // At the level the agent's simulator runs the payload (shared/simulator/graph-level.ts):
    // Q/DQ unfused, so the verdict is the same on every host and is what a simulated board
    // answers (at 'all' the toy model of verdict.test.ts scored cosine 0.888 on an AVX2 host
    // without VNNI and 1.000 on a VNNI host).
    await runOutputs(int8Payload, pm.input.name, simInputs, {
      ...HOST_SESSION,
      graphOptimizationLevel: simulatorGraphLevel(int8Payload),
    }),
    options.tolerance,
  );
  const written = verdict.pass || options.allowDegraded === true;
  const bmodelPath = int8BmodelPath(options.outDir, netName);

  const files: QuantizeFiles = {
    bmodel: bmodelPath,
    calibrationTable: join(options.outDir, 'cali_table'),
    quantizeTable: join(options.outDir, 'qtable'),
    reportJson: join(options.outDir, 'quantize_report.json'),
    reportText: join(options.outDir, 'quantize_report.txt'),
  };
  const methodLabel = chosen.label === 'auto' ? 'auto (per-tensor search)' : chosen.label;
  const latency = await modeledLatencies(pm.model, options.chip);
  const report = {
    model: options.modelPath,
    modeledLatency: latency,
    chip: options.chip,
    method: options.method,
    chosenTable: chosen.label,
    verdict: { ...verdict, bmodelWritten: written },
    bmodel: written ? { path: bmodelPath, sha256: built.sha256, bytes: built.bmodel.length } : null,
    evaluation: {
      validationImages: split.validation.length,
      heldOutImages: split.heldOut.length,
    },
    calibration: {
      images: run.calibrationImages,
      heldOutImages: run.heldOutImages,
      histogramBins: HISTOGRAM_BINS,
      foldedBatchNorms: pm.foldedBatchNorms,
      search: run.search
        ? {
            startCosine: run.search.startCosine,
            cosine: run.search.cosine,
            evaluations: run.search.evaluations,
            meanSuffixShare: run.search.meanSuffixShare,
          }
        : undefined,
      // Scored on the validation images (evaluation.validationImages).
      candidates: choices.map((c) => ({
        table: c.label,
        top1Int8: c.accuracy?.top1Int8 ?? null,
        agreement: c.accuracy?.agreement ?? null,
        ...(c.detection ? { mapInt8: c.detection.mapInt8, map50Int8: c.detection.map50Int8 } : {}),
      })),
    },
    layers: pm.layers.map((l) => ({
      name: l.name,
      opType: l.opType,
      precision: built.graph.precisions.get(l.name),
      threshold: thresholds.get(l.name) ?? null,
      method: chosen.label === 'auto' ? (run.methods.get(l.name) ?? null) : chosen.label,
    })),
    accuracy: heldOutAccuracy ?? null,
    detection: chosen.detection ?? null,
    layerSimilarity: layers,
    sensitivity: run.ranking ?? null,
    files,
  };
  const accuracyTitle = selecting
    ? `Accuracy on ${options.evalDir}: ${split.heldOut.length} held-out images (table chosen by top-1 on ${split.validation.length} other validation images)`
    : `Accuracy on ${options.evalDir}: ${split.heldOut.length} images`;
  const text = [
    `bmfleet quantize ${options.modelPath} -> ${written ? bmodelPath : '(no BMODEL written)'} (${options.chip}, sim target)`,
    `thresholds: ${methodLabel}; calibration images ${run.calibrationImages}, held out ${run.heldOutImages}`,
    formatLatency(latency, options.chip),
    heldOutAccuracy ? `\n${accuracyTitle}\n${formatAccuracy(heldOutAccuracy)}` : '',
    chosen.detection
      ? `\nDetection accuracy on ${options.evalDir}\n${formatDetection(chosen.detection)}`
      : '',
    `Per-layer similarity FP32 vs INT8 (${simInputs.length} calibration images)\n${formatLayerSimilarity(layers)}`,
    run.ranking ? `Sensitivity\n${formatSensitivity(run.ranking)}` : '',
    formatVerdict(verdict, written && !verdict.pass),
  ]
    .filter((s) => s !== '')
    .join('\n');
  // A failed verdict (without allowDegraded) leaves the output folder as it was: a BMODEL and
  // tables from an earlier good run are not replaced by ones that describe no BMODEL.
  if (written) {
    await mkdir(options.outDir, { recursive: true });
    await writeFileAtomic(bmodelPath, built.bmodel);
    await writeFileAtomic(
      files.calibrationTable,
      formatCalibrationTable(chosen.entries, {
        generatedAt: now().toISOString(),
        sampleNumber: run.calibrationImages,
        histogramBins: HISTOGRAM_BINS,
        method: methodLabel,
      }),
    );
    await writeFileAtomic(
      files.quantizeTable,
      formatQuantizeTable(built.graph.precisions, [`from bmfleet quantize ${netName}`]),
    );
    await writeFileAtomic(files.reportJson, `${JSON.stringify(report, null, 2)}\n`);
    await writeFileAtomic(files.reportText, `${text}\n`);
  }
  return { report, text, files, built: { ...built, bmodelPath }, verdict, written };
}
