// A ratio of sums over clusters, R = sum x_i / sum n_i, from sums that merge by addition: the
// cluster count, sum x, sum n and the per-cluster sums of squares and products. Its linearised
// (sandwich, CR1) variance k / (k - 1) * sum (x_i - R n_i)^2 / N^2 (Cochran, Sampling
// Techniques, 3rd ed., 6.13) expands to k / (k - 1) * (Sxx - 2 R Sxn + R^2 Snn) / N^2, so it
// needs no per-cluster list. The same estimator as clusteredProportion (clustered.ts), for
// ratios that are not proportions (boxes per image) or whose clusters are images (matched-box
// F1 over images); with n_i = 1 it is the sample variance of the mean.
export interface RatioSums {
  /** Clusters (images, devices) the sums run over, empty ones included. */
  readonly clusters: number;
  readonly x: number;
  readonly n: number;
  readonly xx: number;
  readonly xn: number;
  readonly nn: number;
}

export interface RatioEstimate {
  /** sum x / sum n; NaN when sum n is 0. */
  readonly estimate: number;
  /** Variance of the estimate (0 with fewer than 2 clusters or no trials). */
  readonly variance: number;
  readonly clusters: number;
}

export function clusteredRatio(s: RatioSums): RatioEstimate {
  if (!(s.n > 0)) return { estimate: NaN, variance: 0, clusters: s.clusters };
  const r = s.x / s.n;
  const ss = Math.max(0, s.xx - 2 * r * s.xn + r * r * s.nn);
  const k = s.clusters;
  return { estimate: r, variance: k > 1 ? ((k / (k - 1)) * ss) / (s.n * s.n) : 0, clusters: k };
}

/** Sums of per-cluster counts (x_i, n_i), for callers that hold the clusters themselves. */
export function ratioSums(
  clusters: readonly { readonly x: number; readonly n: number }[],
): RatioSums {
  let x = 0;
  let n = 0;
  let xx = 0;
  let xn = 0;
  let nn = 0;
  for (const c of clusters) {
    x += c.x;
    n += c.n;
    xx += c.x * c.x;
    xn += c.x * c.n;
    nn += c.n * c.n;
  }
  return { clusters: clusters.length, x, n, xx, xn, nn };
}
