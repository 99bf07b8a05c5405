// Retention: after many updates the store holds the active bundle, the last-known-good, the
// current target and `store.keepExtraBundles` more, nothing else; orphaned temp files of
// interrupted writes are deleted at start. Real broker, real files.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createAgent } from '../../agent/agent.js';
import type { Agent } from '../../agent/agent.js';
import { agentConfig, waitFor } from '../../harness/agent/agent-env.js';
import { startFakeController } from '../../harness/agent/fake-controller.js';
import { makeAssignment, makeBundle, testKeys } from '../../harness/agent/trust.js';
import type { TestBundle } from '../../harness/agent/trust.js';

for (const keepExtraBundles of [0, 1]) {
  t.test(`keeps active, last-known-good, target and ${keepExtraBundles} more`, async (t) => {
    const keys = testKeys();
    const controller = await startFakeController({ chunkSize: 4096 });
    t.teardown(() => controller.close());
    const bundles = [1, 2, 3, 4, 5].map((sequence) =>
      makeBundle(keys, sequence % 2 ? 'tiny-a' : 'tiny-b', { sequence, variant: sequence }),
    );
    for (const b of bundles) for (const [d, bytes] of b.blobs) controller.blobs.set(d, bytes);
    const config = await agentConfig(keys, controller.url, `dev-keep-${keepExtraBundles}`, {
      store: { keepExtraBundles },
    });
    let agent: Agent = createAgent(config);
    t.teardown(() => agent.stop());
    await agent.start();
    const serving = () => agent.service.models()[0]?.bundleDigest;
    const blobDir = join(config.stateDir, 'blobs');
    const stored = async () => new Set(await readdir(blobDir));
    const has = (set: Set<string>, b: TestBundle) => [...b.blobs.keys()].every((d) => set.has(d));
    // Bundles share their golden file: a dropped bundle's blobs go unless a kept one uses them.
    const none = (set: Set<string>, b: TestBundle, kept: Set<string>) =>
      [...b.blobs.keys()].every((d) => kept.has(d) || !set.has(d));

    for (const [i, b] of bundles.entries()) {
      await controller.assign(
        config.deviceId,
        makeAssignment(keys, config.deviceId, i + 1, [{ name: 'A', bundle: b, weight: 1 }]),
      );
      await waitFor(`bundle ${i + 1} served`, () => serving() === b.digest);
    }
    await agent.whenIdle();
    const st = JSON.parse(await readFile(join(config.stateDir, 'state.json'), 'utf8')) as {
      lastKnownGood: { A?: string };
      recentBundles: string[];
    };
    const last = bundles.at(-1) as TestBundle;
    const keep = new Set([last.digest, ...(st.lastKnownGood.A ? [st.lastKnownGood.A] : [])]);
    for (const d of st.recentBundles.filter((x) => !keep.has(x)).slice(0, keepExtraBundles))
      keep.add(d);
    const keptBlobs = new Set(
      bundles.filter((b) => keep.has(b.digest)).flatMap((b) => [...b.blobs.keys()]),
    );
    const expected = (now: Set<string>, b: TestBundle) =>
      keep.has(b.digest) ? has(now, b) : none(now, b, keptBlobs);
    await waitFor('retention ran', async () => {
      const now = await stored();
      return bundles.every((b) => expected(now, b));
    });
    const now = await stored();
    for (const [i, b] of bundles.entries()) {
      t.ok(expected(now, b), `bundle ${i + 1} ${keep.has(b.digest) ? 'kept' : 'deleted'}`);
    }
    t.equal(
      [...now].filter((n) => !n.startsWith('.')).length,
      keptBlobs.size + 1,
      'the store holds the kept bundles and the assignment, nothing else',
    );
    t.ok(keep.size <= 2 + keepExtraBundles, `${keep.size} bundles kept`);

    // An interrupted write left its temp file; the next start removes it and serves on.
    await agent.stop();
    const orphan = join(blobDir, `.${'e'.repeat(64)}.0123456789ab.tmp`);
    await writeFile(orphan, 'partial');
    agent = createAgent(config);
    await agent.start();
    t.notOk((await stored()).has(orphan.split('/').at(-1) as string), 'orphaned temp file deleted');
    await waitFor('still serving the last bundle', () => serving() === last.digest);
  });
}
