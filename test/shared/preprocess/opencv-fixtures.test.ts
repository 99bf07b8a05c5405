// cv2.imread + cv2.resize reproduced: every case in test/fixtures/preprocess/opencv/cases.json was
// produced by Debian's python3-opencv (generate.py beside it) on the scikit-image photographs.
// INTER_LINEAR and INTER_NEAREST must match byte for byte; INTER_AREA within the bound below.
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  nativeJpegAvailable,
  parsePreprocessSpec,
  preprocessImage,
  type CvInterpolation,
  type RawImage,
} from '../../../shared/preprocess/index.js';

interface ResizeCase {
  photo: string;
  read: 'color' | 'gray';
  crop: [number, number, number, number] | null;
  interpolation: CvInterpolation;
  size: [number, number];
  sha256: string;
  samples: number[][];
  whole?: string;
}
interface TensorCase {
  photo: string;
  resize_dims: [number, number];
  input_dims: [number, number];
  pixel_format: 'rgb';
  mean: number[];
  scale: number[];
  shape: number[];
  sha256: string;
  samples: [number, number][];
}
interface Fixtures {
  opencv: string;
  cases: ResizeCase[];
  tensors: TensorCase[];
  exif: { input: string; whole: string; size: [number, number]; sha256: string };
}

const fixtureDir = new URL('../../fixtures/preprocess/opencv/', import.meta.url);
const fixtures = JSON.parse(readFileSync(new URL('cases.json', fixtureDir), 'utf8')) as Fixtures;
const dir = process.env.BMFLEET_PHOTO_DIR ?? '/var/cache/bmfleet-testdata/photos';

/**
 * Largest difference allowed, in levels. INTER_AREA's non-integer shrink accumulates in float32 in
 * an order the kernel follows but the compiler may fuse differently. A colour JPEG read as grey
 * is exact with the native decoder (libjpeg's stored luma, as OpenCV gets it); through sharp it
 * is converted from decoded RGB (docs/preprocess-fidelity.md).
 */
function bound(c: ResizeCase): number {
  if (c.read === 'gray' && c.photo.endsWith('.jpg')) return nativeJpegAvailable() ? 0 : 2;
  return c.interpolation === 'INTER_AREA' ? 1 : 0;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function cropOf(bytes: Buffer, [x, y, w, h]: [number, number, number, number]) {
  const { data, info } = await sharp(bytes, { ignoreIcc: true })
    .removeAlpha()
    .extract({ left: x, top: y, width: w, height: h })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels } as RawImage;
}

/** A fixture PNG written by cv2.imwrite, as HWC BGR (or grey) bytes. */
async function wholeOf(name: string, channels: number): Promise<Uint8Array> {
  const { data } = await sharp(readFileSync(new URL(name, fixtureDir)))
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (channels === 1) return data;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i += 3) {
    out[i] = data[i + 2] as number;
    out[i + 1] = data[i + 1] as number;
    out[i + 2] = data[i] as number;
  }
  return out;
}

/** Our result as cv2 lays it out: HWC uint8, BGR or grey, no mean/scale. */
async function ours(c: ResizeCase): Promise<Uint8Array> {
  const bytes = readFileSync(join(dir, c.photo));
  const input = c.crop ? await cropOf(bytes, c.crop) : bytes;
  const spec = parsePreprocessSpec({
    resize_dims: [c.size[1], c.size[0]],
    pixel_format: c.read === 'gray' ? 'gray' : 'bgr',
    channel_format: 'nhwc',
    interpolation: c.interpolation,
    output: { dtype: 'uint8', scale: 1, zero_point: 0 },
  });
  return (await preprocessImage(input, spec)).data as Uint8Array;
}

