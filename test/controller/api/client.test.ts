// The typed API client against a real controller (real sockets, SQLite, broker), and its
// promise to the browser dashboard: the client bundles for the browser with no Node module.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { isBmfError } from '../../../shared/errors.js';
import {
  createControllerClient,
  type BundleView,
  type DeviceView,
  type TelemetrySummaryView,
} from '../../../controller/api/client.js';
import type { Static } from '@sinclair/typebox';
import type * as Schemas from '../../../controller/api/schemas.js';
import type * as ExperimentSchemas from '../../../controller/experiment/routes.js';
import type {
  Analysis,
  CohortPlan,
  ExperimentRecord,
  PromotedExperiment,
} from '../../../controller/api/client.js';
import type { Analysis as ServiceAnalysis } from '../../../controller/experiment/analyze.js';
import type { CohortPlan as ServicePlan } from '../../../controller/experiment/plan.js';
import type { ExperimentRecord as ServiceRecord } from '../../../controller/experiment/service.js';
import {
  parseDeviceId,
  type DeviceId,
  type Digest,
  type VariantName,
} from '../../../shared/ids.js';
import {
  makeSignedBundle,
  startTestController,
} from '../../../harness/controller/test-controller.js';

const CAM = parseDeviceId('cam-1');

// Compile-time checks (npm run typecheck): the client's types are the route schemas' own, so a
// consumer reading a field the schema does not declare fails to compile.
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const sameDevice: Equal<DeviceView, Static<typeof Schemas.DeviceView>> = true;
const sameBundle: Equal<BundleView, Static<typeof Schemas.BundleView>> = true;
const digestTyped: Equal<BundleView['digest'], Digest> = true;
// Device ids and variant names keep their types from the edge (params, topics) to the views.
const deviceIdTyped: Equal<DeviceView['id'], DeviceId> = true;
const variantTyped: Equal<DeviceView['active'][number]['variant'], VariantName> = true;
// Experiment answers: the route schemas' types, which are the service's own.
const experimentTyped: Equal<
  [ExperimentRecord, Analysis, CohortPlan, PromotedExperiment],
  [
    Static<typeof ExperimentSchemas.ExperimentRecordView>,
    Static<typeof ExperimentSchemas.AnalysisView>,
    Static<typeof ExperimentSchemas.CohortPlanView>,
    Static<typeof ExperimentSchemas.PromotedView>,
  ]
> = true;
const experimentIsService: Equal<
  [ExperimentRecord, Analysis, CohortPlan],
  [ServiceRecord, ServiceAnalysis, ServicePlan]
> = true;
// @ts-expect-error -- no such field in an analysis: a consumer that assumed one does not compile
const _noWinnerField = (a: Analysis) => a.winner;
// @ts-expect-error -- no such field in the schema: a consumer that assumed one does not compile
const _undeclared = (d: DeviceView) => d.firmwareVersion;

const CLIENT = fileURLToPath(new URL('../../../controller/api/client.ts', import.meta.url));

t.ok(
  sameDevice &&
    sameBundle &&
    digestTyped &&
    deviceIdTyped &&
    variantTyped &&
    experimentTyped &&
    experimentIsService,
  'client types are the schemas (checked by tsc)',
);

