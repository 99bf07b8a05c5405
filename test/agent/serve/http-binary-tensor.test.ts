// POST /v1/infer with one raw tensor (application/x-bmfleet-tensor; name, dtype and shape as the
// content type's parameters) over a real socket: the same answer as the JSON tensor request for
// the same values, and every malformed description a typed 4xx.
import t from 'tap';
import { BINARY_TENSOR_TYPE, feedsFromBinary } from '../../../agent/serve/http-body.js';
import { goldenInputs, tinySpec } from '../../../harness/agent/models.js';
import { startLocalAgentApi } from '../../../harness/agent/local-api.js';

const golden = goldenInputs();

t.test('a raw tensor body answers like its JSON form', async (t) => {
  const { service, address } = await startLocalAgentApi(t);
  await service.variants.install('A', tinySpec('tiny-a'));
  const post = (body: Uint8Array | string, type: string) =>
    fetch(`${address}/v1/infer`, { method: 'POST', body, headers: { 'content-type': type } });
  const raw = 'application/x-bmfleet-tensor';
  interface Answer {
    topK: { index: number; score: number }[];
    outputs: { logits: { shape: number[]; data: number[] } };
  }

  for (const [i, feeds] of golden.inputs.entries()) {
    const x = feeds.input!;
    const data = x.data as Float32Array;
    const asJson = (await (
      await post(
        JSON.stringify({
          inputs: { input: { dtype: 'float32', shape: x.shape, data: Array.from(data) } },
        }),
        'application/json',
      )
    ).json()) as Answer;
    // Sent from a view at an odd offset of a larger buffer: the agent copies it aligned.
    const padded = new Uint8Array(data.byteLength + 1);
    padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 1);
    const res = await post(
      padded.subarray(1),
      `${raw}; name=input; dtype=float32; shape=${x.shape.join(',')}`,
    );
    t.equal(res.status, 200);
    const asRaw = (await res.json()) as Answer;
    t.equal(asRaw.topK[0]?.index, golden.labels[i], `golden input ${i} classified`);
    t.same(asRaw.outputs.logits, asJson.outputs.logits, `golden input ${i}: same logits as JSON`);
  }

  const bytes = new Uint8Array(192 * 4);
  const cases: [string, Uint8Array, string, number, string][] = [
    ['no name', bytes, `${raw}; dtype=float32; shape=1,3,8,8`, 400, 'BMF_ERR_INFER_REQUEST'],
    [
      'bad dtype',
      bytes,
      `${raw}; name=input; dtype=f64; shape=1,3,8,8`,
      400,
      'BMF_ERR_INFER_REQUEST',
    ],
    ['no shape', bytes, `${raw}; name=input; dtype=float32`, 400, 'BMF_ERR_INFER_REQUEST'],
    [
      'bad shape',
      bytes,
      `${raw}; name=input; dtype=float32; shape=1,-3,8,8`,
      400,
      'BMF_ERR_INFER_REQUEST',
    ],
    [
      'short body',
      bytes.subarray(4),
      `${raw}; name=input; dtype=float32; shape=1,3,8,8`,
      400,
      'BMF_ERR_TENSOR_SHAPE',
    ],
    [
      "model's shape",
      bytes,
      `${raw}; name=input; dtype=float32; shape=1,3,16,4`,
      400,
      'BMF_ERR_TENSOR_SHAPE',
    ],
    [
      'unknown input',
      bytes,
      `${raw}; name=other; dtype=float32; shape=1,3,8,8`,
      400,
      'BMF_ERR_TENSOR_SHAPE',
    ],
  ];
  for (const [what, body, type, status, code] of cases) {
    const res = await post(body, type);
    t.equal(res.status, status, what);
    t.equal(((await res.json()) as { error: { code: string } }).error.code, code, what);
  }
});

t.test('feedsFromBinary views an aligned body in place and copies one that is not', async (t) => {
  const values = Float32Array.from([1.5, -2, 3.25, 0]);
  const type = `${BINARY_TENSOR_TYPE}; name=x; dtype=float32; shape=2,2`;
  const aligned = new Uint8Array(values.buffer);
  const inPlace = feedsFromBinary(type, aligned).x!;
  t.equal(inPlace.data.buffer, values.buffer, 'aligned: no copy');
  t.same(Array.from(inPlace.data as Float32Array), [1.5, -2, 3.25, 0]);
  const odd = new Uint8Array(17);
  odd.set(aligned, 1);
  const copied = feedsFromBinary(type, odd.subarray(1)).x!;
  t.not(copied.data.buffer, odd.buffer, 'unaligned: copied');
  t.same(Array.from(copied.data as Float32Array), [1.5, -2, 3.25, 0]);
  t.same(copied.shape, [2, 2]);
  const int8 = feedsFromBinary(
    `${BINARY_TENSOR_TYPE}; name="q"; dtype=int8; shape=3`,
    odd.subarray(1, 4),
  );
  t.same([int8.q!.dtype, Array.from(int8.q!.data as Int8Array)], ['int8', [0, 0, -64]]);
});
