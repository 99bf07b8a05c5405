// One row per attack (TUF/Uptane client checklist, docs/vendor.md section 5) with the error code it
// must produce, plus the positive cases. Keys are generated at run time; none are committed.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { canonicalBytes } from '../../../shared/bundle/canonical.js';
import type { ErrorCode } from '../../../shared/errors.js';
import { signEnvelope } from '../../../shared/trust/envelope.js';
import { generateSigner, type Signer } from '../../../shared/trust/keys.js';
import {
  parseRoot,
  parseSignedRoot,
  rotateRoot,
  updateRootChain,
  type Root,
} from '../../../shared/trust/root.js';
import { manifestDigest, verifyAssignment, verifyBundle } from '../../../shared/trust/verify.js';

const manifest = JSON.parse(
  readFileSync(new URL('../../fixtures/trust/manifest.valid.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

const key = (): Signer => generateSigner().signer;
const [rootA, rootB, bundleA, bundleB, assign, attacker] = Array.from(
  { length: 6 },
  key,
) as Signer[] as [Signer, Signer, Signer, Signer, Signer, Signer];
const NOW = new Date('2026-06-01T00:00:00Z');
const LATER = '2027-06-01T00:00:00Z';
const EARLIER = '2026-05-01T00:00:00Z';

function makeRoot(o: {
  version?: number;
  expires?: string;
  root?: Signer[];
  bundle?: Signer[];
  bundleThreshold?: number;
}): Root {
  const rootKeys = o.root ?? [rootA];
  const bundleKeys = o.bundle ?? [bundleA];
  const all = [...rootKeys, ...bundleKeys, assign];
  return parseRoot({
    type: 'root',
    version: o.version ?? 1,
    expires: o.expires ?? LATER,
    keys: Object.fromEntries(all.map((s) => [s.keyid, { scheme: 'ed25519', public: s.publicHex }])),
    roles: {
      root: { keyids: rootKeys.map((s) => s.keyid), threshold: 1 },
      bundle: { keyids: bundleKeys.map((s) => s.keyid), threshold: o.bundleThreshold ?? 1 },
      assignment: { keyids: [assign.keyid], threshold: 1 },
    },
  });
}

const root1 = makeRoot({});
const root2of2 = makeRoot({ bundle: [bundleA, bundleB], bundleThreshold: 2 });
const assignment = {
  type: 'assignment',
  deviceId: 'se7-0042',
  sequence: 7,
  expires: LATER,
  variants: [
    { name: 'A', bundle: { digest: 'a'.repeat(64), sequence: 11 }, weight: 0.9 },
    { name: 'B', bundle: { digest: 'b'.repeat(64), sequence: 12 }, weight: 0.1 },
  ],
  split: 'sticky',
  shadowRate: 0.05,
  health: { maxErrorRate: 0.01, maxP95Ms: 40, windowS: 300 },
};

const signedManifest = (by: Signer[], change: Record<string, unknown> = {}) =>
  signEnvelope({ ...manifest, ...change }, by);
const tampered = (() => {
  const env = signedManifest([bundleA]);
  return { ...env, signed: { ...env.signed, sequence: 99 } };
})();

type Row = [name: string, run: () => unknown, expect: ErrorCode | 'ok'];
const bundle =
  (envelope: unknown, o: Partial<Parameters<typeof verifyBundle>[0]> = {}) =>
  () =>
    verifyBundle({ root: root1, envelope, now: NOW, chip: 'bm1684x', ...o });
const assigned =
  (envelope: unknown, o: Partial<Parameters<typeof verifyAssignment>[0]> = {}) =>
  () =>
    verifyAssignment({ root: root1, envelope, deviceId: 'se7-0042', now: NOW, ...o });
const rootV2 = (o: Parameters<typeof makeRoot>[0] = {}) =>
  makeRoot({ version: 2, root: [rootB], ...o });

const rows: Row[] = [
  // --- bundles ---
  ['bundle signed by the bundle key', bundle(signedManifest([bundleA])), 'ok'],
  [
    'bundle above the installed sequence',
    bundle(signedManifest([bundleA]), { installedSequence: 11 }),
    'ok',
  ],
  [
    'arbitrary software: manifest changed after signing',
    bundle(tampered),
    'BMF_ERR_TRUST_BAD_SIGNATURE',
  ],
  [
    'malformed signature bytes',
    bundle({ signed: manifest, signatures: [{ keyid: bundleA.keyid, sig: 'zz' }] }),
    'BMF_ERR_TRUST_BAD_SIGNATURE',
  ],
  ['signed by an unknown key', bundle(signedManifest([attacker])), 'BMF_ERR_TRUST_UNKNOWN_KEY'],
  [
    'signed by a key of another role',
    bundle(signedManifest([assign])),
    'BMF_ERR_TRUST_UNKNOWN_KEY',
  ],
  ['no signatures', bundle({ signed: manifest, signatures: [] }), 'BMF_ERR_TRUST_THRESHOLD'],
  [
    '2-of-2 with one key',
    bundle(signedManifest([bundleA]), { root: root2of2 }),
    'BMF_ERR_TRUST_THRESHOLD',
  ],
  [
    '2-of-2 with one key signing twice (each key counted once)',
    bundle(signedManifest([bundleA, bundleA]), { root: root2of2 }),
    'BMF_ERR_TRUST_THRESHOLD',
  ],
  [
    '2-of-2 with one key and an unknown key',
    bundle(signedManifest([bundleA, attacker]), { root: root2of2 }),
    'BMF_ERR_TRUST_UNKNOWN_KEY',
  ],
  ['2-of-2 with both keys', bundle(signedManifest([bundleB, bundleA]), { root: root2of2 }), 'ok'],
  [
    'freeze: expired manifest',
    bundle(signedManifest([bundleA], { expires: EARLIER })),
    'BMF_ERR_TRUST_EXPIRED',
  ],
  [
    'freeze: expired trusted root',
    bundle(signedManifest([bundleA]), { root: makeRoot({ expires: EARLIER }) }),
    'BMF_ERR_TRUST_EXPIRED',
  ],
  [
    'rollback: sequence equal to installed',
    bundle(signedManifest([bundleA]), { installedSequence: 12 }),
    'BMF_ERR_TRUST_ROLLBACK',
  ],
  [
    'rollback: sequence below installed',
    bundle(signedManifest([bundleA]), { installedSequence: 40 }),
    'BMF_ERR_TRUST_ROLLBACK',
  ],
  [
    'wrong hardware',
    bundle(signedManifest([bundleA]), { chip: 'bm1684' }),
    'BMF_ERR_TRUST_CHIP_MISMATCH',
  ],
  [
    'envelope not an envelope',
    bundle({ signed: manifest, signatures: 'x' }),
    'BMF_ERR_TRUST_DOCUMENT_INVALID',
  ],
  [
    'validly signed but invalid manifest',
    bundle(signedManifest([bundleA], { precision: 'int4' })),
    'BMF_ERR_BUNDLE_MANIFEST',
  ],
  [
    'assignment presented as a bundle',
    bundle(signEnvelope(assignment, [assign])),
    'BMF_ERR_TRUST_UNKNOWN_KEY',
  ],
  // --- assignments ---
  [
    'assignment for this device',
    assigned(signEnvelope(assignment, [assign]), { installedSequence: 6 }),
    'ok',
  ],
  [
    'assignment for another device',
    assigned(signEnvelope(assignment, [assign]), { deviceId: 'se7-0043' }),
    'BMF_ERR_TRUST_WRONG_DEVICE',
  ],
  [
    'assignment replayed',
    assigned(signEnvelope(assignment, [assign]), { installedSequence: 7 }),
    'BMF_ERR_TRUST_ROLLBACK',
  ],
  [
    'assignment expired',
    assigned(signEnvelope({ ...assignment, expires: EARLIER }, [assign])),
    'BMF_ERR_TRUST_EXPIRED',
  ],
  [
    'assignment signed by the bundle key',
    assigned(signEnvelope(assignment, [bundleA])),
    'BMF_ERR_TRUST_UNKNOWN_KEY',
  ],
  [
    'assignment with all weights zero',
    assigned(
      signEnvelope({ ...assignment, variants: [{ ...assignment.variants[0], weight: 0 }] }, [
        assign,
      ]),
    ),
    'BMF_ERR_TRUST_DOCUMENT_INVALID',
  ],
  // --- root rotation ---
  [
    'root v2 signed by old and new root keys',
    () => rotateRoot(root1, signEnvelope(rootV2(), [rootA, rootB]), NOW),
    'ok',
  ],
  [
    'root v2 signed by the new key only',
    () => rotateRoot(root1, signEnvelope(rootV2(), [rootB]), NOW),
    'BMF_ERR_TRUST_ROOT_ROTATION',
  ],
  [
    'root v2 signed by the old key only',
    () => rotateRoot(root1, signEnvelope(rootV2(), [rootA]), NOW),
    'BMF_ERR_TRUST_ROOT_ROTATION',
  ],
  [
    'root v2 signed by an attacker',
    () => rotateRoot(root1, signEnvelope(rootV2({ root: [attacker] }), [attacker]), NOW),
    'BMF_ERR_TRUST_ROOT_ROTATION',
  ],
  [
    'root skipping a version',
    () => rotateRoot(root1, signEnvelope(rootV2({ version: 3 }), [rootA, rootB]), NOW),
    'BMF_ERR_TRUST_ROOT_ROTATION',
  ],
  [
    'root replayed (same version)',
    () => rotateRoot(root1, signEnvelope(root1, [rootA]), NOW),
    'BMF_ERR_TRUST_ROLLBACK',
  ],
  [
    'root v2 already expired',
    () => rotateRoot(root1, signEnvelope(rootV2({ expires: EARLIER }), [rootA, rootB]), NOW),
    'BMF_ERR_TRUST_EXPIRED',
  ],
  [
    'rotation away from an expired trusted root',
    () => rotateRoot(makeRoot({ expires: EARLIER }), signEnvelope(rootV2(), [rootA, rootB]), NOW),
    'ok',
  ],
  [
    'pinned root not self-signed',
    () => parseSignedRoot(signEnvelope(root1, [attacker])),
    'BMF_ERR_TRUST_ROOT_INVALID',
  ],
  [
    'root with a key id that is not the hash of its key',
    () => parseRoot({ ...root1, keys: { ['0'.repeat(64)]: Object.values(root1.keys)[0] } }),
    'BMF_ERR_TRUST_ROOT_INVALID',
  ],
  [
    'root threshold above its key count',
    () =>
      parseRoot({
        ...root1,
        roles: { ...root1.roles, bundle: { keyids: [bundleA.keyid], threshold: 2 } },
      }),
    'BMF_ERR_TRUST_ROOT_INVALID',
  ],
];

for (const [name, run, expect] of rows) {
  t.test(name, async (t) => {
    if (expect === 'ok') {
      t.ok(run(), 'verifies');
    } else {
      t.throws(run, { code: expect });
    }
  });
}

t.test('verified bundle carries its digest and signer', async (t) => {
  const env = signedManifest([bundleA]);
  const v = verifyBundle({ root: root1, envelope: env, now: NOW });
  t.equal(v.digest, manifestDigest(env));
  t.match(v.digest, /^[0-9a-f]{64}$/);
  t.same(v.signedBy, [bundleA.keyid]);
  // The digest is over canonical bytes: the same envelope read back from any JSON layout agrees.
  const reread = JSON.parse(JSON.stringify(env, null, 3)) as unknown;
  t.equal(verifyBundle({ root: root1, envelope: reread, now: NOW }).digest, v.digest);
});

t.test('root chain v1 -> v2 -> v3 applies one version at a time', async (t) => {
  const v2 = rootV2({ expires: EARLIER }); // an intermediate root may have expired since
  const v3 = makeRoot({ version: 3, root: [rootA] });
  const chain = [signEnvelope(v2, [rootA, rootB]), signEnvelope(v3, [rootB, rootA])];
  const final = updateRootChain(root1, chain, NOW);
  t.equal(final.version, 3);
  t.throws(() => updateRootChain(root1, [chain[1]], NOW), { code: 'BMF_ERR_TRUST_ROOT_ROTATION' });
});

t.test('bundle identity covers the signed manifest, not the signatures', async (t) => {
  const one = signedManifest([bundleA]);
  const two = signedManifest([bundleA, bundleB]);
  const extra = { ...one, signatures: [...one.signatures, { keyid: attacker.keyid, sig: 'ab' }] };
  t.equal(manifestDigest(two), manifestDigest(one), 'a second signature keeps the digest');
  t.equal(manifestDigest(extra), manifestDigest(one), 'an unknown extra signature keeps it');
  t.equal(verifyBundle({ root: root1, envelope: extra, now: NOW }).digest, manifestDigest(one));
  t.not(
    manifestDigest(signedManifest([bundleA], { version: '9.9.9' })),
    manifestDigest(one),
    'a change of the signed part changes it',
  );
  t.equal(
    manifestDigest(one),
    createHash('sha256').update(canonicalBytes(one.signed)).digest('hex'),
  );
});
