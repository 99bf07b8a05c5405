// Real photographs (scikit-image samples; CI installs them in BMFLEET_PHOTO_DIR).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import {
  parsePreprocessSpec,
  preprocessBatch,
  preprocessImage,
  type RawImage,
} from '../../../shared/preprocess/index.js';
import type { Tensor } from '../../../shared/tensor.js';

const dir = process.env.BMFLEET_PHOTO_DIR ?? '/var/cache/bmfleet-testdata/photos';
const photo = (name: string): Buffer => readFileSync(join(dir, name));

async function rawOf(img: Sharp): Promise<RawImage> {
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as 1 | 3 | 4 };
}

/** Byte-wise equality of two tensors' data (tap's deep compare is too slow for 100k elements). */
function sameData(a: Tensor['data'], b: Tensor['data']): boolean {
  const view = (x: Tensor['data']): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return a.constructor === b.constructor && view(a).equals(view(b));
}

function channelMean(t: Tensor, c: number): number {
  const [, C, H, W] = t.shape as [number, number, number, number];
  let s = 0;
  for (let i = c * H * W; i < (c + 1) * H * W; i++) s += t.data[i] as number;
  return s / (H * W) + 0 * C;
}

if (!existsSync(join(dir, 'chelsea.png'))) {
  t.test(
    'real photographs',
    { skip: `photo folder ${dir} is missing (set BMFLEET_PHOTO_DIR)` },
    () => undefined,
  );
} else {
  t.test('colour photo at native odd size equals its decoded pixels', async (t) => {
    const raw = await rawOf(sharp(photo('chelsea.png')));
    const spec = parsePreprocessSpec({ resize_dims: [raw.height, raw.width], pixel_format: 'rgb' });
    const out = await preprocessImage(photo('chelsea.png'), spec);
    t.same(out.shape, [1, 3, 300, 451]);
    const plane = 300 * 451;
    let mismatches = 0;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) if (out.data[c * plane + i] !== raw.data[i * 3 + c]) mismatches++;
    }
    t.equal(mismatches, 0, 'every element is the decoded pixel');
  });

  t.test('resized colour photo keeps per-channel mean and spread; mean/scale apply', async (t) => {
    const raw = await rawOf(sharp(photo('coffee.png')));
    const ref = [0, 1, 2].map((c) => {
      let s = 0;
      for (let i = c; i < raw.data.length; i += 3) s += raw.data[i] as number;
      return s / (raw.width * raw.height);
    });
    const spec = parsePreprocessSpec({ resize_dims: [224, 224], pixel_format: 'rgb' });
    const out = await preprocessImage(photo('coffee.png'), spec);
    for (let c = 0; c < 3; c++) {
      t.ok(
        Math.abs(channelMean(out, c) - (ref[c] as number)) < 2,
        `channel ${c} mean ${channelMean(out, c)} ~ ${ref[c]}`,
      );
    }
    const mean = [123.675, 116.28, 103.53];
    const scale = [0.017125, 0.017507, 0.017429];
    const norm = await preprocessImage(
      photo('coffee.png'),
      parsePreprocessSpec({ ...spec, mean, scale }),
    );
    for (let c = 0; c < 3; c++) {
      const expected = (channelMean(out, c) - (mean[c] as number)) * (scale[c] as number);
      t.ok(Math.abs(channelMean(norm, c) - expected) < 1e-4, `normalised channel ${c}`);
    }
  });

  t.test('nhwc is the transpose of nchw; bgr is rgb reversed', async (t) => {
    const base = { resize_dims: [97, 131], pixel_format: 'rgb' };
    const nchw = await preprocessImage(photo('motorcycle_left.png'), parsePreprocessSpec(base));
    const nhwc = await preprocessImage(
      photo('motorcycle_left.png'),
      parsePreprocessSpec({ ...base, channel_format: 'nhwc' }),
    );
    const bgr = await preprocessImage(
      photo('motorcycle_left.png'),
      parsePreprocessSpec({ ...base, pixel_format: 'bgr' }),
    );
    t.same(nhwc.shape, [1, 97, 131, 3]);
    const plane = 97 * 131;
    let bad = 0;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        if (nhwc.data[i * 3 + c] !== nchw.data[c * plane + i]) bad++;
        if (bgr.data[(2 - c) * plane + i] !== nchw.data[c * plane + i]) bad++;
      }
    }
    t.equal(bad, 0);
  });

  t.test('EXIF orientation is applied', async (t) => {
    const raw = await rawOf(sharp(photo('chelsea.png')));
    const encode = (img: Sharp): Promise<Buffer> => img.jpeg({ quality: 95 }).toBuffer();
    const src = (): Sharp =>
      sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 3 } });
    const plain = await encode(src());
    const tagged = await encode(src().withMetadata({ orientation: 6 }));
    t.equal(
      (await sharp(tagged).metadata()).orientation,
      6,
      'the test image carries orientation 6',
    );
    const spec = parsePreprocessSpec({
      resize_dims: [451, 300],
      pixel_format: 'rgb',
      interpolation: 'nearest',
    });
    const fromTag = await preprocessImage(tagged, spec);
    // Orientation 6 = display rotated 90 degrees clockwise.
    const rotated = await preprocessImage(await rawOf(sharp(plain).rotate(90)), spec);
    t.same(fromTag.shape, [1, 3, 451, 300]);
    t.ok(
      Buffer.from(fromTag.data.buffer).equals(Buffer.from(rotated.data.buffer)),
      'same as rotating by hand',
    );
  });

  t.test('greyscale photo: gray is the stored value, colour replicates it', async (t) => {
    // sharp hands greyscale files out as three equal sRGB channels.
    const raw = await rawOf(sharp(photo('camera.png')));
    const stored = Float32Array.from(
      { length: 512 * 512 },
      (_, i) => raw.data[i * raw.channels] as number,
    );
    const gray = await preprocessImage(
      photo('camera.png'),
      parsePreprocessSpec({ resize_dims: [512, 512], pixel_format: 'gray' }),
    );
    t.same(gray.shape, [1, 1, 512, 512]);
    t.ok(sameData(gray.data, stored), 'gray tensor = stored grey values');
    const colour = await preprocessImage(
      photo('camera.png'),
      parsePreprocessSpec({ resize_dims: [64, 80] }),
    );
    const plane = 64 * 80;
    t.ok(sameData(colour.data.subarray(0, plane), colour.data.subarray(plane, 2 * plane)), 'B = G');
    t.ok(sameData(colour.data.subarray(0, plane), colour.data.subarray(2 * plane)), 'B = R');
  });

  t.test('alpha is dropped before resizing (RGBA sample and a photo given alpha)', async (t) => {
    const spec = parsePreprocessSpec({ resize_dims: [224, 224], pixel_format: 'rgb' });
    for (const [name, bytes] of [
      ['logo.png', photo('logo.png')],
      ['chelsea.png + alpha', await sharp(photo('chelsea.png')).ensureAlpha(0.3).png().toBuffer()],
    ] as const) {
      t.equal((await sharp(bytes).metadata()).hasAlpha, true, `${name} has alpha`);
      const withAlpha = await preprocessImage(bytes, spec);
      const without = await preprocessImage(await rawOf(sharp(bytes).removeAlpha()), spec);
      t.ok(sameData(withAlpha.data, without.data), name);
    }
  });

  t.test('letterbox border equals the transformed pad value', async (t) => {
    const spec = parsePreprocessSpec({
      resize_dims: [224, 224],
      keep_aspect_ratio: true,
      pad_value: 114,
      pixel_format: 'rgb',
      mean: [123.675, 116.28, 103.53],
      scale: [0.017125, 0.017507, 0.017429],
    });
    const out = await preprocessImage(photo('chelsea.png'), spec);
    // 451x300 -> 224x149 pasted at y = 37: rows 0-36 and 186-223 are padding.
    for (let c = 0; c < 3; c++) {
      const pad = Math.fround(
        Math.fround(114 - Math.fround(spec.mean[c] as number)) *
          Math.fround(spec.scale[c] as number),
      );
      const planeStart = c * 224 * 224;
      const top = out.data.subarray(planeStart, planeStart + 37 * 224);
      const bottom = out.data.subarray(planeStart + 186 * 224, planeStart + 224 * 224);
      t.ok(
        [...top, ...bottom].every((v) => v === pad),
        `channel ${c} border`,
      );
      t.notOk(
        out.data.subarray(planeStart + 37 * 224, planeStart + 186 * 224).every((v) => v === pad),
        `channel ${c} image`,
      );
    }
  });

  t.test('int8 output is the float output quantized and saturated', async (t) => {
    const f = { resize_dims: [100, 120], mean: [128], scale: [1 / 64] };
    const qs = 0.0125;
    const floats = await preprocessImage(photo('astronaut.png'), parsePreprocessSpec(f));
    const q = await preprocessImage(
      photo('astronaut.png'),
      parsePreprocessSpec({ ...f, output: { dtype: 'int8', scale: qs, zero_point: 3 } }),
    );
    t.equal(q.dtype, 'int8');
    let bad = 0;
    let saturated = 0;
    for (let i = 0; i < q.data.length; i++) {
      const v = (floats.data[i] as number) / qs;
      const r = Math.sign(v) * Math.floor(Math.abs(v) + 0.5) + 3;
      const want = Math.min(127, Math.max(-128, r));
      if (want !== r) saturated++;
      if (q.data[i] !== want) bad++;
    }
    t.equal(bad, 0);
    t.ok(saturated > 0, `saturation exercised (${saturated} elements)`);
  });

  t.test('a batch equals the images one by one', async (t) => {
    const spec = parsePreprocessSpec({ resize_dims: [64, 64] });
    const names = ['rocket.jpg', 'camera.png', 'horse.png'];
    const batch = await preprocessBatch(names.map(photo), spec);
    t.same(batch.shape, [3, 3, 64, 64]);
    for (const [i, n] of names.entries()) {
      const one = await preprocessImage(photo(n), spec);
      t.ok(
        sameData(batch.data.subarray(i * one.data.length, (i + 1) * one.data.length), one.data),
        n,
      );
    }
  });

  t.test('corrupt, unsupported and oversized images get BMF_ERR_IMAGE_*', async (t) => {
    const spec = parsePreprocessSpec({ resize_dims: [32, 32] });
    const jpeg = photo('hubble_deep_field.jpg');
    await t.rejects(preprocessImage(jpeg.subarray(0, jpeg.length >> 1), spec), {
      code: 'BMF_ERR_IMAGE_CORRUPT',
    });
    await t.rejects(preprocessImage(photo('truncated.jpg'), spec), {
      code: 'BMF_ERR_IMAGE_CORRUPT',
    });
    await t.rejects(preprocessImage(jpeg.subarray(0, 200), spec), {
      code: 'BMF_ERR_IMAGE_CORRUPT',
    });
    const gif = await sharp(photo('chelsea.png')).gif().toBuffer();
    const tiff = await sharp(photo('chelsea.png')).tiff().toBuffer();
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    for (const [name, bytes] of [
      ['GIF', gif],
      ['TIFF', tiff],
      ['SVG', svg],
      ['text', Buffer.from('hello world')],
    ] as const) {
      await t.rejects(preprocessImage(bytes, spec), { code: 'BMF_ERR_IMAGE_UNSUPPORTED' }, name);
    }
    await t.rejects(preprocessImage(jpeg, spec, { maxInputPixels: 500_000 }), {
      code: 'BMF_ERR_IMAGE_TOO_LARGE',
    });
  });
}
