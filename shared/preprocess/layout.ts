// The hot loop: resized 8-bit pixels (RGB or grey, row-major, interleaved) -> tensor elements in
// the model's pixel and channel format. One pass, table lookups only, no per-pixel allocation.
import type { Placement } from './geometry.js';
import type { PreprocessSpec } from './spec.js';
import type { OutputArray } from './value-table.js';

export interface ResizedPixels {
  readonly data: Uint8Array;
  readonly width: number;
  /** 1 (grey) or 3 (RGB order, as sharp emits). */
  readonly channels: 1 | 3;
}

/**
 * Grey from RGB with OpenCV's fixed-point BT.601 weights (cvtColor BGR2GRAY on 8-bit:
 * 0.299 R + 0.587 G + 0.114 B as 4899, 9617, 1868 over 2^14), which is what the vendor tools
 * get from cv2.imread(..., IMREAD_GRAYSCALE) for colour files.
 */
export function greyFromRgb(r: number, g: number, b: number): number {
  return (r * 4899 + g * 9617 + b * 1868 + 8192) >> 14;
}

/** Which source channel feeds each output channel (RGB source). */
export function sourceChannels(pixelFormat: PreprocessSpec['pixel_format']): readonly number[] {
  return pixelFormat === 'bgr' ? [2, 1, 0] : pixelFormat === 'rgb' ? [0, 1, 2] : [0];
}

type LayoutSpec = Pick<PreprocessSpec, 'pixel_format' | 'channel_format' | 'pad_value'>;

/** The whole output set to the padding value's tensor element, when the placement pads. */
export function fillPadding(
  place: Placement,
  spec: LayoutSpec,
  table: OutputArray,
  out: OutputArray,
): void {
  if (!place.padded) return;
  const C = spec.pixel_format === 'gray' ? 1 : 3;
  const plane = place.outWidth * place.outHeight;
  for (let c = 0; c < C; c++) {
    const v = table[c * 256 + spec.pad_value] as number;
    if (spec.channel_format === 'nchw') out.fill(v, c * plane, (c + 1) * plane);
    else for (let i = c; i < out.length; i += C) out[i] = v;
  }
}

export function writeTensor(
  src: ResizedPixels,
  place: Placement,
  spec: LayoutSpec,
  table: OutputArray,
  out: OutputArray,
): void {
  const C = spec.pixel_format === 'gray' ? 1 : 3;
  const W = place.outWidth;
  const H = place.outHeight;
  const nchw = spec.channel_format === 'nchw';
  // Strides of the output in elements: x, y, channel.
  const sx = nchw ? 1 : C;
  const sy = nchw ? W : W * C;
  const sc = nchw ? W * H : 1;

  fillPadding(place, spec, table, out);

  const data = src.data;
  const srcStride = src.width * src.channels;
  const greyFromColour = C === 1 && src.channels === 3;
  const map = src.channels === 1 ? [0, 0, 0] : sourceChannels(spec.pixel_format);

  for (let y = 0; y < place.height; y++) {
    const srcRow = (place.srcY + y) * srcStride + place.srcX * src.channels;
    const dstRow = (place.dstY + y) * sy + place.dstX * sx;
    if (greyFromColour) {
      for (let x = 0, s = srcRow, d = dstRow; x < place.width; x++, s += 3, d += sx) {
        out[d] = table[
          greyFromRgb(data[s] as number, data[s + 1] as number, data[s + 2] as number)
        ] as number;
      }
      continue;
    }
    for (let c = 0; c < C; c++) {
      const lo = c * 256;
      const step = src.channels;
      for (
        let x = 0, s = srcRow + (map[c] as number), d = dstRow + c * sc;
        x < place.width;
        x++, s += step, d += sx
      ) {
        out[d] = table[lo + (data[s] as number)] as number;
      }
    }
  }
}
