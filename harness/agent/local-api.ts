// The agent's local API on a real socket over the simulator backend (onnxruntime on worker
// threads, host timing): the set-up the serving tests share. Closed with the test.
import type { Test } from 'tap';
import { createSystemClock } from '../../agent/clock.js';
import { createSimSessionPool } from '../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../agent/runtime/sim.js';
import { createLocalApi } from '../../agent/serve/http.js';
import { createServeMetrics } from '../../agent/serve/metrics.js';
import { createInferenceService, type InferenceService } from '../../agent/serve/service.js';

export interface LocalAgentApi {
  readonly service: InferenceService;
  /** `http://127.0.0.1:PORT` */
  readonly address: string;
}

export async function startLocalAgentApi(t: Test): Promise<LocalAgentApi> {
  const clock = createSystemClock();
  const metrics = createServeMetrics({ device: 'dev-1' });
  const service = createInferenceService({
    runtime: createSimBackend({ pool: createSimSessionPool(), clock, timing: 'host' }),
    clock,
    observers: [metrics.observer],
  });
  const app = await createLocalApi({ service, registry: metrics.registry });
  t.teardown(async () => {
    await app.close();
    await service.close();
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { service, address };
}
