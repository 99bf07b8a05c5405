// Dashboard benchmark (issue 12): what the first load of the fleet page costs and how fast the
// pages render, in headless Chromium against a real controller.
//   - compressed JavaScript transferred by the first fleet page load (target <= 300 KB)
//   - fleet page render with 1,000 devices: navigation start to the page drawn with its data,
//     median of 7 loads (target <= 1 s)
//   - with 10,000 devices: one page of the device list from the controller (server-side paging:
//     search and filter over all 10,000) and the devices page render, medians
// The bundle is built first when missing or stale (npm run build makes the same files).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { validateConfig } from '../shared/config/load.js';
import { ControllerConfigSchema } from '../controller/config.js';
import { startController } from '../controller/main.js';
import { buildDashboard, outDir, sourcesMtime } from '../controller/web/build.js';
import { existsSync, statSync } from 'node:fs';
import { launchChromium } from '../harness/browser.js';
import type { Page } from 'playwright-core';

const TOKEN = 'bench-operator-token-0123456789';
const LOADS = 7;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

async function enrol(apiUrl: string, from: number, to: number): Promise<void> {
  const ids = Array.from({ length: to - from }, (_, i) => from + i);
  const worker = async () => {
    for (let i = ids.shift(); i !== undefined; i = ids.shift()) {
      const r = await fetch(`${apiUrl}/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          id: `bench-${String(i).padStart(5, '0')}`,
          chip: i % 4 === 0 ? 'bm1688' : 'bm1684x',
          tags: { site: `site-${i % 25}`, line: `line-${i % 7}` },
        }),
      });
      if (r.status !== 201) throw new Error(`enrol ${i}: HTTP ${r.status}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** ms from navigation start to `[data-loaded=marker]` in the page's own clock. */
async function renderMs(page: Page, url: string, marker: string): Promise<number> {
  await page.goto('about:blank');
  await page.goto(url);
  await page.locator(`[data-loaded="${marker}"]`).waitFor();
  return (await page.evaluate(
    `new Promise((r) => requestAnimationFrame(() => r(performance.now())))`,
  )) as number;
}

export async function run(): Promise<void> {
  const js = `${outDir()}app.js`;
  if (!existsSync(js) || statSync(js).mtimeMs < sourcesMtime()) await buildDashboard();
  const dataDir = await mkdtemp(join(tmpdir(), 'bmf-bench-dashboard-'));
  const config = validateConfig(ControllerConfigSchema, {
    dataDir,
    broker: { embedded: { host: '127.0.0.1', port: 0 } },
    api: { host: '127.0.0.1', port: 0, tokens: [TOKEN] },
    logLevel: 'error',
  });
  const ctl = await startController(config, { logger: pino({ level: 'silent' }) });
  const browser = await launchChromium();
  try {
    await enrol(ctl.apiUrl, 0, 1000);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();

    // First load, signed out: everything the browser fetches to show the sign-in page, then
    // the fleet page after sign-in; scripts counted as transferred (compressed) bytes.
    const scripts = new Map<string, number>();
    page.on('requestfinished', async (req) => {
      if (req.resourceType() !== 'script') return;
      const sizes = await req.sizes();
      scripts.set(req.url(), sizes.responseBodySize);
    });
    await page.goto(`${ctl.apiUrl}/`);
    await page.getByLabel('Operator or read-only token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-loaded="fleet"]').waitFor();
    const jsBytes = [...scripts.values()].reduce((a, b) => a + b, 0);

    const fleet1k: number[] = [];
    for (let i = 0; i < LOADS; i++)
      fleet1k.push(await renderMs(page, `${ctl.apiUrl}/#/fleet`, 'fleet'));

    await enrol(ctl.apiUrl, 1000, 10_000);
    const paging: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      const t0 = performance.now();
      const r = await fetch(
        `${ctl.apiUrl}/ui/api/devices?q=site-7&state=offline&offset=50&limit=50`,
        {
          headers: { authorization: `Bearer ${TOKEN}` },
        },
      );
      const body = (await r.json()) as { total: number; items: unknown[] };
      paging.push(performance.now() - t0);
      if (body.items.length !== 50 || body.total !== 400) throw new Error(`paging: ${body.total}`);
    }
    const devices10k: number[] = [];
    for (let i = 0; i < LOADS; i++)
      devices10k.push(await renderMs(page, `${ctl.apiUrl}/#/devices`, 'devices'));
    const fleet10k: number[] = [];
    for (let i = 0; i < LOADS; i++)
      fleet10k.push(await renderMs(page, `${ctl.apiUrl}/#/fleet`, 'fleet'));

    const kb = jsBytes / 1024;
    const f = (ms: number) => `${ms.toFixed(0)} ms`;
    console.log(`dashboard benchmark (headless Chromium, ${LOADS} loads each, medians)`);
    console.log(
      `  first fleet page load: ${scripts.size} script(s), ${kb.toFixed(1)} KB compressed JavaScript (target <= 300 KB): ${kb <= 300 ? 'ok' : 'OVER'}`,
    );
    console.log(
      `  fleet page, 1,000 devices: ${f(median(fleet1k))} to rendered (target <= 1000 ms): ${median(fleet1k) <= 1000 ? 'ok' : 'OVER'}; all: ${fleet1k.map(f).join(', ')}`,
    );
    console.log(`  fleet page, 10,000 devices: ${f(median(fleet10k))}`);
    console.log(
      `  device list, 10,000 devices: one page (search + filter + offset) from the controller ${f(median(paging))}; devices page rendered ${f(median(devices10k))}`,
    );
  } finally {
    await browser.close();
    await ctl.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
