import { createRequire } from 'node:module';
import sharp from 'sharp';
import { parsePreprocessSpec } from '../../../shared/preprocess/spec.js';
import t from 'tap';
import { createSystemClock } from '../../../agent/clock.js';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../agent/runtime/sim.js';
import { createLocalApi } from '../../../agent/serve/http.js';
import { createServeMetrics } from '../../../agent/serve/metrics.js';
import { createInferenceService } from '../../../agent/serve/service.js';
import { goldenInputs, tinyBundleDigest, tinySpec } from '../../../harness/agent/models.js';
import { startLocalAgentApi } from '../../../harness/agent/local-api.js';

const golden = goldenInputs();

t.test('local API over a real socket', async (t) => {
  const { service, address } = await startLocalAgentApi(t);
  const post = (path: string, body: string | Uint8Array, type: string) =>
    fetch(`${address}${path}`, { method: 'POST', body, headers: { 'content-type': type } });
  const json = (path: string, value: unknown) =>
    post(path, JSON.stringify(value), 'application/json');

  t.equal((await fetch(`${address}/healthz`)).status, 200);
  t.equal((await fetch(`${address}/readyz`)).status, 503, 'not ready without a model');
  const notReady = await json('/v1/infer', { inputs: {} });
  t.same(await notReady.json(), {
    error: { code: 'BMF_ERR_AGENT_NOT_READY', message: 'no model is active yet', details: {} },
  });
  t.equal(notReady.status, 503);

  await service.variants.install(
    'A',
    tinySpec('tiny-a', {
      preprocess: parsePreprocessSpec({ resize_dims: [8, 8], pixel_format: 'rgb' }),
    }),
  );
  t.equal((await fetch(`${address}/readyz`)).status, 200);

  const x = golden.inputs[0]?.input;
  const ok = await json('/v1/infer', {
    inputs: {
      input: {
        dtype: 'float32',
        shape: x?.shape,
        data: Array.from((x?.data ?? []) as Float32Array),
      },
    },
  });
  t.equal(ok.status, 200);
  const body = (await ok.json()) as {
    requestId: string;
    topK: { index: number }[];
    variant: string;
    timings: object;
    outputs: { logits: { shape: number[] } };
  };
  t.equal(body.topK[0]?.index, golden.labels[0]);
  t.equal(body.variant, 'A');
  t.same(body.outputs.logits.shape, [1, 4]);
  t.match(body.timings, {
    preprocessMs: Number,
    inferMs: Number,
    postprocessMs: Number,
    e2eMs: Number,
  });

  const png = await sharp({
    create: { width: 20, height: 12, channels: 3, background: { r: 200, g: 10, b: 60 } },
  })
    .png()
    .toBuffer();
  const img = await post('/v1/infer', png, 'image/png');
  t.equal(img.status, 200, 'image bytes are preprocessed with the bundle spec');
  const octet = await post('/v1/infer', png, 'application/octet-stream');
  t.equal(octet.status, 200);

  const cases: [string, Response, number, string][] = [
    [
      'corrupt image',
      await post('/v1/infer', new Uint8Array([1, 2, 3, 4]), 'image/png'),
      4,
      'BMF_ERR_IMAGE_',
    ],
    [
      'wrong shape',
      await json('/v1/infer', {
        inputs: { input: { dtype: 'float32', shape: [1, 2], data: [0, 0] } },
      }),
      400,
      'BMF_ERR_TENSOR_SHAPE',
    ],
    [
      'count mismatch',
      await json('/v1/infer', {
        inputs: { input: { dtype: 'float32', shape: [1, 3], data: [0] } },
      }),
      400,
      'BMF_ERR_TENSOR_SHAPE',
    ],
    ['schema', await json('/v1/infer', { tensor: 1 }), 400, 'BMF_ERR_INFER_REQUEST'],
    ['bad JSON', await post('/v1/infer', '{', 'application/json'), 400, 'BMF_ERR_INFER_REQUEST'],
    ['media type', await post('/v1/infer', 'x', 'video/mp4'), 415, 'BMF_ERR_CONTENT_TYPE'],
    ['text body', await post('/v1/infer', 'x', 'text/plain'), 415, 'BMF_ERR_CONTENT_TYPE'],
    [
      'unknown feedback',
      await json('/v1/feedback', { requestId: 'nope', label: 1 }),
      404,
      'BMF_ERR_FEEDBACK_UNKNOWN_REQUEST',
    ],
    ['feedback schema', await json('/v1/feedback', { label: 1 }), 400, 'BMF_ERR_INFER_REQUEST'],
  ];
  for (const [name, res, status, code] of cases) {
    // A one-digit status means "any status in that class" (decoders differ on corrupt vs unsupported).
    if (status < 10) t.equal(Math.floor(res.status / 100), status, `${name}: status ${res.status}`);
    else t.equal(res.status, status, `${name}: status`);
    const e = (await res.json()) as { error: { code: string; message: string } };
    t.ok(e.error.code.startsWith(code), `${name}: ${e.error.code}`);
    t.type(e.error.message, 'string');
  }

  // A missing or wrong content type is named as such, with the types /v1/infer takes.
  const untyped = await fetch(`${address}/v1/infer`, {
    method: 'POST',
    body: new Uint8Array([1, 2, 3]),
  });
  t.equal(untyped.status, 415);
  t.same(await untyped.json(), {
    error: {
      code: 'BMF_ERR_CONTENT_TYPE',
      message:
        'content type missing; accepted: application/json, application/x-bmfleet-tensor, application/octet-stream, image/*',
      details: {
        reason: 'content type missing',
        accepted:
          'application/json, application/x-bmfleet-tensor, application/octet-stream, image/*',
      },
    },
  });
  const wrong = await post('/v1/infer', 'x', 'text/plain; charset=utf-8');
  t.equal(
    ((await wrong.json()) as { error: { message: string } }).error.message,
    'content type text/plain not supported; accepted: application/json, application/x-bmfleet-tensor, application/octet-stream, image/*',
  );
  const feedbackType = await post('/v1/feedback', new Uint8Array([1]), 'image/png');
  t.equal(feedbackType.status, 415);
  t.match(await feedbackType.json(), { error: { code: 'BMF_ERR_CONTENT_TYPE' } });

  const fb = await json('/v1/feedback', { requestId: body.requestId, label: golden.labels[0] });
  t.same(await fb.json(), { correct: true });
  const models = (await (await fetch(`${address}/v1/models`)).json()) as {
    models: { variant: string; bundleDigest: string }[];
  };
  t.match(models.models, [{ variant: 'A', bundleDigest: tinyBundleDigest('tiny-a') }]);
  const m = await (await fetch(`${address}/metrics`)).text();
  t.ok(
    m.includes(
      `bmf_agent_requests_total{variant="A",bundle="${tinyBundleDigest('tiny-a')}",outcome="ok",code="",device="dev-1"} 3`,
    ),
    'requests counted per variant and bundle',
  );
  t.match(m, /bmf_agent_feedback_total\{variant="A",correct="true",device="dev-1"\} 1/);
  // Stage names are telemetry's (LATENCY_STAGES): the whole request is e2e here too.
  for (const stage of ['e2e', 'preprocess', 'infer', 'postprocess']) {
    t.match(
      m,
      new RegExp(`bmf_agent_stage_seconds_count\\{[^}]*variant="A",stage="${stage}"`),
      stage,
    );
  }
  t.notMatch(m, /stage="total"/, 'no second name for the whole request');
  t.match(m, /code="BMF_ERR_TENSOR_SHAPE"/);
  const still = await json('/v1/infer', {
    inputs: {
      input: {
        dtype: 'float32',
        shape: x?.shape,
        data: Array.from((x?.data ?? []) as Float32Array),
      },
    },
  });
  t.equal(still.status, 200, 'active model keeps serving after bad requests');
  const extra = await json('/v1/feedback', {
    requestId: ((await still.json()) as { requestId: string }).requestId,
    label: golden.labels[0],
    note: 'not in the schema',
  });
  t.same(await extra.json(), { correct: true }, 'properties the schema lacks are dropped');
});

t.test(
  'route schemas are checked by TypeBox: fastify loads neither ajv nor fast-json-stringify',
  async (t) => {
    const metrics = createServeMetrics();
    const clock = createSystemClock();
    const service = createInferenceService({
      runtime: createSimBackend({ pool: createSimSessionPool(), clock, timing: 'host' }),
      clock,
    });
    const app = await createLocalApi({ service, registry: metrics.registry });
    await app.ready();
    t.teardown(async () => {
      await app.close();
      await service.close();
    });
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    t.ok(
      loaded.some((f) => f.includes('/node_modules/fastify/')),
      'fastify is loaded',
    );
    // fastify's error serializer needs fast-json-stringify's small runtime (lib/), not its compiler.
    for (const entry of ['ajv/dist/ajv.js', 'fast-json-stringify/index.js']) {
      t.notOk(
        loaded.some((f) => f.endsWith(`/node_modules/${entry}`)),
        `${entry} is not loaded`,
      );
    }
  },
);
