// The sharp shell: decode (bounded), auto-orient from EXIF, drop alpha, resize to the planned
// size, hand back 8-bit interleaved pixels. Everything numeric after that is pure (layout.ts).
//
// Alpha is dropped, not composited: the vendor tools read images with cv2.imread(IMREAD_COLOR),
// which strips the alpha channel and keeps the stored colour values. It is removed before the
// resize because libvips premultiplies by alpha while resizing, which would change the colour of
// translucent pixels (and zero fully transparent ones).
import sharp from 'sharp';
import type { KernelEnum, Sharp, SharpOptions } from 'sharp';
import { bmfError, isBmfError } from '../errors.js';
import type { Placement } from './geometry.js';
import { nativeAddon } from '../native-addon.js';
import { sniffImageFormat } from './image-format.js';
import { jpegOrientation } from './jpeg-orientation.js';
import type { ResizedPixels } from './layout.js';
import type { PixelImage } from './opencv-resize.js';
import type { ColorProfile, SharpInterpolation } from './spec.js';

/** 8-bit pixels in memory, RGB(A) or grey(+alpha) channel order, row-major, interleaved. */
export interface RawImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/** Default bound on width x height of any input (a 50-megapixel photo). */
export const DEFAULT_MAX_INPUT_PIXELS = 50_000_000;

const SHARP_KERNEL: Readonly<Record<SharpInterpolation, keyof KernelEnum>> = {
  sharp_nearest: 'nearest',
  sharp_linear: 'linear',
  sharp_cubic: 'cubic',
  sharp_lanczos3: 'lanczos3',
};

/** Oriented size of an input, after the checks that need no pixel decoding. */
export interface ProbedImage {
  readonly width: number;
  readonly height: number;
  readonly hasAlpha: boolean;
}

function toImageError(e: unknown): Error {
  if (isBmfError(e)) return e;
  const reason = e instanceof Error ? e.message.split('\n')[0] || e.message : String(e);
  if (/pixel limit/i.test(reason))
    return bmfError('BMF_ERR_IMAGE_TOO_LARGE', { reason }, { cause: e });
  if (/unsupported image format/i.test(reason)) {
    return bmfError('BMF_ERR_IMAGE_UNSUPPORTED', { reason }, { cause: e });
  }
  return bmfError('BMF_ERR_IMAGE_CORRUPT', { reason }, { cause: e });
}

function checkPixels(width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) {
    throw bmfError('BMF_ERR_IMAGE_TOO_LARGE', {
      reason: `${width}x${height} exceeds the limit of ${maxPixels} pixels`,
    });
  }
}

export function checkRawImage(raw: RawImage, maxPixels: number): void {
  const { width, height, channels, data } = raw;
  const ok = (n: number): boolean => Number.isSafeInteger(n) && n > 0;
  if (!ok(width) || !ok(height) || ![1, 2, 3, 4].includes(channels)) {
    throw bmfError('BMF_ERR_IMAGE_CORRUPT', {
      reason: `raw image needs positive integer width/height and 1-4 channels, got ${width}x${height}x${channels}`,
    });
  }
  checkPixels(width, height, maxPixels);
  if (data.length !== width * height * channels) {
    throw bmfError('BMF_ERR_IMAGE_CORRUPT', {
      reason: `raw image ${width}x${height}x${channels} needs ${width * height * channels} bytes, got ${data.length}`,
    });
  }
}

function sharpOptions(maxPixels: number, colorProfile: ColorProfile = 'to_srgb'): SharpOptions {
  // failOn 'error' also rejects truncated files; benign libjpeg warnings still decode, as they
  // do in OpenCV. EXIF orientation is applied, as cv2.imread does unless told
  // IMREAD_IGNORE_ORIENTATION.
  return {
    failOn: 'error',
    limitInputPixels: maxPixels,
    autoOrient: true,
    ignoreIcc: colorProfile === 'ignore',
  };
}

export async function probeEncoded(bytes: Uint8Array, maxPixels: number): Promise<ProbedImage> {
  sniffImageFormat(bytes);
  try {
    const m = await sharp(bytes, sharpOptions(maxPixels)).metadata();
    if (!m.width || !m.height) throw bmfError('BMF_ERR_IMAGE_CORRUPT', { reason: 'no dimensions' });
    checkPixels(m.width, m.height, maxPixels);
    const o = m.autoOrient;
    return { width: o.width, height: o.height, hasAlpha: m.hasAlpha === true };
  } catch (e) {
    throw toImageError(e);
  }
}

