import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { isBmfError } from '../../../shared/errors.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';
import { readDataset, type DatasetPurpose } from '../../../controller/quantize/dataset.js';
import {
  checkSpecMatchesInput,
  loadImageTensor,
} from '../../../controller/quantize/image-input.js';

interface Expect {
  code?: string;
  labelled?: boolean;
  items?: string[];
  labels?: number[];
  shape?: number[];
}
interface Fixture {
  folders: {
    name: string;
    purpose: DatasetPurpose;
    files?: Record<string, string>;
    labels?: string[];
    missing?: boolean;
    expect: Expect;
  }[];
  images: { name: string; kind: string; purpose: DatasetPurpose; spec?: object; expect: Expect }[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/quantize/dataset-cases.json', import.meta.url), 'utf8'),
) as Fixture;

async function fileBytes(kind: string): Promise<Uint8Array> {
  const channels = kind === 'rgb' ? 3 : 1;
  if (kind === 'gray' || kind === 'rgb') {
    const px = Buffer.alloc(28 * 28 * channels, 90);
    const img = sharp(px, { raw: { width: 28, height: 28, channels } });
    // sharp writes 1-channel input as RGB unless told the colour space is b-w.
    return (channels === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
  }
  return new TextEncoder().encode(kind === 'garbage' ? 'this is not a PNG file' : 'notes');
}

const root = mkdtempSync(join(tmpdir(), 'bmf-quantize-data-'));
const graySpec = parsePreprocessSpec({ resize_dims: [28, 28], pixel_format: 'gray' });

async function expectError(t: Test, code: string, fn: () => Promise<unknown>) {
  try {
    await fn();
    t.fail(`expected ${code}`);
  } catch (e) {
    t.ok(isBmfError(e), 'a BmfError');
    t.equal((e as { code: string }).code, code, (e as Error).message);
  }
}

for (const [k, c] of fixture.folders.entries()) {
  t.test(c.name, async (t) => {
    const dir = join(root, `folder${k}`);
    if (!c.missing) mkdirSync(dir);
    for (const [rel, kind] of Object.entries(c.files ?? {})) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), await fileBytes(kind));
    }
    if (c.expect.code)
      return expectError(t, c.expect.code, () => readDataset(dir, c.purpose, c.labels));
    const ds = await readDataset(dir, c.purpose, c.labels);
    t.equal(ds.labelled, c.expect.labelled);
    if (c.expect.items)
      t.same(
        ds.items.map((i) => basename(i.path)),
        c.expect.items,
      );
    if (c.expect.labels)
      t.same(
        ds.items.map((i) => i.label),
        c.expect.labels,
      );
  });
}

for (const [k, c] of fixture.images.entries()) {
  t.test(c.name, async (t) => {
    const path = join(root, `image${k}.png`);
    writeFileSync(path, await fileBytes(c.kind));
    const spec = c.spec ? parsePreprocessSpec(c.spec) : graySpec;
    if (c.expect.code)
      return expectError(t, c.expect.code, () => loadImageTensor(path, spec, c.purpose));
    const tensor = await loadImageTensor(path, spec, c.purpose);
    t.same(tensor.shape, c.expect.shape);
  });
}

t.test('preprocessing must produce the model input shape', async (t) => {
  t.doesNotThrow(() => checkSpecMatchesInput(graySpec, [1, 1, 28, 28]));
  await expectError(t, 'BMF_ERR_IMAGE_SHAPE', async () =>
    checkSpecMatchesInput(graySpec, [1, 3, 28, 28]),
  );
});
