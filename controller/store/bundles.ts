// The registry's tables: models, their signed bundles, and the content-addressed blobs the
// bundles name (the bytes live in the blob directory; the store holds which exist and their size).
import type { BundleManifest } from '../../shared/bundle/manifest.js';
import type { Db } from './db.js';
import type { Answer, StoreMode } from './repository.js';

export interface StoredBundle {
  readonly digest: string;
  readonly model: string;
  readonly version: string;
  readonly sequence: number;
  readonly precision: string;
  readonly chips: readonly string[];
  readonly manifest: BundleManifest;
  /** Canonical bytes of the signed envelope. */
  readonly envelope: Uint8Array;
  readonly createdAt: number;
}

export interface StoredModel {
  readonly name: string;
  readonly createdAt: number;
  readonly bundles: number;
}

export interface BlobRef {
  readonly sha256: string;
  readonly size: number;
}

export interface BundleRepo<M extends StoreMode = 'sync'> {
  get(digest: string): Answer<M, StoredBundle | undefined>;
  /** By model then sequence; only the model's when given. */
  list(model?: string): Answer<M, StoredBundle[]>;
  /** The model's bundles that have this version or this sequence. */
  sameVersionOrSequence(
    model: string,
    version: string,
    sequence: number,
  ): Answer<M, StoredBundle[]>;
  /** By name, with how many bundles each has. */
  models(): Answer<M, StoredModel[]>;
  latestOf(model: string): Answer<M, StoredBundle | undefined>;
  /** Up to `limit` digests beginning with `prefix`, in order. */
  digestsStartingWith(prefix: string, limit: number): Answer<M, string[]>;
  /** The bundle, its model (if new) and its blobs (those not yet known), in one transaction. */
  insert(bundle: StoredBundle, blobs: readonly BlobRef[]): Answer<M, void>;
  blobSize(sha256: string): Answer<M, number | undefined>;
}

interface Row {
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

export const toStoredBundle = (r: Row): StoredBundle => ({
  digest: r.digest,
  model: r.model,
  version: r.version,
  sequence: Number(r.sequence),
  precision: r.precision,
  chips: JSON.parse(r.chips) as string[],
  manifest: JSON.parse(r.manifest) as BundleManifest,
  envelope: new Uint8Array(r.envelope),
  createdAt: Number(r.created_at),
});

/**
 * Inserts one bundles row, in both stores: `$name` parameters, bound by name in SQLite and
 * numbered for PostgreSQL by pgParameters (postgres/repos.ts).
 */
export const INSERT_BUNDLE_SQL = `INSERT INTO bundles(digest, model, version, sequence, precision, chips, manifest, envelope, created_at)
  VALUES ($digest, $model, $version, $sequence, $precision, $chips, $manifest, $envelope, $created_at)`;

/** The other way: a bundles row's values, named as INSERT_BUNDLE_SQL's parameters. */
export const toBundleParams = (b: StoredBundle) => ({
  digest: b.digest,
  model: b.model,
  version: b.version,
  sequence: b.sequence,
  precision: b.precision,
  chips: JSON.stringify(b.chips),
  manifest: JSON.stringify(b.manifest),
  envelope: Buffer.from(b.envelope),
  created_at: b.createdAt,
});

export function createBundleRepo(db: Db): BundleRepo<'sync'> {
  const q = {
    bundle: db.prepare('SELECT * FROM bundles WHERE digest = ?'),
    sameModel: db.prepare(
      'SELECT * FROM bundles WHERE model = ? AND (version = ? OR sequence = ?)',
    ),
    bundles: db.prepare('SELECT * FROM bundles ORDER BY model, sequence'),
    bundlesOf: db.prepare('SELECT * FROM bundles WHERE model = ? ORDER BY sequence'),
    models: db.prepare(
      'SELECT m.name, m.created_at, COUNT(b.digest) AS n FROM models m LEFT JOIN bundles b ON b.model = m.name GROUP BY m.name ORDER BY m.name',
    ),
    latestOf: db.prepare('SELECT * FROM bundles WHERE model = ? ORDER BY sequence DESC LIMIT 1'),
    insertModel: db.prepare('INSERT OR IGNORE INTO models(name, created_at) VALUES (?, ?)'),
    insertBundle: db.prepare(INSERT_BUNDLE_SQL),
    insertBlob: db.prepare(
      'INSERT OR IGNORE INTO blobs(digest, size, created_at) VALUES (?, ?, ?)',
    ),
    blob: db.prepare('SELECT size FROM blobs WHERE digest = ?'),
    byPrefix: db.prepare(
      'SELECT digest FROM bundles WHERE substr(digest, 1, ?) = ? ORDER BY digest LIMIT ?',
    ),
  };
  const insert = db.transaction((b: StoredBundle, blobs: readonly BlobRef[]) => {
    q.insertModel.run(b.model, b.createdAt);
    q.insertBundle.run(toBundleParams(b));
    for (const f of blobs) q.insertBlob.run(f.sha256, f.size, b.createdAt);
  });
  return {
    get(digest) {
      const r = q.bundle.get(digest) as Row | undefined;
      return r ? toStoredBundle(r) : undefined;
    },
    list(model) {
      const rows = model === undefined ? q.bundles.all() : q.bundlesOf.all(model);
      return (rows as Row[]).map(toStoredBundle);
    },
    sameVersionOrSequence(model, version, sequence) {
      return (q.sameModel.all(model, version, sequence) as Row[]).map(toStoredBundle);
    },
    models() {
      const rows = q.models.all() as { name: string; created_at: number; n: number }[];
      return rows.map((m) => ({ name: m.name, createdAt: m.created_at, bundles: m.n }));
    },
    latestOf(model) {
      const r = q.latestOf.get(model) as Row | undefined;
      return r ? toStoredBundle(r) : undefined;
    },
    digestsStartingWith(prefix, limit) {
      const rows = q.byPrefix.all(prefix.length, prefix, limit) as { digest: string }[];
      return rows.map((r) => r.digest);
    },
    insert(bundle, blobs) {
      insert(bundle, blobs);
    },
    blobSize(sha256) {
      return (q.blob.get(sha256) as { size: number } | undefined)?.size;
    },
  };
}
