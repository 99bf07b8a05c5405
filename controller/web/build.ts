// Bundles the dashboard (app/main.js: Preact + htm + uPlot) with esbuild into build/web/app.js
// and app.css, which the controller serves (plugin.ts). Run by `npm run build`; tests call
// ensureDashboardBuilt (test/helpers/dashboard.ts). Nothing is fetched at run time.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
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

/** Newest modification time of the app's sources (ms). */
export function sourcesMtime(): number {
  const dir = sourceDir();
  return Math.max(...readdirSync(dir).map((f) => statSync(`${dir}${f}`).mtimeMs));
}

export async function buildDashboard(): Promise<{ outDir: string; js: number; css: number }> {
  const { build } = await import('esbuild');
  const out = outDir();
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: { app: `${sourceDir()}main.js` },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    outdir: out,
    legalComments: 'none',
    logLevel: 'warning',
  });
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
