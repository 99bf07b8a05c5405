// The OpenCV path for a JPEG in one native pass (native/cv-preprocess-jpeg.cc, on a libuv
// worker): libjpeg decodes row by row, each row the resize needs is consumed as it arrives (the
// two-tap kernel for INTER_LINEAR, INTER_NEAREST and INTER_AREA enlarging; area sums for
// INTER_AREA shrinking), and finished rows are written into the tensor through the value table.
// The full-size image is never stored, copied to JavaScript or touched by the main thread, which
// is what decode-then-resize spent beyond cv2.imread's decode itself. The bytes equal the
// decode (decode.ts) + cvResize + writeTensor path's; whatever this pass does not cover (other
// formats, EXIF rotation, colour management, files libjpeg warns about) returns false and takes
// that path, whose decoded pixels then go through the same row consumers on the worker
// (preprocessPixelsNative).
import { nativeAddon } from '../native-addon.js';
import { planPlacement, type Placement } from './geometry.js';
import { sniffImageFormat } from './image-format.js';
import { jpegOrientation } from './jpeg-orientation.js';
import { fillPadding, sourceChannels } from './layout.js';
import { passResizePlan, type PassPlan, type PixelImage } from './opencv-resize.js';
import { isCvInterpolation, type CvInterpolation, type PreprocessSpec } from './spec.js';
import type { OutputArray } from './value-table.js';

interface JpegHeader {
  readonly width: number;
  readonly height: number;
  readonly components: number;
}

interface FusedAddon {
  jpegHeader(bytes: Uint8Array): JpegHeader | null;
  cvPreprocessJpeg(
    bytes: Uint8Array,
    grey: boolean,
    maxPixels: number,
    geometry: Int32Array,
    xTaps: Int32Array,
    xWeights: Int32Array,
    yRows: Int32Array,
    yWeights: Int32Array,
    table: OutputArray,
    out: OutputArray,
  ): Promise<boolean>;
  cvPreprocessJpegArea(
    bytes: Uint8Array,
    grey: boolean,
    maxPixels: number,
    geometry: Int32Array,
    xTaps: Int32Array,
    xAlpha: Float32Array,
    yTab: Int32Array,
    yAlpha: Float32Array,
    finish: Float32Array,
    table: OutputArray,
    out: OutputArray,
  ): Promise<boolean>;
  cvPreprocessPixels(
    pixels: Uint8Array,
    geometry: Int32Array,
    xTaps: Int32Array,
    xWeights: Int32Array,
    yRows: Int32Array,
    yWeights: Int32Array,
    table: OutputArray,
    out: OutputArray,
  ): Promise<boolean>;
  cvPreprocessPixelsArea(
    pixels: Uint8Array,
    geometry: Int32Array,
    xTaps: Int32Array,
    xAlpha: Float32Array,
    yTab: Int32Array,
    yAlpha: Float32Array,
    finish: Float32Array,
    table: OutputArray,
    out: OutputArray,
  ): Promise<boolean>;
}

function fusedAddon(): FusedAddon | undefined {
  const addon = nativeAddon();
  return typeof addon?.['jpegHeader'] === 'function' &&
    typeof addon['cvPreprocessJpeg'] === 'function' &&
    typeof addon['cvPreprocessJpegArea'] === 'function' &&
    typeof addon['cvPreprocessPixels'] === 'function' &&
    typeof addon['cvPreprocessPixelsArea'] === 'function'
    ? (addon as unknown as FusedAddon)
    : undefined;
}

/** Whether JPEGs on the OpenCV path are preprocessed in one native pass in this process. */
export function nativeJpegPreprocessAvailable(): boolean {
  return fusedAddon() !== undefined;
}

interface CachedPass {
  readonly place: Placement;
  readonly plan: PassPlan;
  readonly geometry: Int32Array;
}

// Plans depend only on the (frozen) spec and the source size, and a camera sends one size: they
// are kept per spec for the last few sizes (an INTER_AREA plan takes ~0.2 ms to build). The
// native pass only reads them, so concurrent jobs may share one.
const PLANS_PER_SPEC = 4;
const passPlans = new WeakMap<PreprocessSpec, Map<string, CachedPass>>();

