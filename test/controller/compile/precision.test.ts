import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  emulatePrecision,
  roundToBfloat16,
  roundToFloat16,
} from '../../../controller/compile/index.js';
import { bfloat16Bits, float16Bits } from '../../../controller/compile/precision.js';
import {
  createOnnxSession,
  encodeOnnx,
  findInitializer,
  ONNX_DTYPE,
  readFloat32,
  tensorDims,
  float32Tensor,
} from '../../../controller/onnx/index.js';
import { makeTensor } from '../../../shared/tensor.js';
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

// Bit patterns from the formats' definitions (binary16: 1 sign, 5 exponent bits biased 15, 10
// fraction bits; bfloat16: the top half of the float32).
const BITS: [number, number][] = [
  [1, 0x3c00],
  [-2.5, 0xc100],
  [65504, 0x7bff],
  [Infinity, 0x7c00],
  [5.960464477539063e-8, 0x0001],
  [6.103515625e-5, 0x0400],
  [0.333251953125, 0x3555],
  [0, 0],
];
for (const [x, want] of BITS) t.equal(float16Bits(x), want, `fp16 bits of ${x}`);
t.equal(bfloat16Bits(1), 0x3f80);
t.equal(bfloat16Bits(-3.140625), 0xc049);

t.test('weights are stored at half size and compute as the rounded FP32 weights', async (t) => {
  const model = modelFromFixture(readModelFixture());
  t.equal(emulatePrecision(model, 'fp32'), model, 'fp32 is the identity');
  const floatBytes = (model.graph.initializer ?? [])
    .filter((i) => i.dataType === ONNX_DTYPE.FLOAT)
    .reduce((n, i) => n + (i.rawData?.length ?? 0), 0);
  for (const precision of ['fp16', 'bf16'] as const) {
    const round = precision === 'fp16' ? roundToFloat16 : roundToBfloat16;
    const emulated = emulatePrecision(model, precision);
    const stored = findInitializer(emulated, `conv_w__${precision}`)!;
    t.equal(
      stored.dataType,
      precision === 'fp16' ? ONNX_DTYPE.FLOAT16 : ONNX_DTYPE.BFLOAT16,
      `${precision}: stored type`,
    );
    t.notOk(findInitializer(emulated, 'conv_w'), `${precision}: no FP32 copy left`);
    const halfBytes = (emulated.graph.initializer ?? []).reduce(
      (n, i) => n + (i.rawData?.length ?? 0),
      0,
    );
    t.equal(halfBytes * 2, floatBytes, `${precision}: weights take half the bytes`);

    // The same graph with the rounded weights kept in FP32 must compute the same outputs.
    const reference = {
      ...model,
      graph: {
        ...model.graph,
        initializer: (model.graph.initializer ?? []).map((i) =>
          i.dataType === ONNX_DTYPE.FLOAT
            ? float32Tensor(i.name ?? '', tensorDims(i), readFloat32(i).map(round))
            : i,
        ),
      },
    };
    const input = model.graph.input![0]!;
    const dims = input.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue ?? 1));
    const x = makeTensor(
      'float32',
      dims,
      Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)),
    );
    const run = async (m: typeof model) => {
      const s = await createOnnxSession(encodeOnnx(m));
      try {
        return await s.run({ [input.name!]: x });
      } finally {
        await s.release();
      }
    };
    const [a, b] = [await run(emulated), await run(reference)];
    for (const name of Object.keys(b)) {
      t.same(
        Array.from(a[name]!.data as Float32Array),
        Array.from(b[name]!.data as Float32Array),
        `${precision}: ${name} identical`,
      );
    }
  }
});
