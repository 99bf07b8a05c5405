import t from 'tap';
import { readFileSync } from 'node:fs';
import { canonicalBytes } from '../../../shared/bundle/canonical.js';
import {
  bmodelFile,
  manifestDecoder,
  parseBundleManifest,
} from '../../../shared/bundle/manifest.js';
import { isBmfError } from '../../../shared/errors.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../fixtures/trust/${name}`, import.meta.url), 'utf8'));

const valid = fixture('manifest.valid.json') as Record<string, unknown>;
const invalid = fixture('manifest-invalid.json') as {
  rows: { name: string; path: string; value?: unknown; field: string }[];
};

/** Set (or delete, when value is undefined) a dotted path like "files[1].role". */
function withChange(doc: unknown, path: string, value: unknown): unknown {
  const copy = structuredClone(doc) as Record<string, unknown>;
  const keys = path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== '');
  let node = copy as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = keys[keys.length - 1] as string;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

t.test('the valid fixture parses, frozen, from value, text and bytes', async (t) => {
  const m = parseBundleManifest(valid);
  t.equal(m.name, 'resnet18-imagenet');
  t.equal(bmodelFile(m).path, 'resnet18_int8.bmodel');
  t.ok(Object.isFrozen(m) && Object.isFrozen(m.files[0]));
  const text = JSON.stringify(valid);
  t.same(parseBundleManifest(text), m);
  t.same(parseBundleManifest(new TextEncoder().encode(text)), m);
});

t.test('canonical bytes do not depend on the file layout', async (t) => {
  const pretty = JSON.stringify(valid, null, 2);
  const reordered = JSON.stringify(Object.fromEntries(Object.entries(valid).reverse()));
  t.same(
    canonicalBytes(parseBundleManifest(pretty)),
    canonicalBytes(parseBundleManifest(reordered)),
  );
});

t.test('not JSON', async (t) => {
  t.throws(() => parseBundleManifest('{"name":'), { code: 'BMF_ERR_BUNDLE_MANIFEST' });
});

for (const row of invalid.rows) {
  t.test(`rejects: ${row.name}`, async (t) => {
    const doc = withChange(valid, row.path, row.value);
    try {
      parseBundleManifest(doc);
      t.fail('parsed an invalid manifest');
    } catch (e) {
      t.ok(isBmfError(e, 'BMF_ERR_BUNDLE_MANIFEST'), String(e));
      t.equal(isBmfError(e) && e.details.field, row.field);
    }
  });
}

t.test('the output decoder: absent reads as classify, present is carried as signed', async (t) => {
  t.same(manifestDecoder(parseBundleManifest(valid)), { kind: 'classify' });
  const decoder = { kind: 'yolov8', output: 'output0', num_classes: 80, score_threshold: 0.3 };
  const doc = withChange(valid, 'outputs.decoder', decoder);
  const m = parseBundleManifest(doc);
  t.same(m.outputs.decoder, decoder, 'defaults are not written into the signed manifest');
  t.match(manifestDecoder(m), { ...decoder, iou_threshold: 0.45, max_detections: 300 });
});
