import t from 'tap';
import { join } from 'node:path';
import { decodeMessage } from '../../../shared/wire/codec.js';
import { deviceTopic } from '../../../shared/wire/topics.js';
import { verifyAssignment } from '../../../shared/trust/verify.js';
import type { Assignment } from '../../../shared/trust/assignment.js';
import { makeBundle, NOW } from '../registry/make-bundle.js';
import { waitFor } from '../../../harness/wait.js';
import { startSlice } from './harness.js';
import { parseDigest, type Digest } from '../../../shared/ids.js';

t.test('signed, retained, strictly increasing assignments over a real broker', async (t) => {
  const s = await startSlice(t, {
    devices: [
      ['dev-1', 'bm1684x'],
      ['dev-88', 'bm1688'],
    ],
  });
  const b2 = await makeBundle(s.ks, join(s.dir, 'b2'), { version: '1.1.0', sequence: 2 });
  await s.registry.importBundleDir(b2.dir);

  const first = await s.assignments.assign('dev-1', {
    variants: [
      { name: 'A', bundle: s.bundle.digest, weight: 9 },
      { name: 'B', bundle: b2.digest, weight: 1 },
    ],
    split: 'sticky',
    shadowRate: 0.1,
    reason: 'experiment',
  });
  t.equal(first.assignment.sequence, 1);

  // The device connects later and gets the retained assignment from the broker.
  const dev = await s.connectDevice('dev-1');
  const got: Assignment[] = [];
  let lastBytes = '';
  let duplicates = 0;
  dev.on('message', (_topic, payload) => {
    const m = decodeMessage('SignedAssignment', new Uint8Array(payload));
    // An idempotent re-assign republishes the identical envelope; a device ignores it.
    const bytes = Buffer.from(m.envelope).toString('hex');
    if (bytes === lastBytes) {
      duplicates++;
      return;
    }
    lastBytes = bytes;
    const envelope = JSON.parse(Buffer.from(m.envelope).toString('utf8')) as unknown;
    const v = verifyAssignment({
      root: s.root,
      envelope,
      deviceId: 'dev-1',
      installedSequence: got.at(-1)?.sequence,
      now: new Date(NOW + 2000),
    });
    got.push(v.assignment);
  });
  await dev.subscribeAsync(deviceTopic('assignment', 'dev-1'), { qos: 1 });
  await waitFor('retained assignment', () => got.length === 1);
  t.same(
    got[0]?.variants.map((v) => [v.name, v.bundle.digest, v.bundle.sequence, v.weight]),
    [
      ['A', s.bundle.digest, 1, 9],
      ['B', b2.digest, 2, 1],
    ],
    'variants carry bundle digest and sequence',
  );
  t.same(got[0]?.health, { maxErrorRate: 0.05, maxP95Ms: 200, windowS: 60 }, 'default health');

  await s.assignments.assignBundle('dev-1', b2.digest, 'rollout r1: start');
  await waitFor('second assignment', () => got.length === 2);
  t.equal(got[1]?.sequence, 2, 'sequence above the previous one (verifyAssignment enforces it)');
  await s.assignments.assignBundle('dev-1', b2.digest, 'rollout r1: resume');
  t.equal(
    (await s.assignments.latest('dev-1'))?.assignment.sequence,
    2,
    'same content: no new sequence',
  );
  t.equal((await s.assignments.latest('dev-1'))?.reason, 'rollout r1: start');
  await waitFor('identical republish', () => duplicates === 1);
  t.same(
    got[1]?.variants[0]?.bundle.manifest,
    (await s.registry.requireBundle(b2.digest)).manifestBlob,
    'the signed assignment names the manifest blob and its size',
  );
  t.notOk(got[1]?.allowDowngrade, 'no downgrade permission on a rollout start');
  await s.assignments.assignBundle('dev-1', s.bundle.digest, 'rollout r1: rollback', {
    allowDowngrade: true,
  });
  await waitFor('rollback assignment', () => got.length >= 3);
  t.equal(got.at(-1)?.sequence, 3, 'rollback gets a new, higher sequence');
  t.equal(got.at(-1)?.variants[0]?.bundle.digest, s.bundle.digest);
  t.equal(got.at(-1)?.allowDowngrade, true, 'a rollback carries the signed downgrade permission');

  await t.rejects(s.assignments.assignBundle('nobody', s.bundle.digest, 'x'), {
    code: 'BMF_ERR_NOT_FOUND',
  });
  await t.rejects(s.assignments.assignBundle('dev-1', parseDigest('f'.repeat(64)), 'x'), {
    code: 'BMF_ERR_NOT_FOUND',
  });
  await t.rejects(s.assignments.assignBundle('dev-88', s.bundle.digest, 'x'), {
    code: 'BMF_ERR_TRUST_CHIP_MISMATCH',
  });
  t.equal(await s.assignments.latest('dev-88'), undefined, 'nothing signed or stored on refusal');
});

