// One dataset image -> a model input tensor, through the shared preprocessing
// (calibration-input.ts), after checking that the image can feed the model: its colour channels
// must match the spec's pixel_format (a colour photo given to a grey model, or a grey scan given
// to an RGB model, means the wrong data set) -> BMF_ERR_IMAGE_SHAPE. Undecodable files become the
// data set's error (BMF_ERR_CALIBRATION_DATA / BMF_ERR_EVAL_DATA) naming the file.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { bmfError, isBmfError } from '../../shared/errors.js';
import { channelCount, tensorShape, type PreprocessSpec } from '../../shared/preprocess/index.js';
import type { Tensor } from '../../shared/tensor.js';
import { calibrationTensor } from './calibration-input.js';
import { dataErrorCode, type DatasetPurpose } from './dataset.js';

/** The spec must produce exactly the model's (static) input shape. */
export function checkSpecMatchesInput(spec: PreprocessSpec, inputShape: readonly number[]): void {
  const produced = tensorShape(spec);
  if (produced.length !== inputShape.length || produced.some((d, i) => d !== inputShape[i])) {
    throw bmfError('BMF_ERR_IMAGE_SHAPE', {
      reason: `preprocessing produces [${produced.join(',')}] but the model input is [${inputShape.join(',')}]`,
    });
  }
}

export async function loadImageTensor(
  path: string,
  spec: PreprocessSpec,
  purpose: DatasetPurpose,
): Promise<Tensor> {
  const code = dataErrorCode(purpose);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw bmfError(code, { path, reason: (e as Error).message }, { cause: e });
  }
  let colour: number;
  try {
    const m = await sharp(bytes).metadata();
    colour = (m.channels ?? 0) - (m.hasAlpha ? 1 : 0);
  } catch (e) {
    throw bmfError(
      code,
      { path, reason: `unreadable image: ${(e as Error).message}` },
      { cause: e },
    );
  }
  const want = channelCount(spec);
  if (colour !== want) {
    throw bmfError('BMF_ERR_IMAGE_SHAPE', {
      reason: `${path} has ${colour} colour channel(s), pixel_format ${spec.pixel_format} needs ${want}`,
    });
  }
  try {
    return await calibrationTensor(bytes, spec);
  } catch (e) {
    if (isBmfError(e, 'BMF_ERR_IMAGE_CORRUPT') || isBmfError(e, 'BMF_ERR_IMAGE_UNSUPPORTED')) {
      throw bmfError(code, { path, reason: e.message }, { cause: e });
    }
    throw e;
  }
}
