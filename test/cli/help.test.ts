// Every command and every subcommand its usage names answers --help and -h with its usage on
// stdout and exit 0, and an unknown flag with BMF_ERR_USAGE; --version, -V and `version` print
// the package version.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { commands } from '../../cli/main.js';
import { runCli, type CliRun } from '../../harness/cli.js';

// No controller runs here: a command that tried to reach one would fail, not print usage.
const cli = (...argv: string[]): Promise<CliRun> =>
  runCli(argv, { BMFLEET_URL: 'http://127.0.0.1:9' });

/** `bmfleet device add ...` lines of a usage text -> ['add', ...]. */
function subcommandsOf(name: string, usage: string): string[] {
  const re = new RegExp(`bmfleet ${name} ([a-z][a-z-]*)(?:\\|([a-z|-]+))?`, 'g');
  const subs = new Set<string>();
  for (const m of usage.matchAll(re)) {
    for (const s of [m[1], ...(m[2]?.split('|') ?? [])]) if (s) subs.add(s);
  }
  return [...subs];
}

const cases: { argv: string[]; name: string }[] = [];
for (const [name, entry] of Object.entries(commands)) {
  const { USAGE } = await entry.load();
  cases.push({ argv: [name], name });
  for (const sub of subcommandsOf(name, USAGE)) cases.push({ argv: [name, sub], name });
}

t.ok(cases.length > Object.keys(commands).length + 20, `${cases.length} commands and subcommands`);

for (const c of cases) {
  for (const flag of ['--help', '-h']) {
    t.test(`bmfleet ${c.argv.join(' ')} ${flag}`, async (t) => {
      const r = await cli(...c.argv, flag);
      t.equal(r.code, 0, r.err);
      t.equal(r.err, '');
      t.match(r.out, /^usage:\s/);
      t.match(r.out, `bmfleet ${c.name}`);
    });
  }
}

// Every command parses its flags through cli/args.ts: an unknown flag is a usage error, never an
// internal one.
for (const c of cases) {
  t.test(`bmfleet ${c.argv.join(' ')} --no-such-flag`, async (t) => {
    const r = await cli(...c.argv, '--no-such-flag');
    t.not(r.code, 0);
    t.match(r.err, /^BMF_ERR_USAGE: /, r.err);
  });
}

t.test('top-level help lists every command and says how to get a command help', async (t) => {
  for (const argv of [['--help'], ['-h'], ['help']]) {
    const r = await cli(...argv);
    t.equal(r.code, 0);
    for (const name of Object.keys(commands)) t.match(r.out, `  ${name} `);
    t.match(r.out, /--help/);
  }
});

t.test('--version, -V and version print the package version', async (t) => {
  const { version } = JSON.parse(
    readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
  );
  for (const argv of [['--version'], ['-V'], ['version']]) {
    const r = await cli(...argv);
    t.equal(r.code, 0, r.err);
    t.equal(r.out, `bmfleet ${version}\n`);
  }
});

t.test('--help after -- is an argument, not a request for help', async (t) => {
  const r = await cli('bmodel', 'inspect', '--', '--help');
  t.not(r.code, 0);
  t.equal(r.out, '');
});
