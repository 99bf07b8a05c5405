// docs/preprocess.md lists every preprocessing-spec field with its default, and its torchvision
// worked example is what the code computes and passes to the vendor tools.
import t from 'tap';
import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { PreprocessSpecSchema, parsePreprocessSpec } from '../../shared/preprocess/spec.js';
import { toModelTransformArgs, toNntcPreprocessString } from '../../shared/preprocess/export.js';

const doc = readFileSync(new URL('../../docs/preprocess.md', import.meta.url), 'utf8');

t.test('every field with its default, and no other', async (t) => {
  const rows = new Map<string, string>();
  for (const line of doc.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const field = /^`([a-z_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (field) rows.set(field, cells[2] ?? '');
  }
  const props = PreprocessSpecSchema.properties as Record<string, TSchema>;
  for (const [field, schema] of Object.entries(props)) {
    const def = (schema as { default?: unknown }).default;
    t.equal(rows.get(field), def === undefined ? '—' : `\`${JSON.stringify(def)}\``, field);
  }
  t.same(
    [...rows.keys()].filter((f) => !(f in props)),
    [],
  );
});

t.test('torchvision Normalize worked example', async (t) => {
  const m = [0.485, 0.456, 0.406];
  const s = [0.229, 0.224, 0.225];
  const json = /```json\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  const spec = parsePreprocessSpec(JSON.parse(json));
  // Stated tolerance: the doc gives six significant digits.
  spec.mean.forEach((v, i) => t.ok(Math.abs(v - 255 * m[i]!) < 1e-9, `mean ${i}: ${v}`));
  spec.scale.forEach((v, i) => {
    const exact = 1 / (255 * s[i]!);
    t.ok(Math.abs(v - exact) / exact < 5e-6, `scale ${i}: ${v} vs ${exact}`);
  });
  t.match(doc, `model_transform.py ... ${toModelTransformArgs(spec).join(' ')}`);
  t.match(doc, `--cali_image_preprocess '${toNntcPreprocessString(spec)}'`);
});

t.test('the Fashion-MNIST numbers match its preprocess.json', async (t) => {
  const spec = JSON.parse(
    readFileSync(new URL('../../examples/fashion-mnist/preprocess.json', import.meta.url), 'utf8'),
  );
  t.match(doc, `\`mean\` ${spec.mean[0]}`);
  t.match(doc, `\`scale\` ${spec.scale[0]}`);
});
