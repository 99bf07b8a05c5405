// HTTP Range download of blob chunks against the real controller parts: a fastify server running
// controller/distribution/http.ts over a real registry, and the real blob server answering the
// MQTT offer (and the chunks HTTP could not deliver) through the embedded broker. A test-only
// onSend hook on the server tampers with chosen responses.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import Fastify from 'fastify';
import t from 'tap';
import type { Test } from 'tap';
import { createSystemClock } from '../../../agent/clock.js';
import { createBlobStore } from '../../../agent/store/blob-store.js';
import { openPartial } from '../../../agent/store/partial.js';
import { createBlobFetcher } from '../../../agent/sync/fetcher.js';
import type { BlobFetcher } from '../../../agent/sync/fetcher.js';
import { createHttpChunkSource } from '../../../agent/sync/http-chunks.js';
import type { HttpChunkSourceOptions } from '../../../agent/sync/http-chunks.js';
import { createAgentLink } from '../../../agent/sync/link.js';
import { AgentConfigSchema } from '../../../agent/config.js';
import { validateConfig } from '../../../shared/config/load.js';
import { installErrorHandling } from '../../../controller/api/errors.js';
import { blobDownloadRoutes } from '../../../controller/distribution/http.js';
import type { BmfError } from '../../../shared/errors.js';
import { startSlice } from '../../controller/distribution/harness.js';
import { waitFor } from '../../../harness/agent/agent-env.js';
import { sha256 } from '../../../harness/agent/models.js';
import { parseDeviceId } from '../../../shared/ids.js';

const CHUNK = 16 * 1024;
const DEVICE = 'dev-1';

type Alter = (index: number, payload: Readable) => Promise<unknown>;

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