if (!existsSync(join(dir, 'chelsea.png'))) {
  t.plan(
    0,
    `photo folder ${dir} missing: OpenCV fixture comparison skipped (set BMFLEET_PHOTO_DIR)`,
  );
} else {
  t.comment(`fixtures from OpenCV ${fixtures.opencv}`);
  for (const c of fixtures.cases) {
    const name = `${c.interpolation} ${c.photo} ${c.read}${c.crop ? ` crop ${c.crop.join(',')}` : ''} -> ${c.size.join('x')}`;
    t.test(name, async (t) => {
      const got = await ours(c);
      const cn = c.read === 'gray' ? 1 : 3;
      t.equal(got.length, c.size[0] * c.size[1] * cn, 'size');
      let max = 0;
      for (const [y, x, ...vals] of c.samples) {
        vals.forEach((v, k) => {
          const d = Math.abs(
            (got[((y as number) * c.size[0] + (x as number)) * cn + k] as number) - v,
          );
          max = Math.max(max, d);
        });
      }
      if (c.whole) {
        const ref = await wholeOf(c.whole, cn);
        for (let i = 0; i < ref.length; i++) {
          max = Math.max(max, Math.abs((got[i] as number) - (ref[i] as number)));
        }
      }
      const limit = bound(c);
      t.ok(max <= limit, `max difference ${max} (allowed ${limit})`);
      if (limit === 0) t.equal(sha256(got), c.sha256, 'byte-identical to cv2.resize');
    });
  }

  t.test('tpu-mlir pipeline: resize, centre crop, float32 (x - mean) * scale, rgb', async (t) => {
    for (const c of fixtures.tensors) {
      const spec = parsePreprocessSpec({
        resize_dims: c.resize_dims,
        input_dims: c.input_dims,
        pixel_format: c.pixel_format,
        mean: c.mean,
        scale: c.scale,
      });
      const x = await preprocessImage(readFileSync(join(dir, c.photo)), spec);
      t.same(x.shape, c.shape, `${c.photo} shape`);
      const bytes = new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength);
      for (const [k, v] of c.samples) t.equal(x.data[k], Math.fround(v), `${c.photo} element ${k}`);
      t.equal(sha256(bytes), c.sha256, `${c.photo} tensor byte-identical to numpy's`);
    }
  });

  t.test('EXIF orientation applied as cv2.imread does', async (t) => {
    const e = fixtures.exif;
    const spec = parsePreprocessSpec({
      resize_dims: [e.size[1], e.size[0]],
      channel_format: 'nhwc',
      output: { dtype: 'uint8', scale: 1, zero_point: 0 },
    });
    const got = await preprocessImage(readFileSync(new URL(e.input, fixtureDir)), spec);
    t.same(got.shape, [1, e.size[1], e.size[0], 3], 'rotated size');
    t.equal(sha256(got.data as Uint8Array), e.sha256, 'decoded and oriented pixels identical');
  });
}

if (existsSync(join(dir, 'rocket.jpg'))) {
  t.test('color_profile to_srgb converts the embedded ICC profile (cv2 does not)', async (t) => {
    const c = fixtures.cases.find(
      (x) => x.photo === 'rocket.jpg' && x.interpolation === 'INTER_NEAREST' && !x.crop,
    );
    if (!c) throw new Error('fixture case for rocket.jpg missing');
    const bytes = readFileSync(join(dir, c.photo));
    const spec = (color_profile: string) =>
      parsePreprocessSpec({
        resize_dims: [c.size[1], c.size[0]],
        channel_format: 'nhwc',
        interpolation: c.interpolation,
        color_profile,
        output: { dtype: 'uint8', scale: 1, zero_point: 0 },
      });
    const ignored = (await preprocessImage(bytes, spec('ignore'))).data as Uint8Array;
    const converted = (await preprocessImage(bytes, spec('to_srgb'))).data as Uint8Array;
    t.equal(sha256(ignored), c.sha256, 'ignore: what cv2.imread gives');
    let differ = 0;
    for (let i = 0; i < ignored.length; i++) if (ignored[i] !== converted[i]) differ++;
    t.ok(differ > ignored.length / 10, `to_srgb changes ${differ} of ${ignored.length} values`);
  });
}
