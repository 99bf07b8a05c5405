// Tiny raw images whose expected tensors are worked out by hand.
import t from 'tap';
import { isBmfError } from '../../../shared/errors.js';
import {
  parsePreprocessSpec,
  preprocessImage,
  quantize,
  roundHalfAwayFromZero,
  type RawImage,
} from '../../../shared/preprocess/index.js';

// 2x2 RGB, row-major: (10,20,30) (40,50,60) / (70,80,90) (200,210,220)
const rgb2x2: RawImage = {
  data: Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220]),
  width: 2,
  height: 2,
  channels: 3,
};
const base = { resize_dims: [2, 2], interpolation: 'nearest', mean: [128], scale: [0.5] };

t.test('bgr nchw: (x - 128) * 0.5, blue plane first', async (t) => {
  const out = await preprocessImage(rgb2x2, parsePreprocessSpec(base));
  t.same(out.shape, [1, 3, 2, 2]);
  t.equal(out.dtype, 'float32');
  t.same([...out.data], [-49, -34, -19, 46, -54, -39, -24, 41, -59, -44, -29, 36]);
});

t.test('rgb nhwc: pixels interleaved in RGB order', async (t) => {
  const spec = parsePreprocessSpec({ ...base, pixel_format: 'rgb', channel_format: 'nhwc' });
  const out = await preprocessImage(rgb2x2, spec);
  t.same(out.shape, [1, 2, 2, 3]);
  t.same([...out.data], [-59, -54, -49, -44, -39, -34, -29, -24, -19, 36, 41, 46]);
});

t.test('gray from colour uses BT.601 weights', async (t) => {
  const red: RawImage = {
    data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]),
    width: 2,
    height: 2,
    channels: 3,
  };
  const spec = parsePreprocessSpec({
    resize_dims: [2, 2],
    interpolation: 'nearest',
    pixel_format: 'gray',
  });
  const out = await preprocessImage(red, spec);
  t.same(out.shape, [1, 1, 2, 2]);
  // 0.299*255 = 76.2, 0.587*255 = 149.7, 0.114*255 = 29.1
  t.same([...out.data], [76, 150, 29, 255]);
});

t.test('grey source fills all three channels; alpha is dropped, not composited', async (t) => {
  const greyAlpha: RawImage = {
    data: Uint8Array.from([5, 0, 6, 255, 7, 128, 8, 0]),
    width: 2,
    height: 2,
    channels: 2,
  };
  const out = await preprocessImage(
    greyAlpha,
    parsePreprocessSpec({ resize_dims: [2, 2], interpolation: 'nearest' }),
  );
  t.same([...out.data], [5, 6, 7, 8, 5, 6, 7, 8, 5, 6, 7, 8]);
  const rgba: RawImage = {
    data: Uint8Array.from([1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0]),
    width: 2,
    height: 2,
    channels: 4,
  };
  const out2 = await preprocessImage(
    rgba,
    parsePreprocessSpec({
      resize_dims: [2, 2],
      pixel_format: 'rgb',
      channel_format: 'nhwc',
      interpolation: 'nearest',
    }),
  );
  t.same([...out2.data], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
});

t.test('letterbox pads with the transformed pad value', async (t) => {
  // 2 wide x 1 high into 3x2 (h x w): s = 1, the row is pasted at y = (3-1)//2 = 1 (centre).
  const row: RawImage = {
    data: Uint8Array.from([100, 100, 100, 200, 200, 200]),
    width: 2,
    height: 1,
    channels: 3,
  };
  const spec = parsePreprocessSpec({
    ...base,
    keep_aspect_ratio: true,
    pad_value: 114,
    resize_dims: [3, 2],
  });
  const out = await preprocessImage(row, spec);
  const pad = (114 - 128) * 0.5;
  const plane = [pad, pad, -14, 36, pad, pad];
  t.same([...out.data], [...plane, ...plane, ...plane]);
});

t.test('int8 output: round half away from zero, then saturate', async (t) => {
  t.same([2.5, -2.5, 0.5, -0.5, 1.49, -1.51].map(roundHalfAwayFromZero), [3, -3, 1, -1, 1, -2]);
  const q = { dtype: 'int8', scale: 0.5, zero_point: 0 } as const;
  t.same(
    [0, 10, 63.25, 63.75, 64, 1e9, -1e9].map((y) => quantize(y, q)),
    [0, 20, 127, 127, 127, 127, -128],
  );
  const u = { dtype: 'uint8', scale: 2, zero_point: 128 } as const;
  t.same(
    [-300, -3, 3, 254, 300].map((y) => quantize(y, u)),
    [0, 126, 130, 255, 255],
  );

  const spec = parsePreprocessSpec({
    ...base,
    mean: [0],
    scale: [1],
    output: { dtype: 'int8', scale: 0.5 },
  });
  const out = await preprocessImage(rgb2x2, spec);
  t.equal(out.dtype, 'int8');
  t.ok(out.data instanceof Int8Array);
  // B plane 30,60,90,220 -> 60,120,127,127
  t.same([...out.data].slice(0, 4), [60, 120, 127, 127]);
});

t.test('raw input is checked at the edge', async (t) => {
  const spec = parsePreprocessSpec(base);
  await t.rejects(preprocessImage({ ...rgb2x2, data: new Uint8Array(5) }, spec), {
    code: 'BMF_ERR_IMAGE_CORRUPT',
  });
  await t.rejects(preprocessImage({ ...rgb2x2, width: 0 }, spec), {
    code: 'BMF_ERR_IMAGE_CORRUPT',
  });
  await t.rejects(preprocessImage(rgb2x2, spec, { maxInputPixels: 3 }), {
    code: 'BMF_ERR_IMAGE_TOO_LARGE',
  });
  try {
    await preprocessImage(new Uint8Array(0), spec);
    t.fail('empty input accepted');
  } catch (e) {
    t.ok(isBmfError(e, 'BMF_ERR_IMAGE_CORRUPT'), 'empty bytes are corrupt');
  }
});
