// Bundles the dashboard (app/main.js: Preact + htm + uPlot) with esbuild into build/web/app.js
// and app.css, which the controller serves (plugin.ts). Run by `npm run build`; tests call
// ensureDashboardBuilt (harness/dashboard.ts). Nothing is fetched at run time. The app imports
// the typed API client (controller/api/client.ts) from outside app/, so the build records every
// input file (inputs.json) and staleness is judged over all of them.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = new URL('./', import.meta.url);
export function sourceDir(): string {
  for (const up of ['app/', '../../../controller/web/app/']) {
    const dir = fileURLToPath(new URL(up, here));
    try {
      if (statSync(`${dir}main.js`).isFile()) return dir;
    } catch {
      // next candidate
    }
  }
  throw new Error('controller/web/app/main.js not found');
}

/** The repository's build/web (the sources sit in <repo>/controller/web/app/). */
export function outDir(): string {
  return fileURLToPath(new URL('../../../build/web/', new URL(`file://${sourceDir()}`)));
}

const INPUTS = 'inputs.json';

/** Newest modification time of the app's sources and of every file the last build read (ms). */
export function sourcesMtime(): number {
  const dir = sourceDir();
  let inputs: string[] = [];
  try {
    inputs = JSON.parse(readFileSync(`${outDir()}${INPUTS}`, 'utf8')) as string[];
  } catch {
    // no build yet: the app's own files decide
  }
  const mtime = (path: string) => {
    try {
      return statSync(path).mtimeMs;
    } catch {
      return Infinity; // an input went away: build again
    }
  };
  return Math.max(...readdirSync(dir).map((f) => mtime(`${dir}${f}`)), ...inputs.map(mtime));
}

export async function buildDashboard(): Promise<{ outDir: string; js: number; css: number }> {
  const { build } = await import('esbuild');
  const out = outDir();
  mkdirSync(out, { recursive: true });
  const result = await build({
    metafile: true,
    entryPoints: { app: `${sourceDir()}main.js` },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    outdir: out,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs)
    .filter((f) => !f.includes('node_modules/'))
    .map((f) => resolve(f));
  writeFileSync(`${out}${INPUTS}`, JSON.stringify(inputs));
  return {
    outDir: out,
    js: statSync(`${out}app.js`).size,
    css: statSync(`${out}app.css`).size,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await buildDashboard();
  process.stdout.write(`dashboard: ${r.outDir}app.js ${r.js} B, app.css ${r.css} B\n`);
}
