// What a tensor may look like where one enters the agent (the local API's JSON and raw bodies,
// a bundle's golden file): the dtypes its models take, at most 8 dimensions of at most 2^24 each.
import { Type } from '@sinclair/typebox';

export const MAX_TENSOR_DIMS = 8;
export const MAX_TENSOR_DIM = 1 << 24;

export const TensorDtypeSchema = Type.Union([
  Type.Literal('float32'),
  Type.Literal('int8'),
  Type.Literal('uint8'),
  Type.Literal('int32'),
]);

export const TensorShapeSchema = Type.Array(Type.Integer({ minimum: 0, maximum: MAX_TENSOR_DIM }), {
  maxItems: MAX_TENSOR_DIMS,
});
