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

export type GeometrySpec = Pick<
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

/**
 * The inverse of a placement: tensor coordinates back to source-image pixels,
 * src = (t - offset) * scale, per axis. One formula serves all three modes: stretch has offset 0,
 * letterbox offsets by the pad (dstX/dstY), short_side_scale by minus the crop start (srcX/srcY).
 */
export interface SourceMapping {
  readonly scaleX: number;
  readonly scaleY: number;
  readonly offsetX: number;
  readonly offsetY: number;
  /** Source image size; mapped boxes are clipped to it. */
  readonly srcWidth: number;
  readonly srcHeight: number;
}

export function inversePlacement(
  place: Placement,
  srcWidth: number,
  srcHeight: number,
): SourceMapping {
  return {
    scaleX: srcWidth / place.resizeWidth,
    scaleY: srcHeight / place.resizeHeight,
    offsetX: place.dstX - place.srcX,
    offsetY: place.dstY - place.srcY,
    srcWidth,
    srcHeight,
  };
}

/** Where a source image of this size lands in the tensor, and the way back. */
export function sourceMapping(
  srcWidth: number,
  srcHeight: number,
  spec: GeometrySpec,
): SourceMapping {
  return inversePlacement(planPlacement(srcWidth, srcHeight, spec), srcWidth, srcHeight);
}

/** The identity mapping for a tensor of this size (boxes stay in tensor pixels). */
export function tensorMapping(width: number, height: number): SourceMapping {
  return { scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, srcWidth: width, srcHeight: height };
}

export function toSourceX(m: SourceMapping, x: number): number {
  return (x - m.offsetX) * m.scaleX;
}

export function toSourceY(m: SourceMapping, y: number): number {
  return (y - m.offsetY) * m.scaleY;
}
