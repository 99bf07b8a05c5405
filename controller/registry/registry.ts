// Models, versions and signed bundles, with provenance, over a content-addressed blob store.
// A bundle enters only verified against the controller's trusted root (the same check a device
// makes, minus the chip), so the registry never holds bytes no key vouched for. Importing the same
// bundle again is a no-op that returns the stored record.
import { mkdir } from 'node:fs/promises';
import { isDigest, parseDigest } from '../../shared/ids.js';
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
import type { BundleRepo, StoredBundle } from '../store/bundles.js';
import type { StoreMode } from '../store/repository.js';
import { blobFile, importBlob } from './blob-store.js';

const sha256Hex = (bytes: Uint8Array): Digest =>
  parseDigest(createHash('sha256').update(bytes).digest('hex'));

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
  readonly manifestBlob: { readonly sha256: Digest; readonly size: number };
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
  readonly store: BundleRepo<StoreMode>;
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

function summary(r: StoredBundle): BundleSummary {
  return {
    digest: parseDigest(r.digest, 'stored bundle digest'),
    model: r.model,
    version: r.version,
    sequence: r.sequence,
    precision: r.precision,
    chips: r.chips,
    createdAt: r.createdAt,
  };
}

function record(r: StoredBundle): BundleRecord {
  const { manifest, envelope } = r;
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
  const { store: bundles, blobDir, clock } = opts;
  async function store(
    digest: string,
    manifest: BundleManifest,
    envelope: Uint8Array,
    now: number,
  ): Promise<void> {
    await bundles.insert(
      {
        digest,
        model: manifest.name,
        version: manifest.version,
        sequence: manifest.sequence,
        precision: manifest.precision,
        chips: manifest.chips,
        manifest,
        envelope,
        createdAt: now,
      },
      // The signed manifest itself is a blob too, named by its own sha256 (the bundle digest
      // covers only the signed part, so it names no blob).
      [{ sha256: sha256Hex(envelope), size: envelope.length }, ...manifest.files],
    );
  }

  /**
   * A full digest as it is; a prefix of at least MIN_PREFIX hex digits to the one stored bundle
   * it starts (as git does). Too short or ambiguous is BMF_ERR_DIGEST_PREFIX listing candidates.
   */
  async function resolveDigest(ref: string): Promise<Digest> {
    const prefix = ref.toLowerCase();
    if (isDigest(prefix)) return prefix;
    if (!/^[0-9a-f]+$/.test(prefix))
      throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'bundle', id: ref });
    const rows = await bundles.digestsStartingWith(prefix, 21);
    const candidates = rows.slice(0, 20);
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
    if (!one || !isDigest(one)) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'bundle', id: ref });
    return one;
  }

  // Bundles never change once stored (content-addressed): each is read from the store once.
  const cache = new Map<string, BundleRecord>();
  async function getBundle(ref: string): Promise<BundleRecord | undefined> {
    const digest = isDigest(ref) ? ref : await resolveDigest(ref);
    const hit = cache.get(digest);
    if (hit) return hit;
    const r = await bundles.get(digest);
    if (!r) return undefined;
    const b = record(r);
    cache.set(digest, b);
    return b;
  }

  async function requireBundle(digest: string): Promise<BundleRecord> {
    const b = await getBundle(digest);
    if (!b) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'bundle', id: digest });
    return b;
  }

  async function blobSize(digest: string): Promise<number> {
    const size = await bundles.blobSize(digest);
    if (size === undefined) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'blob', id: digest });
    return size;
  }

  /** Refuse a second, different bundle claiming a version or sequence the model already has. */
  async function checkNoClash(digest: string, m: BundleManifest): Promise<void> {
    const rows = await bundles.sameVersionOrSequence(m.name, m.version, m.sequence);
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
      const existing = await getBundle(verified.digest);
      if (existing) return existing;
      await checkNoClash(verified.digest, verified.manifest);
      for (const f of verified.manifest.files) {
        await importBlob(blobDir, bundleBlobPath(dir, f.sha256), f);
      }
      // The canonical envelope is stored and served like any other content-addressed blob,
      // under its own sha256 (manifestBlobOf); assignments name it with its size.
      const { bytes: envelope, sha256 } = manifestBlobOf(verified.envelope);
      await mkdir(blobDir, { recursive: true });
      await writeFileAtomic(blobFile(blobDir, sha256), envelope);
      // A concurrent import of the same bundle may have won the race while blobs were copied.
      if (!(await getBundle(verified.digest))) {
        await store(verified.digest, verified.manifest, envelope, clock.wallNow());
      }
      return requireBundle(verified.digest);
    },
    async listModels(): Promise<ModelSummary[]> {
      const out: ModelSummary[] = [];
      for (const m of await bundles.models()) {
        const latest = await bundles.latestOf(m.name);
        out.push({
          name: m.name,
          createdAt: m.createdAt,
          bundles: m.bundles,
          ...(latest ? { latest: summary(latest) } : {}),
        });
      }
      return out;
    },
    async listBundles(filter: { model?: string } = {}): Promise<BundleSummary[]> {
      return (await bundles.list(filter.model)).map(summary);
    },
    getBundle,
    /**
     * A bundle already read, without waiting (metrics labels); a miss starts reading it, so the
     * next look finds it.
     */
    peekBundle(digest: string): BundleRecord | undefined {
      const hit = cache.get(digest);
      if (!hit && isDigest(digest)) void getBundle(digest).catch(() => undefined);
      return hit;
    },
    requireBundle,
    resolveDigest,
    /** The blobs a device assigned to a bundle may fetch: its signed manifest and every file. */
    async blobsOf(digest: string): Promise<string[]> {
      const b = await requireBundle(digest);
      return [b.manifestBlob.sha256, ...b.files.map((f) => f.sha256)];
    },
    /** Path of a stored blob; BMF_ERR_NOT_FOUND when the registry does not hold it. */
    async blobPath(digest: string): Promise<string> {
      await blobSize(digest);
      return blobFile(blobDir, digest);
    },
    blobSize,
  };
}
export type Registry = ReturnType<typeof createRegistry>;
