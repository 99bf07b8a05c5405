// The operator dashboard, served by the controller: the app shell at `/`, its bundled script and
// styles (built by `npm run build`, see build.ts), sign-in to an HttpOnly session cookie, the
// read model the pages need beyond the REST API (fleet summary, device pages, telemetry series)
// and server-sent events that tell open pages what changed. The auth hook (api/auth.ts) checks
// the session and its CSRF token on every other route; this file only issues sessions.
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { bmfError } from '../../shared/errors.js';
import { roleChecker, type OperatorAuthOptions } from '../api/auth.js';
import type { DeviceHello } from '../../shared/wire/messages.js';
import type { DeviceRepo, DeviceRecord } from '../store/devices.js';
import type { Answer, StoreMode } from '../store/repository.js';
import type { DeviceEventRow } from '../devices/tracker.js';
import type { TelemetryFilter } from '../api/services.js';
import type { TelemetrySummary } from '../telemetry/summary.js';
import type { WallClock } from '../../shared/clock.js';
import type { SessionRepo } from '../store/sessions.js';
import { deviceView } from '../api/routes/devices.js';
import type { ChangeHub } from './hub.js';
import { devicePage, fleetSummary, telemetrySeries } from './queries.js';
import {
  cookieValue,
  createSessionStore,
  sessionCookie,
  SESSION_COOKIE,
  type SessionStore,
} from './session.js';
import { renderShell } from './shell.js';
import { PageQuery, SeriesQuery, SignInBody } from './schemas.js';

export interface DashboardOptions {
  /** Wall time stamps the telemetry windows; session expiry also runs on it. */
  readonly clock: WallClock;
  readonly tokens: readonly string[];
  readonly readOnlyTokens?: readonly string[];
  readonly devices: Pick<DeviceRepo<StoreMode>, 'list' | 'flush'>;
  readonly device: (
    id: string,
  ) => Answer<StoreMode, (DeviceRecord & { hello?: DeviceHello }) | undefined>;
  readonly deviceEvents: (id: string, limit: number) => Answer<StoreMode, DeviceEventRow[]>;
  readonly recentEvents: (limit: number) => Answer<StoreMode, DeviceEventRow[]>;
  readonly telemetry: { query(filter: TelemetryFilter): Answer<StoreMode, TelemetrySummary> };
  readonly hub: ChangeHub;
  /** Where build.ts wrote app.js and app.css; default: the repository's build/web. */
  readonly assetDir?: string;
  /** Where sessions are kept (the controller's store: they survive restarts, replicas share them). */
  readonly sessions: SessionRepo<StoreMode>;
  readonly sessionTtlMs?: number;
}

/** build/web next to the sources (tsx) or next to dist/ (compiled). */
export function defaultAssetDir(): string {
  for (const up of ['../../build/web/', '../../../build/web/']) {
    const dir = new URL(up, import.meta.url);
    if (existsSync(new URL('app.js', dir))) return dir.pathname;
  }
  return new URL('../../build/web/', import.meta.url).pathname;
}

interface Asset {
  readonly type: string;
  readonly raw: Buffer;
  readonly gzip: Buffer;
}

function loadAssets(dir: string): Map<string, Asset> | undefined {
  const assets = new Map<string, Asset>();
  for (const [name, type] of [
    ['app.js', 'text/javascript; charset=utf-8'],
    ['app.css', 'text/css; charset=utf-8'],
  ] as const) {
    const path = `${dir.replace(/\/$/, '')}/${name}`;
    if (!existsSync(path)) return undefined;
    const raw = readFileSync(path);
    assets.set(name, { type, raw, gzip: gzipSync(raw, { level: 9 }) });
  }
  return assets;
}

