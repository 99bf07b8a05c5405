// Verification of a bundle before anything is loaded (TUF/Uptane client checklist, docs/vendor.md
// section 5), in two steps the plan names separately:
//  verify: the signed manifest (signatures and threshold by the pinned root, expiry, chip), and
//          that the blob it came from is the digest the assignment named;
//  stage:  every file's sha256 and declared size, then the BMODEL's own net description against
//          the manifest (input names, shapes implied by the preprocessing, label count), giving
//          the ModelSpec the serving layer runs.
import { stat } from 'node:fs/promises';
import { readBmodel } from '../../shared/bmodel/read.js';
import type { BundleManifest, Chip, ParsedBundle } from '../../shared/bundle/manifest.js';
import { bmodelFile, manifestDecoder } from '../../shared/bundle/manifest.js';
import { checkDecoderFits } from '../../shared/detect/decode.js';
import { isDetector, type DetectorSpec } from '../../shared/detect/spec.js';
import { bmfError } from '../../shared/errors.js';
import { MAX_MANIFEST_BYTES } from '../../shared/trust/assignment.js';
import { channelCount } from '../../shared/preprocess/spec.js';
import { verifyFile } from '../../shared/trust/file.js';
import type { Root } from '../../shared/trust/root.js';
import { manifestDigest, verifyBundle } from '../../shared/trust/verify.js';
import { describeBmodel } from '../runtime/describe.js';
import type { ModelDescription } from '../runtime/types.js';
import { parseGoldenFile } from '../serve/golden-file.js';
import type { ModelSpec } from '../serve/types.js';
import type { BlobStore } from '../store/blob-store.js';
import type { Digest } from '../../shared/ids.js';

export interface ManifestBlob {
  /** sha256 of the blob (the canonical envelope bytes). */
  readonly digest: Digest;
  /** Its exact size when the assignment declared it; otherwise bounded by MAX_MANIFEST_BYTES. */
  readonly size: number | undefined;
}

/**
 * Verifies the signed manifest of bundle `bundleDigest` from the blob that carries it: read
 * bounded by its size, signatures and threshold by the pinned root, expiry, chip, and identity:
 * the digest of the signed part is the bundle digest (or, for an assignment of an older
 * controller that named the blob itself, the blob's own hash, which the store checked).
 */
export async function verifyBundleBlob(opts: {
  store: BlobStore;
  bundleDigest: Digest;
  /** The blob holding the envelope; the bundle digest itself when omitted (older assignments). */
  manifestBlob?: ManifestBlob;
  root: Root;
  chip: Chip;
  now: Date;
}): Promise<ParsedBundle> {
  const blob = opts.manifestBlob ?? { digest: opts.bundleDigest, size: undefined };
  if (blob.size === undefined) {
    const stored = (await stat(opts.store.pathOf(blob.digest)).catch(() => undefined))?.size;
    if (stored !== undefined && stored > MAX_MANIFEST_BYTES) {
      throw bmfError('BMF_ERR_AGENT_BLOB_TOO_LARGE', {
        digest: blob.digest,
        size: stored,
        limit: MAX_MANIFEST_BYTES,
      });
    }
  }
  const bytes = await opts.store.read(blob.digest, blob.size);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw bmfError('BMF_ERR_BUNDLE_MANIFEST', {
      field: '(document)',
      reason: (e as Error).message,
    });
  }
  const verified = verifyBundle({
    root: opts.root,
    envelope: json,
    chip: opts.chip,
    now: opts.now,
  });
  const digest = manifestDigest(verified.envelope);
  if (digest !== opts.bundleDigest && blob.digest !== opts.bundleDigest) {
    throw bmfError('BMF_ERR_TRUST_HASH_MISMATCH', {
      path: 'bundle manifest',
      expected: opts.bundleDigest,
      actual: digest,
    });
  }
  return { manifest: verified.manifest, inputs: verified.inputs };
}

function fail(field: string, reason: string): never {
  throw bmfError('BMF_ERR_BUNDLE_MANIFEST', { field, reason });
}

