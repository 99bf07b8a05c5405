// The experiment HTML report as a user sees it: rendered from an analysis of seeded synthetic
// telemetry, served by the controller's experiment routes on a real socket, opened in Debian's
// Chromium. Checks what is on screen (title, verdict, four drawn charts, legend, error bars), that
// the page is self-contained (no request but the page itself, no console errors), that a
// screenshot is a real picture, and that the charts fit a phone-width viewport.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../../harness/browser.js';
import { bmfError } from '../../shared/errors.js';
import { installErrorHandling } from '../../controller/api/errors.js';
import { typeboxValidatorCompiler } from '../../controller/api/validation.js';
import { experimentRoutes } from '../../controller/experiment/routes.js';
import type { ExperimentService } from '../../controller/experiment/service.js';
import type { ExperimentSpec, ExperimentState } from '../../controller/experiment/model.js';
import {
  analyzeExperiment,
  type Analysis,
  type ArmTelemetry,
} from '../../controller/experiment/analyze.js';
import {
  createFakeTelemetry,
  devices,
  DIGEST_A,
  DIGEST_B,
} from '../controller/experiment/helpers.js';

interface Scenario {
  why: string;
  spec: Omit<ExperimentSpec, 'bundleA' | 'bundleB'>;
  telemetry: {
    seed: number;
    devices: number;
    perDevice: number;
    latencyMs: { A: number; B: number };
    accuracy: { A: number; B: number };
    timelineBucketMs: number;
  };
  expect: { verdictHeading: string; charts: number; groups: string[]; minDistinctColours: number };
  viewports: Record<'wide' | 'narrow', { width: number; height: number }>;
}
const scenario = JSON.parse(
  readFileSync(new URL('../fixtures/e2e/report-browser.json', import.meta.url), 'utf8'),
) as Scenario;

/** The analysis the controller would compute: whole population, one group per chip, timeline. */
function buildAnalysis(s: Scenario): Analysis {
  const m = s.telemetry;
  const tel = createFakeTelemetry({
    seed: m.seed,
    perDevice: m.perDevice,
    latencyMs: { [DIGEST_A]: m.latencyMs.A, [DIGEST_B]: m.latencyMs.B },
    accuracy: { [DIGEST_A]: m.accuracy.A, [DIGEST_B]: m.accuracy.B },
  });
  const fleet = devices(m.devices);
  const window = { fromMs: 0, toMs: 3 * m.timelineBucketMs };
  const arms = (ids: readonly string[]): { A: ArmTelemetry; B: ArmTelemetry } => {
    const arm = (bundle: string): ArmTelemetry => {
      const f = { deviceIds: ids, bundle, ...window };
      return { sketches: tel.sketches(f), summary: tel.query(f) };
    };
    return { A: arm(DIGEST_A), B: arm(DIGEST_B) };
  };
  const all = fleet.map((d) => d.id);
  const chips = [...new Set(fleet.map((d) => d.chip))].sort();
  const perBucket = (bundle: string) =>
    tel.timeline({ deviceIds: all, bundle, ...window }, m.timelineBucketMs);
  const tA = perBucket(DIGEST_A);
  const tB = perBucket(DIGEST_B);
  const spec: ExperimentSpec = { ...s.spec, bundleA: DIGEST_A, bundleB: DIGEST_B };
  const state: ExperimentState = {
    status: 'running',
    createdAt: 0,
    startedAt: 0,
    devices: all,
    alwaysValidP: {},
    looks: [],
  };
  return analyzeExperiment({
    spec,
    state,
    now: window.toMs,
    arms: arms(all),
    groups: chips.map((chip) => ({
      name: `chip=${chip}`,
      ...arms(fleet.filter((d) => d.chip === chip).map((d) => d.id)),
    })),
    timeline: tA.map((b, i) => ({ startMs: b.startMs, A: b.requests, B: tB[i]?.requests ?? 0 })),
  });
}

/** Only `analyze` is reached by GET /v1/experiments/:id/report; the rest must stay unused. */
function reportOnlyService(analysis: Analysis): ExperimentService {
  const unused = (name: string) => (): never => {
    throw new Error(`ExperimentService.${name} is not used by the report page`);
  };
  return {
    list: unused('list'),
    get: unused('get'),
    create: unused('create'),
    start: unused('start'),
    promote: unused('promote'),
    plan: unused('plan'),
    abort: unused('abort'),
    look: unused('look'),
    analyze: async (id: string) => {
      if (id !== analysis.experimentId)
        throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'experiment', id });
      return analysis;
    },
  };
}

