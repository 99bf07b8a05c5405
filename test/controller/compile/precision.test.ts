import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  emulatePrecision,
  roundToBfloat16,
  roundToFloat16,
} from '../../../controller/compile/index.js';
import { findInitializer, readFloat32 } from '../../../controller/onnx/index.js';
import { modelFromFixture, readModelFixture } from '../onnx/fixture-model.js';

type Row = [number, number | string];
const golden = JSON.parse(
  readFileSync(new URL('../../fixtures/compile/precision.json', import.meta.url), 'utf8'),
) as {
  fp16: Row[];
  bf16: Row[];
};
const num = (v: number | string): number => (typeof v === 'number' ? v : Number(v));

for (const [x, want] of golden.fp16) {
  t.equal(roundToFloat16(x), num(want), `fp16(${x}) = ${want}`);
}
for (const [x, want] of golden.bf16) {
  t.equal(roundToBfloat16(x), num(want), `bf16(${x}) = ${want}`);
}

t.test('emulation rounds every float weight and leaves the original model alone', async (t) => {
  const model = modelFromFixture(readModelFixture());
  const rounded = emulatePrecision(model, 'bf16');
  const before = readFloat32(findInitializer(model, 'conv_w')!);
  const after = readFloat32(findInitializer(rounded, 'conv_w')!);
  t.same(Array.from(after), Array.from(before, roundToBfloat16));
  t.not(Array.from(after).join(), Array.from(before).join(), 'weights changed');
  t.equal(emulatePrecision(model, 'fp32'), model, 'fp32 is the identity');
});
