// A detector bundle served by the agent: /v1/infer answers boxes in the request image's pixels
// (letterbox undone through shared/preprocess), with labels, and leaves the raw outputs out of
// the JSON. The model is a real ONNX graph run by the simulator runtime; its head is constant
// (zero weights, the boxes in the bias) so the expected boxes are known exactly.
import { parsePreprocessSpec } from '../../../shared/preprocess/spec.js';
import t from 'tap';
import sharp from 'sharp';
import { createSystemClock } from '../../../agent/clock.js';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../agent/runtime/sim.js';
import { responseToJson } from '../../../agent/serve/http-body.js';
import { createLocalApi } from '../../../agent/serve/http.js';
import { createServeMetrics } from '../../../agent/serve/metrics.js';
import { createTelemetryCollector } from '../../../agent/telemetry/collector.js';
import { encodeTelemetryReport } from '../../../agent/telemetry/report.js';
import { addReport, emptyRollup } from '../../../controller/telemetry/rollup.js';
import { summarize } from '../../../controller/telemetry/summary.js';
import { decodeMessage } from '../../../shared/wire/codec.js';
import { createInferenceService } from '../../../agent/serve/service.js';
import type { ModelSpec } from '../../../agent/serve/types.js';
import {
  encodeOnnx,
  float32Tensor,
  int64Tensor,
  makeModel,
  makeNode,
  ONNX_DTYPE,
  valueInfo,
} from '../../../controller/onnx/index.js';
import { vendorTime, writeBmodel } from '../../../shared/bmodel/write.js';
import { parseDecoderSpec, type DetectorSpec } from '../../../shared/detect/index.js';
import { sha256 } from '../../../harness/agent/models.js';
import { parseDigest, parseDeviceId } from '../../../shared/ids.js';

const SIDE = 16;
// yolov8 layout [1, 4+C, boxes], channel k of box j at k*4 + j: (cx, cy, w, h, dog, cat).
const BOXES = [
  [8, 8, 4, 4, 0.1, 0.9], // cat, kept
  [8.5, 8, 4, 4, 0.05, 0.8], // cat, IoU 0.78 with the first: suppressed
  [4, 12, 2, 2, 0.6, 0.1], // dog, kept
  [20, 20, 4, 4, 0.1, 0.1], // below the score threshold
];

function detectorSpec(
  boxes: readonly number[][] = BOXES,
  digest = parseDigest('d'.repeat(64)),
): ModelSpec {
  const n = 3 * SIDE * SIDE;
  const bias = new Float32Array(24);
  boxes.forEach((b, j) => b.forEach((v, k) => (bias[k * 4 + j] = v)));
  const onnx = encodeOnnx(
    makeModel({
      name: 'tiny-detect',
      inputs: [valueInfo('images', ONNX_DTYPE.FLOAT, [1, 3, SIDE, SIDE])],
      outputs: [valueInfo('output0', ONNX_DTYPE.FLOAT, [1, 6, 4])],
      nodes: [
        makeNode('Flatten', ['images'], ['flat']),
        makeNode('Gemm', ['flat', 'head.w', 'head.b'], ['head'], { transB: 1 }),
        makeNode('Reshape', ['head', 'shape'], ['output0']),
      ],
      initializers: [
        float32Tensor('head.w', [24, n], new Float32Array(24 * n)),
        float32Tensor('head.b', [24], bias),
        int64Tensor('shape', [3], [1, 6, 4]),
      ],
    }),
  );
  const bmodel = writeBmodel({
    chip: 'BM1684X',
    time: vendorTime(new Date(Date.UTC(2026, 0, 1))),
    nets: [
      {
        name: 'tiny-detect',
        stages: [
          {
            inputs: [{ name: 'images', dtype: 'FP32', shape: [1, 3, SIDE, SIDE] }],
            outputs: [{ name: 'output0', dtype: 'FP32', shape: [1, 6, 4] }],
          },
        ],
      },
    ],
    simulator: { payload: onnx },
  });
  return {
    bundleDigest: digest,
    version: '1.0.0',
    bmodel,
    bmodelDigest: sha256(bmodel),
    labels: ['dog', 'cat'],
    preprocess: parsePreprocessSpec({
      resize_dims: [SIDE, SIDE],
      keep_aspect_ratio: true,
      pixel_format: 'rgb',
    }),
    decoder: parseDecoderSpec({
      kind: 'yolov8',
      output: 'output0',
      num_classes: 2,
    }) as DetectorSpec,
  };
}

