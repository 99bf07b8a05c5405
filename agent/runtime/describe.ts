// A BMODEL's first net, stage 0, as the runtime-neutral ModelDescription, and the feed check every
// backend applies before running (a wrong shape is the caller's error, not an inference failure).
import type { Bmodel, BmodelDtype, BmodelTensor } from '../../shared/bmodel/types.js';
import { bmfError } from '../../shared/errors.js';
import type { Tensor, TensorDtype } from '../../shared/tensor.js';
import type { ModelDescription, TensorDescription } from './types.js';

const DTYPES: Partial<Record<BmodelDtype, TensorDtype>> = {
  FP32: 'float32',
  FP16: 'float16',
  INT8: 'int8',
  UINT8: 'uint8',
  INT32: 'int32',
};

function describeTensor(t: BmodelTensor): TensorDescription {
  const dtype = DTYPES[t.dtype];
  if (!dtype) {
    throw bmfError('BMF_ERR_BMODEL_UNSUPPORTED', {
      reason: `tensor ${t.name} has data type ${t.dtype}, which the agent cannot feed`,
    });
  }
  return { name: t.name, dtype, shape: [...t.shape], scale: t.scale, zeroPoint: t.zeroPoint };
}

export function describeBmodel(bmodel: Bmodel): ModelDescription {
  const net = bmodel.nets[0];
  const stage = net?.stages[0];
  if (!net || !stage) {
    throw bmfError('BMF_ERR_BMODEL_INVALID', { reason: 'no net with a stage to run' });
  }
  if (bmodel.nets.length > 1) {
    throw bmfError('BMF_ERR_BMODEL_UNSUPPORTED', {
      reason: `${bmodel.nets.length} nets; the agent serves single-net BMODELs`,
    });
  }
  return {
    netName: net.name,
    chip: bmodel.chip,
    inputs: stage.inputs.map(describeTensor),
    outputs: stage.outputs.map(describeTensor),
  };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Every declared input present with its dtype and shape, and nothing else. */
export function checkFeeds(
  description: ModelDescription,
  feeds: Readonly<Record<string, Tensor>>,
): void {
  for (const input of description.inputs) {
    const t = feeds[input.name];
    if (!t) {
      throw bmfError('BMF_ERR_TENSOR_SHAPE', { reason: `missing input ${input.name}` });
    }
    if (t.dtype !== input.dtype || !sameShape(t.shape, input.shape)) {
      throw bmfError('BMF_ERR_TENSOR_SHAPE', {
        reason: `input ${input.name} expects ${input.dtype}[${input.shape.join(',')}], got ${t.dtype}[${t.shape.join(',')}]`,
      });
    }
  }
  const extra = Object.keys(feeds).filter((k) => !description.inputs.some((i) => i.name === k));
  if (extra.length > 0) {
    throw bmfError('BMF_ERR_TENSOR_SHAPE', { reason: `unknown inputs ${extra.join(', ')}` });
  }
}
