// The identifiers both sides agree on, from their one home (shared/ids.ts): the checks and the
// TypeBox schemas agree, the variant spellings map both ways, and no source file writes the
// device-id or digest pattern again.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import t from 'tap';
import {
  DEVICE_ID_PATTERN,
  DIGEST_PATTERN,
  DeviceIdSchema,
  DigestSchema,
  isDeviceId,
  isDigest,
  isVariantName,
  parseVariant,
  VariantNameSchema,
} from '../../shared/ids.js';

const deviceIds: [string, boolean][] = [
  ['dev-1', true],
  ['Cam.07_north', true],
  ['a'.repeat(64), true],
  ['a'.repeat(65), false],
  ['', false],
  ['-leading-dash', false],
  ['$SYS', false],
  ['a/b', false],
  ['a+b', false],
  ['a#', false],
  ['dév', false],
];
const digests: [string, boolean][] = [
  ['0'.repeat(64), true],
  ['ab'.repeat(32), true],
  ['AB'.repeat(32), false],
  ['0'.repeat(63), false],
  ['g'.repeat(64), false],
];

t.test('device ids: the check and the schema agree', async (t) => {
  for (const [id, ok] of deviceIds) {
    t.equal(isDeviceId(id), ok, `isDeviceId(${JSON.stringify(id)})`);
    t.equal(Value.Check(DeviceIdSchema, id), ok, `schema(${JSON.stringify(id)})`);
  }
});

t.test('digests: the check and the schema agree', async (t) => {
  for (const [d, ok] of digests) {
    t.equal(isDigest(d), ok, d);
    t.equal(Value.Check(DigestSchema, d), ok, d);
  }
});

t.test('variant names: one spelling, the earlier one read at the edge only', async (t) => {
  for (const s of ['A', 'B']) {
    t.ok(isVariantName(s), s);
    t.ok(Value.Check(VariantNameSchema, s), `schema ${s}`);
  }
  for (const s of ['a', 'b', '', 'C', 'AB']) {
    t.notOk(isVariantName(s), `not a variant name: ${JSON.stringify(s)}`);
    t.notOk(Value.Check(VariantNameSchema, s), `schema refuses ${JSON.stringify(s)}`);
  }
  for (const s of ['a', 'A']) t.equal(parseVariant(s), 'A', s);
  for (const s of ['b', 'B']) t.equal(parseVariant(s), 'B', s);
  for (const s of ['', 'c', 'ab', 'shadow', 'AB']) t.equal(parseVariant(s), undefined, s);
});

const root = new URL('../../', import.meta.url).pathname;
function sourceFiles(dirs: readonly string[], ext: RegExp): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir))) {
      const rel = join(dir, name);
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (ext.test(name)) files.push(rel);
    }
  };
  for (const d of dirs) walk(d);
  return files;
}

t.test('the earlier variant spelling appears nowhere past the edge', async (t) => {
  // Where 'a'/'b' is still read: the one parser and the wire decoder that calls it.
  const edges = ['shared/ids.ts', 'shared/wire/variant-spelling.ts'];
  const respellings = [
    /[Vv]ariant\w*\s*(?:[:=]|===|!==)\s*['"][ab]['"]/, // variant: 'a', variant === "b"
    /[Vv]ariant\w*(?:\?\.|\.)toLowerCase\(\)/, // variant.toLowerCase()
    /['"]a['"]\s*\|\s*['"]b['"]/, // 'a' | 'b'
    /\[\s*['"]a['"]\s*,\s*['"]b['"]\s*\]/, // ['a', 'b']
  ];
  const files = sourceFiles(
    ['agent', 'controller', 'shared', 'cli', 'simulate', 'demo', 'harness'],
    /\.(ts|js)$/,
  ).filter((f) => !edges.includes(f));
  t.ok(files.length > 100, `${files.length} files read`);
  const found = files.flatMap((f) =>
    readFileSync(join(root, f), 'utf8')
      .split('\n')
      .flatMap((line, i) =>
        respellings.some((r) => r.test(line)) ? [`${f}:${i + 1}: ${line.trim()}`] : [],
      ),
  );
  t.same(found, [], 'no variant spelled a/b outside shared/ids.ts and the wire decoder');
  // The check itself finds a re-spelling when there is one.
  t.ok(respellings.some((r) => r.test('variant: r.variant.toLowerCase(),')));
  t.ok(respellings.some((r) => r.test("const q = { variant: 'a' };")));
});

t.test('the patterns are written once', async (t) => {
  const files = sourceFiles(['agent', 'controller', 'shared', 'cli', 'simulate'], /\.ts$/);
  const writers = (pattern: string) =>
    files.filter(
      (f) => f !== 'shared/ids.ts' && readFileSync(join(root, f), 'utf8').includes(pattern),
    );
  // Rollout and experiment ids share the device-id charset but are other ids; an Ed25519 public
  // key and key file names are 64 hex without being content digests.
  const otherIds = [
    'controller/api/schemas.ts',
    'controller/experiment/model.ts',
    'controller/experiment/plan.ts',
  ];
  const notDigests = ['shared/trust/keys.ts', 'shared/trust/keystore.ts'];
  t.same(
    writers(DEVICE_ID_PATTERN.slice(1, -1)).filter((f) => !otherIds.includes(f)),
    [],
    'device-id pattern',
  );
  t.same(
    writers(DIGEST_PATTERN.slice(1, -1)).filter((f) => !notDigests.includes(f)),
    [],
    'digest pattern',
  );
});

t.test(
  'no code brands a Digest or DeviceId by a cast: only the checks in shared/ids.ts do',
  async (t) => {
    const cast = /\bas\s+(?:Digest|DeviceId)\b\s*(?:[,;)\]}|&]|$)/;
    const files = sourceFiles(
      ['agent', 'controller', 'shared', 'cli', 'simulate', 'demo', 'harness', 'bench', 'test'],
      /\.ts$/,
    ).filter((f) => f !== 'shared/ids.ts' && f !== 'test/shared/ids.test.ts');
    const found = files.flatMap((f) =>
      readFileSync(join(root, f), 'utf8')
        .split('\n')
        .flatMap((line, i) => (cast.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
    );
    t.same(found, [], 'parse with parseDigest / parseDeviceId (or a schema) instead');
    // The check itself finds a cast when there is one.
    t.ok(cast.test('digest: r.digest as Digest,'));
    t.ok(cast.test('const id = x as DeviceId;'));
    t.ok(cast.test('f(x as Digest)'));
    t.notOk(cast.test('import { parseDigest, type Digest } from'));
    t.notOk(cast.test('const keep = new Set<Digest>();'));
  },
);
