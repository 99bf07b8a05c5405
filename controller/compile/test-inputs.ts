// Inputs for validation: the user's images through the shared preprocessing (the tensors the
// model will really see), or seeded random pixels 0..255 mapped through the spec's
// y = (x - mean) * scale, i.e. uniformly inside the declared input range.
import { readFile } from 'node:fs/promises';
import { bmfError } from '../../shared/errors.js';
import { preprocessBatch, tensorShape } from '../../shared/preprocess/index.js';
import type { PreprocessSpec } from '../../shared/preprocess/index.js';
import { seededRandom } from '../../shared/stats/seeded-random.js';
import { makeTensor } from '../../shared/tensor.js';
import type { Tensor } from '../../shared/tensor.js';

export type Feeds = Record<string, Tensor>;

/** Which channel element i of a tensor of this shape belongs to (0 when not an image tensor). */
function channelOf(
  shape: readonly number[],
  spec: PreprocessSpec,
  i: number,
  channels: number,
): number {
  if (shape.length !== 4) return 0;
  const [, d1, d2, d3] = shape as [number, number, number, number];
  if (spec.channel_format === 'nchw' && d1 === channels) return Math.floor(i / (d2 * d3)) % d1;
  if (spec.channel_format === 'nhwc' && d3 === channels) return i % d3;
  return 0;
}

export function randomFeeds(
  inputs: readonly { name: string; shape: readonly number[] }[],
  spec: PreprocessSpec,
  count: number,
  seed = 1,
): Feeds[] {
  const rand = seededRandom(seed);
  const channels = spec.mean.length;
  return Array.from({ length: count }, () => {
    const feeds: Feeds = {};
    for (const io of inputs) {
      const n = io.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const c = channelOf(io.shape, spec, i, channels);
        const pixel = Math.floor(rand() * 256);
        data[i] = (pixel - (spec.mean[c] ?? 0)) * (spec.scale[c] ?? 1);
      }
      feeds[io.name] = makeTensor('float32', io.shape, data);
    }
    return feeds;
  });
}

/**
 * An image model's input must be what the preprocessing produces (channels, height, width, layout);
 * otherwise the vendor tools would compile a model that no bmfleet-preprocessed image can feed.
 */
export function checkSpecMatchesInput(
  spec: PreprocessSpec,
  input: { name: string; shape: readonly number[] },
): void {
  if (input.shape.length !== 4) return;
  const expected = tensorShape(spec, input.shape[0] ?? 1);
  if (expected.join(',') !== input.shape.join(',')) {
    throw bmfError('BMF_ERR_PREPROCESS_SPEC', {
      field: 'resize_dims/pixel_format/channel_format',
      reason: `the spec makes [${expected.join(',')}], input ${input.name} is [${input.shape.join(',')}]`,
    });
  }
}

/** One feed per image for a single-input image model; the batch is filled with the same image. */
export async function imageFeeds(
  paths: readonly string[],
  input: { name: string; shape: readonly number[] },
  spec: PreprocessSpec,
): Promise<Feeds[]> {
  const batch = input.shape[0] ?? 1;
  const expected = tensorShape(spec, batch);
  if (expected.join(',') !== input.shape.join(',')) {
    throw bmfError('BMF_ERR_IMAGE_SHAPE', {
      reason: `preprocessing makes [${expected.join(',')}], input ${input.name} is [${input.shape.join(',')}]`,
    });
  }
  const feeds: Feeds[] = [];
  for (const path of paths) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (e) {
      throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message }, { cause: e });
    }
    const tensor = await preprocessBatch(new Array(batch).fill(bytes), spec);
    if (tensor.dtype !== 'float32') {
      throw bmfError('BMF_ERR_PREPROCESS_SPEC', {
        field: 'output',
        reason: 'compile validation feeds FP32 models: output.dtype must be float32',
      });
    }
    feeds.push({ [input.name]: tensor });
  }
  return feeds;
}
