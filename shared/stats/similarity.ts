// Output similarity between a reference run and a test run of one tensor, as the vendor
// toolchain defines it (docs/vendor.md section 1, tpu-mlir model_deploy --tolerance):
//   cosine              = a.b / (|a| |b|)
//   euclidean similarity = 1 - |a - b| / |(a + b) / 2|
//   SQNR (dB)           = 10 * log10(var(ref) / var(ref - test))
// A tensor passes when cosine and euclidean similarity both reach the tolerance pair
// (default 0.8,0.5). Computed in float64 whatever the tensor dtype.
import { bmfError } from '../errors.js';
import type { Tensor } from '../tensor.js';

export interface SimilarityTolerance {
  readonly cosine: number;
  readonly euclidean: number;
}

/** model_deploy's default `--tolerance 0.8,0.5`. */
export const DEFAULT_TOLERANCE: SimilarityTolerance = Object.freeze({
  cosine: 0.8,
  euclidean: 0.5,
});

export interface TensorComparison {
  readonly cosine: number;
  readonly euclidean: number;
  /** +Infinity when test equals ref up to a constant offset (no noise). */
  readonly sqnrDb: number;
  readonly pass: boolean;
}

type Values = Tensor | ArrayLike<number>;

function toFloat64(v: Values): Float64Array {
  const data = 'dtype' in v ? v.data : v;
  const out = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  return out;
}

function pair(ref: Values, test: Values): [Float64Array, Float64Array] {
  if ('dtype' in ref && 'dtype' in test && ref.shape.join(',') !== test.shape.join(',')) {
    throw bmfError('BMF_ERR_TENSOR_SHAPE', {
      reason: `cannot compare shape [${ref.shape.join(',')}] with [${test.shape.join(',')}]`,
    });
  }
  const a = toFloat64(ref);
  const b = toFloat64(test);
  if (a.length !== b.length || a.length === 0) {
    throw bmfError('BMF_ERR_TENSOR_SHAPE', {
      reason: `cannot compare ${a.length} values with ${b.length}`,
    });
  }
  return [a, b];
}

function cosineOf(a: Float64Array, b: Float64Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  // Two all-zero tensors are identical; one all-zero tensor shares no direction with the other.
  if (na === 0 || nb === 0) return na === nb ? 1 : 0;
  return dot / (Math.sqrt(na) * Math.sqrt(nb));
}

function euclideanOf(a: Float64Array, b: Float64Array): number {
  let diff = 0;
  let mid = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    diff += (x - y) * (x - y);
    mid += ((x + y) / 2) * ((x + y) / 2);
  }
  if (mid === 0) return diff === 0 ? 1 : -Infinity;
  return 1 - Math.sqrt(diff) / Math.sqrt(mid);
}

function variance(n: number, f: (i: number) => number): number {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += f(i);
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (f(i) - mean) * (f(i) - mean);
  return v / n;
}

function sqnrOf(a: Float64Array, b: Float64Array): number {
  const signal = variance(a.length, (i) => a[i]!);
  const noise = variance(a.length, (i) => a[i]! - b[i]!);
  if (noise === 0) return Infinity;
  if (signal === 0) return -Infinity;
  return 10 * Math.log10(signal / noise);
}

export function cosineSimilarity(ref: Values, test: Values): number {
  return cosineOf(...pair(ref, test));
}

export function euclideanSimilarity(ref: Values, test: Values): number {
  return euclideanOf(...pair(ref, test));
}

export function sqnrDb(ref: Values, test: Values): number {
  return sqnrOf(...pair(ref, test));
}

/** All three measures and the vendor pass rule (cosine and euclidean both >= tolerance). */
export function compareTensors(
  ref: Values,
  test: Values,
  tolerance: SimilarityTolerance = DEFAULT_TOLERANCE,
): TensorComparison {
  const [a, b] = pair(ref, test);
  const cosine = cosineOf(a, b);
  const euclidean = euclideanOf(a, b);
  return {
    cosine,
    euclidean,
    sqnrDb: sqnrOf(a, b),
    pass: cosine >= tolerance.cosine && euclidean >= tolerance.euclidean,
  };
}

/**
 * The same three measures accumulated chunk by chunk (one image's tensor at a time), so a
 * comparison over many images never concatenates them or copies them to float64. Each chunk is
 * read twice (means, then centred sums); the variances of chunks are merged with Chan et al.'s
 * pairwise update, which keeps them as exact as the two-pass variance of `compareTensors`
 * (test/shared/stats/similarity.test.ts compares the two).
 */
export interface SimilarityAccumulator {
  add(ref: Float32Array, test: Float32Array): void;
  result(tolerance?: SimilarityTolerance): TensorComparison;
}

export function similarityAccumulator(): SimilarityAccumulator {
  let n = 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  let diff = 0;
  let mid = 0;
  // Mean and sum of squared deviations of ref and of ref - test.
  let meanA = 0;
  let m2A = 0;
  let meanD = 0;
  let m2D = 0;
  return {
    add(ref, test) {
      const len = ref.length;
      if (len !== test.length || len === 0) {
        throw bmfError('BMF_ERR_TENSOR_SHAPE', {
          reason: `cannot compare ${len} values with ${test.length}`,
        });
      }
      let sa = 0;
      let sb = 0;
      for (let i = 0; i < len; i++) {
        sa += ref[i]!;
        sb += test[i]!;
      }
      const ca = sa / len;
      const cd = (sa - sb) / len;
      // Local sums: the closure's variables are heap slots, and a double stored there per value
      // is a boxed number (an allocation per value, measured ~20x slower on ResNet-50 tensors).
      let sab = 0;
      let saa = 0;
      let sbb = 0;
      let sdd = 0;
      let smm = 0;
      let d2 = 0;
      let a2 = 0;
      for (let i = 0; i < len; i++) {
        const x = ref[i]!;
        const y = test[i]!;
        sab += x * y;
        saa += x * x;
        sbb += y * y;
        const d = x - y;
        sdd += d * d;
        const m = (x + y) / 2;
        smm += m * m;
        a2 += (x - ca) * (x - ca);
        d2 += (d - cd) * (d - cd);
      }
      dot += sab;
      na += saa;
      nb += sbb;
      diff += sdd;
      mid += smm;
      const total = n + len;
      const da = ca - meanA;
      const dd = cd - meanD;
      m2A += a2 + (da * da * n * len) / total;
      m2D += d2 + (dd * dd * n * len) / total;
      meanA += (da * len) / total;
      meanD += (dd * len) / total;
      n = total;
    },
    result(tolerance = DEFAULT_TOLERANCE) {
      if (n === 0) {
        throw bmfError('BMF_ERR_TENSOR_SHAPE', { reason: 'cannot compare 0 values' });
      }
      const cosine =
        na === 0 || nb === 0 ? (na === nb ? 1 : 0) : dot / (Math.sqrt(na) * Math.sqrt(nb));
      const euclidean =
        mid === 0 ? (diff === 0 ? 1 : -Infinity) : 1 - Math.sqrt(diff) / Math.sqrt(mid);
      const sqnrDb =
        m2D === 0 ? Infinity : m2A === 0 ? -Infinity : 10 * Math.log10(m2A / n / (m2D / n));
      return {
        cosine,
        euclidean,
        sqnrDb,
        pass: cosine >= tolerance.cosine && euclidean >= tolerance.euclidean,
      };
    },
  };
}
