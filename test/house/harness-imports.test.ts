// Benchmarks and the harness they share with tests import no test file: what both need lives in
// harness/ (test data they read stays in test/fixtures/).
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? tsFiles(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

t.test('bench/ and harness/ import nothing from test/', async (t) => {
  const files = ['bench', 'harness'].flatMap((d) => tsFiles(join(ROOT, d)));
  t.ok(files.length > 20, `${files.length} files read`);
  const intoTest = files.flatMap((f) =>
    [...readFileSync(f, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)]
      .map((m) => relative(ROOT, normalize(join(dirname(f), m[1]!))))
      .filter((target) => target.startsWith('test/'))
      .map((target) => `${relative(ROOT, f)} -> ${target}`),
  );
  t.same(intoTest, [], 'imports into test/');
});
