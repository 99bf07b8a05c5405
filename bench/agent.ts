// Agent benchmark: in-process inference overhead against a bare onnxruntime-node session on the
// same model and input, the HTTP path's added p50, and RSS. Model: the tiny classifier fixture
// (test/fixtures/agent/tiny-a.onnx, 1x3x8x8 -> 4) until examples/mobilenetv2 exists; with a model
// this small the agent's fixed per-request cost dominates, so the ratio is a worst case.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { createSystemClock } from '../agent/clock.js';
import { createSimSessionPool } from '../agent/runtime/session-pool.js';
import { createSimBackend } from '../agent/runtime/sim.js';
import { createLocalApi } from '../agent/serve/http.js';
import { createServeMetrics } from '../agent/serve/metrics.js';
import { createInferenceService } from '../agent/serve/service.js';
import { writeBmodel } from '../shared/bmodel/write.js';

const N = 3000;

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function time(n: number, f: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 200; i++) await f();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    out.push(performance.now() - t0);
  }
  return out;
}

export async function run(): Promise<void> {
  const rssEmpty = process.memoryUsage().rss;
  const onnx = readFileSync(new URL('../test/fixtures/agent/tiny-a.onnx', import.meta.url));
  const bmodel = writeBmodel({
    chip: 'BM1684X',
    nets: [
      {
        name: 'tiny',
        stages: [
          {
            inputs: [{ name: 'input', dtype: 'FP32', shape: [1, 3, 8, 8] }],
            outputs: [{ name: 'logits', dtype: 'FP32', shape: [1, 4] }],
          },
        ],
      },
    ],
    simulator: { payload: onnx },
  });
  const data = Float32Array.from({ length: 192 }, (_, i) => Math.sin(i));
  const bare = await ort.InferenceSession.create(onnx, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const bareMs = await time(N, () =>
    bare.run({ input: new ort.Tensor('float32', data, [1, 3, 8, 8]) }),
  );

  const clock = createSystemClock();
  const metrics = createServeMetrics();
  const service = createInferenceService({
    runtime: createSimBackend({ pool: createSimSessionPool(), clock, timing: 'host' }),
    clock,
    observers: [metrics.observer],
  });
  await service.variants.install('A', {
    bundleDigest: 'bench',
    version: 'bench',
    bmodel,
    bmodelDigest: createHash('sha256').update(bmodel).digest('hex'),
  });
  const feeds = { input: { dtype: 'float32' as const, shape: [1, 3, 8, 8], data } };
  const agentMs = await time(N, () => service.infer({ kind: 'tensor', feeds }));

  const app = await createLocalApi({ service, registry: metrics.registry });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const body = JSON.stringify({
    inputs: { input: { dtype: 'float32', shape: [1, 3, 8, 8], data: Array.from(data) } },
  });
  const httpMs = await time(1000, () =>
    fetch(`${address}/v1/infer`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    }).then((r) => r.json()),
  );
  const rssModel = process.memoryUsage().rss;
  await app.close();
  await service.close();
  await bare.release();

  const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
  console.log(`model: tiny-a fixture (${bmodel.length} B BMODEL), batch 1, ${N} runs each`);
  console.log(`bare onnxruntime p50 ${p50(bareMs).toFixed(4)} ms`);
  console.log(
    `agent in-process p50 ${p50(agentMs).toFixed(4)} ms  ratio ${(p50(agentMs) / p50(bareMs)).toFixed(2)}x (target <= 1.10x)`,
  );
  console.log(
    `HTTP loopback p50 ${p50(httpMs).toFixed(4)} ms  adds ${(p50(httpMs) - p50(agentMs)).toFixed(4)} ms (target <= 1 ms)`,
  );
  console.log(`RSS before model ${mb(rssEmpty)} MB, with model and API ${mb(rssModel)} MB`);
}
