// The link's reconnect backoff (agent/sync/backoff.ts, used by agent/sync/link.ts): equal jitter
// under a ceiling that doubles from the base to 30 s, never 0; cases as data. Then a real link on
// a real aedes broker: each reconnect attempt draws its wait from the injected random source.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { Aedes } from 'aedes';
import t from 'tap';
import { linkBackoff, linkRetryDelay } from '../../../agent/sync/backoff.js';
import { createAgentLink } from '../../../agent/sync/link.js';
import { waitFor } from '../../../harness/wait.js';
import { parseDeviceId } from '../../../shared/ids.js';

interface Cases {
  retryDelay: { why: string; baseMs: number; attempt: number; random: number; delayMs: number }[];
  spread: {
    why: string;
    devices: number;
    baseMs: number;
    attempt: number;
    binMs: number;
    maxPerBin: number;
    spanAtLeastMs: number;
  }[];
}
const cases = JSON.parse(
  readFileSync(new URL('../../fixtures/agent/link-backoff-cases.json', import.meta.url), 'utf8'),
) as Cases;

for (const c of cases.retryDelay) {
  t.test(c.why, async (t) => {
    t.equal(linkRetryDelay(linkBackoff(c.baseMs), c.attempt, c.random), c.delayMs);
  });
}

for (const c of cases.spread) {
  t.test(c.why, async (t) => {
    const bins = new Map<number, number>();
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < c.devices; i++) {
      const d = linkRetryDelay(linkBackoff(c.baseMs), c.attempt, i / c.devices);
      const bin = Math.floor(d / c.binMs);
      bins.set(bin, (bins.get(bin) ?? 0) + 1);
      min = Math.min(min, d);
      max = Math.max(max, d);
    }
    t.ok(Math.max(...bins.values()) <= c.maxPerBin, `at most ${c.maxPerBin} per ${c.binMs} ms`);
    t.ok(max - min >= c.spanAtLeastMs, `spread over ${max - min} ms`);
  });
}

t.test('each reconnect attempt draws its wait from the random source', async (t) => {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  let server = createServer((s) => {
    sockets.add(s);
    broker.handle(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  t.teardown(async () => {
    const closed = new Promise((r) => server.close(r));
    for (const s of sockets) s.destroy();
    await closed;
    await new Promise<void>((r) => broker.close(() => r()));
  });
  const draws: number[] = [];
  let onConnects = 0;
  const noop = () => undefined;
  const link = createAgentLink({
    url: `mqtt://127.0.0.1:${port}`,
    deviceId: parseDeviceId('dev-backoff'),
    protocolVersion: 4,
    reconnectMs: 50,
    random: () => {
      draws.push(draws.length);
      return 0.5;
    },
    onConnect: () => void onConnects++,
    handlers: { assignment: noop, blobOffer: noop, blobChunk: noop, command: noop },
  });
  t.teardown(() => link.close());
  await waitFor('first onConnect', () => onConnects === 1, 20_000);
  t.equal(draws.length, 0, 'no wait drawn while connected');

  // The broker goes away: every failed attempt draws the next wait.
  const closed = new Promise((r) => server.close(r));
  for (const s of sockets) s.destroy();
  await closed;
  await waitFor('three waits drawn while the broker is down', () => draws.length >= 3, 20_000);
  t.equal(link.connected(), false);

  server = createServer((s) => {
    sockets.add(s);
    broker.handle(s);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  await waitFor('onConnect after the broker is back', () => onConnects === 2, 30_000);
  t.ok(link.connected());
});
