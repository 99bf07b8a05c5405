// The step-by-step path after `umodel export` (the vendor's calibration_use_pb / bmnetu steps,
// docs/vendor.md section 1): calibrate -> (a person edits cali_table / qtable) -> evaluate -> build.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bmfError } from '../../shared/errors.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import { parseChip } from '../compile/chip.js';
import { buildInt8Bmodel, planFromTables } from './build.js';
import type { Progress } from './calibrate.js';
import { runCalibration, type MethodChoice } from './calibration-run.js';
import { formatCalibrationTable } from './calibration-table.js';
import { readDataset } from './dataset.js';
import { evaluateAccuracy, layerSimilarity } from './evaluate.js';
import { HISTOGRAM_BINS } from './histogram.js';
import { loadDatasetInputs } from './inputs.js';
import { buildInt8Graph } from './qdq.js';
import { formatQuantizeTable } from './quantize-table.js';
import { formatAccuracy, formatLayerSimilarity, formatSensitivity } from './report-text.js';
import type { Umodel } from './umodel.js';

async function readText(
  path: string,
  code: 'BMF_ERR_CALIBRATION_TABLE' | 'BMF_ERR_QUANTIZE_TABLE',
) {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw bmfError(
      code,
      { line: 0, reason: `cannot read ${path}: ${(e as Error).message}` },
      { cause: e },
    );
  }
}

export async function calibrateUmodel(
  u: Umodel,
  options: {
    calibrationDir: string;
    method: MethodChoice;
    outDir: string;
    maxFloatLayers?: number;
    onProgress?: (p: Progress) => void;
    now?: () => Date;
  },
) {
  const now = options.now ?? (() => new Date());
  const pm = u.prepared;
  const set = await readDataset(options.calibrationDir, 'calibration', u.manifest.labels);
  const inputs = (await loadDatasetInputs(set, u.spec, options.onProgress)).map((x) => x.tensor);
  const run = await runCalibration(pm, inputs, {
    method: options.method,
    sensitivity: true,
    ...(options.maxFloatLayers ? { maxFloatLayers: options.maxFloatLayers } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const files = {
    calibrationTable: join(options.outDir, 'cali_table'),
    quantizeTable: join(options.outDir, 'qtable'),
    sensitivity: join(options.outDir, 'sensitivity.txt'),
  };
  await mkdir(options.outDir, { recursive: true });
  await writeFileAtomic(
    files.calibrationTable,
    formatCalibrationTable(run.entries, {
      generatedAt: now().toISOString(),
      sampleNumber: run.calibrationImages,
      histogramBins: HISTOGRAM_BINS,
      method: options.method === 'auto' ? 'auto (per-tensor search)' : options.method,
    }),
  );
  await writeFileAtomic(
    files.quantizeTable,
    formatQuantizeTable(run.precisions, [
      'edit: set a layer to F32 to keep it in float (mixed precision)',
      ...(options.maxFloatLayers ? [`--max-float-layers ${options.maxFloatLayers}`] : []),
    ]),
  );
  const sensitivity = formatSensitivity(run.ranking ?? []);
  await writeFileAtomic(files.sensitivity, sensitivity);
  return { run, files, sensitivity };
}

async function plan(u: Umodel, caliTablePath: string, qtablePath?: string) {
  const cali = await readText(caliTablePath, 'BMF_ERR_CALIBRATION_TABLE');
  const q = qtablePath ? await readText(qtablePath, 'BMF_ERR_QUANTIZE_TABLE') : undefined;
  return planFromTables(u.prepared, cali, q);
}

export async function evaluateUmodel(
  u: Umodel,
  options: {
    caliTablePath: string;
    qtablePath?: string;
    evalDir: string;
    similarityImages?: number;
    onProgress?: (p: Progress) => void;
  },
) {
  const p = await plan(u, options.caliTablePath, options.qtablePath);
  const graph = buildInt8Graph(u.prepared.model, u.prepared.layers, {
    thresholds: p.thresholds,
    precisions: p.requested,
  });
  const set = await readDataset(options.evalDir, 'eval', u.manifest.labels);
  const inputs = await loadDatasetInputs(set, u.spec, options.onProgress);
  const accuracy = await evaluateAccuracy(u.prepared, graph, inputs, {
    ...(u.manifest.labels ? { classNames: u.manifest.labels } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const simInputs = inputs.slice(0, options.similarityImages ?? 20).map((x) => x.tensor);
  const layers = await layerSimilarity(u.prepared, graph, simInputs);
  const text = `${formatAccuracy(accuracy)}\nPer-layer similarity FP32 vs INT8 (${simInputs.length} images)\n${formatLayerSimilarity(layers)}`;
  return { accuracy, layers, text };
}

export async function buildUmodel(
  u: Umodel,
  options: { caliTablePath: string; qtablePath?: string; chip: string; outDir: string; now?: Date },
) {
  parseChip(options.chip);
  const p = await plan(u, options.caliTablePath, options.qtablePath);
  return buildInt8Bmodel(u.prepared, p, {
    chip: options.chip,
    netName: u.manifest.name,
    outDir: options.outDir,
    ...(options.now ? { now: options.now } : {}),
  });
}
