// The one typed client of the controller's REST API, for the CLI, the demo and the browser
// dashboard. Every request and response type is derived from the API's own TypeBox schemas
// (schemas.ts, experiment/routes.ts) with Static<>, so a schema change that a consumer does not
// follow fails the typecheck. Browser-safe: built on fetch, no Node-only
// import (the CLI's shell in cli/http-client.ts adds the token file and the environment).
// API errors come back as BmfError with the server's code and details.
import type { Static } from '@sinclair/typebox';
import { BmfError, bmfError, isErrorCode } from '../../shared/errors.js';
import type { DeviceId } from '../../shared/ids.js';
import type { ExperimentSpec, ExperimentSpecInput } from '../experiment/model.js';
import type { PlanRequest } from '../experiment/plan.js';
import type * as E from '../experiment/routes.js';
import type * as S from './schemas.js';
import type * as W from '../web/schemas.js';

export type DeviceView = Static<typeof S.DeviceView>;
export type DeviceCreateBody = Static<typeof S.DeviceCreateBody>;
export type DeviceCreated = Static<typeof S.DeviceCreated>;
export type AssignmentAccepted = Static<typeof S.AssignmentAccepted>;
export type BundleView = Static<typeof S.BundleView>;
export type ModelView = Static<typeof S.ModelView>;
export type RolloutView = Static<typeof S.RolloutView>;
export type RolloutEventView = Static<typeof S.RolloutEventView>;
export type RolloutCommand = (typeof S.ROLLOUT_COMMANDS)[number];
export type TelemetryQuery = Static<typeof S.TelemetryQuery>;
export type TelemetrySummaryView = Static<typeof S.TelemetrySummaryView>;
export type GroupHealthView = Static<typeof S.GroupHealthView>;
export type ExperimentRecord = Static<typeof E.ExperimentRecordView>;
export type Analysis = Static<typeof E.AnalysisView>;
export type CohortPlan = Static<typeof E.CohortPlanView>;
export type PromotedExperiment = Static<typeof E.PromotedView>;
export type { ExperimentSpec, ExperimentSpecInput, PlanRequest };
export type {
  DeviceDetailView,
  DevicePageView,
  FleetView,
  SessionView,
  TelemetrySeriesView,
} from '../web/schemas.js';
/** Query of the dashboard's device list; offset and limit have the schema's defaults. */
export type DevicePageQuery = Partial<Static<typeof W.PageQuery>>;
/** Query of the dashboard's telemetry series; minutes and buckets have the schema's defaults. */
export type TelemetrySeriesQuery = Partial<Static<typeof W.SeriesQuery>>;

type RolloutCreateBody = Static<typeof S.RolloutCreateBody>;
/** Fields the server fills with the schema's default when they are left out. */
type RolloutDefaulted =
  | 'groups'
  | 'successThresholdPct'
  | 'afterGroup'
  | 'onError'
  | 'deviceTimeoutMs'
  | 'maxRetries'
  | 'maxStartsPerMinute';
/** A rollout as a client asks for it: what has a default may be left out. */
export type RolloutCreateInput = Omit<RolloutCreateBody, RolloutDefaulted | 'errorThreshold'> &
  Partial<Pick<RolloutCreateBody, RolloutDefaulted>> & {
    errorThreshold?: Omit<RolloutCreateBody['errorThreshold'], 'minFinished'> & {
      minFinished?: number;
    };
  };

export interface ControllerClientOptions {
  /** e.g. http://127.0.0.1:8480 (a trailing slash is dropped); '' for the page's own origin. */
  readonly baseUrl: string;
  /** Operator token, sent as `Authorization: Bearer`. */
  readonly token?: string | undefined;
  /** Defaults to the global fetch (Node 20 and browsers). */
  readonly fetch?: typeof fetch;
  /** The browser's cookie policy: the dashboard passes 'same-origin' to send its session. */
  readonly credentials?: 'omit' | 'same-origin' | 'include';
  /** Extra headers per request, e.g. the dashboard's CSRF token on every change. */
  readonly headers?: (method: string) => Readonly<Record<string, string>>;
}

export interface ControllerClient {
  readonly baseUrl: string;
  readonly devices: {
    list(): Promise<DeviceView[]>;
    /** Device ids are parsed where they come in (parseDeviceId, shared/ids.ts). */
    get(id: DeviceId): Promise<DeviceView>;
    add(body: DeviceCreateBody): Promise<DeviceCreated>;
    remove(id: DeviceId): Promise<void>;
    /** Assign a bundle (digest or unique prefix) to one device directly. */
    assign(id: DeviceId, bundle: string): Promise<AssignmentAccepted>;
  };
  readonly models: { list(): Promise<ModelView[]> };
  readonly bundles: {
    list(query?: { model?: string | undefined }): Promise<BundleView[]>;
    /** By digest or unique prefix (>= 8 hex). */
    get(ref: string): Promise<BundleView>;
    /** Import a signed bundle directory present on the controller host. */
    import(dir: string): Promise<BundleView>;
  };
  readonly rollouts: {
    create(body: RolloutCreateInput): Promise<RolloutView>;
    list(): Promise<RolloutView[]>;
    get(id: string): Promise<RolloutView>;
    command(id: string, command: RolloutCommand): Promise<RolloutView>;
    events(id: string, page?: { after?: number; limit?: number }): Promise<RolloutEventView[]>;
  };
  readonly telemetry: {
    query(query?: Partial<TelemetryQuery>): Promise<TelemetrySummaryView>;
    group(rolloutId: string, group: number): Promise<GroupHealthView>;
  };
  readonly experiments: {
    create(spec: ExperimentSpecInput): Promise<ExperimentRecord>;
    list(): Promise<ExperimentRecord[]>;
    get(id: string): Promise<ExperimentRecord>;
    start(id: string): Promise<ExperimentRecord>;
    analysis(id: string): Promise<Analysis>;
    /** The HTML report, as text. */
    report(id: string): Promise<string>;
    /** Its URL, for a link (needs the operator token like every route). */
    reportUrl(id: string): string;
    promote(id: string): Promise<PromotedExperiment>;
    abort(id: string, reason?: string): Promise<ExperimentRecord>;
    plan(request: PlanRequest): Promise<CohortPlan>;
  };
  /** The dashboard's session (an HttpOnly cookie; the browser keeps it). */
  readonly session: {
    signIn(token: string): Promise<W.SessionView>;
    get(): Promise<W.SessionView>;
    signOut(): Promise<void>;
  };
  /** The dashboard's read model beyond the REST API (controller/web/plugin.ts). */
  readonly dashboard: {
    fleet(): Promise<W.FleetView>;
    devices(query?: DevicePageQuery): Promise<W.DevicePageView>;
    device(id: string): Promise<W.DeviceDetailView>;
    telemetry(query?: TelemetrySeriesQuery): Promise<W.TelemetrySeriesView>;
  };
}

