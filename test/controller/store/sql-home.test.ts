// All of the controller's SQL lives in controller/store/: no other controller file opens a
// database driver or prepares, executes or wraps a statement in a transaction itself. The
// patterns are checked on source text, so a new file that reaches past the repositories fails here.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const FORBIDDEN: readonly [RegExp, string][] = [
  [/from '(better-sqlite3|pg)'/, 'imports a database driver'],
  [/\bdb\.(prepare|transaction|exec|pragma)\(/, 'runs SQL on a database handle'],
  [/import type \{[^}]*\bDb\b[^}]*\} from '[./]*store\/db\.js'/, 'takes the database handle'],
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const files = sources(join(root, 'controller')).filter(
  (f) => !relative(root, f).startsWith(join('controller', 'store') + '/'),
);

t.ok(files.length > 50, `found the controller's sources (${files.length})`);
const offenders: string[] = [];
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  for (const [re, what] of FORBIDDEN)
    if (re.test(text)) offenders.push(`${relative(root, f)} ${what}`);
}
t.same(offenders, [], 'SQL only in controller/store/');

t.test('the check finds what it looks for', async (t) => {
  const sample = "import Database from 'better-sqlite3';\nconst s = db.prepare('SELECT 1');";
  t.ok(FORBIDDEN.some(([re]) => re.test(sample)));
});
