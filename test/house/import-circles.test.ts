// No import circles, type-only ones included, among the program's parts: a circle means two
// files each need the other to be read, and the shared type belongs in a third.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const PARTS = ['agent', 'cli', 'controller', 'demo', 'harness', 'shared', 'simulate'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? tsFiles(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** Relative imports and re-exports, static and dynamic, as repo paths of .ts files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
    out.push(normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  }
  return out;
}

/** Strongly connected components with more than one file (Tarjan). */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      for (let w = stack.pop()!; ; w = stack.pop()!) {
        onStack.delete(w);
        component.push(relative(ROOT, w));
        if (w === v) break;
      }
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

t.test(
  "the program's parts (cli, demo and harness included) import no file that imports them back",
  async (t) => {
    const files = PARTS.flatMap((p) => tsFiles(join(ROOT, p)));
    t.ok(files.length > 100, `${files.length} files read`);
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    t.same(circles(graph), [], 'no import circles');
    // The check itself finds a circle when there is one.
    const a = join(ROOT, 'x/a.ts');
    const b = join(ROOT, 'x/b.ts');
    t.same(
      circles(
        new Map([
          [a, [b]],
          [b, [a]],
        ]),
      ),
      [['x/a.ts', 'x/b.ts']],
    );
  },
);