export function createDashboard(opts: DashboardOptions) {
  const sessions: SessionStore = createSessionStore({
    repo: opts.sessions,
    clock: { now: () => opts.clock.wallNow() },
    ...(opts.sessionTtlMs ? { ttlMs: opts.sessionTtlMs } : {}),
  });
  const roleOf = roleChecker(opts.tokens, opts.readOnlyTokens);
  const sessionOf = (req: FastifyRequest) =>
    sessions.get(cookieValue(req.headers.cookie, SESSION_COOKIE));
  const auth: OperatorAuthOptions = {
    ...(opts.readOnlyTokens ? { readOnlyTokens: opts.readOnlyTokens } : {}),
    session: sessionOf,
  };
  const streams = new Set<FastifyReply>();

  function routes(app: FastifyInstance): void {
    const assetDir = opts.assetDir ?? defaultAssetDir();
    let assets = loadAssets(assetDir);
    const pub = { public: true };

    app.get('/', { config: pub, schema: { hide: true } }, async (_req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'self'; img-src 'self' data:")
        .header('x-frame-options', 'DENY')
        .send(renderShell({ built: assets !== undefined, assetDir })),
    );
    app.get<{ Params: { name: string } }>(
      '/ui/:name',
      { config: pub, schema: { hide: true } },
      async (req, reply) => {
        assets ??= loadAssets(assetDir);
        const a = assets?.get(req.params.name);
        if (!a) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'file', id: req.url });
        const gz = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
        reply.type(a.type).header('cache-control', 'no-cache').header('vary', 'accept-encoding');
        if (gz) reply.header('content-encoding', 'gzip');
        return reply.send(gz ? a.gzip : a.raw);
      },
    );

    app.post<{ Body: Static<typeof SignInBody> }>(
      '/ui/session',
      { config: pub, schema: { hide: true, body: SignInBody } },
      async (req, reply) => {
        const role = roleOf(req.body.token);
        if (!role) {
          throw bmfError('BMF_ERR_SIGNIN_REFUSED', {
            reason: 'the token is not an operator or read-only token of this controller',
            hint: 'use the token the controller printed on first start (DATA_DIR/operator-token)',
          });
        }
        await sessions.remove(cookieValue(req.headers.cookie, SESSION_COOKIE));
        const s = await sessions.create(role);
        const secure = req.protocol === 'https';
        reply.header('set-cookie', sessionCookie(s.id, Math.floor(sessions.ttlMs / 1000), secure));
        return reply.status(201).send({ role: s.role, csrf: s.csrf });
      },
    );
    app.get('/ui/session', { schema: { hide: true } }, async (req) => {
      const s = await sessionOf(req);
      return { role: req.role, csrf: s?.csrf ?? '' };
    });
    app.delete(
      '/ui/session',
      { config: { readOnlyAllowed: true }, schema: { hide: true } },
      async (req, reply) => {
        await sessions.remove(cookieValue(req.headers.cookie, SESSION_COOKIE));
        return reply
          .header('set-cookie', sessionCookie('', 0, false))
          .status(204)
          .send();
      },
    );

    app.get('/ui/api/fleet', { schema: { hide: true } }, async () => {
      await opts.devices.flush();
      return { ...fleetSummary(await opts.devices.list()), events: await opts.recentEvents(30) };
    });
    app.get<{ Querystring: Static<typeof PageQuery> }>(
      '/ui/api/devices',
      { schema: { hide: true, querystring: PageQuery } },
      async (req) => {
        await opts.devices.flush();
        return devicePage(await opts.devices.list(), req.query);
      },
    );
    app.get<{ Params: { id: string } }>(
      '/ui/api/devices/:id',
      { schema: { hide: true } },
      async (req) => {
        const d = await opts.device(req.params.id);
        if (!d) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'device', id: req.params.id });
        const now = opts.clock.wallNow();
        return {
          device: deviceView(d),
          hello: d.hello ?? null,
          state: d.state,
          events: await opts.deviceEvents(d.id, 50),
          telemetry: await telemetrySeries(
            (f) => opts.telemetry.query(f),
            { deviceIds: [d.id] },
            now - 60 * 60_000,
            now + 60_000,
            30,
          ),
        };
      },
    );
    app.get<{ Querystring: Static<typeof SeriesQuery> }>(
      '/ui/api/telemetry',
      { schema: { hide: true, querystring: SeriesQuery } },
      async (req) => {
        const q = req.query;
        const now = opts.clock.wallNow();
        await opts.devices.flush();
        const deviceIds = q.device
          ? [q.device]
          : q.chip
            ? (await opts.devices.list()).filter((d) => d.chip === q.chip).map((d) => d.id)
            : undefined;
        return await telemetrySeries(
          (f) => opts.telemetry.query(f),
          {
            ...(deviceIds ? { deviceIds } : {}),
            ...(q.bundle ? { bundle: q.bundle } : {}),
            ...(q.variant ? { variant: q.variant } : {}),
          },
          now - q.minutes * 60_000,
          now + 60_000,
          q.buckets,
        );
      },
    );

    // Server-sent events: one `change` message per topic that changed (coalesced by the hub);
    // the page then reloads what it shows. A comment line every 20 s keeps proxies from closing
    // an idle stream.
    app.get('/ui/events', { schema: { hide: true } }, (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      res.write('retry: 2000\n\n');
      const unsubscribe = opts.hub.subscribe((topic) => {
        res.write(`event: change\ndata: ${JSON.stringify({ topic })}\n\n`);
      });
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 20_000);
      keepAlive.unref();
      streams.add(reply);
      req.raw.on('close', () => {
        clearInterval(keepAlive);
        unsubscribe();
        streams.delete(reply);
      });
    });
    app.addHook('preClose', async () => {
      for (const s of streams) s.raw.end();
      streams.clear();
    });
  }

  return { auth, routes, sessions };
}
export type Dashboard = ReturnType<typeof createDashboard>;
