// One calibration run, shared by `bmfleet quantize` and `bmfleet umodel calibrate`: statistics,
// thresholds (one method, or the automatic per-tensor search), the sensitivity ranking and the
// resulting per-layer precisions.
import type { Tensor } from '../../shared/tensor.js';
import { collectActivationStats, type ActivationStats, type Progress } from './calibrate.js';
import { calibrationEntries } from './calibrate.js';
import type { CalibrationEntry } from './calibration-table.js';
import { splitHeldOut } from './inputs.js';
import type { PreparedModel } from './prepared-model.js';
import { effectivePrecisions } from './qdq.js';
import type { LayerPrecision } from './quantize-table.js';
import { runOutputs, type OutputSet } from './score.js';
import { searchThresholds, type SearchResult } from './search.js';
import type { ScoringMode } from './suffix-scorer.js';
import { mixedPrecisionPlan, sensitivityRanking, type SensitivityRow } from './sensitivity.js';
import { parseThresholdMethod, type ThresholdMethod } from './thresholds.js';

export type MethodChoice = ThresholdMethod | 'auto';

/**
 * Held-out images each search candidate is scored on (the first of the held-out split, which
 * is every fifth calibration image, so spread over the set). Each candidate was a full INT8
 * inference per image (now the changed suffix of one, suffix-scorer.ts): on ResNet-50 with 100 calibration images, 20 images per candidate made the
 * search by far the largest part of `quantize --method auto` (`npm run bench -- calibrate`). Mean output
 * cosine over 8 images already separates the candidates that matter; the sensitivity ranking and
 * the reported similarity still use the whole held-out split.
 */
export const SEARCH_IMAGES = 8;

export interface CalibrationRunOptions {
  readonly method: MethodChoice;
  readonly maxFloatLayers?: number;
  /** Compute the sensitivity ranking even when no layer is to be kept in F32. */
  readonly sensitivity?: boolean;
  readonly onProgress?: (p: Progress) => void;
  readonly signal?: AbortSignal;
  /** How the automatic search scores candidates (suffix-scorer.ts); `suffix` unless told. */
  readonly scoring?: ScoringMode;
}

export interface CalibrationRun {
  readonly stats: ReadonlyMap<string, ActivationStats>;
  readonly entries: readonly CalibrationEntry[];
  /** Method used per tensor. */
  readonly methods: ReadonlyMap<string, ThresholdMethod>;
  readonly search?: SearchResult;
  readonly ranking?: readonly SensitivityRow[];
  readonly precisions: ReadonlyMap<string, LayerPrecision>;
  readonly calibrationImages: number;
  readonly heldOutImages: number;
  /** FP32 outputs of the held-out images, in order (empty when nothing needed them). */
  readonly reference: OutputSet;
}

export async function runCalibration(
  pm: PreparedModel,
  inputs: readonly Tensor[],
  options: CalibrationRunOptions,
): Promise<CalibrationRun> {
  const split = splitHeldOut(inputs);
  // The search must not score on the images it calibrated on; a single method uses them all,
  // as run_calibration does.
  const calib = options.method === 'auto' ? split.calib : [...inputs];
  const stats = await collectActivationStats(pm, calib, {
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const maxFloat = options.maxFloatLayers ?? 0;
  const needReference = options.method === 'auto' || maxFloat > 0 || options.sensitivity;
  const report = options.onProgress ?? (() => undefined);
  if (needReference) report({ stage: 'fp32 reference', done: 0, total: split.heldOut.length });
  const reference = needReference ? await runOutputs(pm.bytes, pm.input.name, split.heldOut) : [];
  let methods: Map<string, ThresholdMethod>;
  let search: SearchResult | undefined;
  if (options.method === 'auto') {
    const scored = Math.min(split.heldOut.length, SEARCH_IMAGES);
    search = await searchThresholds(pm, stats, {
      heldOut: split.heldOut.slice(0, scored),
      reference: reference.slice(0, scored),
      ...(options.scoring ? { scoring: options.scoring } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    methods = search.methods;
  } else {
    const m = options.method;
    methods = new Map([...stats.keys()].map((n) => [n, m]));
  }
  const entries = calibrationEntries(stats, methods);
  const thresholds = new Map(entries.map((e) => [e.name, e.threshold]));
  let ranking: SensitivityRow[] | undefined;
  let requested = new Map<string, LayerPrecision>();
  if (maxFloat > 0 || options.sensitivity) {
    ranking = await sensitivityRanking(
      pm,
      thresholds,
      split.heldOut,
      reference,
      options.onProgress,
    );
    requested = mixedPrecisionPlan(pm, ranking, maxFloat);
  }
  return {
    stats,
    entries,
    methods,
    ...(search ? { search } : {}),
    ...(ranking ? { ranking } : {}),
    precisions: effectivePrecisions(pm.layers, thresholds, requested),
    calibrationImages: calib.length,
    heldOutImages: needReference ? split.heldOut.length : 0,
    reference,
  };
}

export function parseMethodChoice(s: string): MethodChoice {
  return s === 'auto' ? 'auto' : parseThresholdMethod(s);
}
