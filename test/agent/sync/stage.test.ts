// The BMODEL's own net description must agree with the signed manifest before anything loads.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { describeBmodel } from '../../../agent/runtime/describe.js';
import { createBlobStore } from '../../../agent/store/blob-store.js';
import {
  checkDescriptionAgainstManifest,
  stageBundle,
  verifyBundleBlob,
} from '../../../agent/sync/stage.js';
import { readBmodel } from '../../../shared/bmodel/read.js';
import { parseBundle, parseBundleManifest } from '../../../shared/bundle/manifest.js';
import type { BundleManifest } from '../../../shared/bundle/manifest.js';
import { MAX_MANIFEST_BYTES } from '../../../shared/trust/assignment.js';
import { parseSignedRoot } from '../../../shared/trust/root.js';
import { tinyBmodel } from '../../../harness/agent/models.js';
import { makeBundle, signedRoot, testKeys } from '../../../harness/agent/trust.js';
import type { Digest } from '../../../shared/ids.js';

const keys = testKeys();
const root = parseSignedRoot(signedRoot(keys)).root;
const blobOf = (b: ReturnType<typeof makeBundle>) => ({
  digest: b.manifestBlob.sha256,
  size: b.manifestBlob.size,
});
const description = describeBmodel(readBmodel(tinyBmodel('tiny-a')));

function manifestOf(bundle: ReturnType<typeof makeBundle>) {
  const bytes = bundle.blobs.get(bundle.manifestBlob.sha256) as Uint8Array;
  return parseBundleManifest(
    (JSON.parse(new TextDecoder().decode(bytes)) as { signed: unknown }).signed,
  );
}

/** The manifest parsed as at the edge, then checked against the BMODEL's description. */
const check = (
  d: typeof description,
  m: BundleManifest,
  labels: readonly string[] | undefined,
): void => checkDescriptionAgainstManifest(d, parseBundle(m), labels);

t.test('description vs manifest: each disagreement is a typed manifest error', async (t) => {
  const m = manifestOf(makeBundle(keys, 'tiny-a'));
  t.doesNotThrow(() => check(description, m, ['a', 'b', 'c', 'd']));
  const cases: [string, BundleManifest, string[] | undefined, RegExp][] = [
    [
      'input name',
      {
        ...m,
        inputs: [{ name: 'image', preprocess: { resize_dims: [8, 8], pixel_format: 'rgb' } }],
      },
      undefined,
      /inputs/,
    ],
    [
      'spatial size',
      {
        ...m,
        inputs: [{ name: 'input', preprocess: { resize_dims: [16, 16], pixel_format: 'rgb' } }],
      },
      undefined,
      /makes \[3,16,16\]/,
    ],
    [
      'channels',
      {
        ...m,
        inputs: [{ name: 'input', preprocess: { resize_dims: [8, 8], pixel_format: 'gray' } }],
      },
      undefined,
      /makes \[1,8,8\]/,
    ],
    [
      'dtype',
      {
        ...m,
        inputs: [
          {
            name: 'input',
            preprocess: {
              resize_dims: [8, 8],
              pixel_format: 'rgb',
              output: { dtype: 'int8', scale: 0.1 },
            },
          },
        ],
      },
      undefined,
      /makes int8/,
    ],
    ['labels', m, ['a', 'b'], /2 labels for 4 output classes/],
    ['chip', { ...m, chips: ['bm1688'] }, undefined, /BMODEL is for BM1684X/],
  ];
  for (const [name, manifest, labels, message] of cases) {
    t.throws(
      () => check(description, manifest, labels),
      { code: 'BMF_ERR_BUNDLE_MANIFEST', message },
      name,
    );
  }
});

