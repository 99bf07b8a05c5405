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
  variantFromWire,
  wireVariant,
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

t.test('variant names: one mapping between the assignment and the wire spelling', async (t) => {
  t.equal(wireVariant('A'), 'a');
  t.equal(wireVariant('B'), 'b');
  t.equal(wireVariant(''), '');
  for (const s of ['a', 'A']) t.equal(variantFromWire(s), 'A', s);
  for (const s of ['b', 'B']) t.equal(variantFromWire(s), 'B', s);
  for (const s of ['', 'c', 'ab', 'shadow']) t.equal(variantFromWire(s), undefined, s);
});

t.test('the patterns are written once', async (t) => {
  const root = new URL('../../', import.meta.url).pathname;
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir))) {
      const rel = join(dir, name);
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (name.endsWith('.ts')) files.push(rel);
    }
  };
  for (const d of ['agent', 'controller', 'shared', 'cli', 'simulate']) walk(d);
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
