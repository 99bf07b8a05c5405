// Input names as request bodies and golden files key them: at most 256 characters and 64 inputs.
// A record's key schema is a patternProperties pattern, where maxLength is not applied, so the
// bound lives in the pattern (before, any name passed and was echoed whole in the tensor error).
import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import { TensorRequestSchema } from '../../../agent/serve/http-body.js';

const tensor = { dtype: 'float32', shape: [1], data: [0] };
const request = (names: readonly string[]) => ({
  inputs: Object.fromEntries(names.map((n) => [n, tensor])),
});

t.test('input names are bounded in length and count', async (t) => {
  t.ok(Value.Check(TensorRequestSchema, request(['input', 'x'.repeat(256)])), '256 characters');
  t.notOk(Value.Check(TensorRequestSchema, request(['x'.repeat(257)])), '257 characters');
  t.notOk(Value.Check(TensorRequestSchema, request([''])), 'empty');
  const many = Array.from({ length: 65 }, (_, i) => `in${i}`);
  t.ok(Value.Check(TensorRequestSchema, request(many.slice(0, 64))), '64 inputs');
  t.notOk(Value.Check(TensorRequestSchema, request(many)), '65 inputs');
});