type Query = Readonly<Record<string, string | number | undefined>>;

/** The server's `{ error: { code, details } }` as a BmfError; anything else as BMF_ERR_INTERNAL. */
async function toError(res: Response): Promise<BmfError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as {
      error?: { code?: string; details?: Record<string, string | number | boolean> };
    };
    const code = body.error?.code;
    if (code && isErrorCode(code)) return new BmfError(code, body.error?.details ?? {});
  } catch {
    // not our error shape; fall through
  }
  return bmfError('BMF_ERR_INTERNAL', { reason: `HTTP ${res.status}: ${text.slice(0, 200)}` });
}

const seg = (s: string | number): string => encodeURIComponent(String(s));

export function createControllerClient(opts: ControllerClientOptions): ControllerClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? ((input, init) => fetch(input, init));

  async function request<T>(method: string, path: string, body?: unknown, query?: Query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, String(v));
    const qs = q.toString();
    const url = `${baseUrl}${path}${qs ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { ...opts.headers?.(method) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await doFetch(url, {
        method,
        headers,
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      throw bmfError('BMF_ERR_IO', {
        path: baseUrl || '/',
        reason: `controller unreachable: ${cause}`,
      });
    }
    if (!res.ok) throw await toError(res);
    if (res.status === 204) return undefined as T;
    const type = res.headers.get('content-type') ?? '';
    return (type.includes('json') ? await res.json() : await res.text()) as T;
  }
  const get = <T>(path: string, query?: Query) => request<T>('GET', path, undefined, query);
  const post = <T>(path: string, body: unknown = {}) => request<T>('POST', path, body);

  return {
    baseUrl,
    devices: {
      list: async () => (await get<Static<typeof S.DeviceList>>('/v1/devices')).devices,
      get: (id) => get(`/v1/devices/${seg(id)}`),
      add: (body) => post('/v1/devices', body),
      remove: (id) => request('DELETE', `/v1/devices/${seg(id)}`),
      assign: (id, bundle) => post(`/v1/devices/${seg(id)}/assignment`, { bundle }),
    },
    models: {
      list: async () => (await get<Static<typeof S.ModelList>>('/v1/models')).models,
    },
    bundles: {
      list: async (query = {}) =>
        (await get<Static<typeof S.BundleList>>('/v1/bundles', { model: query.model })).bundles,
      get: (ref) => get(`/v1/bundles/${seg(ref)}`),
      import: (dir) => post('/v1/bundles', { dir }),
    },
    rollouts: {
      create: (body) => post('/v1/rollouts', body),
      list: async () => (await get<Static<typeof S.RolloutList>>('/v1/rollouts')).rollouts,
      get: (id) => get(`/v1/rollouts/${seg(id)}`),
      command: (id, command) => post(`/v1/rollouts/${seg(id)}/${seg(command)}`),
      events: async (id, page = {}) =>
        (await get<Static<typeof S.RolloutEventList>>(`/v1/rollouts/${seg(id)}/events`, page))
          .events,
    },
    telemetry: {
      query: (query = {}) => get('/v1/telemetry', query),
      group: (id, n) => get(`/v1/telemetry/rollouts/${seg(id)}/groups/${seg(n)}`),
    },
    experiments: {
      create: (spec) => post('/v1/experiments', spec),
      list: async () => (await get<Static<typeof E.ExperimentList>>('/v1/experiments')).experiments,
      get: (id) => get(`/v1/experiments/${seg(id)}`),
      start: (id) => post(`/v1/experiments/${seg(id)}/start`),
      analysis: (id) => get(`/v1/experiments/${seg(id)}/analysis`),
      report: (id) => get(`/v1/experiments/${seg(id)}/report`),
      reportUrl: (id) => `${baseUrl}/v1/experiments/${seg(id)}/report`,
      promote: (id) => post(`/v1/experiments/${seg(id)}/promote`),
      abort: (id, reason) => post(`/v1/experiments/${seg(id)}/abort`, reason ? { reason } : {}),
      plan: (req) => post('/v1/experiments/plan', req),
    },
    session: {
      signIn: (token) => post('/ui/session', { token } satisfies Static<typeof W.SignInBody>),
      get: () => get('/ui/session'),
      signOut: () => request('DELETE', '/ui/session'),
    },
    dashboard: {
      fleet: () => get('/ui/api/fleet'),
      devices: (query = {}) => get('/ui/api/devices', query),
      device: (id) => get(`/ui/api/devices/${seg(id)}`),
      telemetry: (query = {}) => get('/ui/api/telemetry', query),
    },
  };
}