t.test('image request -> boxes in source pixels with labels', async (t) => {
  const pool = createSimSessionPool();
  const runtime = createSimBackend({ pool, clock: createSystemClock(), timing: 'host' });
  const service = createInferenceService({ runtime, clock: createSystemClock() });
  t.teardown(() => service.close());
  await service.variants.install('A', detectorSpec());
  // 64x32 image letterboxed into 16x16: scale 1/4, pasted 4 rows down. Tensor box
  // (x1, y1, x2, y2) -> (4 x1, 4 (y1 - 4), ...), clipped to the image.
  const png = await sharp({
    create: { width: 64, height: 32, channels: 3, background: { r: 90, g: 120, b: 40 } },
  })
    .png()
    .toBuffer();
  const r = await service.infer({ kind: 'image', bytes: new Uint8Array(png) });
  t.same(r.topK, [], 'no top-k for a detector');
  const dets = r.detections ?? [];
  t.equal(dets.length, 2);
  const want = [
    { box: [24, 8, 40, 24], classId: 1, label: 'cat', score: 0.9 },
    { box: [12, 28, 20, 32], classId: 0, label: 'dog', score: 0.6 },
  ];
  want.forEach((w, i) => {
    const d = dets[i];
    t.equal(d?.label, w.label);
    t.equal(d?.classId, w.classId);
    t.ok(Math.abs((d?.score ?? 0) - w.score) < 1e-6, `score ${d?.score}`);
    t.ok(
      w.box.every((v, k) => Math.abs((d?.box[k] ?? NaN) - v) < 1e-4),
      `box ${d?.box.join(',')} ~ ${w.box.join(',')}`,
    );
  });
  const json = responseToJson(r);
  t.same(json.outputs, {}, 'raw outputs left out of the answer');
  t.same((json.detections as unknown[]).length, 2);

  // A tensor request has no source image: boxes stay in tensor pixels.
  const feeds = {
    images: {
      dtype: 'float32' as const,
      shape: [1, 3, SIDE, SIDE],
      data: new Float32Array(3 * SIDE * SIDE),
    },
  };
  const rt = await service.infer({ kind: 'tensor', feeds });
  t.same(
    rt.detections?.[0]?.box.map((v) => Math.round(v * 1e4) / 1e4),
    [6, 6, 10, 10],
  );
});

t.test('over the local API: boxes, then ground-truth boxes give TP/FP/FN at IoU 0.5', async (t) => {
  const clock = createSystemClock();
  const metrics = createServeMetrics({ device: 'dev-1' });
  const collector = createTelemetryCollector();
  const service = createInferenceService({
    runtime: createSimBackend({ pool: createSimSessionPool(), clock, timing: 'host' }),
    clock,
    observers: [metrics.observer, collector.observer],
  });
  const app = await createLocalApi({ service, registry: metrics.registry });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await service.close();
  });
  await service.variants.install('A', detectorSpec());
  const png = await sharp({
    create: { width: 64, height: 32, channels: 3, background: { r: 10, g: 200, b: 90 } },
  })
    .png()
    .toBuffer();
  const post = (path: string, body: string | Uint8Array, type: string) =>
    fetch(`${address}${path}`, { method: 'POST', body, headers: { 'content-type': type } });
  const infer = async () => {
    const r = await post('/v1/infer', new Uint8Array(png), 'image/png');
    t.equal(r.status, 200);
    return (await r.json()) as { requestId: string; detections: { label: string }[] };
  };
  const first = await infer();
  t.same(
    first.detections.map((d) => d.label),
    ['cat', 'dog'],
  );
  // The cat is right (IoU 1 by label), the dog box is elsewhere, and one object was missed.
  const fb = await post(
    '/v1/feedback',
    JSON.stringify({
      requestId: first.requestId,
      boxes: [
        { box: [24, 8, 40, 24], label: 'cat' },
        { box: [40, 0, 60, 10], classId: 0 },
      ],
    }),
    'application/json',
  );
  t.equal(fb.status, 200);
  t.same(await fb.json(), { tp: 1, fp: 1, fn: 1 });
  const again = await post(
    '/v1/feedback',
    JSON.stringify({ requestId: first.requestId, boxes: [] }),
    'application/json',
  );
  t.equal(again.status, 404, 'one verdict per request');
  const second = await infer();
  const badLabel = await post(
    '/v1/feedback',
    JSON.stringify({ requestId: second.requestId, boxes: [{ box: [0, 0, 1, 1], label: 'horse' }] }),
    'application/json',
  );
  t.equal(badLabel.status, 400);
  t.match(await badLabel.json(), { error: { code: 'BMF_ERR_DETECTION_DATA' } });
  const neither = await post(
    '/v1/feedback',
    JSON.stringify({ requestId: second.requestId }),
    'application/json',
  );
  t.equal(neither.status, 400, 'a label or boxes, one of the two');
  const text = await (await fetch(`${address}/metrics`)).text();
  for (const outcome of ['tp', 'fp', 'fn']) {
    t.match(
      text,
      new RegExp(
        `bmf_agent_detection_matches_total\\{[^}]*variant="A"[^}]*outcome="${outcome}"[^}]*\\} 1`,
      ),
      `${outcome} counted`,
    );
  }

  // The counts travel in the interval's telemetry report and add up in the controller's rollup.
  const report = collector.take().find((r) => r.variant === 'A');
  t.same(report?.accuracy.detection, { feedback: 1, tp: 1, fp: 1, fn: 1 });
  const wire = decodeMessage(
    'TelemetryReport',
    encodeTelemetryReport(report!, {
      deviceId: parseDeviceId('dev-001'),
      intervalStartMs: 0,
      intervalEndMs: 10_000,
      reportSequence: 1,
      device: {
        cpuPercent: 0,
        memUsedBytes: 0,
        memTotalBytes: 0,
        diskUsedBytes: 0,
        diskTotalBytes: 0,
        agentRssBytes: 0,
      },
      runtime: 'sim',
      timingMode: 'host',
    }),
  );
  t.same(wire.accuracy.detection, { feedback: 1, tp: 1, fp: 1, fn: 1 });
  const rollup = emptyRollup();
  addReport(rollup, wire);
  addReport(rollup, wire);
  t.same(rollup.counters.detection, { feedback: 2, tp: 2, fp: 2, fn: 2 });
});

