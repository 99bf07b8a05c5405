// Sign, verify and read bundle directories (layout in ./layout.ts). Signing re-checks every blob
// first so a key never vouches for bytes that are not there; verifying checks the envelope against
// the pinned root, then streams every blob against its declared size and sha256.
import { join } from 'node:path';
import { isBmfError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { parseEnvelope, signEnvelope, type Envelope } from '../trust/envelope.js';
import { verifyFile } from '../trust/file.js';
import type { Signer } from '../trust/keys.js';
import type { Root } from '../trust/root.js';
import { manifestDigest, verifyBundle, type VerifiedBundle } from '../trust/verify.js';
import { parseBundleManifest, type BundleManifest, type Chip } from './manifest.js';
import { blobPath, MANIFEST_FILE, readJsonLimited, SIGNED_MANIFEST_FILE } from './layout.js';

async function verifyBlobs(dir: string, manifest: BundleManifest, signal?: AbortSignal) {
  for (const f of manifest.files) {
    await verifyFile(blobPath(dir, f.sha256), f, { label: f.path, signal });
  }
}

export async function signBundleDir(
  dir: string,
  signers: readonly Signer[],
): Promise<{ envelope: Envelope<BundleManifest>; digest: string }> {
  const manifest = parseBundleManifest(await readJsonLimited(join(dir, MANIFEST_FILE)));
  await verifyBlobs(dir, manifest);
  const envelope = signEnvelope(manifest, signers);
  await writeFileAtomic(join(dir, SIGNED_MANIFEST_FILE), `${JSON.stringify(envelope, null, 2)}\n`);
  return { envelope, digest: manifestDigest(envelope) };
}

export async function verifyBundleDir(
  dir: string,
  opts: {
    root: Root;
    chip?: Chip | undefined;
    installedSequence?: number | undefined;
    now: Date;
    signal?: AbortSignal | undefined;
  },
): Promise<VerifiedBundle> {
  const envelope = await readJsonLimited(join(dir, SIGNED_MANIFEST_FILE));
  const verified = verifyBundle({ ...opts, envelope });
  await verifyBlobs(dir, verified.manifest, opts.signal);
  return verified;
}

export interface BundleDirInfo {
  readonly manifest: BundleManifest;
  /** Present once the bundle is signed. */
  readonly signatures?: readonly { keyid: string }[];
  readonly digest?: string;
}

/** Read what a bundle directory says about itself, without trusting it (for `bundle inspect`). */
export async function readBundleDir(dir: string): Promise<BundleDirInfo> {
  const signed = await readJsonLimited(join(dir, SIGNED_MANIFEST_FILE)).catch((e: unknown) => {
    if (isBmfError(e, 'BMF_ERR_BUNDLE_FILE_MISSING')) return undefined;
    throw e;
  });
  if (signed !== undefined) {
    const envelope = parseEnvelope(signed, 'bundle envelope');
    return {
      manifest: parseBundleManifest(envelope.signed),
      signatures: envelope.signatures.map((s) => ({ keyid: s.keyid })),
      digest: manifestDigest(envelope),
    };
  }
  return { manifest: parseBundleManifest(await readJsonLimited(join(dir, MANIFEST_FILE))) };
}
