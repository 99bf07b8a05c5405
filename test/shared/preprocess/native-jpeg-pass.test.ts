// The one-pass native JPEG path (decode, resize and layout on a worker, native/
// cv-preprocess-jpeg.cc) writes the same tensor elements as the general OpenCV path (full decode,
// cvResize, writeTensor), which the OpenCV fixtures check against cv2 itself. Cases as data in
// test/fixtures/preprocess/native-jpeg-cases.json.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { nativeAddon } from '../../../shared/native-addon.js';
import { decodePixels } from '../../../shared/preprocess/decode.js';
import { planPlacement } from '../../../shared/preprocess/geometry.js';
import { writeTensor } from '../../../shared/preprocess/layout.js';
import {
  nativeJpegPreprocessAvailable,
  preprocessJpegNative,
  preprocessPixelsNative,
} from '../../../shared/preprocess/opencv-jpeg.js';
import {
  cvResize,
  DEFAULT_MAX_INPUT_PIXELS,
  parsePreprocessSpec,
  preprocessImage,
  tensorShape,
  type PreprocessSpec,
} from '../../../shared/preprocess/index.js';
import { isCvInterpolation } from '../../../shared/preprocess/spec.js';
import { allocateOutput, buildValueTable } from '../../../shared/preprocess/value-table.js';

interface JpegCase {
  readonly photo: string;
  readonly width?: number;
  readonly height?: number;
  readonly subsampling?: '4:2:0' | '4:4:4';
  readonly grey?: boolean;
}

const cases = JSON.parse(
  readFileSync(
    new URL('../../fixtures/preprocess/native-jpeg-cases.json', import.meta.url),
    'utf8',
  ),
) as { jpegs: JpegCase[]; specs: Record<string, unknown>[] };
const dir = process.env.BMFLEET_PHOTO_DIR ?? '/var/cache/bmfleet-testdata/photos';

async function jpegOf(c: JpegCase): Promise<Buffer> {
  const file = readFileSync(join(dir, c.photo));
  if (c.width === undefined || c.height === undefined) return file;
  let img = sharp(file).resize(c.width, c.height, { fit: 'fill' });
  if (c.grey) img = img.greyscale();
  return img.jpeg({ quality: 90, chromaSubsampling: c.subsampling ?? '4:2:0' }).toBuffer();
}

/** The general OpenCV path for a JPEG: full decode, cvResize, writeTensor. */
async function generalPath(bytes: Uint8Array, spec: PreprocessSpec) {
  const grey = spec.pixel_format === 'gray';
  const pixels = await decodePixels(bytes, DEFAULT_MAX_INPUT_PIXELS, 'ignore', grey);
  const place = planPlacement(pixels.width, pixels.height, spec);
  if (!isCvInterpolation(spec.interpolation)) throw new Error('cases use OpenCV kernels');
  const { resizeWidth: dw, resizeHeight: dh } = place;
  const data = cvResize(pixels, dw, dh, spec.interpolation);
  const out = allocateOutput(spec.output, size(spec));
  const resized = { data, width: dw, channels: pixels.channels as 1 | 3 };
  writeTensor(resized, place, spec, buildValueTable(spec), out);
  return out;
}

const size = (spec: PreprocessSpec): number => tensorShape(spec).reduce((a, b) => a * b, 1);
const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