/** The BMODEL must be what the manifest says it is (inputs, shapes, dtype, labels, chip). */
export function checkDescriptionAgainstManifest(
  d: ModelDescription,
  bundle: ParsedBundle,
  labels: readonly string[] | undefined,
): void {
  const m = bundle.manifest;
  if (!m.chips.some((c) => c.toLowerCase() === d.chip.toLowerCase())) {
    fail('chips', `BMODEL is for ${d.chip}, manifest lists ${m.chips.join(',')}`);
  }
  const names = d.inputs.map((i) => i.name);
  const declared = m.inputs.map((i) => i.name);
  if (declared.length > 0 && names.join('\0') !== declared.join('\0')) {
    fail('inputs', `BMODEL inputs [${names.join(', ')}], manifest [${declared.join(', ')}]`);
  }
  bundle.inputs.forEach(({ preprocess: spec }, i) => {
    const t = d.inputs[i];
    if (!t) return;
    const [h, w] = spec.input_dims;
    const c = channelCount(spec);
    const want = spec.channel_format === 'nchw' ? [c, h, w] : [h, w, c];
    const got = t.shape.slice(-3);
    if (got.join(',') !== want.join(',')) {
      fail(
        `inputs[${i}].preprocess`,
        `makes [${want.join(',')}], BMODEL input ${t.name} is [${t.shape.join(',')}]`,
      );
    }
    if (spec.output.dtype !== t.dtype) {
      fail(
        `inputs[${i}].preprocess.output`,
        `makes ${spec.output.dtype}, BMODEL input ${t.name} is ${t.dtype}`,
      );
    }
  });
  const decoder = manifestDecoder(m);
  if (isDetector(decoder)) {
    // The decoder must read this BMODEL's outputs (BMF_ERR_DECODER_OUTPUTS otherwise).
    const pre = bundle.inputs[0]?.preprocess;
    const s = d.inputs[0]?.shape ?? [];
    const [height, width] = pre ? pre.resize_dims : [s[2] ?? 0, s[3] ?? 0];
    checkDecoderFits(decoder, d.outputs, { height, width });
  }
  const classes = isDetector(decoder) ? detectorClasses(decoder) : d.outputs[0]?.shape.at(-1);
  if (labels && classes !== undefined && labels.length !== classes) {
    fail('outputs.labels', `${labels.length} labels for ${classes} output classes`);
  }
}

function detectorClasses(d: DetectorSpec): number {
  return d.kind === 'retinaface' ? 1 : d.num_classes;
}

function modeledLatencyOf(m: BundleManifest): number | undefined {
  const md = m.metadata as Record<string, unknown>;
  const direct = md.modeledLatencyMs;
  if (typeof direct === 'number' && direct > 0) return direct;
  const nested = md.modeledLatency as { perImageMs?: unknown } | undefined;
  return typeof nested?.perImageMs === 'number' ? nested.perImageMs : undefined;
}

export async function stageBundle(opts: {
  store: BlobStore;
  bundleDigest: Digest;
  bundle: ParsedBundle;
  signal?: AbortSignal;
}): Promise<ModelSpec> {
  const { store, bundle } = opts;
  const m = bundle.manifest;
  for (const f of m.files) {
    await verifyFile(store.pathOf(f.sha256), f, { label: f.path, signal: opts.signal });
  }
  const file = (role: string) => m.files.find((f) => f.role === role);
  const bmodelEntry = bmodelFile(m);
  const bmodel = await store.read(bmodelEntry.sha256);
  let labels: readonly string[] | undefined;
  const labelRef = m.outputs.labels;
  if (labelRef && 'inline' in labelRef) labels = labelRef.inline;
  if (labelRef && 'file' in labelRef) {
    const f = m.files.find((x) => x.path === labelRef.file);
    if (f) {
      labels = new TextDecoder()
        .decode(await store.read(f.sha256))
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0);
    }
  }
  const description = describeBmodel(readBmodel(bmodel));
  checkDescriptionAgainstManifest(description, bundle, labels);
  const decoderOf = manifestDecoder(m);
  const goldenEntry = file('golden');
  const golden = goldenEntry ? parseGoldenFile(await store.read(goldenEntry.sha256)) : undefined;
  const modeledLatencyMs = modeledLatencyOf(m);
  return {
    bundleDigest: opts.bundleDigest,
    version: m.version,
    bmodel,
    bmodelDigest: bmodelEntry.sha256,
    ...(labels && { labels }),
    ...(bundle.inputs[0] && { preprocess: bundle.inputs[0].preprocess }),
    ...(isDetector(decoderOf) && { decoder: decoderOf }),
    ...(golden && { golden }),
    ...(m.golden && {
      gate: {
        minAccuracy: m.golden.expectedAccuracy,
        minCosine: m.golden.expectedCosine,
        ...(m.golden.expectedMap !== undefined &&
          isDetector(decoderOf) && {
            map: {
              min: m.golden.expectedMap,
              decoder: decoderOf,
              ...(bundle.inputs[0] && { preprocess: bundle.inputs[0].preprocess }),
            },
          }),
      },
    }),
    ...(modeledLatencyMs !== undefined && { modeledLatencyMs }),
  };
}