const DEVICE = {
  cpuPercent: 0,
  memUsedBytes: 0,
  memTotalBytes: 0,
  diskUsedBytes: 0,
  diskTotalBytes: 0,
  agentRssBytes: 0,
};

t.test(
  'shadowed detector: B boxes against A boxes, boxes per image, score histogram',
  async (t) => {
    const clock = createSystemClock();
    const collector = createTelemetryCollector();
    const service = createInferenceService({
      runtime: createSimBackend({ pool: createSimSessionPool(), clock, timing: 'host' }),
      clock,
      observers: [collector.observer],
    });
    t.teardown(() => service.close());
    await service.variants.install('A', detectorSpec());
    // B keeps A's cat, puts the dog elsewhere and finds a second cat: per image 1 matched box,
    // 1 A-only (A's dog), 2 B-only (B's dog, the second cat): F1 = 2 / (2 + 1 + 2) = 0.4.
    const boxesB = [
      [8, 8, 4, 4, 0.1, 0.9],
      [13, 3, 2, 2, 0.7, 0.1],
      [3, 3, 2, 2, 0.1, 0.5],
      [20, 20, 4, 4, 0.1, 0.1],
    ];
    await service.variants.install('B', detectorSpec(boxesB, parseDigest('e'.repeat(64))));
    service.setTraffic({ mode: 'weighted', weightB: 0, shadowRate: 1 });
    const png = await sharp({
      create: { width: 64, height: 32, channels: 3, background: { r: 10, g: 20, b: 30 } },
    })
      .png()
      .toBuffer();
    for (let i = 0; i < 2; i++) await service.infer({ kind: 'image', bytes: new Uint8Array(png) });
    await service.settle();
    const reports = collector.take();
    const a = reports.find((r) => r.variant === 'A');
    const b = reports.find((r) => r.variant === 'B');
    // A answered two images of two boxes each, float32 scores 0.9 (0.89999998: bin [0.8, 0.9))
    // and 0.6 (0.60000002: bin [0.6, 0.7)).
    t.same(a?.accuracy.detectionOutput, {
      images: 2,
      boxes: 4,
      boxesSq: 8,
      scoreHistogram: [0, 0, 0, 0, 0, 0, 2, 0, 2, 0],
    });
    t.notOk(b?.accuracy.detectionOutput, 'shadow runs answer nobody');
    const agreement = {
      images: 2,
      matched: 2,
      aOnly: 2,
      bOnly: 4,
      numSq: 2 * 2 ** 2,
      numDen: 2 * 2 * 5,
      denSq: 2 * 5 ** 2,
    };
    t.same(b?.accuracy.shadow.boxes, agreement);
    t.equal(b?.accuracy.shadow.pairs, 2);

    const wire = (r: typeof a) =>
      decodeMessage(
        'TelemetryReport',
        encodeTelemetryReport(r!, {
          deviceId: parseDeviceId('dev-001'),
          intervalStartMs: 0,
          intervalEndMs: 10_000,
          reportSequence: 1,
          device: DEVICE,
          runtime: 'sim',
          timingMode: 'host',
        }),
      );
    const rollup = emptyRollup();
    addReport(rollup, wire(a));
    addReport(rollup, wire(b));
    addReport(rollup, wire(b));
    const summary = summarize(rollup, 1);
    t.same(summary.accuracy.detectionOutput, {
      images: 2,
      boxes: 4,
      boxesSq: 8,
      boxesPerImage: 2,
      scoreHistogram: [0, 0, 0, 0, 0, 0, 2, 0, 2, 0],
    });
    t.match(summary.accuracy.shadowBoxes, { images: 4, matched: 4, aOnly: 4, bOnly: 8 });
    t.ok(Math.abs((summary.accuracy.shadowBoxes?.f1 ?? NaN) - 0.4) < 1e-12, 'F1 0.4');
  },
);
