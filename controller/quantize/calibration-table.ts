// The calibration table in tpu-mlir's text format (docs/vendor.md section 1): `#` header lines, then
// one line per tensor `name threshold min max`, floats with 7 decimals. The threshold serves
// symmetric INT8 (scale = threshold/128); min/max serve asymmetric modes. The same file feeds the
// tpu-mlir adapter (model_deploy.py --calibration_table), so one calibration serves both the
// simulator twin and a real vendor build.
import { bmfError } from '../../shared/errors.js';

export interface CalibrationEntry {
  readonly name: string;
  readonly threshold: number;
  readonly min: number;
  readonly max: number;
}

export interface CalibrationTableMeta {
  readonly generatedAt: string;
  readonly sampleNumber: number;
  readonly histogramBins: number;
  readonly method: string;
}

export function formatCalibrationTable(
  entries: readonly CalibrationEntry[],
  meta: CalibrationTableMeta,
): string {
  const lines = [
    `# generated time: ${meta.generatedAt}`,
    `# histogram number: ${meta.histogramBins}`,
    `# sample number: ${meta.sampleNumber}`,
    `# threshold method: ${meta.method}`,
    '# tune number: 0',
    '###',
    '# op_name    threshold    min    max',
    ...entries.map(
      (e) => `${e.name} ${e.threshold.toFixed(7)} ${e.min.toFixed(7)} ${e.max.toFixed(7)}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

function fail(line: number, reason: string): never {
  throw bmfError('BMF_ERR_CALIBRATION_TABLE', { line, reason });
}

/**
 * Parse and validate a table. `knownTensors` (the model's activation tensors) turns an unknown
 * name into an error naming the line, so a table from another model is caught before it is used.
 */
export function parseCalibrationTable(
  text: string,
  knownTensors?: ReadonlySet<string>,
): Map<string, CalibrationEntry> {
  const out = new Map<string, CalibrationEntry>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const s = raw.trim();
    if (s === '' || s.startsWith('#')) return;
    const f = s.split(/\s+/);
    if (f.length !== 4) fail(line, `expected "name threshold min max", got ${f.length} fields`);
    const [name, ...nums] = f as [string, string, string, string];
    const [threshold, min, max] = nums.map(Number) as [number, number, number];
    if (![threshold, min, max].every(Number.isFinite)) fail(line, `non-numeric value in "${s}"`);
    if (!(threshold > 0)) fail(line, `threshold of ${name} must be positive, got ${threshold}`);
    if (min > max) fail(line, `min ${min} exceeds max ${max} for ${name}`);
    if (knownTensors && !knownTensors.has(name)) {
      fail(line, `tensor ${name} is not an activation of this model`);
    }
    if (out.has(name)) fail(line, `tensor ${name} listed twice`);
    out.set(name, { name, threshold, min, max });
  });
  return out;
}