t.test('agent fetch over HTTP Range', async (t) => {
  const s = await startSlice(t, { chunkSize: CHUNK, devices: [[DEVICE, 'bm1684x']] });
  await s.assignments.assignBundle(DEVICE, s.bundle.digest, 'test');
  const blob = s.bundle.bmodel;
  const digest = s.bundle.bmodelSha256;
  const count = Math.ceil(blob.length / CHUNK);
  const secret = s.secrets.get(DEVICE) ?? '';

  // The server: the controller's route, plus recording and a per-case tamper hook.
  const server = {
    ranges: [] as number[],
    inFlight: 0,
    maxInFlight: 0,
    alter: undefined as Alter | undefined,
  };
  const indexOf = (req: FastifyRequest): number =>
    Number(/^bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? -1) / CHUNK;
  // Mounted as the API mounts it: errors through the API's one error handler and shape.
  const app = Fastify();
  installErrorHandling(app);
  app.addHook('onRequest', async (req) => {
    server.ranges.push(indexOf(req));
    server.maxInFlight = Math.max(server.maxInFlight, ++server.inFlight);
  });
  app.addHook('onResponse', async () => void server.inFlight--);
  app.addHook('onSend', async (req, reply, payload) => {
    if (!server.alter || reply.statusCode !== 206) return payload;
    const altered = await server.alter(indexOf(req), payload as Readable);
    if (altered === undefined) return payload;
    if (altered instanceof Readable) void reply.removeHeader('content-length');
    return altered;
  });
  await app.register(blobDownloadRoutes, {
    registry: s.registry,
    devices: s.repo,
    assignments: s.assignments,
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());

  // The agent side: its MQTT link to the real broker and a fetcher per case.
  const ref: { fetcher?: BlobFetcher } = {};
  // Which chunks reached the agent over MQTT in the current case. The blob server's count of
  // chunks sent is only a lower bound: a request the fetcher gives up on after requestTimeoutMs
  // (a loaded machine) is asked again, so a chunk may be sent twice. Which chunks came is exact.
  const mqttIndices = new Set<number>();
  let mqttReceived = 0;
  let connected = false;
  const link = createAgentLink({
    url: s.url,
    deviceId: parseDeviceId(DEVICE),
    username: DEVICE,
    password: secret,
    protocolVersion: 4,
    handlers: {
      assignment: () => undefined,
      command: () => undefined,
      blobOffer: (m) => ref.fetcher?.handleOffer(m),
      blobChunk: (m) => {
        mqttIndices.add(m.index);
        mqttReceived++;
        ref.fetcher?.handleChunk(m);
      },
    },
    onConnect: () => (connected = true),
  });
  t.teardown(() => link.close());
  await waitFor('connected', () => connected);
  const mqttChunks = (): number => s.blobs.stats().perDevice.chunks;
  const range = (from: number, to: number): number[] =>
    Array.from({ length: to - from }, (_, i) => from + i);
  /** Chunks `want` (sorted) came over MQTT: each at least once, no other chunk. */
  const cameOverMqtt = (t: Test, r: { mqttBefore: number }, want: number[], what: string) => {
    t.same(
      [...mqttIndices].sort((a, b) => a - b),
      want,
      what,
    );
    const sent = mqttChunks() - r.mqttBefore;
    t.ok(sent >= want.length, `the server sent ${sent} chunks (re-asked ones twice)`);
  };

  async function rig(http: Partial<HttpChunkSourceOptions> = {}) {
    const dir = await mkdtemp(join(tmpdir(), 'bmf-http-chunks-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const store = await createBlobStore(join(dir, 'blobs'));
    const partialDir = join(dir, 'partial');
    const bad: BmfError[] = [];
    const logs: string[] = [];
    const clock = createSystemClock();
    const chunkSource = createHttpChunkSource({
      url: base,
      username: DEVICE,
      password: secret,
      clock,
      maxInFlight: 3,
      timeoutMs: 5000,
      onBadInput: (e) => bad.push(e),
      log: (m) => logs.push(m),
      ...http,
    });
    const fetcher = createBlobFetcher({
      link,
      store,
      partialDir,
      clock,
      maxInFlight: 4,
      requestTimeoutMs: 300,
      onBadInput: (e) => bad.push(e),
      chunkSource,
    });
    ref.fetcher = fetcher;
    server.ranges = [];
    server.maxInFlight = 0;
    server.alter = undefined;
    // A chunk re-sent for the previous case must not count for this one.
    await waitFor('chunks already sent delivered', () => mqttReceived >= mqttChunks());
    mqttIndices.clear();
    return { store, partialDir, fetcher, bad, logs, mqttBefore: mqttChunks() };
  }

  const table = {
    digest,
    size: blob.length,
    chunkSize: CHUNK,
    chunkHashes: Array.from({ length: count }, (_, i) =>
      sha256(blob.subarray(i * CHUNK, (i + 1) * CHUNK)),
    ),
  };

  await t.test('a whole blob over HTTP, several ranges in flight, none over MQTT', async (t) => {
    const r = await rig();
    await r.fetcher.fetch(digest, blob.length, AbortSignal.timeout(20_000));
    t.equal(sha256(await r.store.read(digest)), digest, 'stored and hash-checked');
    t.same([...mqttIndices], [], 'no chunk came over MQTT');
    t.same(
      [...server.ranges].sort((a, b) => a - b),
      Array.from({ length: count }, (_, i) => i),
      'each chunk asked for once by range',
    );
    t.ok(server.maxInFlight > 1, `several requests in flight (${server.maxInFlight})`);
    t.ok(server.maxInFlight <= 3, 'bounded by maxInFlight');
    t.same(r.bad, [], 'nothing reported');
  });

  await t.test('an abort midway keeps the written chunks; the next fetch resumes', async (t) => {
    const r = await rig({ maxInFlight: 2 });
    const stop = new AbortController();
    let served = 0;
    server.alter = async () => {
      if (++served === 6) stop.abort(new Error('stopped by the test'));
      return undefined;
    };
    await t.rejects(r.fetcher.fetch(digest, blob.length, stop.signal), /stopped by the test/);
    t.equal(await r.store.has(digest), false, 'not in the store');
    const partial = await openPartial(r.store, r.partialDir, table);
    const missing = partial.missing();
    await partial.close();
    t.ok(missing.length > 0 && missing.length < count, `${count - missing.length} chunks kept`);

    server.alter = undefined;
    server.ranges = [];
    await r.fetcher.fetch(digest, blob.length, AbortSignal.timeout(20_000));
    t.same(
      [...server.ranges].sort((a, b) => a - b),
      missing,
      'only the missing chunks were asked for',
    );
    t.equal(sha256(await r.store.read(digest)), digest, 'complete after the resume');
    t.same([...mqttIndices], [], 'no chunk came over MQTT');
  });

  await t.test('a tampered chunk is reported, discarded and fetched over MQTT', async (t) => {
    const r = await rig();
    server.alter = async (index, payload) => {
      if (index !== 3) return undefined;
      const bytes = await readAll(payload);
      bytes[0] = (bytes[0] ?? 0) ^ 0xff;
      return bytes;
    };
    await r.fetcher.fetch(digest, blob.length, AbortSignal.timeout(20_000));
    t.same(
      r.bad.map((e) => [e.code, e.details.index]),
      [['BMF_ERR_AGENT_CHUNK_HASH', 3]],
      'reported as a tampered chunk',
    );
    cameOverMqtt(t, r, [3], 'that one chunk came over MQTT');
    t.equal(sha256(await r.store.read(digest)), digest, 'stored blob is intact');
  });

  await t.test('a body longer than the range is cut off and rejected', async (t) => {
    const r = await rig();
    server.alter = async (index, payload) => {
      if (index !== 5) return undefined;
      const bytes = await readAll(payload);
      // Endless data: the declared range, then more, with no Content-Length to warn the client.
      return Readable.from([bytes, Buffer.alloc(CHUNK * 4, 7)]);
    };
    await r.fetcher.fetch(digest, blob.length, AbortSignal.timeout(20_000));
    t.same(
      r.bad.map((e) => [e.code, e.details.path]),
      [['BMF_ERR_TRUST_SIZE_MISMATCH', `${digest}#5`]],
      'reported as oversize',
    );
    t.match(r.bad[0]?.details.reason, /longer than the range/, 'cut while streaming');
    cameOverMqtt(t, r, [5], 'that one chunk came over MQTT');
    t.equal(sha256(await r.store.read(digest)), digest, 'stored blob is intact');
  });

  await t.test('wrong credentials: 401 reported, the blob comes over MQTT', async (t) => {
    const r = await rig({ password: 'not-the-secret' });
    await r.fetcher.fetch(digest, blob.length, AbortSignal.timeout(20_000));
    t.same(
      r.bad.map((e) => [e.code, e.details.source, e.details.status]),
      [['BMF_ERR_AGENT_FETCH', 'http', 401]],
      'one refusal reported',
    );
    cameOverMqtt(t, r, range(0, count), 'every chunk came over MQTT');
    t.equal(sha256(await r.store.read(digest)), digest, 'stored');
  });

  await t.test('a server error ends the HTTP pass quietly; MQTT fetches the rest', async (t) => {
    const r = await rig({ maxInFlight: 1 });
    server.alter = async (index) => {
      if (index === 2) throw new Error('disk on fire');
      return undefined;
    };
    await r.fetcher.fetch(digest, blob.length, AbortSignal.timeout(20_000));
    t.same(r.bad, [], 'an outage is not bad input');
    t.match(r.logs, [/HTTP 500/], 'logged');
    cameOverMqtt(t, r, range(2, count), 'chunks 0 and 1 came over HTTP, the rest over MQTT');
    t.equal(sha256(await r.store.read(digest)), digest, 'stored');
  });

  await t.test('connection refused: falls back to MQTT without reporting', async (t) => {
    const closed = Fastify();
    const deadUrl = await closed.listen({ host: '127.0.0.1', port: 0 });
    await closed.close();
    const r = await rig({ url: deadUrl });
    await r.fetcher.fetch(digest, blob.length, AbortSignal.timeout(20_000));
    t.same(r.bad, [], 'nothing reported');
    t.match(r.logs, [/ECONNREFUSED/], 'logged');
    cameOverMqtt(t, r, range(0, count), 'every chunk came over MQTT');
    t.equal(sha256(await r.store.read(digest)), digest, 'stored');
  });
});

t.test('config: fetch.http is optional, with defaults and a checked URL', async (t) => {
  const base = { deviceId: 'cam-1', chip: 'bm1684x', stateDir: '/tmp/x', rootFile: 'root.json' };
  t.equal(validateConfig(AgentConfigSchema, base).fetch.http, undefined, 'off by default');
  const on = validateConfig(AgentConfigSchema, {
    ...base,
    fetch: { http: { url: 'http://controller:8480' } },
  });
  t.same(on.fetch.http, { url: 'http://controller:8480', maxInFlight: 4, timeoutMs: 30_000 });
  t.throws(
    () => validateConfig(AgentConfigSchema, { ...base, fetch: { http: { url: 'ftp://c' } } }),
    { code: 'BMF_ERR_CONFIG_INVALID' },
  );
});
