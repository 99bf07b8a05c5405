// The overall verdict of a quantization: every graph output of the INT8 model must reach the
// similarity tolerance against FP32 (model_deploy's rule, shared/stats/similarity.ts), measured
// over all comparison images at once. Pure: outputs in, verdict out.
import {
  compareTensors,
  DEFAULT_TOLERANCE,
  type SimilarityTolerance,
} from '../../shared/stats/similarity.js';
import type { Tensor } from '../../shared/tensor.js';
import { bmfError } from '../../shared/errors.js';

export interface OutputVerdict {
  readonly output: string;
  readonly cosine: number;
  readonly euclidean: number;
  readonly pass: boolean;
}

export interface QuantizeVerdict {
  readonly pass: boolean;
  readonly tolerance: SimilarityTolerance;
  readonly images: number;
  readonly outputs: readonly OutputVerdict[];
}

function concat(parts: readonly Tensor[]): Float64Array {
  const n = parts.reduce((s, p) => s + p.data.length, 0);
  const out = new Float64Array(n);
  let at = 0;
  for (const p of parts) {
    for (let i = 0; i < p.data.length; i++) out[at + i] = Number(p.data[i]);
    at += p.data.length;
  }
  return out;
}

export function outputVerdict(
  outputs: readonly string[],
  reference: readonly Readonly<Record<string, Tensor>>[],
  test: readonly Readonly<Record<string, Tensor>>[],
  tolerance: SimilarityTolerance = DEFAULT_TOLERANCE,
): QuantizeVerdict {
  const rows = outputs.map((output) => {
    const c = compareTensors(
      concat(reference.map((r) => r[output]!)),
      concat(test.map((r) => r[output]!)),
      tolerance,
    );
    return { output, cosine: c.cosine, euclidean: c.euclidean, pass: c.pass };
  });
  return {
    pass: rows.every((r) => r.pass),
    tolerance,
    images: reference.length,
    outputs: rows,
  };
}

const num = (x: number): string => (Number.isFinite(x) ? x.toFixed(6) : String(x));

/** One line, last in the text report. */
export function formatVerdict(v: QuantizeVerdict, kept: boolean): string {
  const tol = `tolerance cosine ${v.tolerance.cosine}, euclidean ${v.tolerance.euclidean}`;
  if (v.pass) {
    return `verdict: PASS: every output within ${tol} over ${v.images} images`;
  }
  const bad = v.outputs
    .filter((o) => !o.pass)
    .map((o) => `${o.output} cosine ${num(o.cosine)} euclidean ${num(o.euclidean)}`)
    .join('; ');
  return `verdict: FAIL: below ${tol} over ${v.images} images: ${bad}; ${
    kept ? 'BMODEL kept (--allow-degraded)' : 'BMODEL not written'
  }`;
}

/** `cos,euc` as model_deploy's --tolerance takes it. */
export function parseTolerance(s: string): SimilarityTolerance {
  const parts = s.split(',').map((x) => Number(x.trim()));
  const ok = (x: number | undefined): x is number =>
    x !== undefined && Number.isFinite(x) && x >= -1 && x <= 1;
  if (parts.length !== 2 || !ok(parts[0]) || !ok(parts[1])) {
    throw bmfError('BMF_ERR_USAGE', {
      reason: `--tolerance takes "cosine,euclidean" (two numbers in [-1, 1]), got "${s}"`,
    });
  }
  return { cosine: parts[0], euclidean: parts[1] };
}
