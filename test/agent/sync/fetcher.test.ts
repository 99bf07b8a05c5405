// Chunked fetch over a real broker: resume from the bitmap, skip stored blobs, refuse a blob
// larger than declared.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createSystemClock } from '../../../agent/clock.js';
import { createBlobStore } from '../../../agent/store/blob-store.js';
import { openPartial } from '../../../agent/store/partial.js';
import { createBlobFetcher } from '../../../agent/sync/fetcher.js';
import { createAgentLink } from '../../../agent/sync/link.js';
import { waitFor } from '../../../harness/agent/agent-env.js';
import { startFakeController } from '../../../harness/agent/fake-controller.js';
import { sha256, tinyBmodel } from '../../../harness/agent/models.js';
import { parseDigest, parseDeviceId } from '../../../shared/ids.js';

t.test('fetcher: resume, skip stored, refuse oversize', async (t) => {
  const controller = await startFakeController({ chunkSize: 500 });
  t.teardown(() => controller.close());
  const blob = tinyBmodel('tiny-a', 'BM1684X', 77);
  const digest = sha256(blob);
  controller.blobs.set(digest, blob);
  const dir = await mkdtemp(join(tmpdir(), 'bmf-fetch-'));
  const store = await createBlobStore(join(dir, 'blobs'));
  const partialDir = join(dir, 'partial');
  let connected = false;
  const ref: { fetcher?: ReturnType<typeof createBlobFetcher> } = {};
  const link = createAgentLink({
    url: controller.url,
    deviceId: parseDeviceId('dev-f'),
    protocolVersion: 4,
    handlers: {
      assignment: () => undefined,
      command: () => undefined,
      blobOffer: (m) => ref.fetcher?.handleOffer(m),
      blobChunk: (m) => ref.fetcher?.handleChunk(m),
    },
    onConnect: () => (connected = true),
  });
  t.teardown(() => link.close());
  await waitFor('connected', () => connected);
  const bad: string[] = [];
  const fetcher = createBlobFetcher({
    link,
    store,
    partialDir,
    clock: createSystemClock(),
    maxInFlight: 4,
    requestTimeoutMs: 300,
    onBadInput: (e) => bad.push(e.code),
  });
  ref.fetcher = fetcher;

  // A transfer that got chunks 0..2 before a restart: only the rest is asked for.
  const chunks = Math.ceil(blob.length / 500);
  const table = {
    digest,
    size: blob.length,
    chunkSize: 500,
    chunkHashes: Array.from({ length: chunks }, (_, i) =>
      sha256(blob.subarray(i * 500, (i + 1) * 500)),
    ),
  };
  const early = await openPartial(store, partialDir, table);
  for (const i of [0, 1, 2]) await early.writeChunk(i, blob.subarray(i * 500, (i + 1) * 500));
  await early.close();

  await t.rejects(fetcher.fetch(digest, blob.length - 1, AbortSignal.timeout(10_000)), {
    code: 'BMF_ERR_TRUST_SIZE_MISMATCH',
  });
  t.same(bad, ['BMF_ERR_TRUST_SIZE_MISMATCH'], 'reported as bad input');
  t.equal(await store.has(digest), false);

  await fetcher.fetch(digest, blob.length, AbortSignal.timeout(10_000));
  t.equal(await store.has(digest), true);
  const asked = new Set(controller.chunkRequests.flatMap((r) => r.indices));
  t.same(
    [...asked].sort((a, b) => a - b),
    Array.from({ length: chunks - 3 }, (_, i) => i + 3),
    'resumed from the bitmap',
  );
  t.ok(
    controller.chunkRequests.some((r) => r.indices.length > 1),
    'several chunks in flight',
  );

  const before = controller.chunkRequests.length;
  await fetcher.fetch(digest, blob.length, AbortSignal.timeout(10_000));
  t.equal(controller.chunkRequests.length, before, 'a stored blob is not fetched again');

  await t.rejects(
    fetcher.fetch(parseDigest('f'.repeat(64)), undefined, AbortSignal.timeout(10_000)),
    {
      code: 'BMF_ERR_AGENT_FETCH',
    },
  );
});
