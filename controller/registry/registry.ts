// Models, versions and signed bundles, with provenance, over a content-addressed blob store.
// A bundle enters only verified against the controller's trusted root (the same check a device
// makes, minus the chip), so the registry never holds bytes no key vouched for. Importing the same
// bundle again is a no-op that returns the stored record.
import { mkdir } from 'node:fs/promises';
import { isDigest } from '../../shared/ids.js';
import { createHash } from 'node:crypto';
import { verifyBundleDir } from '../../shared/bundle/dir.js';
import type { WallClock } from '../../shared/clock.js';
import { blobPath as bundleBlobPath } from '../../shared/bundle/layout.js';
import type { BundleFile, BundleManifest } from '../../shared/bundle/manifest.js';
import { bmfError, isBmfError } from '../../shared/errors.js';
import type { Digest } from '../../shared/ids.js';
import { writeFileAtomic } from '../../shared/fs/atomic.js';
import type { Root } from '../../shared/trust/root.js';
import { manifestBlobOf } from '../../shared/trust/verify.js';
import type { Db } from '../store/db.js';
import { blobFile, importBlob } from './blob-store.js';

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A bundle as the registry lists it (the API's BundleView adds the manifest's fields). */
export interface BundleSummary {
  readonly digest: Digest;
  readonly model: string;
  readonly version: string;
  readonly sequence: number;
  readonly precision: string;
  readonly chips: readonly string[];
  readonly createdAt: number;
}

export interface BundleRecord extends BundleSummary {
  readonly manifest: BundleManifest;
  /** Canonical bytes of the signed envelope (what devices fetch and verify). */
  readonly envelope: Uint8Array;
  /** The blob carrying `envelope` (its sha256 and size), named in assignments. */
  readonly manifestBlob: { readonly sha256: string; readonly size: number };
  readonly provenance: BundleManifest['provenance'];
  readonly files: readonly BundleFile[];
}

export interface ModelSummary {
  readonly name: string;
  readonly createdAt: number;
  readonly bundles: number;
  /** The bundle with the highest sequence. */
  readonly latest?: BundleSummary;
}

export interface RegistryOptions {
  readonly db: Db;
  readonly blobDir: string;
  /** The trusted root, or a getter when the root can rotate while the controller runs. */
  readonly root: Root | (() => Root | Promise<Root>);
  readonly clock: WallClock;
  /**
   * Where the root came from and what to do when a bundle's signer is not in it; added to the
   * trust errors of importBundleDir so the user sees which keys were expected and where.
   */
  readonly trustContext?: { readonly lookedIn: string; readonly hint: string };
}

/** The shortest digest prefix accepted, as for git's abbreviated object names. */
export const MIN_PREFIX = 8;

const SIGNER_ERRORS = [
  'BMF_ERR_TRUST_UNKNOWN_KEY',
  'BMF_ERR_TRUST_THRESHOLD',
  'BMF_ERR_TRUST_BAD_SIGNATURE',
] as const;

interface BundleRow {
  digest: string;
  model: string;
  version: string;
  sequence: number;
  precision: string;
  chips: string;
  manifest: string;
  envelope: Buffer;
  created_at: number;
}

function summary(r: BundleRow): BundleSummary {
  return {
    digest: r.digest as Digest, // computed by importBundleDir (sha256Hex) before it was stored
    model: r.model,
    version: r.version,
    sequence: r.sequence,
    precision: r.precision,
    chips: JSON.parse(r.chips) as string[],
    createdAt: r.created_at,
  };
}

function record(r: BundleRow): BundleRecord {
  const manifest = JSON.parse(r.manifest) as BundleManifest;
  const envelope = new Uint8Array(r.envelope);
  return {
    ...summary(r),
    manifest,
    envelope,
    manifestBlob: { sha256: sha256Hex(envelope), size: envelope.length },
    provenance: manifest.provenance,
    files: manifest.files,
  };
}

