import t from 'tap';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signEnvelope } from '../../../shared/trust/envelope.js';
import { createKeystore } from '../../../shared/trust/keystore.js';
import { parseSignedRoot, rotateRoot, verifyEnvelope } from '../../../shared/trust/root.js';

const base = mkdtempSync(join(tmpdir(), 'bmf-keystore-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));
const NOW = new Date('2026-06-01T00:00:00Z');

t.test('init writes three keys (0600) and a self-signed root', async (t) => {
  const dir = join(base, 'init');
  const store = createKeystore(dir);
  const s = await store.init({ now: NOW, expiresDays: 30 });
  t.equal(s.version, 1);
  t.equal(s.expires, '2026-07-01T00:00:00Z');
  t.equal(s.privateKeys.length, 3);
  for (const role of ['root', 'bundle', 'assignment'] as const) {
    t.equal(s.roles[role].threshold, 1);
    const keyid = s.roles[role].keyids[0] as string;
    t.ok(s.privateKeys.includes(keyid));
    t.equal(statSync(join(dir, 'keys', `${keyid}.pem`)).mode & 0o777, 0o600, `${role} key 0600`);
  }
  t.equal(statSync(dir).mode & 0o777, 0o700);
  const { root } = parseSignedRoot(readFileSync(join(dir, 'root.json'), 'utf8'));
  t.equal(root.version, 1);
  await t.rejects(store.init({ now: NOW }), { code: 'BMF_ERR_KEYS_EXIST' });
});

t.test('rotating a role and the root: devices pinned on v1 follow the chain', async (t) => {
  const dir = join(base, 'rotate');
  const store = createKeystore(dir);
  await store.init({ now: NOW });
  const v1Json = await store.readRootJson();
  const v1 = parseSignedRoot(v1Json).root;

  const oldBundle = v1.roles.bundle.keyids[0] as string;
  const s2 = await store.rotate('bundle', { now: NOW });
  t.equal(s2.version, 2);
  t.not(s2.roles.bundle.keyids[0], oldBundle);
  t.notOk(existsSync(join(dir, 'keys', `${oldBundle}.pem`)), 'retired bundle key deleted');
  const v2Json = await store.readRootJson();
  const v2 = rotateRoot(v1, JSON.parse(v2Json), NOW);

  const oldRoot = v2.roles.root.keyids[0] as string;
  const s3 = await store.rotate('root', { now: NOW });
  t.equal(s3.version, 3);
  t.not(s3.roles.root.keyids[0], oldRoot);
  t.notOk(existsSync(join(dir, 'keys', `${oldRoot}.pem`)), 'retired root key deleted');
  const v3Env = JSON.parse(await store.readRootJson()) as { signatures: unknown[] };
  t.equal(v3Env.signatures.length, 2, 'signed by the old and the new root key');
  const v3 = rotateRoot(v2, v3Env, NOW);

  const env = signEnvelope({ hello: 1 }, await store.signers('bundle'));
  t.ok(verifyEnvelope(env, v3, 'bundle', NOW));
  t.throws(() => verifyEnvelope(env, v1, 'bundle', NOW), { code: 'BMF_ERR_TRUST_UNKNOWN_KEY' });
});

t.test('missing keys', async (t) => {
  await t.rejects(createKeystore(join(base, 'none')).show(), { code: 'BMF_ERR_KEYS_MISSING' });
});

t.test('a key file that is not the key its name says is refused with the file named', async (t) => {
  const dir = join(base, 'corrupt');
  const store = createKeystore(dir);
  const s = await store.init({ now: NOW });
  const pem = (role: 'bundle' | 'assignment') =>
    join(dir, 'keys', `${s.roles[role].keyids[0] as string}.pem`);
  writeFileSync(pem('bundle'), 'not a PEM');
  await t.rejects(store.signers('bundle'), {
    code: 'BMF_ERR_KEYS_INVALID',
    details: { path: pem('bundle') },
  });
  // The assignment key copied over the bundle key's file: a valid key, not the one the root lists.
  copyFileSync(pem('assignment'), pem('bundle'));
  await t.rejects(store.signers('bundle'), {
    code: 'BMF_ERR_KEYS_INVALID',
    details: { path: pem('bundle'), reason: /not the key/ },
  });
});
