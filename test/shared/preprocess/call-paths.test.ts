// The controller (calibration) and the agent (requests) must produce the same bytes for the same
// image, or an INT8 model is calibrated on inputs it never sees.
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requestTensor } from '../../../agent/serve/request-tensor.js';
import { calibrationTensor } from '../../../controller/quantize/calibration-input.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';
import { tensorBytes, type Tensor } from '../../../shared/tensor.js';

const dir = process.env.BMFLEET_PHOTO_DIR ?? '/var/cache/bmfleet-testdata/photos';
const photos = [
  'astronaut.png',
  'chelsea.png',
  'camera.png',
  'hubble_deep_field.jpg',
  'logo.png',
  'rocket.jpg',
];
const digest = (x: Tensor): string => createHash('sha256').update(tensorBytes(x)).digest('hex');

const specs = [
  {
    resize_dims: [224, 224],
    pixel_format: 'rgb',
    mean: [123.675, 116.28, 103.53],
    scale: [0.017125, 0.017507, 0.017429],
  },
  {
    resize_dims: [160, 256],
    keep_aspect_ratio: true,
    pad_value: 114,
    channel_format: 'nhwc',
    scale: [0.0039216],
  },
  {
    resize_dims: [96, 96],
    keep_aspect_ratio: true,
    keep_ratio_mode: 'short_side_scale',
    pixel_format: 'gray',
    mean: [128],
    scale: [1 / 128],
    output: { dtype: 'int8', scale: 1 / 128, zero_point: -5 },
  },
].map((s) => parsePreprocessSpec(s));

if (!existsSync(join(dir, photos[0] as string))) {
  t.test(
    'calibrationTensor and requestTensor give identical bytes',
    {
      skip: `photo folder ${dir} is missing (set BMFLEET_PHOTO_DIR)`,
    },
    () => undefined,
  );
} else {
  t.test('calibrationTensor and requestTensor give identical bytes', async (t) => {
    const seen = new Set<string>();
    for (const spec of specs) {
      for (const name of photos) {
        const path = join(dir, name);
        const controller = await calibrationTensor(path, spec);
        const agent = await requestTensor(readFileSync(path), spec);
        t.same(agent.shape, controller.shape, `${name} shape`);
        t.equal(agent.dtype, controller.dtype, `${name} dtype`);
        const d = digest(controller);
        t.equal(
          digest(agent),
          d,
          `${name} ${spec.channel_format} ${spec.output.dtype}: sha256 equal`,
        );
        seen.add(d);
      }
    }
    t.equal(seen.size, specs.length * photos.length, 'every image/spec pair hashes differently');
  });

  t.test('a missing calibration file is an I/O error', async (t) => {
    await t.rejects(calibrationTensor(join(dir, 'no-such-photo.png'), specs[0]!), {
      code: 'BMF_ERR_IO',
    });
  });
}
