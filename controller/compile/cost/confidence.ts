// How much to trust a modeled latency (pure). The cost model has been checked against published
// bmrt_test times of ten vendor demo networks (docs/cost-model.md). Under the layer-group model
// (group-estimate.ts) networks whose modeled time is almost all convolution/matmul and that move
// little data came out within +-25 % on 51 of 68 published rows, the others (concat, resize,
// slice, transpose between the convs) on 37 of 47, with wider misses both ways. So the confidence
// says which layer kinds dominate the modeled time and whether that mix is the better-covered one.
import type { CostLayer, CostLayerKind, LatencyEstimate } from './estimate.js';

export interface KindShare {
  readonly kind: CostLayerKind;
  readonly layers: number;
  /** Share of the modeled device time, 0..1. */
  readonly share: number;
}

export interface CostConfidence {
  readonly level: 'medium' | 'low';
  /** Layer kinds by share of modeled time, largest first. */
  readonly byKind: readonly KindShare[];
  /** conv + matmul share of the modeled time. */
  readonly matrixShare: number;
  /**
   * Share of the layers of kind `other`: data movement such as Concat, Resize, Slice, Transpose
   * (residual adds and pools are `elementwise`/`pool` and are covered).
   */
  readonly otherLayerShare: number;
  readonly reason: string;
}

/** Below this matrix share, or above this share of `other` layers, the mix is not covered. */
export const COVERED_MATRIX_SHARE = 0.9;
export const COVERED_OTHER_LAYERS = 0.1;

export function costConfidence(
  layers: readonly CostLayer[],
  estimate: Pick<LatencyEstimate, 'perLayer' | 'totalMs'>,
): CostConfidence {
  const kinds = new Map<CostLayerKind, { layers: number; ms: number }>();
  layers.forEach((l, i) => {
    const k = kinds.get(l.kind) ?? { layers: 0, ms: 0 };
    kinds.set(l.kind, { layers: k.layers + 1, ms: k.ms + (estimate.perLayer[i]?.ms ?? 0) });
  });
  const total = estimate.totalMs > 0 ? estimate.totalMs : 1;
  const byKind = [...kinds]
    .map(([kind, v]) => ({ kind, layers: v.layers, share: v.ms / total }))
    .sort((a, b) => b.share - a.share);
  const matrix = byKind.filter((k) => k.kind === 'conv' || k.kind === 'matmul');
  const matrixShare = matrix.reduce((s, k) => s + k.share, 0);
  const other = byKind.find((k) => k.kind === 'other')?.layers ?? 0;
  const otherLayerShare = layers.length ? other / layers.length : 0;
  const covered = matrixShare >= COVERED_MATRIX_SHARE && otherLayerShare <= COVERED_OTHER_LAYERS;
  const pct = (v: number) => `${(v * 100).toFixed(0)} %`;
  const reason = covered
    ? `conv/matmul layers take ${pct(matrixShare)} of the modeled time; networks with this mix (ResNet-50, C3D, the DeepSORT extractor, pose_coco, Real-ESRGAN, HRNet-w32 in docs/cost-model.md) came out within +-25 % on 51 of 68 published rows, HRNet-w32 modeled at up to 2.8x its published time; still a model, not a measurement`
    : `${pct(otherLayerShare)} of the layers move data (concat, resize, slice...) and conv/matmul take ${pct(matrixShare)} of the modeled time; networks like this (YOLOv5s, YOLOX-s, RetinaFace, LPRNet in docs/cost-model.md) came out within +-25 % on 37 of 47 published rows, RetinaFace from -67 % to +40 %`;
  return {
    level: covered ? 'medium' : 'low',
    byKind,
    matrixShare,
    otherLayerShare,
    reason,
  };
}
