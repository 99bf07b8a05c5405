// Where the resized image lands in the tensor. Pure arithmetic mirroring the vendor's
// tpu-mlir preprocess (python/utils/preprocess.py, ImageResizeTool):
// - stretch: resize straight to resize_dims;
// - letterbox: s = min(w/iw, h/ih), resized size floor(iw*s) x floor(ih*s), pasted at
//   ((w-rw)//2, (h-rh)//2) for pad_type center or at (0, 0) for normal; the rest is pad_value;
// - short_side_scale: s = max(w/iw, h/ih), resized side floor(side*s) (never below the target),
//   then a centre crop starting at ((rw-w)//2, (rh-h)//2).
import type { PreprocessSpec } from './spec.js';

export interface Placement {
  /** Size sharp resizes the (oriented, alpha-free) image to. */
  readonly resizeWidth: number;
  readonly resizeHeight: number;
  /** Top-left of the window read from the resized image. */
  readonly srcX: number;
  readonly srcY: number;
  /** Top-left in the output where that window is written. */
  readonly dstX: number;
  readonly dstY: number;
  /** Window size. */
  readonly width: number;
  readonly height: number;
  /** Output (tensor) spatial size. */
  readonly outWidth: number;
  readonly outHeight: number;
  /** True when part of the output is padding. */
  readonly padded: boolean;
}

type GeometrySpec = Pick<
  PreprocessSpec,
  'resize_dims' | 'keep_aspect_ratio' | 'keep_ratio_mode' | 'pad_type'
>;

export function planPlacement(srcWidth: number, srcHeight: number, spec: GeometrySpec): Placement {
  const [h, w] = spec.resize_dims;
  const full = { srcX: 0, srcY: 0, dstX: 0, dstY: 0, outWidth: w, outHeight: h };
  if (!spec.keep_aspect_ratio) {
    return { ...full, resizeWidth: w, resizeHeight: h, width: w, height: h, padded: false };
  }
  if (spec.keep_ratio_mode === 'letterbox') {
    const s = Math.min(w / srcWidth, h / srcHeight);
    const rw = Math.max(1, Math.min(w, Math.floor(srcWidth * s)));
    const rh = Math.max(1, Math.min(h, Math.floor(srcHeight * s)));
    const center = spec.pad_type === 'center';
    return {
      ...full,
      resizeWidth: rw,
      resizeHeight: rh,
      dstX: center ? Math.floor((w - rw) / 2) : 0,
      dstY: center ? Math.floor((h - rh) / 2) : 0,
      width: rw,
      height: rh,
      padded: rw !== w || rh !== h,
    };
  }
  const s = Math.max(w / srcWidth, h / srcHeight);
  const rw = srcWidth * s >= w ? Math.floor(srcWidth * s) : w;
  const rh = srcHeight * s >= h ? Math.floor(srcHeight * s) : h;
  return {
    ...full,
    resizeWidth: rw,
    resizeHeight: rh,
    srcX: Math.floor((rw - w) / 2),
    srcY: Math.floor((rh - h) / 2),
    width: w,
    height: h,
    padded: false,
  };
}