function passPlan(
  spec: PreprocessSpec,
  interpolation: CvInterpolation,
  width: number,
  height: number,
  cn: number,
): CachedPass {
  let plans = passPlans.get(spec);
  if (!plans) passPlans.set(spec, (plans = new Map()));
  const key = `${width}x${height}x${cn}`;
  const cached = plans.get(key);
  if (cached) return cached;
  const place = planPlacement(width, height, spec);
  const plan = passResizePlan(
    width,
    height,
    cn,
    place.resizeWidth,
    place.resizeHeight,
    interpolation,
  );
  const C = spec.pixel_format === 'gray' ? 1 : 3;
  const map = cn === 1 ? [0, 0, 0] : [...sourceChannels(spec.pixel_format), 0, 0];
  const geometry = Int32Array.of(
    width,
    height,
    cn,
    place.resizeWidth,
    place.resizeHeight,
    place.outWidth,
    place.outHeight,
    C,
    spec.channel_format === 'nchw' ? 1 : 0,
    place.srcX,
    place.srcY,
    place.width,
    place.height,
    place.dstX,
    place.dstY,
    map[0] as number,
    map[1] as number,
    map[2] as number,
  );
  if (plans.size >= PLANS_PER_SPEC) plans.delete(plans.keys().next().value as string);
  const pass = { place, plan, geometry };
  plans.set(key, pass);
  return pass;
}

/**
 * JPEG bytes -> `out` (the spec's tensor for one image) in one native pass. False when the
 * pass does not apply or libjpeg declined the file: nothing is promised about `out` then, and
 * the caller runs the general path, which writes all of it.
 */
export async function preprocessJpegNative(
  bytes: Uint8Array,
  spec: PreprocessSpec,
  table: OutputArray,
  out: OutputArray,
  maxPixels: number,
): Promise<boolean> {
  const addon = fusedAddon();
  const interpolation = spec.interpolation;
  if (
    !addon ||
    !isCvInterpolation(interpolation) ||
    spec.color_profile !== 'ignore' ||
    sniffImageFormat(bytes) !== 'jpeg' ||
    jpegOrientation(bytes) !== 1
  ) {
    return false;
  }
  const header = addon.jpegHeader(bytes);
  if (!header || header.width * header.height > maxPixels) return false;
  const grey = spec.pixel_format === 'gray';
  const cn = grey || header.components === 1 ? 1 : 3;
  const { place, plan, geometry } = passPlan(spec, interpolation, header.width, header.height, cn);
  fillPadding(place, spec, table, out);
  if (plan.kind === 'area') {
    const { xTaps, xAlpha, yTab, yAlpha, finish } = plan;
    return addon.cvPreprocessJpegArea(
      bytes,
      grey,
      maxPixels,
      geometry,
      xTaps,
      xAlpha,
      yTab,
      yAlpha,
      finish,
      table,
      out,
    );
  }
  const { xTaps, xWeights, yRows, yWeights } = plan;
  return addon.cvPreprocessJpeg(
    bytes,
    grey,
    maxPixels,
    geometry,
    xTaps,
    xWeights,
    yRows,
    yWeights,
    table,
    out,
  );
}

/**
 * Decoded pixels (what the JPEG pass declined, decoded as cv2.imread does) -> `out` with the
 * same native row consumers on a libuv worker, instead of resizing and laying out on the main
 * thread. False when the addon or the spec does not allow it; the caller runs cvResize and
 * writeTensor then.
 */
export async function preprocessPixelsNative(
  pixels: PixelImage,
  spec: PreprocessSpec,
  table: OutputArray,
  out: OutputArray,
): Promise<boolean> {
  const addon = fusedAddon();
  const interpolation = spec.interpolation;
  const cn = pixels.channels;
  if (!addon || !isCvInterpolation(interpolation) || (cn !== 1 && cn !== 3)) return false;
  const { place, plan, geometry } = passPlan(spec, interpolation, pixels.width, pixels.height, cn);
  fillPadding(place, spec, table, out);
  if (plan.kind === 'area') {
    const { xTaps, xAlpha, yTab, yAlpha, finish } = plan;
    return addon.cvPreprocessPixelsArea(
      pixels.data,
      geometry,
      xTaps,
      xAlpha,
      yTab,
      yAlpha,
      finish,
      table,
      out,
    );
  }
  const { xTaps, xWeights, yRows, yWeights } = plan;
  return addon.cvPreprocessPixels(
    pixels.data,
    geometry,
    xTaps,
    xWeights,
    yRows,
    yWeights,
    table,
    out,
  );
}
