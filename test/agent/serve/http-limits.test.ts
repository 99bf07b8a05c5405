// The local API bounds what request bodies can hold in memory: a body above the size limit is
// refused with 413 before it is read, and beyond the concurrent-body limit a request gets 503
// BMF_ERR_AGENT_BUSY before a byte of its body is buffered; slots free when clients go away.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import t from 'tap';
import { createSystemClock } from '../../../agent/clock.js';
import { createSimSessionPool } from '../../../agent/runtime/session-pool.js';
import { createSimBackend } from '../../../agent/runtime/sim.js';
import { createLocalApi } from '../../../agent/serve/http.js';
import { createServeMetrics } from '../../../agent/serve/metrics.js';
import { createInferenceService } from '../../../agent/serve/service.js';
import { waitFor } from '../../../harness/agent/agent-env.js';

t.test('body size and concurrent bodies are capped with typed errors', async (t) => {
  const clock = createSystemClock();
  const metrics = createServeMetrics({ device: 'dev-1' });
  const service = createInferenceService({
    runtime: createSimBackend({ pool: createSimSessionPool(), clock, timing: 'host' }),
    clock,
    observers: [metrics.observer],
  });
  const limit = 1 << 20;
  const app = await createLocalApi({
    service,
    registry: metrics.registry,
    bodyLimit: limit,
    maxConcurrentBodies: 2,
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const url = new URL(address);
  const held: Socket[] = [];
  t.teardown(async () => {
    for (const s of held) s.destroy();
    await app.close();
    await service.close();
  });
  const post = (body: Uint8Array) =>
    fetch(`${address}/v1/infer`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream' },
    });
  const codeOf = async (r: Response) =>
    ((await r.json()) as { error: { code: string } }).error.code;

  // Two clients announce 1 MiB bodies and send only the start: both hold a body slot.
  for (let i = 0; i < 2; i++) {
    const s = connect(Number(url.port), url.hostname);
    held.push(s);
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write(
      `POST /v1/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: ${limit}\r\n\r\n`,
    );
    s.write(Buffer.alloc(1024));
  }
  await waitFor('both slots taken', async () => (await post(new Uint8Array(10))).status === 503);
  const busy = await post(new Uint8Array(10));
  t.equal(busy.status, 503);
  t.equal(await codeOf(busy), 'BMF_ERR_AGENT_BUSY', 'a third body is refused');
  t.equal((await fetch(`${address}/healthz`)).status, 200, 'requests without a body still pass');

  for (const s of held) s.destroy();
  await waitFor('slots freed', async () => {
    const r = await post(new Uint8Array(10));
    return (await codeOf(r)) !== 'BMF_ERR_AGENT_BUSY';
  });
  t.pass('slots are released when the clients go away');
  const big = await post(new Uint8Array(limit + 1));
  t.equal(big.status, 413);
  t.equal(await codeOf(big), 'BMF_ERR_BODY_TOO_LARGE', 'above the size limit');
});
