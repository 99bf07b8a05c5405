import t from 'tap';
import { createBufferRecycler } from '../../../agent/runtime/buffer-recycler.js';
import { startOrtThread } from '../../../agent/runtime/ort-worker.js';
import type { OrtSessionOptions } from '../../../agent/runtime/ort-worker.js';
import type { Tensor } from '../../../shared/tensor.js';
import { goldenInputs, tinyOnnx } from '../../../harness/agent/models.js';

const OPTIONS: OrtSessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
};
const golden = goldenInputs();
const first = golden.inputs[0]?.input as Tensor<'float32'>;

function logits(out: Awaited<ReturnType<ReturnType<typeof startOrtThread>['run']>>): number[] {
  t.equal(out.length, 1, 'one output');
  t.equal(out[0]?.name, 'logits');
  t.equal(out[0]?.type, 'float32');
  return [...(out[0]?.data as Float32Array)];
}

t.test('create copies the payload: a Buffer the caller passes stays readable', async (t) => {
  const thread = startOrtThread();
  t.teardown(() => thread.terminate());
  const onnx = tinyOnnx('tiny-a'); // a Node Buffer, whose slice() is a view, not a copy
  const before = Buffer.from(onnx).toString('hex');
  await thread.create(onnx, OPTIONS);
  t.equal(onnx.byteLength, before.length / 2, 'not detached');
  t.equal(Buffer.from(onnx).toString('hex'), before, 'bytes unchanged');
});

t.test('create copies the payload in slices, a turn of the event loop between them', async (t) => {
  const onnx = tinyOnnx('tiny-a');
  const sliceBytes = 64;
  let turns = 0;
  const thread = startOrtThread({
    slices: { sliceBytes, yieldTurn: async () => void (turns += 1) },
  });
  t.teardown(() => thread.terminate());
  await thread.create(onnx, OPTIONS);
  t.equal(turns, Math.ceil(onnx.byteLength / sliceBytes) - 1, 'one turn between two slices');
  t.equal(logits(await thread.run(golden.inputs[0] ?? {})).length, 4, 'and the session runs');
});

t.test('inputs are copied unless consumed; consumed ones move to the thread', async (t) => {
  const thread = startOrtThread();
  t.teardown(() => thread.terminate());
  await thread.create(tinyOnnx('tiny-a'), OPTIONS);
  const keep = { input: { ...first, data: first.data.slice() } };
  const copied = logits(await thread.run(keep));
  t.equal(keep.input.data.length, 192, 'a kept input is still readable');
  t.same([...keep.input.data], [...first.data], 'and unchanged');

  const handed = { input: { ...first, data: first.data.slice() } };
  const moved = logits(await thread.run(handed, true));
  t.equal(handed.input.data.byteLength, 0, 'a consumed input is detached (moved, not copied)');
  t.same(moved, copied, 'same outputs either way');

  // A view on a larger buffer is copied even when consumed: moving it would take the rest too.
  const big = new Float32Array(1000);
  big.set(first.data, 100);
  const view = { input: { ...first, data: big.subarray(100, 292) } };
  t.same(logits(await thread.run(view, true)), copied, 'a view is fed its own bytes');
  t.equal(big.length, 1000, 'the larger buffer stays with the caller');
  t.equal(big[100], first.data[0]);
});

t.test('concurrent runs each get their own outputs, in any order', async (t) => {
  const thread = startOrtThread();
  t.teardown(() => thread.terminate());
  await thread.create(tinyOnnx('tiny-a'), OPTIONS);
  const one = async (i: number) => logits(await thread.run(golden.inputs[i] ?? {}));
  const sequential: number[][] = [];
  for (let i = 0; i < golden.inputs.length; i++) sequential.push(await one(i));
  const parallel = await Promise.all(golden.inputs.map((_, i) => one(i)));
  t.same(parallel, sequential, 'replies matched to their calls by id');
  t.ok(new Set(sequential.map((l) => l.join())).size > 1, 'the inputs give different outputs');
});

t.test('a run with a wrong input name is a typed error; the thread keeps serving', async (t) => {
  const thread = startOrtThread();
  t.teardown(() => thread.terminate());
  await t.rejects(thread.run({ input: first }), { code: 'BMF_ERR_RUNTIME_INFER' }, 'no session');
  await thread.create(tinyOnnx('tiny-a'), OPTIONS);
  await t.rejects(thread.run({ nope: first }), { code: 'BMF_ERR_RUNTIME_INFER' });
  t.equal(logits(await thread.run({ input: first })).length, 4);
  await thread.release();
  await t.rejects(thread.run({ input: first }), { code: 'BMF_ERR_RUNTIME_INFER' }, 'released');
});

t.test('buffer recycler: copies exactly, reuses returned buffers, keeps a few', async (t) => {
  const r = createBufferRecycler(2);
  const src = new Uint8Array([9, 1, 2, 3, 4, 9]).subarray(1, 5);
  const a = r.copy(src);
  t.same([...new Uint8Array(a)], [1, 2, 3, 4], 'only the view bytes');
  r.give(a);
  t.equal(r.size(), 1);
  const b = r.copy(new Uint8Array([5, 6, 7, 8]));
  t.equal(b, a, 'a returned buffer of the size is reused');
  t.same([...new Uint8Array(b)], [5, 6, 7, 8], 'and overwritten');
  t.equal(r.size(), 0, 'a reused buffer is no longer kept');
  r.give(a);
  t.not(r.copy(new Uint8Array(3)), a, 'another size gets a fresh buffer');
  t.not(r.copy(new Uint8Array(4), false), a, 'reuse off: fresh buffer');
  r.give(new ArrayBuffer(8));
  r.give(new ArrayBuffer(16));
  t.equal(r.size(), 2, 'bounded: the oldest is dropped');
  const detached = new ArrayBuffer(4);
  structuredClone(detached, { transfer: [detached] });
  r.give(detached);
  t.equal(r.size(), 2, 'a detached buffer is not kept');
});
