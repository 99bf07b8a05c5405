// The operator dashboard in Chromium against a real controller (embedded broker, REST API,
// SQLite) and a simulated fleet of MQTT devices that install an assignment only when the test
// releases them, so a rollout's groups can be watched filling up on the open page. Signs in,
// creates a rollout from the form, pauses and resumes it, watches it complete without a reload,
// promotes an experiment fed with telemetry, opens a device page, checks that a read-only
// session has no action buttons and that forged changes are refused, runs axe-core on every
// page and writes a screenshot of each into the test's output folder.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../../harness/browser.js';
import { AXE_SCRIPT, ensureDashboardBuilt } from '../../harness/dashboard.js';
import { waitForValue } from '../../harness/wait.js';
import {
  makeSignedBundle,
  startTestController,
  type TestController,
} from '../../harness/controller/test-controller.js';
import { encodeReport, lognormalSamples } from '../../harness/controller/telemetry-reports.js';
import { isVariantName, type VariantName, parseDeviceId, parseDigest } from '../../shared/ids.js';
import { decodeMessage, encodeMessage } from '../../shared/wire/codec.js';
import { deviceTopic } from '../../shared/wire/topics.js';

const READ_ONLY_TOKEN = 'read-only-token-for-the-dashboard-test';
const DEVICES = Array.from({ length: 8 }, (_, i) => ({
  id: `dash-${String(i + 1).padStart(2, '0')}`,
  site: i % 2 === 0 ? 'berlin' : 'shenzhen',
}));
/** Each page and the element it shows once its data arrived. */
const PAGES: [string, string][] = [
  ['fleet', 'fleet'],
  ['rollouts', 'rollouts'],
  ['experiments', 'experiment'],
  ['devices', 'devices'],
  ['bundles', 'bundles'],
  ['telemetry', 'telemetry'],
];

/** A device that reports an assignment installed only when released. */
interface HeldDevice {
  readonly id: string;
  readonly client: MqttClient;
  readonly pending: { digest: string; sequence: number; seq: number; name: VariantName }[];
  release(): Promise<void>;
  close(): Promise<void>;
}

async function connectHeld(brokerUrl: string, id: string, secret: string): Promise<HeldDevice> {
  const client = await mqtt.connectAsync(brokerUrl, {
    clientId: id,
    username: id,
    password: secret,
    protocolVersion: 4,
    reconnectPeriod: 200,
  });
  const pending: HeldDevice['pending'] = [];
  client.on('message', (_topic, payload) => {
    const { envelope } = decodeMessage('SignedAssignment', new Uint8Array(payload));
    const doc = JSON.parse(Buffer.from(envelope).toString('utf8')) as {
      signed: {
        sequence: number;
        variants: { name: string; bundle: { digest: string; sequence: number } }[];
      };
    };
    const v = doc.signed.variants[0];
    if (v && isVariantName(v.name))
      pending.push({
        digest: v.bundle.digest,
        sequence: v.bundle.sequence,
        seq: doc.signed.sequence,
        name: v.name,
      });
  });
  await client.subscribeAsync(deviceTopic('assignment', id), { qos: 1 });
  return {
    id,
    client,
    pending,
    async release() {
      const a = pending.splice(0).pop();
      if (!a) return;
      const state = encodeMessage('DeviceState', {
        deviceId: parseDeviceId(id),
        active: [
          { variant: a.name, bundleDigest: parseDigest(a.digest), bundleSequence: a.sequence },
        ],
        lastKnownGood: [],
        assignmentSequence: a.seq,
        status: 'active',
        lastErrorCode: '',
        uptimeMs: 1000,
        timeMs: Date.now(),
      });
      await client.publishAsync(deviceTopic('state', id), Buffer.from(state), {
        qos: 1,
        retain: true,
      });
    },
    close: () => client.endAsync(),
  };
}

