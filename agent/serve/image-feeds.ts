// Image requests become model feeds through the shared preprocessing (request-tensor.ts), with
// the spec the bundle was compiled and calibrated with. The tensor's shape is then checked by the
// runtime against the BMODEL's input like any other feed. The preprocessing (and sharp with its
// libvips, ~25 MB resident) is loaded on the first image request: an agent that is idle or
// serves tensors only does not carry it.
import { bmfError } from '../../shared/errors.js';
import type { Tensor } from '../../shared/tensor.js';
import type { ServingModel } from './model-slot.js';

/** Image bytes -> model feeds, with the bundle's preprocessing (shared/preprocess). */
export type ImageToFeeds = (
  bytes: Uint8Array,
  model: ServingModel,
) => Promise<Record<string, Tensor>>;

export const imageToFeeds: ImageToFeeds = async (bytes, model) => {
  if (model.spec.preprocess === undefined) {
    throw bmfError('BMF_ERR_INFER_REQUEST', {
      reason: `bundle ${model.spec.bundleDigest} has no preprocessing spec: send a tensor`,
    });
  }
  const inputs = model.handle.description.inputs;
  const first = inputs[0];
  if (!first || inputs.length !== 1) {
    throw bmfError('BMF_ERR_INFER_REQUEST', {
      reason: `model has ${inputs.length} inputs; image requests need exactly one`,
    });
  }
  const { requestTensor } = await import('./request-tensor.js');
  const tensor = await requestTensor(bytes, model.spec.preprocess);
  return { [first.name]: tensor };
};
