// Nothing in the repository points readers to a document it does not contain: every
// `docs/*.md` named in a tracked file exists, and no file cites the vendor reference notes kept outside it.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