/** axe-core on the current page: serious and critical violations, by rule. */
async function axe(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE_SCRIPT });
  const result = (await page.evaluate(
    'axe.run(document, { resultTypes: ["violations"] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, target: String(v.nodes[0] && v.nodes[0].target) })))',
  )) as { id: string; impact: string; nodes: number; target: string }[];
  return result
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}, ${v.nodes} nodes, e.g. ${v.target})`);
}

function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // Refused requests the test makes on purpose are logged by Chromium as failed resources.
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) problems.push(m.text());
  });
  return problems;
}

/**
 * One report per arm from each device: simulated agents report modeled latency, which the
 * analysis does not test, so B wins on accuracy (feedback labels). Report sequences start at
 * `firstSeq` (a device's reports are told apart by them). With `failedB`, the first device's A
 * report also carries that many B requests that failed before a model answered, as an agent
 * sends them on whichever report goes out next.
 */
async function feedArms(
  devices: readonly HeldDevice[],
  a: string,
  b: string,
  firstSeq: number,
  failedB = 0,
) {
  const start = Date.now();
  let seq = firstSeq;
  for (const [i, d] of devices.entries()) {
    for (const [variant, digest, median, correct] of [
      ['A', a, 12, 42],
      ['B', b, 6, 57],
    ] as const) {
      const carries = failedB > 0 && i === 0 && variant === 'A';
      const report = encodeReport({
        deviceId: d.id,
        variant,
        bundleDigest: digest,
        intervalStartMs: start,
        reportSequence: seq++,
        latency: { e2e: lognormalSamples(60, median, 0.2, seq) },
        feedback: [correct, 60],
        ...(carries && {
          failedBeforeModel: {
            B: {
              requests: failedB,
              errors: failedB,
              errorsByCode: { BMF_ERR_AGENT_NOT_READY: failedB },
              shadowRequests: 0,
            },
          },
        }),
      });
      await d.client.publishAsync(deviceTopic('telemetry', d.id), Buffer.from(report), { qos: 1 });
    }
  }
}

/** Press Tab (Shift+Tab when `back`) until the focused element matches, at most `max` times. */
async function tabTo(page: Page, selector: string, opts: { back?: boolean; max?: number } = {}) {
  for (let i = 0; i < (opts.max ?? 80); i++) {
    await page.keyboard.press(opts.back ? 'Shift+Tab' : 'Tab');
    const hit = await page.evaluate(
      `!!document.activeElement && document.activeElement.matches(${JSON.stringify(selector)})`,
    );
    if (hit) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** Wait until the focused element's text matches (focus moves as the page renders). */
async function focusOn(page: Page, text: RegExp) {
  await page.waitForFunction(
    `(() => { const el = document.activeElement; return !!el && el !== document.body && ${text.toString()}.test((el.innerText || el.getAttribute('aria-label') || '').trim()); })()`,
    undefined,
    { timeout: 10_000 },
  );
  return focused(page);
}

/** Tab until a `selector` element whose text matches `text` has focus. */
async function tabToText(page: Page, selector: string, text: RegExp) {
  const seen: string[] = [];
  for (let i = 0; i < 10; i++) {
    await tabTo(page, selector);
    const f = await focused(page);
    if (text.test(f.text)) return;
    seen.push(f.text);
  }
  throw new Error(
    `Tab never reached ${selector} with text ${String(text)} (saw ${seen.join(', ')})`,
  );
}

/** The focused element: its text or label, and whether a focus ring (outline >= 2 px) shows. */
function focused(page: Page) {
  return page.evaluate(`(() => {
    const el = document.activeElement;
    const st = el ? getComputedStyle(el) : undefined;
    return {
      tag: el ? el.tagName.toLowerCase() : '',
      text: ((el && (el.innerText || el.getAttribute('aria-label'))) || '').trim(),
      inDialog: !!(el && el.closest('[role="alertdialog"]')),
      ring: !!st && st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2,
    };
  })()`) as Promise<{ tag: string; text: string; inDialog: boolean; ring: boolean }>;
}

const skip = chromiumSkip();
if (skip) console.log(`# skipping dashboard: ${skip}`);

