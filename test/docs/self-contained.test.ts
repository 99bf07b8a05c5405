// Nothing in the repository points readers to a document or file it does not contain: every
// `docs/*.md` named in a tracked file exists, no file cites the vendor reference notes kept outside
// it, the paths README and docs name are there, and README lists the docs pages and benchmarks.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
let files: string[] = [];
try {
  files = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => /\.(ts|js|md|json|sh|service|py|txt)$/.test(f) && existsSync(join(root, f)));
} catch {
  // not a git checkout
}

t.test(
  'no pointer outside the repository',
  { skip: files.length ? false : 'not a git checkout' },
  async (t) => {
    const self = 'test/docs/self-contained.test.ts';
    for (const f of files.filter((f) => f !== self)) {
      const text = readFileSync(join(root, f), 'utf8');
      t.notMatch(
        text,
        /REFERENCE\.md/,
        `${f} cites no reference notes from outside the repository`,
      );
      for (const m of text.matchAll(/(?<![/\w.-])docs\/([a-z0-9-]+\.md)/g)) {
        t.ok(existsSync(join(root, 'docs', m[1]!)), `${f}: docs/${m[1]} exists`);
      }
    }
  },
);

const prose = files.filter((f) => f === 'README.md' || /^docs\/[^/]+\.md$/.test(f));

t.test(
  'paths README and docs name are in the repository or made by a command',
  { skip: files.length ? false : 'not a git checkout' },
  async (t) => {
    const tree =
      /(?<![\w/.-])((?:agent|bench|cli|controller|cross|demo|docs|examples|harness|native|shared|simulate|test)\/[\w./-]*[\w/])/g;
    for (const f of prose) {
      for (const [, path] of readFileSync(join(root, f), 'utf8').matchAll(tree)) {
        // A module may be named without its extension.
        if (path!.includes('*') || [path!, `${path}.ts`].some((p) => existsSync(join(root, p))))
          continue;
        // What a build, a bench or an example writes is ignored by git, not missing.
        const ignored = [path!, `${path}/`].some((p) => {
          try {
            execFileSync('git', ['check-ignore', '-q', p], { cwd: root });
            return true;
          } catch {
            return false;
          }
        });
        t.ok(ignored, `${f}: ${path} exists`);
      }
    }
  },
);

t.test("README's lists of docs pages and benchmarks match the tree", async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const docsRow = /^\| `docs\/` +\|(.*)\|$/m.exec(readme)?.[1] ?? '';
  const named = [...new Set([...docsRow.matchAll(/`([a-z0-9-]+\.md)`/g)].map((m) => m[1]!))];
  t.ok(named.length > 0, "README's docs/ row names pages");
  const pages = readdirSync(join(root, 'docs')).filter((p) => p.endsWith('.md'));
  t.same([...named].sort(), [...pages].sort(), 'every docs page named, none that is not there');

  const benchRow = /^\| `bench\/` +\|.*?one of ([a-z0-9, -]+) \(/m.exec(readme)?.[1] ?? '';
  const listed = benchRow.split(',').map((s) => s.trim());
  const runner = readFileSync(join(root, 'bench/run.ts'), 'utf8');
  const registered = [...runner.matchAll(/^ {2}'?([a-z0-9-]+)'?: \(\) => import\(/gm)].map(
    (m) => m[1]!,
  );
  t.ok(registered.length > 0, 'bench/run.ts registers benchmarks');
  t.same(listed, registered, "README's benchmark names are bench/run.ts's, in its order");
});
