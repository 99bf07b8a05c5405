import t from 'tap';
import {
  encodeOnnx,
  findInitializer,
  float32Tensor,
  int32Tensor,
  int64Tensor,
  int8Tensor,
  loadOnnx,
  readFloat32,
  readInt32,
  readInt64,
  readInt8,
  replaceInitializer,
  runOnnx,
} from '../../../controller/onnx/index.js';
import { makeTensor } from '../../../shared/tensor.js';
import { modelFromFixture, readModelFixture } from './fixture-model.js';

t.test('typed initializers round-trip through raw_data', async (t) => {
  const f = Float32Array.from([1.5, -2, 3.25]);
  t.same(Array.from(readFloat32(float32Tensor('f', [3], f))), Array.from(f));
  t.same(
    Array.from(readInt8(int8Tensor('q', [2, 2], Int8Array.from([-128, 0, 1, 127])))),
    [-128, 0, 1, 127],
  );
  t.same(Array.from(readInt32(int32Tensor('b', [2], Int32Array.from([-5, 2 ** 30])))), [
    -5,
    2 ** 30,
  ]);
  t.same(readInt64(int64Tensor('s', [3], [1, -1, 2 ** 40])), [1, -1, 2 ** 40]);
});

t.test('values in the typed repeated fields are read too', async (t) => {
  t.same(
    Array.from(readFloat32({ name: 'f', dims: [2], dataType: 1, floatData: [0.5, 2] })),
    [0.5, 2],
  );
  t.same(Array.from(readInt8({ name: 'q', dims: [2], dataType: 3, int32Data: [-3, 4] })), [-3, 4]);
  t.same(readInt64({ name: 's', dims: [1], dataType: 7, int64Data: [9] }), [9]);
});

t.test('a wrong type or a wrong element count is a typed error', async (t) => {
  t.throws(() => readInt8(float32Tensor('f', [1], Float32Array.from([1]))), {
    code: 'BMF_ERR_MODEL_UNSUPPORTED',
  });
  t.throws(() => readFloat32({ name: 'f', dims: [4], dataType: 1, rawData: new Uint8Array(8) }), {
    code: 'BMF_ERR_MODEL_UNSUPPORTED',
  });
  t.throws(() => float32Tensor('f', [2, 2], Float32Array.from([1])), {
    code: 'BMF_ERR_TENSOR_SHAPE',
  });
});

t.test('replacing a weight changes what the model computes', async (t) => {
  const fixture = readModelFixture();
  const model = loadOnnx(encodeOnnx(modelFromFixture(fixture)));
  const fcB = findInitializer(model, 'fc_b');
  t.ok(fcB);
  const shifted = readFloat32(fcB!).map((v) => v + 1);
  const edited = replaceInitializer(model, float32Tensor('fc_b', [3], shifted));
  const feed = {
    x: makeTensor('float32', [1, 1, 6, 6], Float32Array.from(fixture.expected.input)),
  };
  const y = (await runOnnx(encodeOnnx(edited), feed)).y?.data as Float32Array;
  fixture.expected.output.forEach((v, i) =>
    t.ok(Math.abs((y[i] ?? 0) - (v + 1)) < 1e-5, `y[${i}] shifted by 1`),
  );
  t.equal(
    readFloat32(findInitializer(model, 'fc_b')!)[0],
    readFloat32(fcB!)[0],
    'original untouched',
  );
  t.throws(() => replaceInitializer(model, float32Tensor('nope', [1], Float32Array.from([0]))));
});