t.test('operator dashboard in Chromium', { skip }, async (t) => {
  await ensureDashboardBuilt();
  const ctl: TestController = await startTestController(undefined, {
    'api.readOnlyTokens': [READ_ONLY_TOKEN],
  });
  t.teardown(() => ctl.handle.stop());
  const origin = ctl.handle.apiUrl;
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${origin}${path}`, {
      method,
      headers: {
        ...ctl.auth,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return {
      status: r.status,
      body: (await r.json().catch(() => undefined)) as Record<string, unknown>,
    };
  };

  const held: HeldDevice[] = [];
  t.teardown(() => Promise.all(held.map((d) => d.close())));
  for (const d of DEVICES) {
    const r = await api('POST', '/v1/devices', {
      id: d.id,
      chip: 'bm1684x',
      tags: { site: d.site },
    });
    t.equal(r.status, 201);
    held.push(await connectHeld(ctl.handle.brokerUrl, d.id, r.body.secret as string));
  }
  const bundleA = await makeSignedBundle(ctl.dataDir, { version: '1.0.0', sequence: 1 });
  const bundleB = await makeSignedBundle(ctl.dataDir, { version: '1.1.0', sequence: 2 });
  for (const b of [bundleA, bundleB])
    t.equal((await api('POST', '/v1/bundles', { dir: b.dir })).status, 201);
  await waitForValue('devices online', async () => {
    const r = await api('GET', '/v1/devices');
    const list = r.body.devices as { online: boolean }[];
    return list.filter((d) => d.online).length === DEVICES.length ? true : undefined;
  });

  const keep = process.env['BMF_E2E_ARTIFACTS'];
  const outDir = keep ?? mkdtempSync(join(tmpdir(), 'bmf-dashboard-e2e-'));
  mkdirSync(outDir, { recursive: true });
  if (!keep) t.teardown(() => rmSync(outDir, { recursive: true, force: true }));
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });

  const browser: Browser = await launchChromium();
  t.teardown(() => browser.close());

  async function signIn(context: BrowserContext, token: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.getByLabel('Operator or read-only token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-loaded="fleet"]').waitFor();
    return page;
  }

  t.test(
    'sign-in: a wrong token is a typed refusal; the right one an HttpOnly strict cookie',
    async (t) => {
      // bypassCSP: the test injects axe-core, which the page's own policy rightly refuses.
      const context = await browser.newContext({
        viewport: { width: 1280, height: 900 },
        bypassCSP: true,
      });
      t.teardown(() => context.close());
      const page = await context.newPage();
      const problems = watch(page);
      const res = await page.goto(`${origin}/`);
      t.equal(res?.status(), 200);
      t.same(await axe(page), [], 'sign-in page: no serious or critical axe violations');
      await page.getByLabel('Operator or read-only token').fill('not-a-token-of-this-controller');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').waitFor();
      t.match(await page.getByRole('alert').innerText(), /BMF_ERR_SIGNIN_REFUSED/);
      await page.getByLabel('Operator or read-only token').fill(ctl.token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('[data-loaded="fleet"]').waitFor();
      const cookies = await context.cookies();
      const session = cookies.find((c) => c.name === 'bmf_session');
      t.ok(session, 'session cookie set');
      t.equal(session?.httpOnly, true, 'HttpOnly');
      t.equal(session?.sameSite, 'Strict', 'SameSite=Strict');
      t.match(
        await page.locator('.lead').innerText(),
        `${DEVICES.length} devices, ${DEVICES.length} online`,
      );
      t.same(problems, []);
    },
  );

  /** The rollout the form creates (bundle A), read again once bundle A has telemetry. */
  let rolloutId = '';
  t.test(
    'operator: create a rollout, pause, resume, watch its groups fill without a reload',
    async (t) => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      t.teardown(() => context.close());
      const page = await signIn(context, ctl.token);
      const problems = watch(page);
      await page.goto(`${origin}/#/rollouts`);
      await page.locator('[data-loaded="rollouts"]').waitFor();
      // A value in the page's memory: gone if the page reloads.
      await page.evaluate('window.__sameDocument = true');

      await page.getByLabel('Bundle').selectOption(bundleA.digest);
      await page.getByLabel('Groups, percent of the devices each').fill('50,50');
      await page.getByRole('button', { name: 'Create rollout' }).click();
      await page.getByRole('button', { name: 'Confirm create' }).click();
      const card = page.locator('article.rollout').first();
      await card.waitFor();
      const id = (await card.getAttribute('data-rollout')) ?? '';
      t.ok(id, `rollout ${id} shown`);
      rolloutId = id;
      const group = (n: number) => card.locator(`[data-group="${n}"] [role="progressbar"]`);
      await waitForValue('first group assigned', async () =>
        held.filter((d) => d.pending.length).length === 4 ? true : undefined,
      );

      await card.getByRole('button', { name: 'Pause' }).click();
      await card.getByRole('button', { name: 'Confirm pause' }).click();
      await card.locator('[data-status="paused"]').waitFor();
      t.equal(
        (await api('GET', `/v1/rollouts/${id}`)).body.status,
        'paused',
        'the controller paused it',
      );
      await card.getByRole('button', { name: 'Resume' }).click();
      await card.getByRole('button', { name: 'Confirm resume' }).click();
      await card.locator('[data-status="running"]').waitFor();

      // Release devices one at a time; the bar of group 1 follows on the open page.
      const first = [] as HeldDevice[];
      for (const d of held) if (d.pending.length) first.push(d);
      t.equal(first.length, 4, 'group 1 is half the fleet');
      for (const [i, d] of first.entries()) {
        await d.release();
        await page
          .locator(
            `article[data-rollout="${id}"] [data-group="0"] [role="progressbar"][aria-valuenow="${i + 1}"]`,
          )
          .waitFor();
      }
      t.equal(await group(0).getAttribute('aria-valuenow'), '4', 'group 1 full');
      await waitForValue('second group assigned', async () =>
        held.filter((d) => d.pending.length).length === 4 ? true : undefined,
      );
      for (const d of held) await d.release();
      await card.locator('[data-status="completed"]').waitFor();
      t.equal(await group(1).getAttribute('aria-valuenow'), '4', 'group 2 full');
      t.same(
        await card.locator('[data-failed-before-model]').allInnerTexts(),
        ['A: —', 'B: —'],
        'no report of its bundle yet: failed before a model is a dash per variant, not 0',
      );
      t.equal(
        await page.evaluate('window.__sameDocument'),
        true,
        'no reload: the page was pushed the changes',
      );
      t.same(problems, []);
      await shot(page, 'rollouts');
    },
  );

  t.test('operator: promote an experiment from its page', async (t) => {
    const expId = 'dash-ab';
    t.equal(
      (
        await api('POST', '/v1/experiments', {
          id: expId,
          bundleA: bundleA.digest,
          bundleB: bundleB.digest,
          population: { chip: 'bm1684x' },
          allocation: { kind: 'traffic', weightB: 0.5 },
          metrics: { stages: ['e2e'] },
          guardrails: {},
          minSamples: 200,
          minDurationMs: 0,
        })
      ).status,
      201,
    );
    t.equal((await api('POST', `/v1/experiments/${expId}/start`)).status, 200);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    t.teardown(() => context.close());
    const page = await signIn(context, ctl.token);
    const problems = watch(page);
    await page.goto(`${origin}/#/experiments/${expId}`);
    const section = page.locator('[data-loaded="experiment"]');
    await section.waitFor();
    const failures = (v: string) =>
      section.locator(`table.failures tr[data-variant="${v}"] td`).allInnerTexts();
    t.same(
      [await failures('A'), await failures('B')],
      [
        ['0', '0', '—'],
        ['0', '0', '—'],
      ],
      'before any report: no requests, and nothing to tell failures before a model by (a dash)',
    );

    // Telemetry from every device, both arms; one A report carries 3 B requests that failed
    // before a model answered.
    await feedArms(held, bundleA.digest, bundleB.digest, 1, 3);
    await waitForValue('a winner', async () => {
      const r = await api('GET', `/v1/experiments/${expId}/analysis`);
      return (r.body.overall as { winner?: string }).winner ? true : undefined;
    });
    // The open page follows the telemetry without a reload.
    await section.locator('[data-verdict="B_better"]').waitFor();
    // Reports arrive one by one: the analysis, then the open page, catch up with the last.
    const all = String(DEVICES.length * 60);
    await waitForValue('every report in the analysis', async () => {
      const a = (await api('GET', `/v1/experiments/${expId}/analysis`)).body as {
        failures: Record<string, { requests: number }>;
      };
      return [a.failures['A']?.requests, a.failures['B']?.requests].join() === `${all},${all}`
        ? true
        : undefined;
    });
    for (const [v, failed] of [
      ['A', '0'],
      ['B', '3'],
    ] as const) {
      const row = section.locator(`table.failures tr[data-variant="${v}"]`);
      await row
        .locator('td')
        .first()
        .filter({ hasText: new RegExp(`^${all}$`) })
        .waitFor();
      await row.locator('td[data-failed-before-model]', { hasText: failed }).waitFor();
    }
    t.same(
      [await failures('A'), await failures('B')],
      [
        [all, '0', '0'],
        [all, '0', '3'],
      ],
      'per variant: the bundle requests and errors, failed before a model: A none (0), B 3',
    );
    // The rollout of bundle A: its reports carried them too.
    await page.goto(`${origin}/#/rollouts`);
    const rollout = page.locator(`article[data-rollout="${rolloutId}"]`);
    await rollout.locator('[data-failed-before-model]', { hasText: 'B: 3' }).waitFor();
    t.same(
      await rollout.locator('[data-failed-before-model]').allInnerTexts(),
      ['A: 0', 'B: 3'],
      'the rollout card: per variant, 0 where reports came in and none failed',
    );
    await page.goto(`${origin}/#/experiments/${expId}`);
    await section.waitFor();
    t.ok((await section.locator('table.verdicts tbody tr').count()) >= 1, 'verdict table rows');
    t.ok((await section.locator('.chart canvas').count()) >= 1, 'charts drawn');
    await shot(page, 'experiments');
    await section.getByRole('button', { name: 'Promote' }).click();
    await section.getByRole('button', { name: 'Confirm promote' }).click();
    await section.locator('[data-status="promoted"]').waitFor();
    const state = (await api('GET', `/v1/experiments/${expId}`)).body.state as {
      status: string;
      winner: string;
    };
    t.equal(state.status, 'promoted');
    t.equal(state.winner, 'B');

    // The HTML report opens in the browser with the session (no hand-made header).
    const report = await page.goto(`${origin}/experiments/${expId}/report`);
    t.equal(report?.status(), 200);
    t.match(await page.title(), expId);
    t.same(problems, []);
  });

  t.test('device page shows its telemetry', async (t) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    t.teardown(() => context.close());
    const page = await signIn(context, ctl.token);
    const id = held[0]!.id;
    await page.goto(`${origin}/#/devices/${id}`);
    const body = page.locator('[data-loaded="device"]');
    await body.waitFor();
    t.equal(await body.getByTestId('requests').innerText(), '120', 'requests of its two reports');
    t.ok((await body.locator('.chart canvas').count()) >= 2, 'latency charts drawn');
    t.match(
      await body.locator('figcaption').first().innerText(),
      /modeled/,
      'says latency is modeled',
    );
    t.match(await body.locator('figure [role="img"]').first().getAttribute('aria-label'), /ms/);
    t.equal(await body.getByTestId('tpu-none').count(), 1, 'no TPU figures from this device');
    await shot(page, 'device');

    // A board's reports carry its TPU figures (bm_get_stat): shown and charted in % and MiB.
    const board = held[2]!;
    const report = encodeReport({
      deviceId: board.id,
      intervalStartMs: Date.now(),
      reportSequence: 500,
      runtime: 'bmrt',
      latency: { e2e: [3, 4, 5] },
      device: { tpuPercent: 37, tpuMemUsedBytes: 512 * 2 ** 20, tpuMemTotalBytes: 4096 * 2 ** 20 },
    });
    await board.client.publishAsync(deviceTopic('telemetry', board.id), Buffer.from(report), {
      qos: 1,
    });
    await page.goto(`${origin}/#/devices/${board.id}`);
    await body.getByTestId('tpu-percent').waitFor();
    t.equal(await body.getByTestId('tpu-percent').innerText(), '37 %');
    t.match(await body.getByTestId('tpu-mem').innerText(), /512 of 4096 MiB/);
    const tpuChart = body.locator('figure [role="img"][aria-label*="TPU utilisation"]');
    t.match(await tpuChart.getAttribute('aria-label'), /% busy/, 'TPU chart in percent');
    t.match(
      await body.locator('figcaption', { hasText: 'TPU' }).first().innerText(),
      /Device figures/,
      "says the figures are the device's",
    );
    await shot(page, 'device-tpu');

    // The bundle page names who signed the manifest and when it expires.
    await page.goto(`${origin}/#/bundles/${bundleA.digest}`);
    const sig = page.getByTestId('signatures');
    await sig.waitFor();
    t.match(await sig.innerText(), /ed25519\s+bundle\s+yes/, 'signed by the bundle key, verified');
    t.match(await page.getByTestId('expires').innerText(), /^\d{4}-\d\d-\d\dT/);
  });

  t.test('every page: axe-core finds no serious or critical violations; screenshots', async (t) => {
    for (const [name, viewport] of [
      ['wide', { width: 1280, height: 900 }],
      ['phone', { width: 390, height: 844 }],
    ] as const) {
      // bypassCSP: the test injects axe-core, which the page's own policy rightly refuses.
      const context = await browser.newContext({ viewport, bypassCSP: true });
      t.teardown(() => context.close());
      const page = await signIn(context, ctl.token);
      const problems = watch(page);
      const pages: [string, string][] = [
        ...PAGES,
        [`devices/${held[1]!.id}`, 'device'],
        [`bundles/${bundleA.digest}`, 'bundle'],
      ];
      for (const [p, marker] of pages) {
        await page.goto(`${origin}/#/${p}`);
        await page.locator(`[data-loaded="${marker}"]`).waitFor();
        t.same(await axe(page), [], `${p} (${name})`);
        const [client, scroll] = (await page.evaluate(
          '[document.documentElement.clientWidth, document.documentElement.scrollWidth]',
        )) as [number, number];
        if (name === 'phone')
          t.ok(
            scroll <= client + 1,
            `${p}: nothing scrolls sideways on a phone (${scroll} > ${client})`,
          );
        await shot(page, `${p.replace('/', '-')}-${name}`);
      }
      t.same(problems, []);
    }
  });

  t.test('read-only session: no action buttons, forged changes refused', async (t) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    t.teardown(() => context.close());
    const page = await signIn(context, READ_ONLY_TOKEN);
    t.equal(await page.locator('[data-role]').getAttribute('data-role'), 'viewer');
    for (const [p, marker] of PAGES.filter(([p]) => p === 'rollouts' || p === 'experiments')) {
      await page.goto(`${origin}/#/${p}`);
      await page.locator(`[data-loaded="${marker}"]`).waitFor();
      for (const name of [
        'Create rollout',
        'Pause',
        'Resume',
        'Approve',
        'Cancel',
        'Rollback',
        'Promote',
        'Abort',
      ]) {
        t.equal(
          await page.getByRole('button', { name, exact: true }).count(),
          0,
          `${p}: no ${name} button`,
        );
      }
    }
    await shot(page, 'read-only-rollouts');
    const rollouts = (await api('GET', '/v1/rollouts')).body.rollouts as {
      id: string;
      status: string;
    }[];
    const before = rollouts.find((r) => r.status === 'completed')!;
    const target = before.id;
    // With the session's own CSRF token: refused for the role.
    const forged = (await page.evaluate(`(async () => {
      const s = await (await fetch('/ui/session')).json();
      const r = await fetch('/v1/rollouts/${target}/rollback', { method: 'POST', headers: { 'x-csrf-token': s.csrf } });
      return { status: r.status, body: await r.json() };
    })()`)) as { status: number; body: { error: { code: string } } };
    t.equal(forged.status, 403);
    t.equal(forged.body.error.code, 'BMF_ERR_READ_ONLY');
    t.equal(
      (await api('GET', `/v1/rollouts/${target}`)).body.status,
      'completed',
      'nothing changed',
    );
  });

  t.test('operator session: a change without the CSRF token is refused', async (t) => {
    const context = await browser.newContext();
    t.teardown(() => context.close());
    const page = await signIn(context, ctl.token);
    const res = (await page.evaluate(`(async () => {
      const r = await fetch('/v1/rollouts/none/pause', { method: 'POST' });
      return { status: r.status, body: await r.json() };
    })()`)) as { status: number; body: { error: { code: string } } };
    t.equal(res.status, 403);
    t.equal(res.body.error.code, 'BMF_ERR_CSRF');
    // And a page asked for without a session goes to the sign-in page.
    const fresh = await browser.newContext();
    t.teardown(() => fresh.close());
    const p2 = await fresh.newPage();
    await p2.goto(`${origin}/experiments/dash-ab/report`);
    t.match(p2.url(), /\/\?next=%2Fexperiments%2Fdash-ab%2Freport$/);
    await p2.getByLabel('Operator or read-only token').waitFor();
  });
  t.test(
    'keyboard only: sign in, move between pages, create, pause and cancel a rollout, promote',
    async (t) => {
      const expId = 'kb-ab';
      const berlin = held.filter((d) => DEVICES.find((x) => x.id === d.id)?.site === 'berlin');
      t.equal(
        (
          await api('POST', '/v1/experiments', {
            id: expId,
            bundleA: bundleA.digest,
            bundleB: bundleB.digest,
            population: { tags: { site: 'berlin' } },
            allocation: { kind: 'traffic', weightB: 0.5 },
            metrics: { stages: ['e2e'] },
            guardrails: {},
            minSamples: 100,
            minDurationMs: 0,
          })
        ).status,
        201,
      );
      t.equal((await api('POST', `/v1/experiments/${expId}/start`)).status, 200);
      await feedArms(berlin, bundleA.digest, bundleB.digest, 1000);
      await waitForValue('a winner', async () => {
        const r = await api('GET', `/v1/experiments/${expId}/analysis`);
        return (r.body.overall as { winner?: string }).winner ? true : undefined;
      });

      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      t.teardown(() => context.close());
      const page = await context.newPage();
      const problems = watch(page);
      await page.goto(`${origin}/`);
      // The token field has focus once the sign-in form shows; Enter submits.
      await page.getByLabel('Operator or read-only token').waitFor();
      t.equal((await focused(page)).tag, 'input', 'the token field has focus');
      await page.keyboard.type(ctl.token);
      await page.keyboard.press('Enter');
      await page.locator('[data-loaded="fleet"]').waitFor();

      // The first Tab stop skips the header; then the page links, each with a focus ring.
      await page.keyboard.press('Tab');
      t.match((await focused(page)).text, /Skip to the page/, 'skip link first');
      await tabTo(page, 'header nav a[href="#/rollouts"]');
      t.ok((await focused(page)).ring, 'focus ring on the header link');
      await page.keyboard.press('Enter');
      await page.locator('[data-loaded="rollouts"]').waitFor();

      // The create form: Enter in a field asks for confirmation; focus lands in the dialog.
      // Bundle 1.1.0 (the shenzhen boards run 1.0.0): arrow keys move a closed select.
      await tabTo(page, '#ro-bundle');
      for (let i = 0; i < 3; i++) {
        if ((await page.locator('#ro-bundle').inputValue()) === bundleB.digest) break;
        await page.keyboard.press('ArrowDown');
      }
      t.equal(await page.locator('#ro-bundle').inputValue(), bundleB.digest, 'bundle chosen');
      await tabTo(page, '#ro-tag');
      await page.keyboard.type('site=shenzhen');
      await tabTo(page, '#ro-groups');
      await page.keyboard.press('Control+A');
      await page.keyboard.type('100');
      await page.keyboard.press('Enter');
      const f = await focusOn(page, /Confirm create/);
      t.match(f.text, /Confirm create/, 'focus moved to the confirmation');
      t.ok(f.ring, 'focus ring on the confirm button');
      // Tab and Shift+Tab stay inside the dialog.
      for (const key of ['Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
        await page.keyboard.press(key);
        t.ok((await focused(page)).inDialog, `${key}: focus stays in the dialog`);
      }
      // Escape cancels and gives focus back to the button that opened it.
      await page.keyboard.press('Escape');
      t.equal(await page.getByRole('alertdialog').count(), 0, 'Escape closed the dialog');
      t.match((await focusOn(page, /Create rollout/)).text, /Create rollout/, 'focus back');
      await page.keyboard.press('Enter');
      t.match((await focusOn(page, /Confirm create/)).text, /Confirm create/, 'asked again');
      const before = ((await api('GET', '/v1/rollouts')).body.rollouts as unknown[]).length;
      await page.keyboard.press('Enter');
      await waitForValue('rollout created', async () =>
        ((await api('GET', '/v1/rollouts')).body.rollouts as unknown[]).length > before
          ? true
          : undefined,
      );
      const created = ((await api('GET', '/v1/rollouts')).body.rollouts as { id: string }[])[0]!;
      const card = `article[data-rollout="${created.id}"]`;
      await page.locator(card).waitFor();
      t.equal((await api('GET', `/v1/rollouts/${created.id}`)).body.status, 'running');
      t.match(
        (await focusOn(page, /Create rollout/)).text,
        /Create rollout/,
        'focus back after confirming',
      );

      // Pause it, then cancel it, from the keyboard.
      await tabToText(page, `${card} .action button`, /^Pause$/);
      await page.keyboard.press('Enter');
      t.match((await focusOn(page, /Confirm pause/)).text, /Confirm pause/);
      await page.keyboard.press('Enter');
      await page.locator(`${card} [data-status="paused"]`).waitFor();
      t.not((await focused(page)).tag, 'body', 'focus stays in the rollout, not lost to the page');
      t.equal((await api('GET', `/v1/rollouts/${created.id}`)).body.status, 'paused');
      await tabToText(page, `${card} .action button`, /^Cancel$/);
      await page.keyboard.press('Enter');
      await focusOn(page, /Confirm cancel/);
      await page.keyboard.press('Enter');
      await page.locator(`${card} [data-status="cancelled"]`).waitFor();
      t.equal((await api('GET', `/v1/rollouts/${created.id}`)).body.status, 'cancelled');

      // The experiments page, the experiment, Promote: Tab and Enter only.
      await tabTo(page, 'header nav a[href="#/experiments"]', { back: true });
      await page.keyboard.press('Enter');
      await tabTo(page, `a[href="#/experiments/${expId}"]`);
      await page.keyboard.press('Enter');
      const section = page.locator('[data-loaded="experiment"]');
      await section.waitFor();
      await tabToText(page, '[data-loaded="experiment"] .action button', /^Promote$/);
      t.ok((await focused(page)).ring, 'focus ring on Promote');
      await page.keyboard.press('Enter');
      t.match((await focusOn(page, /Confirm promote/)).text, /Confirm promote/);
      await page.keyboard.press('Enter');
      await section.locator('[data-status="promoted"]').waitFor();
      t.equal(
        ((await api('GET', `/v1/experiments/${expId}`)).body.state as { status: string }).status,
        'promoted',
      );
      t.same(problems, []);
      await shot(page, 'keyboard-promoted');
    },
  );
});