interface PageWatch {
  readonly requests: string[];
  readonly problems: string[];
}
/** Everything the page asks for and everything that goes wrong on it. */
function watch(page: Page): PageWatch {
  const w: PageWatch = { requests: [], problems: [] };
  page.on('request', (r) => w.requests.push(r.url()));
  page.on('requestfailed', (r) =>
    w.problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`),
  );
  page.on('pageerror', (e) => w.problems.push(`page error: ${e.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning')
      w.problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  return w;
}

/** Distinct RGB colours of a PNG, and whether it holds (near) exact pixels of the given colours. */
async function pictureOf(png: Buffer, colours: readonly string[]) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const seen = new Set<number>();
  for (let i = 0; i < data.length; i += 3)
    seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
  const near = (hex: string): boolean => {
    const c = parseInt(hex.slice(1), 16);
    const [r, g, b] = [c >> 16, (c >> 8) & 255, c & 255];
    for (const p of seen) {
      if (Math.abs((p >> 16) - r) + Math.abs(((p >> 8) & 255) - g) + Math.abs((p & 255) - b) <= 12)
        return true;
    }
    return false;
  };
  return {
    width: info.width,
    height: info.height,
    distinctColours: seen.size,
    present: Object.fromEntries(colours.map((c) => [c, near(c)])),
  };
}

const skip = chromiumSkip();
if (skip) console.log(`# skipping report-browser: ${skip}`);

t.test('experiment report in Chromium', { skip }, async (t) => {
  const analysis = buildAnalysis(scenario);
  const id = analysis.experimentId;

  const app = Fastify({ logger: false });
  installErrorHandling(app);
  app.setValidatorCompiler(typeboxValidatorCompiler);
  experimentRoutes(app, { experiments: reportOnlyService(analysis) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const url = `${origin}/v1/experiments/${id}/report`;

  const keep = process.env['BMF_E2E_ARTIFACTS'];
  const outDir = keep ?? mkdtempSync(join(tmpdir(), 'bmf-report-e2e-'));
  mkdirSync(outDir, { recursive: true });
  if (!keep) t.teardown(() => rmSync(outDir, { recursive: true, force: true }));

  const browser: Browser = await launchChromium();
  t.teardown(() => browser.close());

  t.test('served as HTML over HTTP; an unknown experiment is a typed 404', async (t) => {
    const ok = await fetch(url);
    t.equal(ok.status, 200);
    t.match(ok.headers.get('content-type'), /^text\/html/);
    const missing = await fetch(`${origin}/v1/experiments/no-such-experiment/report`);
    t.equal(missing.status, 404);
    t.match(await missing.json(), { error: { code: 'BMF_ERR_NOT_FOUND' } });
  });

  t.test('wide viewport: what a user sees', async (t) => {
    const context = await browser.newContext({ viewport: scenario.viewports.wide });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const seen = watch(page);
    const response = await page.goto(url, { waitUntil: 'load' });
    t.equal(response?.status(), 200);

    t.match(await page.title(), id, 'title names the experiment');
    t.match(await page.locator('h1').innerText(), id, 'heading names the experiment');

    const verdict = page.locator('h2', { hasText: 'Verdict' });
    t.ok(await verdict.isVisible(), 'verdict is visible');
    t.equal(await verdict.innerText(), scenario.expect.verdictHeading);

    // Metric table: each row says what the test ran over and the n it used (traffic split:
    // requests per arm).
    const rows = await page.locator('table').first().locator('tbody tr').all();
    t.equal(rows.length, analysis.metrics.length, 'one row per metric');
    for (const [i, m] of analysis.metrics.entries()) {
      const cells = (await rows[i]!.locator('td').allInnerTexts()).slice(0, 4);
      t.same(cells, [m.label, 'requests', String(m.analysed.A), String(m.analysed.B)], m.label);
    }
    t.ok(await page.getByText('tested over requests: traffic split').isVisible(), 'unit note');

    const charts = page.locator('figure > svg');
    t.equal(await charts.count(), scenario.expect.charts, 'one <svg> per chart');
    for (let i = 0; i < scenario.expect.charts; i++) {
      const box = await charts.nth(i).boundingBox();
      t.ok(
        box && box.width > 100 && box.height > 50,
        `chart ${i} is drawn (${JSON.stringify(box)})`,
      );
    }

    // Latency CDF: one curve per variant, distinct colours, legend naming A and B in those colours.
    const cdf = page.locator('svg[aria-label*="latency CDF"]');
    const curves = await Promise.all(
      (await cdf.locator('polyline').all()).map(async (e) => ({
        stroke: await e.getAttribute('stroke'),
        points: ((await e.getAttribute('points')) ?? '').trim().split(/\s+/).length,
        box: await e.boundingBox(),
      })),
    );
    t.equal(curves.length, 2, 'one CDF curve per variant');
    t.not(curves[0]?.stroke, curves[1]?.stroke, 'variants have distinct colours');
    for (const c of curves)
      t.ok(
        c.points >= 10 && c.box && c.box.width > 50 && c.box.height > 50,
        `curve drawn: ${JSON.stringify(c)}`,
      );
    const legend = await cdf
      .locator('text')
      .evaluateAll((els) =>
        els.map((e) => ({ text: (e.textContent ?? '').trim(), fill: e.getAttribute('fill') })),
      );
    for (const [arm, curve] of [
      ['A', curves[0]],
      ['B', curves[1]],
    ] as const) {
      const entry = legend.find((l) => l.text.endsWith(` ${arm}`));
      t.ok(entry, `legend names ${arm}`);
      t.equal(entry?.fill, curve?.stroke, `legend colour of ${arm} matches its curve`);
    }

    // Accuracy: each arm's interval is a horizontal bar reaching past its point marker (a
    // circle of radius 3 px), with a cap at each end, in the arm's colour.
    const lines = await Promise.all(
      (await page.locator('svg[aria-label^="Accuracy"] line').all()).map(async (e) => ({
        stroke: await e.getAttribute('stroke'),
        box: (await e.boundingBox()) ?? { x: 0, y: 0, width: 0, height: 0 },
      })),
    );
    const colours = curves.map((c) => c.stroke);
    for (const colour of colours) {
      const mine = lines.filter((l) => l.stroke === colour);
      const bars = mine.filter((l) => l.box.width > l.box.height);
      const caps = mine.filter((l) => l.box.height > l.box.width);
      t.ok(
        bars.length > 0 && bars.every((b) => b.box.width > 8),
        `error bars in ${colour} wider than the point marker: ${bars.map((b) => b.box.width.toFixed(1)).join(', ')} px`,
      );
      t.equal(caps.length, 2 * bars.length, `two caps per error bar in ${colour}`);
    }

    // Per-group breakdown names every group; sample-size chart has both arms.
    const groupText = (await page.locator('svg[aria-label^="Per-group"]').textContent()) ?? '';
    for (const g of scenario.expect.groups) t.match(groupText, g);
    t.equal(await page.locator('svg[aria-label^="Sample size"] polyline').count(), 2);

    t.same(seen.problems, [], 'no console errors, page errors or failed requests');
    t.same(seen.requests, [url], 'self-contained: the page requests nothing but itself');

    const file = join(outDir, 'report-wide.png');
    const png = await page.screenshot({ path: file, fullPage: true });
    const pic = await pictureOf(
      png,
      colours.filter((c): c is string => c !== null),
    );
    t.equal(pic.width, scenario.viewports.wide.width);
    t.ok(
      pic.distinctColours > scenario.expect.minDistinctColours,
      `screenshot is a picture (${pic.distinctColours} distinct colours) at ${file}`,
    );
    t.same(
      Object.values(pic.present),
      colours.map(() => true),
      'both variant colours are on screen',
    );
  });

  t.test('narrow viewport: charts shrink to fit, nothing scrolls sideways', async (t) => {
    const vp = scenario.viewports.narrow;
    const context = await browser.newContext({ viewport: vp });
    t.teardown(() => context.close());
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(url, { waitUntil: 'load' });
    // A string expression: this project type-checks without the DOM library.
    const [clientWidth, scrollWidth] = (await page.evaluate(
      '[document.documentElement.clientWidth, document.documentElement.scrollWidth]',
    )) as [number, number];
    const layout = {
      clientWidth,
      scrollWidth,
      charts: await Promise.all(
        (await page.locator('figure > svg').all()).map(async (e) => {
          const r = (await e.boundingBox()) ?? { x: -1, y: 0, width: 0, height: 0 };
          return { left: r.x, right: r.x + r.width, width: r.width, height: r.height };
        }),
      ),
    };
    t.equal(layout.charts.length, scenario.expect.charts);
    for (const c of layout.charts) {
      t.ok(
        c.left >= 0 && c.right <= layout.clientWidth,
        `chart inside the viewport: ${JSON.stringify(c)}`,
      );
      t.ok(c.width > 100 && c.height > 40, 'chart still drawn');
    }
    t.ok(
      layout.scrollWidth <= layout.clientWidth,
      `no horizontal overflow (scrollWidth ${layout.scrollWidth}, clientWidth ${layout.clientWidth})`,
    );
    t.same(seen.problems, []);
    await page.screenshot({ path: join(outDir, 'report-narrow.png'), fullPage: true });
  });
});
