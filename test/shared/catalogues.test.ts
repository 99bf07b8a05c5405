// The two code catalogues (shared/errors.ts, shared/events.ts) against their docs and the code:
// every code documented, nothing documented that is not catalogued, every live code used by some
// source file, every BMF_EVT_* code the sources write catalogued.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { errorCatalogue } from '../../shared/errors.js';
import { eventCatalogue } from '../../shared/events.js';

const root = new URL('../../', import.meta.url).pathname;
const SOURCE_DIRS = ['agent', 'controller', 'shared', 'cli', 'cross', 'simulate', 'bin', 'demo'];
const CATALOGUES = new Set(['shared/errors.ts', 'shared/events.ts']);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...sources(rel));
    else if (/\.(ts|js|mjs)$/.test(name) && !CATALOGUES.has(rel)) out.push(rel);
  }
  return out;
}
const text = SOURCE_DIRS.filter((d) => {
  try {
    return statSync(join(root, d)).isDirectory();
  } catch {
    return false;
  }
})
  .flatMap(sources)
  .map((f) => readFileSync(join(root, f), 'utf8'))
  .join('\n');

const eventDocs = readFileSync(join(root, 'docs/events.md'), 'utf8');

t.test('every event code is documented in docs/events.md and nothing else is', async (t) => {
  const documented = new Set(eventDocs.match(/BMF_EVT_[A-Z0-9_]+/g) ?? []);
  const defined = new Set(Object.keys(eventCatalogue));
  t.same(
    [...defined].filter((c) => !documented.has(c)),
    [],
    'undocumented event codes',
  );
  t.same(
    [...documented].filter((c) => !defined.has(c)),
    [],
    'documented but not catalogued',
  );
});

t.test('every BMF_EVT_* code the sources write is catalogued', async (t) => {
  const written = new Set(text.match(/BMF_EVT_[A-Z0-9_]+/g) ?? []);
  t.same(
    [...written].filter((c) => !(c in eventCatalogue)),
    [],
  );
});

t.test('every live code is used by some source file', async (t) => {
  const used = (code: string): boolean => text.includes(`'${code}'`);
  const unusedEvents = Object.keys(eventCatalogue).filter((c) => !used(c));
  t.same(unusedEvents, [], 'catalogued event codes never used');
  const unusedErrors = Object.entries(errorCatalogue)
    .filter(([, spec]) => !('retired' in spec && spec.retired))
    .map(([code]) => code)
    .filter((c) => !used(c));
  t.same(unusedErrors, [], 'catalogued error codes never used (retire them instead)');
});

t.test('retired error codes say so in docs/errors.md', async (t) => {
  const docs = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  for (const [code, spec] of Object.entries(errorCatalogue)) {
    if (!('retired' in spec && spec.retired)) continue;
    t.match(docs, new RegExp(`\`${code}\`[^\\n]*retired`), code);
  }
});
