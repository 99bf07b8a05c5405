// Signed test documents made with the foundation's own signing code: a root with one key per
// role, bundles wrapping the tiny simulator BMODELs and their golden set, and assignments.
import { signEnvelope } from '../../shared/trust/envelope.js';
import { generateSigner } from '../../shared/trust/keys.js';
import type { Signer } from '../../shared/trust/keys.js';
import { manifestBlobOf, manifestDigest } from '../../shared/trust/verify.js';
import { encodeGoldenFile } from '../../agent/serve/golden-file.js';
import { goldenSet, sha256, tinyBmodel } from './models.js';
import type { TinyModel } from './models.js';
import type { Digest } from '../../shared/ids.js';

export interface TestKeys {
  readonly root: Signer;
  readonly bundle: Signer;
  readonly assignment: Signer;
}

export function testKeys(): TestKeys {
  return {
    root: generateSigner().signer,
    bundle: generateSigner().signer,
    assignment: generateSigner().signer,
  };
}

const FAR = '2099-01-01T00:00:00Z';

export function signedRoot(k: TestKeys): object {
  const keys = Object.fromEntries(
    [k.root, k.bundle, k.assignment].map((s) => [
      s.keyid,
      { scheme: 'ed25519', public: s.publicHex },
    ]),
  );
  const root = {
    type: 'root',
    version: 1,
    expires: FAR,
    keys,
    roles: {
      root: { keyids: [k.root.keyid], threshold: 1 },
      bundle: { keyids: [k.bundle.keyid], threshold: 1 },
      assignment: { keyids: [k.assignment.keyid], threshold: 1 },
    },
  };
  return signEnvelope(root, [k.root]);
}

export interface TestBundle {
  /** Bundle identity: sha256 of the canonical signed manifest. */
  readonly digest: Digest;
  readonly sequence: number;
  /** The blob carrying the signed envelope. */
  readonly manifestBlob: { readonly sha256: Digest; readonly size: number };
  /** Every blob the device must fetch: the manifest envelope itself and its files. */
  readonly blobs: ReadonlyMap<Digest, Uint8Array>;
}

export function makeBundle(
  k: TestKeys,
  model: TinyModel,
  options: {
    sequence?: number;
    chips?: string[];
    signer?: Signer;
    labels?: string[];
    expires?: string;
    /** Distinct BMODEL bytes (same weights) so the device has to fetch them. */
    variant?: number;
  } = {},
): TestBundle {
  const bmodel = tinyBmodel(model, 'BM1684X', options.variant ?? 0);
  const golden = encodeGoldenFile(goldenSet());
  const sequence = options.sequence ?? 1;
  const manifest = {
    type: 'bundle',
    schemaVersion: 1,
    name: 'tiny',
    version: `1.0.${sequence}`,
    sequence,
    chips: options.chips ?? ['bm1684x'],
    precision: 'fp32',
    runtime: 'sim',
    files: [
      { role: 'bmodel', path: 'model.bmodel', sha256: sha256(bmodel), size: bmodel.length },
      { role: 'golden', path: 'golden.json', sha256: sha256(golden), size: golden.length },
    ],
    inputs: [{ name: 'input', preprocess: { resize_dims: [8, 8], pixel_format: 'rgb' } }],
    outputs: { labels: { inline: options.labels ?? ['zero', 'one', 'two', 'three'] }, topK: 4 },
    golden: { expectedAccuracy: 0.9, expectedCosine: 0, count: 16 },
    provenance: { sourceModelSha256: sha256(bmodel), toolchain: 'sim', toolchainVersion: '1' },
    metadata: { modeledLatencyMs: 2 },
    created: '2026-01-01T00:00:00Z',
    expires: options.expires ?? FAR,
  };
  const envelope = signEnvelope(manifest, [options.signer ?? k.bundle]);
  const blob = manifestBlobOf(envelope);
  const digest = manifestDigest(envelope);
  return {
    digest,
    sequence,
    manifestBlob: { sha256: blob.sha256, size: blob.size },
    blobs: new Map([
      [blob.sha256, blob.bytes],
      [sha256(bmodel), bmodel],
      [sha256(golden), golden],
    ]),
  };
}

export function makeAssignment(
  k: TestKeys,
  deviceId: string,
  sequence: number,
  variants: { name: 'A' | 'B'; bundle: TestBundle; weight: number }[],
  options: {
    shadowRate?: number;
    split?: 'weighted' | 'sticky';
    signer?: Signer;
    expires?: string;
    allowDowngrade?: boolean;
    /** Name only the bundle digest, as controllers before the manifest field did. */
    withoutManifest?: boolean;
    health?: { maxErrorRate: number; maxP95Ms: number; windowS: number };
  } = {},
): Uint8Array {
  const assignment = {
    type: 'assignment',
    deviceId,
    sequence,
    expires: options.expires ?? FAR,
    variants: variants.map((v) => ({
      name: v.name,
      bundle: {
        digest: v.bundle.digest,
        sequence: v.bundle.sequence,
        ...(!options.withoutManifest && { manifest: v.bundle.manifestBlob }),
      },
      weight: v.weight,
    })),
    split: options.split ?? 'weighted',
    shadowRate: options.shadowRate ?? 0,
    ...(options.allowDowngrade && { allowDowngrade: true }),
    health: options.health ?? { maxErrorRate: 0.5, maxP95Ms: 10_000, windowS: 3600 },
  };
  return new TextEncoder().encode(
    JSON.stringify(signEnvelope(assignment, [options.signer ?? k.assignment])),
  );
}