t.test(
  'a device reporting a higher sequence (restored database) is assigned above it',
  async (t) => {
    const s = await startSlice(t);
    s.repo.setState('dev-1', { deviceId: 'dev-1', assignmentSequence: 41 }, {}, s.clock.wallNow());
    const a = await s.assignments.assignBundle('dev-1', s.bundle.digest, 'r');
    t.equal(a, undefined);
    t.equal((await s.assignments.latest('dev-1'))?.assignment.sequence, 42);
  },
);

t.test(
  'republishAll repairs a broker that lost retained messages; renews near expiry',
  async (t) => {
    const s = await startSlice(t);
    await s.assignments.assignBundle('dev-1', s.bundle.digest, 'r');
    // Wipe the retained message (an empty retained publish clears it, MQTT 3.1.1 section 3.3.1.3).
    await s.link.publish(deviceTopic('assignment', 'dev-1'), new Uint8Array(0), {
      qos: 1,
      retain: true,
    });
    t.same(await s.assignments.republishAll(), { republished: 1, renewed: 0 });
    const dev = await s.connectDevice('dev-1');
    const seqs: number[] = [];
    dev.on('message', (_t, p) => {
      const m = decodeMessage('SignedAssignment', new Uint8Array(p));
      seqs.push(
        (JSON.parse(Buffer.from(m.envelope).toString()) as { signed: Assignment }).signed.sequence,
      );
    });
    await dev.subscribeAsync(deviceTopic('assignment', 'dev-1'), { qos: 1 });
    await waitFor('republished assignment', () => seqs.length === 1);
    t.same(seqs, [1]);

    s.advance(5 * 86_400_000); // more than half of the 7-day lifetime
    t.same(await s.assignments.republishAll(), { republished: 0, renewed: 1 });
    await waitFor('renewed assignment', () => seqs.length === 2);
    t.same(seqs, [1, 2], 'renewal is a new sequence');
  },
);

t.test(
  'assignments issued at once share one commit; each still gets its own sequence',
  async (t) => {
    const ids = ['a1', 'a2', 'a3', 'a4', 'a5'];
    const s = await startSlice(t, {
      devices: ids.map((id) => [id, 'bm1684x'] as [string, string]),
    });
    const b2 = await makeBundle(s.ks, join(s.dir, 'b2'), { version: '1.1.0', sequence: 2 });
    await s.registry.importBundleDir(b2.dir);
    const req = (bundle: Digest) => ({
      variants: [{ name: 'A', bundle, weight: 1 }],
      split: 'weighted' as const,
      shadowRate: 0,
    });
    // Two for the same device in the same turn, plus one per other device.
    const out = await Promise.all([
      s.assignments.assign('a1', req(s.bundle.digest)),
      s.assignments.assign('a1', req(b2.digest)),
      ...ids.slice(1).map((id) => s.assignments.assign(id, req(s.bundle.digest))),
    ]);
    t.same(
      out.map((o) => o.assignment.sequence),
      [1, 2, 1, 1, 1, 1],
      'per-device sequences, in call order',
    );
    t.equal((await s.assignments.latest('a1'))?.assignment.variants[0]?.bundle.digest, b2.digest);
    // One bad request in the batch fails alone.
    const results = await Promise.allSettled([
      s.assignments.assign('a2', req(b2.digest)),
      s.assignments.assign('nobody', req(b2.digest)),
    ]);
    t.equal(results[0].status, 'fulfilled');
    t.equal(results[1].status, 'rejected');
    t.equal((await s.assignments.latest('a2'))?.assignment.sequence, 2);
  },
);
