// The libsophon emulator against the documented API contract (docs/libsophon.md): struct layouts
// as libsophon's headers lay them out on LP64, and each scenario of the check program with the
// vendor BMODELs (test/fixtures/libsophon/emulator-cases.json).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VENDOR_SKIP_REASON, vendorDir } from '../shared/bmodel/fixtures.js';
import { EMULATOR_CHECK, EMULATOR_SKIP_REASON } from './libsophon-fixtures.js';

interface Case {
  scenario: string;
  files: string[];
  stdout: Record<string, unknown>;
  stderr: string[];
}
const { layout, cases } = JSON.parse(
  readFileSync(new URL('../fixtures/libsophon/emulator-cases.json', import.meta.url), 'utf8'),
) as { layout: Record<string, number>; cases: Case[] };

function check(args: string[]): { out: unknown; err: string } {
  const r = spawnSync(EMULATOR_CHECK, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`check ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { out: JSON.parse(r.stdout) as unknown, err: r.stderr };
}

const built = existsSync(EMULATOR_CHECK);
const dir = vendorDir();

t.test(
  'struct layouts match libsophon on LP64',
  { skip: built ? false : EMULATOR_SKIP_REASON },
  async (t) => {
    t.same(check(['layout']).out, layout);
  },
);

for (const c of cases) {
  for (const file of c.files) {
    const skip = !built ? EMULATOR_SKIP_REASON : !dir ? VENDOR_SKIP_REASON : false;
    t.test(`${c.scenario} with ${file}`, { skip }, async (t) => {
      const { out, err } = check([c.scenario, join(dir!, file)]);
      t.same(out, c.stdout, 'what the API answered');
      if (c.stderr.length === 0) t.equal(err, '', 'nothing reported');
      for (const line of c.stderr) t.match(err, line, `reports "${line}"`);
    });
  }
}

t.test(
  'a file that is not a BMODEL does not load',
  { skip: built ? false : EMULATOR_SKIP_REASON },
  async (t) => {
    const { out, err } = check([
      'clean',
      fileURLToPath(new URL('../../package.json', import.meta.url)),
    ]);
    t.same(out, { loaded: false });
    t.match(err, 'bmrt_load_bmodel_data: invalid bmodel');
  },
);