t.test('verify + stage from the store; a rotten file or a foreign signer is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-stage-'));
  const store = await createBlobStore(dir);
  const bundle = makeBundle(keys, 'tiny-a');
  for (const [, bytes] of bundle.blobs) await store.put(bytes);
  const now = new Date('2026-06-01T00:00:00Z');
  const manifest = await verifyBundleBlob({
    store,
    bundleDigest: bundle.digest,
    manifestBlob: blobOf(bundle),
    root,
    chip: 'bm1684x',
    now,
  });
  const spec = await stageBundle({ store, bundleDigest: bundle.digest, bundle: manifest });
  t.same(spec.labels, ['zero', 'one', 'two', 'three']);
  t.ok(spec.preprocess, 'the bundle has a preprocessing spec');
  t.equal(
    spec.preprocess,
    manifest.inputs[0]?.preprocess,
    'the spec parsed when the manifest was verified is passed on, not parsed again',
  );
  t.ok(Object.isFrozen(spec.preprocess), 'complete and frozen');
  t.equal(spec.preprocess?.channel_format, 'nchw', 'schema defaults filled once, at the edge');
  t.equal(spec.golden?.inputs.length, 16);
  t.same(spec.gate, { minAccuracy: 0.9, minCosine: 0 });
  t.equal(spec.modeledLatencyMs, 2);
  await t.rejects(
    verifyBundleBlob({
      store,
      bundleDigest: bundle.digest,
      manifestBlob: blobOf(bundle),
      root,
      chip: 'bm1688',
      now,
    }),
    { code: 'BMF_ERR_TRUST_CHIP_MISMATCH' },
  );
  await t.rejects(
    verifyBundleBlob({
      store,
      bundleDigest: bundle.digest,
      manifestBlob: blobOf(bundle),
      root,
      chip: 'bm1684x',
      now: new Date('2100-01-01T00:00:00Z'),
    }),
    { code: 'BMF_ERR_TRUST_EXPIRED' },
  );

  const foreign = makeBundle(keys, 'tiny-a', { signer: keys.assignment, sequence: 2 });
  await store.put(foreign.blobs.get(foreign.manifestBlob.sha256) as Uint8Array);
  await t.rejects(
    verifyBundleBlob({
      store,
      bundleDigest: foreign.digest,
      manifestBlob: blobOf(foreign),
      root,
      chip: 'bm1684x',
      now,
    }),
    { code: 'BMF_ERR_TRUST_UNKNOWN_KEY' },
  );
});

t.test(
  'the manifest blob is read bounded by its declared size and must be the bundle',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'bmf-stage-'));
    const store = await createBlobStore(dir);
    const bundle = makeBundle(keys, 'tiny-a');
    const other = makeBundle(keys, 'tiny-a', { sequence: 2 });
    for (const b of [bundle, other]) for (const [, bytes] of b.blobs) await store.put(bytes);
    const now = new Date('2026-06-01T00:00:00Z');
    const verify = (manifestBlob: { digest: Digest; size: number | undefined }) =>
      verifyBundleBlob({
        store,
        bundleDigest: bundle.digest,
        manifestBlob,
        root,
        chip: 'bm1684x',
        now,
      });
    await t.rejects(verify({ ...blobOf(bundle), size: bundle.manifestBlob.size - 1 }), {
      code: 'BMF_ERR_TRUST_SIZE_MISMATCH',
    });
    await t.rejects(verify(blobOf(other)), { code: 'BMF_ERR_TRUST_HASH_MISMATCH' });
    // An older assignment names no manifest blob: one above MAX_MANIFEST_BYTES is not read.
    const big = new Uint8Array(MAX_MANIFEST_BYTES + 1).fill(0x20);
    const bigDigest = await store.put(big);
    await t.rejects(
      verifyBundleBlob({ store, bundleDigest: bigDigest, root, chip: 'bm1684x', now }),
      { code: 'BMF_ERR_AGENT_BLOB_TOO_LARGE' },
    );
    t.ok(await verify(blobOf(bundle)));
  },
);

t.test('a detection decoder must fit the BMODEL outputs and take its labels', async (t) => {
  const m = manifestOf(makeBundle(keys, 'tiny-a'));
  // tiny-a answers logits [1, 4]: no detector reads that.
  const yolo = { kind: 'yolov8', output: 'logits', num_classes: 2 };
  t.throws(
    () => check(description, { ...m, outputs: { ...m.outputs, decoder: yolo } }, undefined),
    { code: 'BMF_ERR_DECODER_OUTPUTS' },
  );
  const missing = { kind: 'yolov8', output: 'boxes', num_classes: 2 };
  t.throws(
    () => check(description, { ...m, outputs: { ...m.outputs, decoder: missing } }, undefined),
    { code: 'BMF_ERR_DECODER_OUTPUTS', message: /no output boxes/ },
  );
});