/** Copy without the last (alpha) channel: RGBA -> RGB, grey+alpha -> grey. */
export function stripAlpha(raw: RawImage): RawImage {
  if (raw.channels === 1 || raw.channels === 3) return raw;
  const keep = raw.channels - 1;
  const n = raw.width * raw.height;
  const out = new Uint8Array(n * keep);
  for (let i = 0, s = 0, d = 0; i < n; i++, s += raw.channels) {
    for (let c = 0; c < keep; c++) out[d++] = raw.data[s + c] as number;
  }
  return { data: out, width: raw.width, height: raw.height, channels: keep as 1 | 3 };
}

async function decodeWithoutAlpha(
  bytes: Uint8Array,
  maxPixels: number,
  colorProfile?: ColorProfile,
): Promise<RawImage> {
  const { data, info } = await sharp(bytes, sharpOptions(maxPixels, colorProfile))
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as 1 | 3 };
}

type NativeJpegDecoder = (
  bytes: Uint8Array,
  grey: boolean,
  maxPixels: number,
) => Promise<{ data: Uint8Array; width: number; height: number; channels: 1 | 3 } | null>;

/** native/jpeg-decode.cc (system libjpeg, as Debian's OpenCV) when the addon has it. */
function nativeJpegDecoder(): NativeJpegDecoder | undefined {
  const f = nativeAddon()?.['decodeJpeg'];
  return typeof f === 'function' ? (f as NativeJpegDecoder) : undefined;
}

/** Whether JPEGs are decoded by the native addon (system libjpeg) in this process. */
export function nativeJpegAvailable(): boolean {
  return nativeJpegDecoder() !== undefined;
}

/**
 * Full-size 8-bit pixels as cv2.imread sees them: oriented, alpha dropped, ICC profile ignored
 * unless asked otherwise; 1 (grey file, or `grey` asked of a JPEG: the luma libjpeg stores, as
 * IMREAD_GRAYSCALE gets it) or 3 (RGB order) channels. JPEGs that need no rotation or colour
 * conversion are decoded natively when the addon is built (the same pixels, checked by the
 * OpenCV fixtures either way); everything else goes through sharp.
 */
export async function decodePixels(
  input: Uint8Array | RawImage,
  maxPixels: number,
  colorProfile: ColorProfile,
  grey = false,
): Promise<PixelImage> {
  if (!(input instanceof Uint8Array)) return stripAlpha(input);
  const native = colorProfile === 'ignore' ? nativeJpegDecoder() : undefined;
  if (native && sniffImageFormat(input) === 'jpeg' && jpegOrientation(input) === 1) {
    const decoded = await native(input, grey, maxPixels);
    if (decoded) return decoded;
  }
  try {
    const raw = await decodeWithoutAlpha(input, maxPixels, colorProfile);
    if (raw.channels !== 1 && raw.channels !== 3) {
      throw bmfError('BMF_ERR_IMAGE_UNSUPPORTED', {
        reason: `decoded to ${raw.channels} channels (expected grey or RGB)`,
      });
    }
    return raw;
  } catch (e) {
    throw toImageError(e);
  }
}

/** Decode (or take raw pixels), orient, drop alpha and resize with a libvips kernel. */
export async function resizeToPlacement(
  input: Uint8Array | RawImage,
  probed: ProbedImage,
  place: Placement,
  interpolation: SharpInterpolation,
  colorProfile: ColorProfile,
  maxPixels: number,
): Promise<ResizedPixels> {
  try {
    let pipeline: Sharp;
    if (input instanceof Uint8Array && !probed.hasAlpha) {
      pipeline = sharp(input, sharpOptions(maxPixels, colorProfile));
    } else {
      const raw =
        input instanceof Uint8Array
          ? await decodeWithoutAlpha(input, maxPixels, colorProfile)
          : stripAlpha(input);
      pipeline = sharp(raw.data, {
        raw: { width: raw.width, height: raw.height, channels: raw.channels },
        limitInputPixels: maxPixels,
      });
    }
    const { data, info } = await pipeline
      .resize(place.resizeWidth, place.resizeHeight, {
        fit: 'fill',
        kernel: SHARP_KERNEL[interpolation],
      })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 && info.channels !== 3) {
      throw bmfError('BMF_ERR_IMAGE_UNSUPPORTED', {
        reason: `decoded to ${info.channels} channels (expected grey or RGB)`,
      });
    }
    if (info.width !== place.resizeWidth || info.height !== place.resizeHeight) {
      throw bmfError('BMF_ERR_INTERNAL', {
        reason: `resize gave ${info.width}x${info.height}, planned ${place.resizeWidth}x${place.resizeHeight}`,
      });
    }
    return { data, width: info.width, channels: info.channels };
  } catch (e) {
    throw toImageError(e);
  }
}