const missing = cases.jpegs.find((c) => !existsSync(join(dir, c.photo)));
if (!nativeJpegPreprocessAvailable()) {
  t.test('native JPEG pass', { skip: 'addon not built, or built without libjpeg' }, async () => {});
} else if (missing) {
  t.test('native JPEG pass', { skip: `${missing.photo} not in ${dir}` }, async () => {});
} else {
  for (const c of cases.jpegs) {
    t.test(`${c.photo} ${c.width ?? ''}x${c.height ?? ''} ${c.subsampling ?? ''}`, async (t) => {
      const bytes = await jpegOf(c);
      for (const input of cases.specs) {
        const spec = parsePreprocessSpec(input);
        const out = allocateOutput(spec.output, size(spec));
        // Garbage first: the pass must write every element (window and padding).
        bytesOf(out).fill(0xa5);
        const done = await preprocessJpegNative(
          bytes,
          spec,
          buildValueTable(spec),
          out,
          DEFAULT_MAX_INPUT_PIXELS,
        );
        const label = JSON.stringify(input);
        const general = await generalPath(bytes, spec);
        t.equal(done, true, `${label}: the native pass ran`);
        t.ok(bytesOf(out).equals(bytesOf(general)), `${label}: identical`);
        // The same row consumers fed decoded pixels (the path PNGs and declined JPEGs take).
        const pixels = await decodePixels(
          bytes,
          DEFAULT_MAX_INPUT_PIXELS,
          'ignore',
          spec.pixel_format === 'gray',
        );
        const fromPixels = allocateOutput(spec.output, size(spec));
        bytesOf(fromPixels).fill(0xa5);
        t.equal(
          await preprocessPixelsNative(pixels, spec, buildValueTable(spec), fromPixels),
          true,
          `${label}: the pixel pass ran`,
        );
        t.ok(bytesOf(fromPixels).equals(bytesOf(general)), `${label}: pixel pass identical`);
      }
    });
  }

  t.test('what the pass declines goes the general way', async (t) => {
    const spec = parsePreprocessSpec({ resize_dims: [64, 64], pixel_format: 'rgb' });
    const table = buildValueTable(spec);
    const out = allocateOutput(spec.output, size(spec));
    const truncated = join(dir, 'truncated.jpg');
    if (existsSync(truncated)) {
      const bytes = readFileSync(truncated);
      // libjpeg warns on a truncated file: declined, as the plain native decode declines it.
      t.equal(await preprocessJpegNative(bytes, spec, table, out, 5e7), false, 'truncated');
    }
    const rocket = readFileSync(join(dir, 'rocket.jpg'));
    t.equal(await preprocessJpegNative(rocket, spec, table, out, 1000), false, 'over the limit');
    const srgb = parsePreprocessSpec({ ...spec, color_profile: 'to_srgb' });
    t.equal(await preprocessJpegNative(rocket, srgb, table, out, 5e7), false, 'to_srgb');
    const png = await sharp(rocket).png().toBuffer();
    t.equal(await preprocessJpegNative(png, spec, table, out, 5e7), false, 'PNG');
    const tensor = await preprocessImage(rocket, spec);
    t.ok(bytesOf(tensor.data).equals(bytesOf(await generalPath(rocket, spec))), 'preprocessImage');
    const area = parsePreprocessSpec({ ...spec, interpolation: 'INTER_AREA' });
    t.ok(
      bytesOf((await preprocessImage(rocket, area)).data).equals(
        bytesOf(await generalPath(rocket, area)),
      ),
      'preprocessImage, INTER_AREA',
    );
  });

  t.test('a plan that would read or write out of bounds is a TypeError', async (t) => {
    const f = nativeAddon()?.['cvPreprocessJpeg'] as (...args: unknown[]) => Promise<boolean>;
    const bytes = readFileSync(join(dir, 'rocket.jpg'));
    // 2x2 -> 1x1 grey, one channel out: every entry valid, then each bad in turn.
    const geometry = () => Int32Array.of(2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0);
    const call = (g: Int32Array, xTaps = Int32Array.of(0, 1), yRows = Int32Array.of(0, 1)) =>
      f(
        bytes,
        true,
        5e7,
        g,
        xTaps,
        Int32Array.of(1024, 1024),
        yRows,
        Int32Array.of(1024, 1024),
        new Float32Array(256),
        new Float32Array(1),
      );
    // The real file is not 2x2: a valid plan resolves false (the header no longer agrees).
    t.equal(await call(geometry()), false, 'planned for other bytes: declined');
    const wide = geometry();
    wide[11] = 2; // window wider than the resized image
    t.throws(() => call(wide), TypeError, 'window');
    t.throws(() => call(geometry(), Int32Array.of(0, 2)), TypeError, 'column tap past the row');
    t.throws(() => call(geometry(), undefined, Int32Array.of(0, 2)), TypeError, 'row past the end');
    t.throws(
      () => call(geometry(), undefined, Int32Array.of(1, 0)),
      TypeError,
      'rows out of order',
    );
    t.throws(
      () =>
        f(
          bytes,
          true,
          5e7,
          geometry(),
          Int32Array.of(0, 1),
          Int32Array.of(1024, 1024),
          Int32Array.of(0, 1),
          Int32Array.of(1024, 1024),
          new Float32Array(256),
          new Uint8Array(1),
        ),
      TypeError,
      'table and tensor of different types',
    );
  });

  t.test('an area plan that would read or write out of bounds is a TypeError', async (t) => {
    const f = nativeAddon()?.['cvPreprocessJpegArea'] as (...args: unknown[]) => Promise<boolean>;
    const bytes = readFileSync(join(dir, 'rocket.jpg'));
    // 2x2 -> 1x1 grey: each axis sums source 0 and 1 into destination 0, then each entry bad.
    const geometry = Int32Array.of(2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0);
    const call = (
      xTaps = Int32Array.of(0, 1),
      yTab = Int32Array.of(0, 0, 0, 1),
      alpha = Float32Array.of(0.5, 0.5),
      finish = Float32Array.of(0, 0),
    ) =>
      f(
        bytes,
        true,
        5e7,
        geometry,
        xTaps,
        alpha,
        yTab,
        alpha,
        finish,
        new Float32Array(256),
        new Float32Array(1),
      );
    t.equal(await call(), false, 'planned for other bytes: declined');
    t.throws(() => call(Int32Array.of(0, 2)), TypeError, 'column past the row');
    t.throws(() => call(Int32Array.of(-1, 0)), TypeError, 'column before the row');
    t.throws(() => call(undefined, Int32Array.of(0, 0, 0, 2)), TypeError, 'row past the end');
    t.throws(() => call(undefined, Int32Array.of(0, 1, 0, 0)), TypeError, 'rows out of order');
    t.throws(() => call(undefined, undefined, Float32Array.of(2, 0.5)), TypeError, 'weight > 1');
    t.throws(
      () => call(undefined, undefined, undefined, Float32Array.of(3, 0)),
      TypeError,
      'finish mode',
    );
    t.throws(
      () => call(undefined, undefined, undefined, Float32Array.of(1, 0)),
      TypeError,
      'integer sums take weight 1',
    );
    t.throws(() => call(undefined, undefined, Float32Array.of(0.5)), TypeError, 'lengths');
    const pixels = nativeAddon()?.['cvPreprocessPixelsArea'] as (...args: unknown[]) => unknown;
    const tables = [Int32Array.of(0, 1), Float32Array.of(0.5, 0.5), Int32Array.of(0, 0, 0, 1)];
    const rest = [Float32Array.of(0.5, 0.5), Float32Array.of(0, 0), new Float32Array(256)];
    t.throws(
      () => pixels(new Uint8Array(3), geometry, ...tables, ...rest, new Float32Array(1)),
      TypeError,
      'pixels shorter than the geometry says',
    );
  });
}
