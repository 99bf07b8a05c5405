import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createBlobStore, sha256Hex } from '../../../agent/store/blob-store.js';
import { openPartial } from '../../../agent/store/partial.js';
import type { ChunkTable } from '../../../agent/store/partial.js';
import { EMPTY_STATE, createStateFile } from '../../../agent/store/state.js';
import { tinyBmodel } from '../../../harness/agent/models.js';
import { parseDigest } from '../../../shared/ids.js';

const blob = tinyBmodel('tiny-a');
const CHUNK = 1000;
const chunks = Array.from({ length: Math.ceil(blob.length / CHUNK) }, (_, i) =>
  blob.subarray(i * CHUNK, (i + 1) * CHUNK),
);
const table: ChunkTable = {
  digest: sha256Hex(blob),
  size: blob.length,
  chunkSize: CHUNK,
  chunkHashes: chunks.map(sha256Hex),
};

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'bmf-agent-store-'));
}

t.test('blobs are stored under their sha256 and re-hashed on read', async (t) => {
  const dir = await tempDir();
  const store = await createBlobStore(join(dir, 'blobs'));
  const digest = await store.put(blob);
  t.equal(digest, table.digest);
  t.equal(await store.has(digest), true);
  t.ok(Buffer.from(await store.read(digest)).equals(blob), 'bytes round trip');
  t.same(await store.list(), [digest]);
  await t.rejects(store.put(blob, parseDigest('0'.repeat(64))), {
    code: 'BMF_ERR_TRUST_HASH_MISMATCH',
  });
  await writeFile(store.pathOf(digest), 'rotten');
  await t.rejects(store.read(digest), { code: 'BMF_ERR_TRUST_HASH_MISMATCH' });
  t.throws(
    () => store.pathOf('../etc/passwd' as never), // a name that bypassed the types
    { code: 'BMF_ERR_AGENT_STORE' },
  );
});

t.test('chunked transfer: verify each chunk, skip duplicates, resume after restart', async (t) => {
  const dir = await tempDir();
  const store = await createBlobStore(join(dir, 'blobs'));
  const partialDir = join(dir, 'partial');
  t.ok(chunks.length >= 3, `${chunks.length} chunks`);
  const first = await openPartial(store, partialDir, table);
  t.equal(await first.writeChunk(2, chunks[2] ?? new Uint8Array()), 'written');
  t.equal(
    await first.writeChunk(2, chunks[2] ?? new Uint8Array()),
    'duplicate',
    'broadcast duplicate skipped',
  );
  const tampered = Uint8Array.from(chunks[0] ?? []);
  tampered[0] = (tampered[0] ?? 0) ^ 1;
  await t.rejects(first.writeChunk(0, tampered), { code: 'BMF_ERR_AGENT_CHUNK_HASH' });
  await t.rejects(first.writeChunk(0, new Uint8Array(5)), { code: 'BMF_ERR_TRUST_SIZE_MISMATCH' });
  await t.rejects(first.writeChunk(99, new Uint8Array(5)), { code: 'BMF_ERR_AGENT_FETCH' });
  t.equal(first.has(0), false, 'rejected chunks leave the bitmap untouched');
  await t.rejects(first.complete(), { code: 'BMF_ERR_AGENT_FETCH' });
  await first.close();

  const resumed = await openPartial(store, partialDir, table); // as after a restart
  t.same(
    resumed.missing(),
    chunks.map((_, i) => i).filter((i) => i !== 2),
    'bitmap survived',
  );
  for (const i of resumed.missing()) await resumed.writeChunk(i, chunks[i] ?? new Uint8Array());
  t.equal(await resumed.complete(), table.digest);
  t.ok(
    Buffer.from(await store.read(table.digest)).equals(blob),
    'assembled blob equals the original',
  );
});

t.test('a bitmap without its data file is not trusted', async (t) => {
  const dir = await tempDir();
  const store = await createBlobStore(join(dir, 'blobs'));
  const p = await openPartial(store, join(dir, 'partial'), table);
  await p.writeChunk(0, chunks[0] ?? new Uint8Array());
  await p.close();
  await writeFile(join(dir, 'partial', `${table.digest}.part`), new Uint8Array(3));
  const again = await openPartial(store, join(dir, 'partial'), table);
  t.equal(again.has(0), false);
  await again.close();
});

t.test('state file: empty when absent, round trip, typed error when corrupt', async (t) => {
  const dir = await tempDir();
  const state = createStateFile(dir);
  t.same(await state.load(), EMPTY_STATE);
  const next = {
    ...EMPTY_STATE,
    installedSequence: 7,
    active: { A: table.digest },
    lastKnownGood: { A: table.digest },
  };
  await state.save(next);
  t.same(await state.load(), next);
  t.match(await readFile(join(dir, 'state.json'), 'utf8'), /"installedSequence": 7/);
  await writeFile(
    join(dir, 'state.json'),
    '{"version":1,"installedSequence":-1,"active":{},"lastKnownGood":{}}',
  );
  await t.rejects(state.load(), { code: 'BMF_ERR_AGENT_STORE' });
  await writeFile(join(dir, 'state.json'), '{');
  await t.rejects(state.load(), { code: 'BMF_ERR_AGENT_STORE' });
});

t.test('state file: a malformed digest anywhere is refused when read, naming where', async (t) => {
  const dir = await tempDir();
  const state = createStateFile(dir);
  const good = table.digest;
  // Each holds a digest the agent would act on: serve it, fetch it, or delete blobs by it.
  const cases: [string, Record<string, unknown>][] = [
    ['/active/A', { active: { A: good.toUpperCase() } }],
    ['/lastKnownGood/B', { lastKnownGood: { B: '../../etc/passwd' } }],
    ['/assignment', { assignment: good.slice(1) }],
    ['/recentBundles/1', { recentBundles: [good, 'x'] }],
    ['/manifestBlobs/', { manifestBlobs: { [good]: `${good}0` } }],
  ];
  for (const [where, change] of cases) {
    await writeFile(join(dir, 'state.json'), JSON.stringify({ ...EMPTY_STATE, ...change }));
    const e = await state.load().then(
      () => undefined,
      (err: unknown) => err,
    );
    t.match(e, { code: 'BMF_ERR_AGENT_STORE' }, `${where}: typed error`);
    t.match((e as Error | undefined)?.message, where, `${where}: the error says where`);
  }
  await writeFile(join(dir, 'state.json'), JSON.stringify({ ...EMPTY_STATE, active: { A: good } }));
  t.equal((await state.load()).active.A, good, 'a well-formed one reads back as the Digest');
});
