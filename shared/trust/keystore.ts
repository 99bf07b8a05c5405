// Controller-side signing keys on disk. Layout of a key directory (mode 0700):
//   root.json           the current signed root (what devices pin)
//   keys/<keyid>.pem    Ed25519 private keys, PKCS#8 PEM, mode 0600
// Which key plays which role is read from root.json, so the directory cannot disagree with it.
// Rotating a role writes the new key, then the new root version, then deletes the retired private
// key: a root key that has left the root must not remain able to sign a competing rotation.
import { chmod, mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { bmfError, isBmfError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { signEnvelope } from './envelope.js';
import { generateSigner, signerFromPem, type Signer } from './keys.js';
import { parseSignedRoot, rotateRoot, ROLES, type RoleName, type Root } from './root.js';

export interface KeystoreSummary {
  readonly dir: string;
  readonly version: number;
  readonly expires: string;
  readonly roles: Record<RoleName, { keyids: string[]; threshold: number }>;
  /** Key ids whose private key is in this directory. */
  readonly privateKeys: string[];
}

export interface Keystore {
  init(opts: { now: Date; expiresDays?: number }): Promise<KeystoreSummary>;
  rotate(role: RoleName, opts: { now: Date; expiresDays?: number }): Promise<KeystoreSummary>;
  show(): Promise<KeystoreSummary>;
  /** The signed root exactly as on disk (the bytes to pin on devices). */
  readRootJson(): Promise<string>;
  readRoot(): Promise<Root>;
  /** Signers for a role, enough to meet its threshold. */
  signers(role: RoleName): Promise<Signer[]>;
}

const DEFAULT_EXPIRES_DAYS = 365;

function expiresFrom(now: Date, days: number): string {
  return new Date(now.getTime() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function createKeystore(dir: string): Keystore {
  const rootPath = join(dir, 'root.json');
  const keysDir = join(dir, 'keys');
  const keyPath = (keyid: string) => join(keysDir, `${keyid}.pem`);

  async function writePrivateKey(keyid: string, pem: string): Promise<void> {
    // The directory is 0700, so the temp file is never reachable by other users before chmod.
    await writeFileAtomic(keyPath(keyid), pem);
    await chmod(keyPath(keyid), 0o600);
  }

  async function readRootJson(): Promise<string> {
    try {
      return await readFile(rootPath, 'utf8');
    } catch (e) {
      throw bmfError('BMF_ERR_KEYS_MISSING', { dir }, { cause: e });
    }
  }

  async function readRoot(): Promise<Root> {
    return parseSignedRoot(await readRootJson()).root;
  }

  async function privateKeyIds(): Promise<string[]> {
    const names = await readdir(keysDir).catch(() => [] as string[]);
    return names.filter((n) => /^[0-9a-f]{64}\.pem$/.test(n)).map((n) => n.slice(0, 64));
  }

  async function loadSigner(keyid: string): Promise<Signer> {
    const path = keyPath(keyid);
    let pem: string;
    try {
      pem = await readFile(path, 'utf8');
    } catch (e) {
      throw bmfError('BMF_ERR_KEYS_MISSING', { dir }, { cause: e });
    }
    let signer: Signer;
    try {
      signer = signerFromPem(pem);
    } catch (e) {
      throw bmfError('BMF_ERR_KEYS_INVALID', { path, reason: (e as Error).message }, { cause: e });
    }
    // A key under another key's name would sign with a key the root does not list for the role:
    // every device would refuse what it signs, so refuse it here, where the cause is visible.
    if (signer.keyid !== keyid) {
      throw bmfError('BMF_ERR_KEYS_INVALID', {
        path,
        reason: `it holds key ${signer.keyid}, not the key ${keyid} its name and root.json say`,
      });
    }
    return signer;
  }

  async function signers(role: RoleName): Promise<Signer[]> {
    const root = await readRoot();
    const have = new Set(await privateKeyIds());
    const spec = root.roles[role];
    const ids = spec.keyids.filter((k) => have.has(k)).slice(0, spec.threshold);
    if (ids.length < spec.threshold) throw bmfError('BMF_ERR_KEYS_MISSING', { dir });
    return Promise.all(ids.map(loadSigner));
  }

  async function show(): Promise<KeystoreSummary> {
    const root = await readRoot();
    const roles = Object.fromEntries(
      ROLES.map((r) => [
        r,
        { keyids: [...root.roles[r].keyids], threshold: root.roles[r].threshold },
      ]),
    ) as KeystoreSummary['roles'];
    return {
      dir,
      version: root.version,
      expires: root.expires,
      roles,
      privateKeys: await privateKeyIds(),
    };
  }

  async function writeRoot(root: Root, by: readonly Signer[]): Promise<void> {
    await writeFileAtomic(rootPath, `${JSON.stringify(signEnvelope(root, by), null, 2)}\n`);
  }

  return {
    readRootJson,
    readRoot,
    signers,
    show,

    async init({ now, expiresDays = DEFAULT_EXPIRES_DAYS }) {
      const exists = await readFile(rootPath).then(
        () => true,
        () => false,
      );
      if (exists) throw bmfError('BMF_ERR_KEYS_EXIST', { dir });
      await mkdir(keysDir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
      const made = ROLES.map(() => generateSigner());
      for (const { signer, privatePem } of made) await writePrivateKey(signer.keyid, privatePem);
      const [rootKey, bundleKey, assignmentKey] = made.map((m) => m.signer) as [
        Signer,
        Signer,
        Signer,
      ];
      const root: Root = {
        type: 'root',
        version: 1,
        expires: expiresFrom(now, expiresDays),
        keys: Object.fromEntries(
          made.map(({ signer }) => [signer.keyid, { scheme: 'ed25519', public: signer.publicHex }]),
        ),
        roles: {
          root: { keyids: [rootKey.keyid], threshold: 1 },
          bundle: { keyids: [bundleKey.keyid], threshold: 1 },
          assignment: { keyids: [assignmentKey.keyid], threshold: 1 },
        },
      };
      await writeRoot(root, [rootKey]);
      return show();
    },

    async rotate(role, { now, expiresDays = DEFAULT_EXPIRES_DAYS }) {
      const old = await readRoot();
      const oldRootSigners = await signers('root');
      const { signer: fresh, privatePem } = generateSigner();
      await writePrivateKey(fresh.keyid, privatePem);
      const roles = structuredClone(old.roles) as Root['roles'];
      const retired = roles[role].keyids;
      roles[role] = { keyids: [fresh.keyid], threshold: 1 };
      const stillUsed = new Set(ROLES.flatMap((r) => roles[r].keyids));
      const keys = Object.fromEntries(
        Object.entries(old.keys).filter(([keyid]) => stillUsed.has(keyid)),
      );
      keys[fresh.keyid] = { scheme: 'ed25519', public: fresh.publicHex };
      const next: Root = {
        type: 'root',
        version: old.version + 1,
        expires: expiresFrom(now, expiresDays),
        keys,
        roles,
      };
      // Signed by the old root threshold and, when the root key itself changes, the new one.
      const by = role === 'root' ? [...oldRootSigners, fresh] : oldRootSigners;
      try {
        rotateRoot(old, signEnvelope(next, by), now); // same check a device will make
      } catch (e) {
        await unlink(keyPath(fresh.keyid)).catch(() => undefined);
        throw isBmfError(e) ? e : bmfError('BMF_ERR_INTERNAL', { reason: String(e) });
      }
      await writeRoot(next, by);
      for (const keyid of retired) {
        if (!stillUsed.has(keyid)) await unlink(keyPath(keyid)).catch(() => undefined);
      }
      return show();
    },
  };
}
