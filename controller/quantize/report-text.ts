// Readable tables for the quantization reports (the JSON report carries the same numbers).
import type { AccuracyReport, LayerSimilarity } from './evaluate.js';
import type { DetectionReport } from './evaluate-detect.js';
import type { SensitivityRow } from './sensitivity.js';

const pct = (x: number | null): string => (x === null ? '-' : `${(100 * x).toFixed(2)}%`);

/** The CLI's one table style (cli/http-client.ts formatTable): upper-case headers, no rules. */
function table(given: readonly string[], rows: readonly (readonly string[])[]): string {
  const header = given.map((h) => h.toUpperCase());
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatAccuracy(r: AccuracyReport): string {
  const head = [
    `images: ${r.images}${r.labelled ? '' : ' (unlabelled: top-1 not available)'}`,
    `top-1 FP32: ${pct(r.top1Fp32)}   top-1 INT8: ${pct(r.top1Int8)}   agreement: ${pct(r.agreement)}`,
    `output cosine INT8 vs FP32: mean ${r.meanOutputCosine.toFixed(6)}, min ${r.minOutputCosine.toFixed(6)}`,
  ];
  if (r.perClass.length === 0) return `${head.join('\n')}\n`;
  const rows = r.perClass.map((c) => [
    c.name ? `${c.label} ${c.name}` : String(c.label),
    String(c.images),
    pct(c.top1Fp32),
    pct(c.top1Int8),
    pct(c.agreement),
  ]);
  return `${head.join('\n')}\n\n${table(['class', 'images', 'top-1 FP32', 'top-1 INT8', 'agreement'], rows)}\n`;
}

export function formatLayerSimilarity(rows: readonly LayerSimilarity[]): string {
  return `${table(
    ['tensor', 'precision', 'cosine', 'euclidean', 'SQNR dB', 'pass'],
    rows.map((r) => [
      r.tensor,
      r.precision,
      r.cosine.toFixed(6),
      r.euclidean.toFixed(6),
      Number.isFinite(r.sqnrDb) ? r.sqnrDb.toFixed(2) : 'inf',
      r.pass ? 'yes' : 'NO',
    ]),
  )}\n`;
}

export function formatSensitivity(rows: readonly SensitivityRow[]): string {
  return `${table(
    ['layer (most sensitive first)', 'op', 'loss (1 - cosine)'],
    rows.map((r) => [r.layer, r.opType, r.loss.toExponential(3)]),
  )}\n`;
}

const ap = (x: number): string => (x < 0 ? '-' : x.toFixed(4));

export function formatDetection(r: DetectionReport): string {
  const head = [
    `images: ${r.images}, ground-truth boxes: ${r.boxes}`,
    `mAP@[.5:.95] FP32: ${ap(r.mapFp32)}   INT8: ${ap(r.mapInt8)}   (change ${(r.mapInt8 - r.mapFp32).toFixed(4)})`,
    `mAP@.5       FP32: ${ap(r.map50Fp32)}   INT8: ${ap(r.map50Int8)}   (change ${(r.map50Int8 - r.map50Fp32).toFixed(4)})`,
  ];
  const rows = r.perClass.map((c) => [
    c.name ? `${c.classId} ${c.name}` : String(c.classId),
    String(c.groundTruths),
    ap(c.apFp32),
    ap(c.apInt8),
    ap(c.ap50Fp32),
    ap(c.ap50Int8),
  ]);
  return `${head.join('\n')}\n\n${table(['class', 'boxes', 'AP FP32', 'AP INT8', 'AP50 FP32', 'AP50 INT8'], rows)}\n`;
}
