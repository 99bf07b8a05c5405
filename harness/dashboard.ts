// The dashboard bundle for browser tests: built by controller/web/build.ts when missing or older
// than its sources (npm run build makes the same files).
import { existsSync, statSync } from 'node:fs';
import { buildDashboard, outDir, sourcesMtime } from '../controller/web/build.js';

export async function ensureDashboardBuilt(): Promise<string> {
  const js = `${outDir()}app.js`;
  if (!existsSync(js) || statSync(js).mtimeMs < sourcesMtime()) await buildDashboard();
  return outDir();
}

/** The axe-core script injected into pages for the accessibility check. */
export const AXE_SCRIPT = new URL('../node_modules/axe-core/axe.min.js', import.meta.url).pathname;
