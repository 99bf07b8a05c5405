import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import {
  encodeOnnx,
  graphInputs,
  loadOnnx,
  makeModel,
  makeNode,
  runOnnx,
  valueInfo,
} from '../../../controller/onnx/index.js';
import { makeTensor } from '../../../shared/tensor.js';
import { modelFromFixture, readModelFixture } from './fixture-model.js';

const fixture = readModelFixture();
const feed = { x: makeTensor('float32', [1, 1, 6, 6], Float32Array.from(fixture.expected.input)) };

t.test(
  'encoded fixture runs in onnxruntime and matches the reference implementation',
  async (t) => {
    const out = await runOnnx(encodeOnnx(modelFromFixture(fixture)), feed);
    const y = out.y;
    t.ok(y, 'output y present');
    t.same(y?.shape, [1, 3]);
    fixture.expected.output.forEach((v, i) => {
      t.ok(Math.abs((y?.data[i] as number) - v) < 1e-5, `y[${i}] = ${y?.data[i]} ~ ${v}`);
    });
  },
);

t.test('decode then encode reproduces the bytes and the outputs exactly', async (t) => {
  const bytes = encodeOnnx(modelFromFixture(fixture));
  const again = encodeOnnx(loadOnnx(bytes));
  t.same(Buffer.from(again), Buffer.from(bytes), 'byte-identical');
  const a = await runOnnx(bytes, feed);
  const b = await runOnnx(again, feed);
  t.same(Array.from(b.y?.data as Float32Array), Array.from(a.y?.data as Float32Array));
});

t.test(
  'an INT attribute of 0 survives the round trip (onnxruntime requires its presence)',
  async (t) => {
    const model = loadOnnx(encodeOnnx(modelFromFixture(fixture)));
    const gemm = model.graph.node?.find((n) => n.opType === 'Gemm');
    const transA = gemm?.attribute?.find((a) => a.name === 'transA');
    t.equal(transA?.i, 0);
    t.equal(transA?.type, 2);
  },
);

t.test('fields bmfleet does not interpret are carried through unchanged', async (t) => {
  const model = makeModel({
    name: 'identity',
    inputs: [valueInfo('a', 1, [2])],
    outputs: [valueInfo('b', 1, [2])],
    nodes: [makeNode('Identity', ['a'], ['b'])],
  });
  const opaque = Uint8Array.from([0x0a, 0x03, 0x66, 0x6f, 0x6f]); // a message with field 1 = "foo"
  const withExtras = { ...model, functions: [opaque], metadataProps: [{ key: 'k', value: 'v' }] };
  const back = loadOnnx(encodeOnnx(withExtras));
  t.same(Array.from(back.functions?.[0] ?? []), Array.from(opaque));
  t.same(back.metadataProps, [{ key: 'k', value: 'v' }]);
});

const fashion = new URL('../../../examples/fashion-mnist/model.onnx', import.meta.url);
t.test(
  'examples/fashion-mnist/model.onnx round-trips with identical outputs',
  { skip: existsSync(fashion) ? false : 'examples/fashion-mnist/model.onnx is absent' },
  async (t) => {
    const bytes = new Uint8Array(readFileSync(fashion));
    const model = loadOnnx(bytes, fashion.pathname);
    const input = graphInputs(model)[0];
    t.ok(input, 'has an input');
    const shape = (input?.dims ?? []).map((d) => (typeof d === 'number' ? d : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5);
    const feeds = { [input?.name ?? '']: makeTensor('float32', shape, data) };
    const a = await runOnnx(bytes, feeds);
    const b = await runOnnx(encodeOnnx(model), feeds);
    for (const name of Object.keys(a)) {
      t.same(
        Array.from(b[name]?.data as Float32Array),
        Array.from(a[name]?.data as Float32Array),
        name,
      );
    }
  },
);
