// RetinaFace 'anchors' layout decoded independently of shared/detect, for tests that check the
// decode's arithmetic on synthetic outputs: every anchor whose face probability beats the
// threshold, with its box by the insightface anchor transform (RetinaFace/retinaface.py
// bbox_pred), clipped to the input. Batch item 0.
import type { RetinafaceAnchorsDecoder } from '../../shared/detect/spec.js';

interface OutputLike {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number | bigint>;
}

export interface AnchorCandidate {
  readonly score: number;
  readonly box: readonly [number, number, number, number];
}

export function anchorCandidates(
  decoder: RetinafaceAnchorsDecoder,
  outputs: Readonly<Record<string, OutputLike>>,
  quantization: Readonly<Record<string, { scale: number; zeroPoint: number }>>,
  size: { width: number; height: number },
): AnchorCandidate[] {
  const cands: AnchorCandidate[] = [];
  // INT8 outputs carry scale and zero point; float ones are real values already (the vendor's
  // INT8 BMODEL records a calibration scale on its float cls outputs too).
  const deq = (name: string, v: number) =>
    outputs[name]!.dtype === 'float32'
      ? v
      : (v - quantization[name]!.zeroPoint) * quantization[name]!.scale;
  for (const head of decoder.heads) {
    const cls = outputs[head.cls]!;
    const box = outputs[head.bbox]!;
    const [, , H, W] = cls.shape as [number, number, number, number];
    const A = head.scales.length;
    for (let a = 0; a < A; a++) {
      const anchor = decoder.base_size * head.scales[a]!;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const pos = y * W + x;
          const score = deq(head.cls, Number(cls.data[(A + a) * H * W + pos]));
          if (!(score > decoder.score_threshold)) continue;
          // insightface: anchor [x1, y1, x2, y2] of width `anchor` centred on (7.5, 7.5) + shift.
          const x1 = 7.5 - 0.5 * (anchor - 1) + x * head.stride;
          const y1 = 7.5 - 0.5 * (anchor - 1) + y * head.stride;
          const ctrX = x1 + 0.5 * (anchor - 1);
          const ctrY = y1 + 0.5 * (anchor - 1);
          const dv = (k: number) => deq(head.bbox, Number(box.data[(a * 4 + k) * H * W + pos]));
          const px = dv(0) * anchor + ctrX;
          const py = dv(1) * anchor + ctrY;
          const pw = Math.exp(dv(2)) * anchor;
          const ph = Math.exp(dv(3)) * anchor;
          const clipX = (v: number) => Math.min(size.width, Math.max(0, v));
          const clipY = (v: number) => Math.min(size.height, Math.max(0, v));
          cands.push({
            score,
            box: [
              clipX(px - 0.5 * (pw - 1)),
              clipY(py - 0.5 * (ph - 1)),
              clipX(px + 0.5 * (pw - 1)),
              clipY(py + 0.5 * (ph - 1)),
            ],
          });
        }
      }
    }
  }
  return cands;
}
