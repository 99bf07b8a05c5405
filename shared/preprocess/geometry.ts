// Where the resized image lands in the tensor. Pure arithmetic mirroring the vendor's
// tpu-mlir preprocess (python/utils/preprocess.py, ImageResizeTool):
// - stretch: resize straight to resize_dims;
// - letterbox: s = min(w/iw, h/ih), resized size floor(iw*s) x floor(ih*s), pasted at
//   ((w-rw)//2, (h-rh)//2) for pad_type center or at (0, 0) for normal; the rest is pad_value;
// - short_side_scale: s = max(w/iw, h/ih), resized side floor(side*s) (never below the target),
//   then a centre crop starting at ((rw-w)//2, (rh-h)//2);
// - then, when input_dims is smaller than resize_dims, tpu-mlir's centre crop of that canvas:
//   start h//2 - crop_h//2 (and likewise for w), which is not always (h - crop_h)//2.
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
> &
  Partial<Pick<PreprocessSpec, 'input_dims'>>;

export function planPlacement(srcWidth: number, srcHeight: number, spec: GeometrySpec): Placement {
  const canvas = planCanvas(srcWidth, srcHeight, spec);
  const [ih, iw] = spec.input_dims ?? spec.resize_dims;
  return ih === canvas.outHeight && iw === canvas.outWidth ? canvas : centreCrop(canvas, ih, iw);
}

/** The window of a resize_dims canvas that a centre crop to ih x iw keeps. */
function centreCrop(p: Placement, ih: number, iw: number): Placement {
  const cy = Math.floor(p.outHeight / 2) - Math.floor(ih / 2);
  const cx = Math.floor(p.outWidth / 2) - Math.floor(iw / 2);
  const x0 = Math.max(p.dstX, cx);
  const y0 = Math.max(p.dstY, cy);
  const width = Math.max(0, Math.min(p.dstX + p.width, cx + iw) - x0);
  const height = Math.max(0, Math.min(p.dstY + p.height, cy + ih) - y0);
  return {
    resizeWidth: p.resizeWidth,
    resizeHeight: p.resizeHeight,
    srcX: p.srcX + (x0 - p.dstX),
    srcY: p.srcY + (y0 - p.dstY),
    dstX: x0 - cx,
    dstY: y0 - cy,
    width,
    height,
    outWidth: iw,
    outHeight: ih,
    padded: width < iw || height < ih,
  };
}

function planCanvas(srcWidth: number, srcHeight: number, spec: GeometrySpec): Placement {
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