export function createRegistry(opts: RegistryOptions) {
  const { db, blobDir, clock } = opts;
  const q = {
    bundle: db.prepare('SELECT * FROM bundles WHERE digest = ?'),
    sameModel: db.prepare(
      'SELECT digest, version, sequence FROM bundles WHERE model = ? AND (version = ? OR sequence = ?)',
    ),
    bundles: db.prepare('SELECT * FROM bundles ORDER BY model, sequence'),
    bundlesOf: db.prepare('SELECT * FROM bundles WHERE model = ? ORDER BY sequence'),
    models: db.prepare(
      'SELECT m.name, m.created_at, COUNT(b.digest) AS n FROM models m LEFT JOIN bundles b ON b.model = m.name GROUP BY m.name ORDER BY m.name',
    ),
    latestOf: db.prepare('SELECT * FROM bundles WHERE model = ? ORDER BY sequence DESC LIMIT 1'),
    insertModel: db.prepare('INSERT OR IGNORE INTO models(name, created_at) VALUES (?, ?)'),
    insertBundle: db.prepare(
      'INSERT INTO bundles(digest, model, version, sequence, precision, chips, manifest, envelope, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertBlob: db.prepare(
      'INSERT OR IGNORE INTO blobs(digest, size, created_at) VALUES (?, ?, ?)',
    ),
    blob: db.prepare('SELECT size FROM blobs WHERE digest = ?'),
    byPrefix: db.prepare(
      'SELECT digest FROM bundles WHERE substr(digest, 1, ?) = ? ORDER BY digest LIMIT 21',
    ),
  };

  const store = db.transaction(
    (digest: string, manifest: BundleManifest, envelope: Uint8Array, now: number) => {
      q.insertModel.run(manifest.name, now);
      q.insertBundle.run(
        digest,
        manifest.name,
        manifest.version,
        manifest.sequence,
        manifest.precision,
        JSON.stringify(manifest.chips),
        JSON.stringify(manifest),
        Buffer.from(envelope),
        now,
      );
      // The signed manifest itself is a blob too, named by its own sha256 (the bundle digest
      // covers only the signed part, so it names no blob).
      q.insertBlob.run(sha256Hex(envelope), envelope.length, now);
      for (const f of manifest.files) q.insertBlob.run(f.sha256, f.size, now);
    },
  );

  /**
   * A full digest as it is; a prefix of at least MIN_PREFIX hex digits to the one stored bundle
   * it starts (as git does). Too short or ambiguous is BMF_ERR_DIGEST_PREFIX listing candidates.
   */
  function resolveDigest(ref: string): string {
    const prefix = ref.toLowerCase();
    if (isDigest(prefix)) return prefix;
    if (!/^[0-9a-f]+$/.test(prefix))
      throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'bundle', id: ref });
    const rows = q.byPrefix.all(prefix.length, prefix) as { digest: string }[];
    const candidates = rows.slice(0, 20).map((r) => r.digest);
    const listed = candidates.join(', ') + (rows.length > 20 ? ', ...' : '');
    if (prefix.length < MIN_PREFIX) {
      throw bmfError('BMF_ERR_DIGEST_PREFIX', {
        prefix: ref,
        reason: `is too short: give at least ${MIN_PREFIX} hex digits`,
        candidates: listed || '(no bundle starts with it)',
      });
    }
    if (rows.length > 1) {
      throw bmfError('BMF_ERR_DIGEST_PREFIX', {
        prefix: ref,
        reason: `is ambiguous: ${rows.length > 20 ? 'more than 20' : rows.length} bundles start with it`,
        candidates: listed,
      });
    }
    const [one] = candidates;
    if (!one) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'bundle', id: ref });
    return one;
  }

  function getBundle(ref: string): BundleRecord | undefined {
    const digest = isDigest(ref) ? ref : resolveDigest(ref);
    const r = q.bundle.get(digest) as BundleRow | undefined;
    return r ? record(r) : undefined;
  }

  function requireBundle(digest: string): BundleRecord {
    const b = getBundle(digest);
    if (!b) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'bundle', id: digest });
    return b;
  }

  function blobSize(digest: string): number {
    const r = q.blob.get(digest) as { size: number } | undefined;
    if (!r) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'blob', id: digest });
    return r.size;
  }

  /** Refuse a second, different bundle claiming a version or sequence the model already has. */
  function checkNoClash(digest: string, m: BundleManifest): void {
    const rows = q.sameModel.all(m.name, m.version, m.sequence) as BundleRow[];
    const clash = rows.find((r) => r.digest !== digest);
    if (clash) {
      throw bmfError('BMF_ERR_CONFLICT', {
        kind: 'bundle',
        id: `${m.name} ${m.version} (sequence ${m.sequence})`,
        reason: `the registry already has ${clash.version} with sequence ${clash.sequence} (${clash.digest})`,
      });
    }
  }

  return {
    /** Verify a signed bundle directory against the root and store it; idempotent. */
    async importBundleDir(dir: string): Promise<BundleRecord> {
      const root = typeof opts.root === 'function' ? await opts.root() : opts.root;
      const verified = await verifyBundleDir(dir, { root, now: new Date(clock.wallNow()) }).catch(
        (e: unknown) => {
          const ctx = opts.trustContext;
          if (!ctx || !isBmfError(e) || !(SIGNER_ERRORS as readonly string[]).includes(e.code)) {
            throw e;
          }
          throw bmfError(e.code, { ...e.details, ...ctx }, { cause: e });
        },
      );
      const existing = getBundle(verified.digest);
      if (existing) return existing;
      checkNoClash(verified.digest, verified.manifest);
      for (const f of verified.manifest.files) {
        await importBlob(blobDir, bundleBlobPath(dir, f.sha256), f);
      }
      // The canonical envelope is stored and served like any other content-addressed blob,
      // under its own sha256 (manifestBlobOf); assignments name it with its size.
      const { bytes: envelope, sha256 } = manifestBlobOf(verified.envelope);
      await mkdir(blobDir, { recursive: true });
      await writeFileAtomic(blobFile(blobDir, sha256), envelope);
      // A concurrent import of the same bundle may have won the race while blobs were copied.
      if (!getBundle(verified.digest)) {
        store(verified.digest, verified.manifest, envelope, clock.wallNow());
      }
      return requireBundle(verified.digest);
    },
    listModels(): ModelSummary[] {
      const rows = q.models.all() as { name: string; created_at: number; n: number }[];
      return rows.map((m) => {
        const latest = q.latestOf.get(m.name) as BundleRow | undefined;
        return {
          name: m.name,
          createdAt: m.created_at,
          bundles: m.n,
          ...(latest ? { latest: summary(latest) } : {}),
        };
      });
    },
    listBundles(filter: { model?: string } = {}): BundleSummary[] {
      const rows = (
        filter.model === undefined ? q.bundles.all() : q.bundlesOf.all(filter.model)
      ) as BundleRow[];
      return rows.map(summary);
    },
    getBundle,
    requireBundle,
    resolveDigest,
    /** The blobs a device assigned to a bundle may fetch: its signed manifest and every file. */
    blobsOf(digest: string): string[] {
      const b = requireBundle(digest);
      return [b.manifestBlob.sha256, ...b.files.map((f) => f.sha256)];
    },
    /** Path of a stored blob; BMF_ERR_NOT_FOUND when the registry does not hold it. */
    blobPath(digest: string): string {
      blobSize(digest);
      return blobFile(blobDir, digest);
    },
    blobSize,
  };
}
export type Registry = ReturnType<typeof createRegistry>;