t.test('the client bundles for a browser: no Node module reaches it', async (t) => {
  const out = await build({
    entryPoints: [CLIENT],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  t.same(out.errors, [], 'esbuild resolved every import for the browser');
  const code = out.outputFiles[0]?.text ?? '';
  t.notMatch(code, /from ["']node:|require\(["']node:/, 'no node: import in the bundle');
  t.match(code, /createControllerClient/, 'the bundle holds the client');
});

t.test('typed calls against a real controller', async (t) => {
  const ctl = await startTestController();
  t.teardown(() => ctl.handle.stop());
  const api = createControllerClient({ baseUrl: `${ctl.handle.apiUrl}/`, token: ctl.token });

  const created = await api.devices.add({ id: CAM, chip: 'bm1684x', tags: { site: 'a' } });
  t.equal(created.device.id, 'cam-1');
  t.ok(created.secret.length > 0, 'the one-time secret');
  const listed: DeviceView[] = await api.devices.list();
  t.same(
    listed.map((d) => d.id),
    ['cam-1'],
  );
  t.same((await api.devices.get(CAM)).tags, { site: 'a' });

  const signed = await makeSignedBundle(ctl.dataDir);
  const pushed: BundleView = await api.bundles.import(signed.dir);
  t.equal(pushed.digest, signed.digest, 'model push answers the digest the bundle was signed as');
  t.equal((await api.bundles.get(pushed.digest.slice(0, 12))).digest, pushed.digest);
  t.same(
    (await api.bundles.list({ model: pushed.model })).map((b) => b.digest),
    [pushed.digest],
  );
  t.equal((await api.models.list())[0]?.latest?.digest, pushed.digest);
  const assigned = await api.devices.assign(CAM, pushed.digest.slice(0, 10));
  t.same(assigned, { device: 'cam-1', bundle: pushed.digest });

  // Nothing measured yet: every figure that needs a measurement is null, not 0 or missing.
  const summary: TelemetrySummaryView = await api.telemetry.query({ device: CAM });
  t.equal(summary.requests, 0);
  t.equal(summary.accuracy.golden.cosineMin, null);
  t.equal(summary.accuracy.shadow.cosineMean, null);
  t.equal(summary.accuracy.shadow.cosineMin, null);

  await t.test('API errors are BmfErrors with the server code and details', async (t) => {
    const missing = await api.devices.get(parseDeviceId('nope')).catch((e: unknown) => e);
    t.ok(isBmfError(missing, 'BMF_ERR_NOT_FOUND'), String(missing));
    const bad = await api.rollouts
      .create({ bundle: pushed.digest, filter: { ids: [CAM] }, maxRetries: -1 })
      .catch((e: unknown) => e);
    t.ok(isBmfError(bad, 'BMF_ERR_BAD_REQUEST'), String(bad));
    t.equal(isBmfError(bad) && bad.details.field, 'body.maxRetries');
    const anonymous = createControllerClient({ baseUrl: ctl.handle.apiUrl });
    const refused = await anonymous.devices.list().catch((e: unknown) => e);
    t.ok(isBmfError(refused, 'BMF_ERR_UNAUTHORIZED'), String(refused));
  });

  await t.test('rollout lifecycle through the client', async (t) => {
    const r = await api.rollouts.create({
      bundle: pushed.digest,
      filter: { ids: [CAM] },
      afterGroup: 'approval',
    });
    t.equal(r.bundle, pushed.digest);
    t.ok((await api.rollouts.list()).some((x) => x.id === r.id));
    const cancelled = await api.rollouts.command(r.id, 'cancel');
    t.equal(cancelled.status, 'cancelled');
    const events = await api.rollouts.events(r.id);
    t.ok(events.length > 0, 'the event log');
  });

  await api.devices.remove(CAM);
  t.same(await api.devices.list(), [], 'removed');
});

t.test(
  'the dashboard through the client: session cookie, CSRF on changes, read model',
  async (t) => {
    const ctl = await startTestController();
    t.teardown(() => ctl.handle.stop());
    // Node's fetch keeps no cookies; this wrapper is the browser's cookie jar for one origin.
    let cookie = '';
    const jarFetch: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      if (cookie) headers.set('cookie', cookie);
      const res = await fetch(input, { ...init, headers });
      const set = res.headers.get('set-cookie');
      if (set) cookie = set.split(';')[0]!.endsWith('=') ? '' : set.split(';')[0]!;
      return res;
    };
    let csrf = '';
    const sent: string[] = [];
    const browser = createControllerClient({
      baseUrl: ctl.handle.apiUrl,
      fetch: jarFetch,
      credentials: 'same-origin',
      headers: (method): Record<string, string> => {
        sent.push(method);
        return method === 'GET' ? {} : { 'x-csrf-token': csrf };
      },
    });

    const refused = await browser.dashboard.fleet().catch((e: unknown) => e);
    t.ok(isBmfError(refused, 'BMF_ERR_UNAUTHORIZED'), `before sign-in: ${String(refused)}`);
    const bad = await browser.session.signIn('not-a-token').catch((e: unknown) => e);
    t.ok(isBmfError(bad, 'BMF_ERR_SIGNIN_REFUSED'), String(bad));

    const session = await browser.session.signIn(ctl.token);
    t.equal(session.role, 'operator');
    t.ok(session.csrf.length > 0 && cookie.length > 0, 'a CSRF token and a session cookie');
    t.same(await browser.session.get(), session, 'the session as the page reloads it');

    // A change without the CSRF token is refused; with it (the header hook) it goes through.
    const forged = await browser.devices.add({ id: CAM, chip: 'bm1684x' }).catch((e) => e);
    t.ok(isBmfError(forged, 'BMF_ERR_CSRF'), String(forged));
    csrf = session.csrf;
    t.equal((await browser.devices.add({ id: CAM, chip: 'bm1684x' })).device.id, CAM);
    t.ok(sent.includes('POST') && sent.includes('GET'), 'the hook saw every method');

    const fleet = await browser.dashboard.fleet();
    t.equal(fleet.total, 1);
    t.same(
      fleet.offline.first.map((d) => d.id),
      [CAM],
    );
    const page = await browser.dashboard.devices({ q: 'cam', limit: 10 });
    t.same(
      page.items.map((d) => d.id),
      [CAM],
    );
    const none = await browser.dashboard.devices({ state: 'active' });
    t.equal(none.total, 0, 'the filter reaches the query');
    const detail = await browser.dashboard.device(CAM);
    t.equal(detail.device.chip, 'bm1684x');
    t.equal(detail.telemetry.points.length, 30, 'the last hour in 30 buckets');
    const series = await browser.dashboard.telemetry({ minutes: 10, buckets: 5 });
    t.equal(series.points.length, 5);
    const missing = await browser.dashboard.device('nope').catch((e: unknown) => e);
    t.ok(isBmfError(missing, 'BMF_ERR_NOT_FOUND'), String(missing));

    await browser.session.signOut();
    const after = await browser.dashboard.fleet().catch((e: unknown) => e);
    t.ok(isBmfError(after, 'BMF_ERR_UNAUTHORIZED'), `after sign-out: ${String(after)}`);
  },
);

t.test('an unreachable controller is BMF_ERR_IO naming it', async (t) => {
  // Port 9 (discard) on loopback: nothing listens there in a test environment.
  const api = createControllerClient({ baseUrl: 'http://127.0.0.1:9' });
  const e = await api.models.list().catch((x: unknown) => x);
  t.ok(isBmfError(e, 'BMF_ERR_IO'), String(e));
});
