// The controller program. Builds the parts in a fixed order from a validated, frozen config and
// tears them down in reverse:
//   store -> keys -> broker -> controller link -> device tracker -> registry, assignments and
//   blob server -> rollout executor -> telemetry -> experiments and their guardrail looks ->
//   REST API
// Device messages are held at a gate until every part is built, so nothing the broker delivers
// right after connect (a persistent session's queue) reaches a part that does not exist yet.
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createSystemClock, runEvery, type Clock } from '../shared/clock.js';
import { createLogger, type Logger } from '../shared/log.js';
import { bmfError, isBmfError, type BmfError } from '../shared/errors.js';
import { writeFileAtomic } from '../shared/fs/atomic.js';
import { settlesWithin } from '../shared/wire/end-connection.js';
import { createKeystore, type Keystore } from '../shared/trust/keystore.js';
import type { DeviceTopicKind } from '../shared/wire/topics.js';
import type { DeviceState } from '../shared/wire/messages.js';
import { createApi } from './api/index.js';
import { deviceGauges } from './api/metrics.js';
import type { RoutePlugin } from './api/services.js';
import { CONTROLLER_USERNAME } from './broker/acl.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker/embedded.js';
import { attachEmbeddedLink } from './broker/embedded-link.js';
import { connectControllerLink, type ControllerLink } from './broker/link.js';
import { connectJetStreamLink } from './broker/jetstream-link.js';
import { brokerPlan, controllerPaths, type ControllerConfig } from './config.js';
import { createDeviceTracker } from './devices/tracker.js';
import { createAssignmentService } from './distribution/assignments.js';
import { createBlobServer, type BlobServerStats } from './distribution/blobs.js';
import { blobDownloadRoutes } from './distribution/http.js';
import { createRegistry } from './registry/registry.js';
import { createRolloutExecutor } from './rollout/executor.js';
import { createRefusalCounter } from './broker/refusals.js';
import { openControllerStore } from './store/open.js';
import { createTelemetryService } from './telemetry/service.js';
import { createExperimentService } from './experiment/service.js';
import { experimentRoutes } from './experiment/routes.js';
import { createExperimentLooks } from './experiment/looks.js';
import type { RolloutSpec } from './rollout/model.js';
import { splitGroups } from './rollout/plan.js';
import { enrolmentConfig } from '../shared/config/enrolment.js';
import { createChangeHub } from './web/hub.js';
import { createDashboard } from './web/plugin.js';
import { createRecentEvents } from './web/queries.js';
import type { Digest } from '../shared/ids.js';

export interface StartOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Route plugins of other parts (experiments...), registered after the controller's own. */
  readonly plugins?: readonly RoutePlugin[];
}

export interface ControllerHandle {
  readonly apiUrl: string;
  readonly brokerUrl: string;
  /** The keystore the controller signs assignments with and verifies pushed bundles against. */
  readonly keysDir: string;
  /** The operator token when this start generated it (print it once), else undefined. */
  readonly generatedToken?: string;
  readonly api: FastifyInstance;
  /** Bytes and chunks the blob server published (per device and broadcast). */
  blobStats(): BlobServerStats;
  stop(): Promise<void>;
}

/** Time `stop()` may take in all (a 5 s shutdown leaves the rest for the process shell). */
export const STOP_BUDGET_MS = 4000;

/** Signed assignments live 30 days; republishAll renews them at half-life on start-up. */
const ASSIGNMENT_DEFAULTS = {
  expiresInMs: 30 * 86_400_000,
  health: { maxErrorRate: 0.2, maxP95Ms: 10_000, windowS: 60 },
} as const;

const DEVICE_KINDS: readonly DeviceTopicKind[] = [
  'hello',
  'state',
  'presence',
  'blobRequest',
  'telemetry',
  'event',
  'ack',
];

type Handler = (deviceId: string, payload: Uint8Array) => void | Promise<void>;

/** Holds device messages (up to `limit`) until open(); then routes them to the parts. */
function createLinkGate(link: ControllerLink, limit: number, onOverflow: () => void) {
  const handlers = new Map<DeviceTopicKind, Handler>();
  // A held message's handler settles when the message has been routed after open(): a link
  // that acknowledges on settling (JetStream) does not acknowledge what the gate still holds.
  let held: [DeviceTopicKind, string, Uint8Array, () => void][] | undefined = [];
  const route = (kind: DeviceTopicKind, id: string, p: Uint8Array) => handlers.get(kind)?.(id, p);
  for (const kind of DEVICE_KINDS) {
    link.on(kind, (id, p) => {
      if (!held) return route(kind, id, p);
      if (held.length >= limit) return onOverflow();
      const queue = held;
      return new Promise<void>((routed) => queue.push([kind, id, p, routed]));
    });
  }
  return {
    on(kind: DeviceTopicKind, h: Handler): void {
      handlers.set(kind, h);
    },
    async open(): Promise<void> {
      const queue = held ?? [];
      held = undefined;
      for (const [kind, id, p, routed] of queue) {
        await route(kind, id, p);
        routed();
      }
    },
  };
}

/** A random secret kept in a 0600 file; created on first start. Returns [value, created]. */
async function readOrCreateSecret(path: string): Promise<[string, boolean]> {
  try {
    const v = (await readFile(path, 'utf8')).trim();
    if (v) return [v, false];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message });
    }
  }
  const v = randomBytes(32).toString('base64url');
  await writeFileAtomic(path, `${v}\n`);
  await chmod(path, 0o600);
  return [v, true];
}

async function ensureKeys(keys: Keystore, now: Date, log: Logger): Promise<void> {
  try {
    await keys.readRootJson();
  } catch (e) {
    if (!isBmfError(e, 'BMF_ERR_KEYS_MISSING')) throw e;
    const s = await keys.init({ now });
    log.warn({ dir: s.dir, version: s.version }, 'no signing keys found: created a new root');
  }
}

/**
 * The rollout a promoted experiment winner goes out with: a canary quarter first, then the rest,
 * rolled back automatically if a fifth of a group fails.
 */
export function promotionRollout(
  id: string,
  bundle: Digest,
  deviceIds: readonly string[],
  allowDowngrade = false,
): RolloutSpec {
  return {
    id,
    bundle,
    ...(allowDowngrade && { allowDowngrade: true }),
    groups: splitGroups(deviceIds, [{ percent: 25 }, { percent: 75 }]),
    successThresholdPct: 100,
    afterGroup: 'continue',
    errorThreshold: { percent: 20, minFinished: 1 },
    onError: 'rollback',
    deviceTimeoutMs: 5 * 60_000,
    maxRetries: 2,
    maxStartsPerMinute: 600,
  };
}

const loopbackFor = (host: string): string =>
  host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const publicHostFor = (host: string): string =>
  host === '0.0.0.0' || host === '::' ? hostname() : host;

export async function startController(
  config: ControllerConfig,
  options: StartOptions = {},
): Promise<ControllerHandle> {
  const clock = options.clock ?? createSystemClock();
  const log = options.logger ?? createLogger({ program: 'controller', level: config.logLevel });
  const paths = controllerPaths(config);
  const stack: { name: string; stop: () => Promise<void> | void }[] = [];
  const stop = async () => {
    // Each part gets what is left of the budget (their own waits are bounded as well): agents
    // that hang around or an external broker that is gone must not hold the process.
    const deadline = Date.now() + STOP_BUDGET_MS;
    for (const part of stack.splice(0).reverse()) {
      const run = Promise.resolve()
        .then(() => part.stop())
        .catch((e: unknown) => log.error({ err: e, part: part.name }, 'shutdown step failed'));
      if (!(await settlesWithin(run, deadline - Date.now()))) {
        log.warn({ part: part.name }, 'shutdown step overran its time; going on');
      }
    }
    log.info('controller stopped');
  };

  try {
    await mkdir(paths.dataDir, { recursive: true, mode: 0o700 });

    // One id per replica: the lease holder, and the `replica` label of every series on /metrics.
    // The pid makes two processes on one host (or a restart) distinct holders.
    const replicaId = `${config.broker.replicaId ?? hostname()}:${process.pid}`;
    const metricLabels = { replica: replicaId };

    // 1. store (SQLite in dataDir, or PostgreSQL shared by replicas: store/open.ts)
    const store = await openControllerStore({
      ...(config.store ? { url: config.store } : {}),
      sqlitePath: paths.database,
      clock,
      holder: replicaId,
    });
    stack.push({ name: 'store', stop: () => store.close() });
    log.info({ store: store.kind, at: store.where }, 'store open');
    const { devices, counters, rollouts } = store;
    const refusals = createRefusalCounter({
      counters,
      clock,
      metricLabels,
      onError: (e) => log.warn({ err: e }, 'refusal counts not written; kept for the next flush'),
    });
    /** Counted without waiting for the store (a failed count is logged, never thrown). */
    const bump = (name: string) =>
      void Promise.resolve()
        .then(() => counters.add(name))
        .catch((e: unknown) => log.warn({ err: e, counter: name }, 'counter not written'));
    stack.push({ name: 'refusal counters', stop: () => refusals.close() });
    // One process: nobody is connected yet. Replicas share presence; each one's broker
    // connections set it, so a starting replica must not mark the others' devices offline.
    if (store.kind === 'sqlite') await devices.markAllOffline();
    // What changed, for the dashboard's live pages (web/hub.ts).
    const hub = createChangeHub();
    stack.push({ name: 'change hub', stop: () => hub.close() });
    const notifyRollouts = () => hub.notify('rollouts');

    // 2. keys
    const keys = createKeystore(paths.keysDir);
    await ensureKeys(keys, new Date(clock.wallNow()), log);
    const rootJson = await keys.readRootJson();

    // 3. broker (embedded aedes, or a connection to an external one)
    const plan = brokerPlan(config);
    const [controllerSecret] = await readOrCreateSecret(paths.controllerSecret);
    let onPresence: (id: string, online: boolean) => void = () => undefined;
    // Bound to the blob server once it exists (step 6); until then no device may subscribe.
    let mayReceiveBlob: (id: string, digest: string) => boolean | Promise<boolean> = () => false;
    // Reports that arrive before the telemetry service exists (step 8) wait for it, unacknowledged.
    let telemetryBuilt: (t: ReturnType<typeof createTelemetryService>) => void = () => undefined;
    const telemetryReady = new Promise<ReturnType<typeof createTelemetryService>>(
      (r) => (telemetryBuilt = r),
    );
    let brokerUrl: string;
    let failoverUrls: readonly string[] = [];
    let advertised: string;
    let agentProtocol: 4 | 5;
    let linkAuth = { username: CONTROLLER_USERNAME, password: controllerSecret };
    let embedded: EmbeddedBroker | undefined;
    if (plan.kind === 'embedded') {
      const o = plan.options;
      const broker: EmbeddedBroker = await startEmbeddedBroker({
        host: o.host,
        port: o.port,
        ...(o.tls ? { tls: o.tls } : {}),
        ...(o.wsPort !== undefined ? { wsPort: o.wsPort } : {}),
        controllerSecret,
        authenticateDevice: (id, secret) => devices.authenticate(id, secret),
        onDenied: (what, who, detail) => {
          refusals.count('broker', what);
          const said = {
            connect: `broker refused a connection from client ${who} (${detail}): not authorized`,
            publish: `broker denied client ${who} a publish on ${detail} (ACL)`,
            subscribe: `broker denied client ${who} a subscription to ${detail} (ACL)`,
            packet: `broker refused a packet from client ${who}: ${detail}`,
          }[what];
          log.warn({ what, clientId: who, detail }, said);
        },
        onTakeover: (clientId, who) => {
          bump('broker_takeovers');
          log.warn(
            { clientId, who },
            `connection takeover: a new connection (${who}) uses the client id ${clientId} of a connected client, which the broker closes`,
          );
        },
        onPresence: (id, online) => onPresence(id, online),
        onError: (e) => log.error({ err: e }, 'embedded broker: answering a client failed'),
        mayReceiveBlob: (id, digest) => mayReceiveBlob(id, digest),
        intakeTelemetry: async (id, payload) => {
          const r = await (await telemetryReady).ingestStored(id, payload);
          hub.notify('telemetry');
          return r;
        },
      });
      embedded = broker;
      stack.push({
        name: 'broker',
        stop: () => broker.close(),
      });
      brokerUrl = `mqtt://${loopbackFor(o.host)}:${broker.port}`;
      advertised = `mqtt://${publicHostFor(o.host)}:${broker.port}`;
      agentProtocol = 4; // aedes speaks MQTT 3.1.1 only
    } else {
      const o = plan.options;
      brokerUrl = o.url;
      failoverUrls = o.failoverUrls;
      advertised = o.url;
      agentProtocol = o.protocolVersion;
      linkAuth = {
        username: o.username ?? CONTROLLER_USERNAME,
        password: o.password ?? controllerSecret,
      };
    }
    advertised = config.broker.advertisedUrl ?? advertised;
    // Devices enrolled against a cluster learn every node; an advertised first URL (devices
    // reach the broker by other names) takes advertised failover URLs only.
    const advertisedFailover =
      config.broker.advertisedFailoverUrls ??
      (config.broker.advertisedUrl === undefined ? failoverUrls : []);

    // 4. controller link
    const dropped = (kind: string, err: BmfError) => {
      refusals.count('link', kind);
      log.debug({ kind, code: err.code }, err.message);
    };
    const connectionError = (which: string) => {
      // A broker that is away refuses every reconnect: one warning per change, not per second.
      let last = '';
      return (err: BmfError) => {
        bump('broker_connection_errors');
        log[err.message === last ? 'debug' : 'warn']({ link: which, code: err.code }, err.message);
        last = err.message;
      };
    };
    // The embedded broker is attached in process (embedded-link.ts); an external one over MQTT
    // with two client ids, control and chunk data.
    // Replicas behind NATS: device messages from the shared JetStream consumer, publishes over
    // MQTT with client ids of this replica's own.
    const jetstream = plan.kind === 'external' ? plan.options.jetstream : undefined;
    const replica =
      plan.kind === 'external' ? (plan.options.replicaId ?? `${hostname()}-${process.pid}`) : '';
    const jetstreamLink = (which: 'main' | 'data') =>
      connectJetStreamLink({
        mqtt: {
          url: brokerUrl,
          failoverUrls,
          ...linkAuth,
          clientId: `${CONTROLLER_USERNAME}-${replica}-${which}`,
          protocolVersion: 4, // the NATS MQTT listener speaks 3.1.1 only
          onConnectionError: connectionError(which),
        },
        intake: jetstream!,
        publishOnly: which === 'data',
        onDropped: (reason, err) => dropped(reason, err),
      });
    const link = embedded
      ? await attachEmbeddedLink(embedded.aedes, { onDropped: dropped, exclude: ['telemetry'] })
      : jetstream
        ? await jetstreamLink('main')
        : await connectControllerLink({
            url: brokerUrl,
            failoverUrls,
            ...linkAuth,
            clientId: `${CONTROLLER_USERNAME}-main`,
            protocolVersion: plan.kind === 'embedded' ? 4 : plan.options.protocolVersion,
            onDropped: (reason, err) => dropped(reason, err),
            onConnectionError: connectionError('main'),
          });
    stack.push({ name: 'link', stop: () => link.close() });
    const dataLink = embedded
      ? await attachEmbeddedLink(embedded.aedes, { publishOnly: true })
      : jetstream
        ? await jetstreamLink('data')
        : await connectControllerLink({
            url: brokerUrl,
            failoverUrls,
            ...linkAuth,
            clientId: `${CONTROLLER_USERNAME}-data`,
            protocolVersion: plan.kind === 'embedded' ? 4 : plan.options.protocolVersion,
            publishOnly: true,
            onConnectionError: connectionError('data'),
          });
    stack.push({ name: 'data link', stop: () => dataLink.close() });
    const gate = createLinkGate(link, 100_000, () => refusals.count('link', 'gate_overflow'));

    // 5. device tracker
    // Set once the rollout executor exists (step 7): device reports make it tick at once.
    let onDeviceChange: () => void = () => undefined;
    // Set once the assignment service exists (step 6); the gate holds reports until then.
    let onDeviceState: (id: string, s: DeviceState) => Promise<void> = async () => undefined;
    const tracker = createDeviceTracker({
      devices,
      eventStore: store.deviceEvents,
      clock,
      onDropped: dropped,
      onChange: () => {
        onDeviceChange();
        hub.notify('devices');
      },
      onState: (id, s) => onDeviceState(id, s),
      ...(embedded ? { connected: (id: string) => embedded.connected(id) } : {}),
      events: {
        ratePerSecond: config.events.ratePerSecond,
        burst: config.events.burst,
        retentionMs: config.events.retentionDays * 86_400_000,
        maxPerDevice: config.events.maxPerDevice,
      },
      onRateLimited: (_id, err) => {
        refusals.count('events', 'rate_limited');
        log.debug({ code: err.code }, err.message);
      },
    });
    await tracker.pruneEvents();
    const pruneFailed = (e: unknown) => log.error({ err: e }, 'event retention failed');
    const eventPrune = runEvery(
      clock,
      10 * 60_000,
      () => void tracker.pruneEvents().catch(pruneFailed),
      { keepAlive: false, onError: pruneFailed },
    );
    stack.push({ name: 'event retention', stop: () => eventPrune.cancel() });
    tracker.attach(gate);
    onPresence = (id, online) => tracker.setConnected(id, online);

    // 6. registry, assignments, blob server
    const publish = (t: string, p: Uint8Array, o: { qos: 0 | 1; retain?: boolean }) =>
      link.publish(t, p, o);
    const registry = createRegistry({
      store: store.bundles,
      blobDir: paths.blobDir,
      root: () => keys.readRoot(),
      clock,
      trustContext: {
        lookedIn: join(paths.keysDir, 'root.json'),
        hint:
          `sign bundles with this controller's keys (bmfleet bundle sign DIR --keys ${paths.keysDir}), ` +
          'or start the controller with --keys-dir (keysDir in controller.json) naming the ' +
          'directory you signed with',
      },
    });
    const assignments = createAssignmentService({
      store: store.assignments,
      registry,
      devices,
      signers: () => keys.signers('assignment'),
      publish,
      clock,
      defaults: ASSIGNMENT_DEFAULTS,
    });
    const blobs = createBlobServer({
      registry,
      assignments,
      publish,
      publishChunk: (t, p, o) => dataLink.publish(t, p, o),
      clock,
      onDropped: dropped,
    });
    gate.on('blobRequest', (id, p) => blobs.handleRequest(id, p));
    mayReceiveBlob = (id, digest) => blobs.mayFetch(id, digest);
    stack.push({ name: 'blob server', stop: () => blobs.close() });
    const republished = await assignments.republishAll();
    log.info(republished, 'assignments republished');
    // A device whose report shows an older assignment than the persisted one gets it again
    // (catch-up.ts): delivery does not rest on the broker's session or retained copy.
    onDeviceState = async (id, s) => {
      try {
        const d = await assignments.catchUp(id, s.assignmentSequence);
        if (d.kind === 'republish')
          log.debug({ device: id, reported: s.assignmentSequence }, 'assignment sent again');
      } catch (e) {
        log.warn({ err: e, device: id }, 'assignment catch-up failed');
      }
    };

    // 7. rollout executor (its health gate reads telemetry, built next; bound late)
    const late: { telemetry?: ReturnType<typeof createTelemetryService> } = {};
    const executor = createRolloutExecutor({
      rollouts: {
        ...rollouts,
        create: async (...a: Parameters<typeof rollouts.create>) => {
          await rollouts.create(...a);
          notifyRollouts();
        },
        save: async (...a: Parameters<typeof rollouts.save>) => {
          await rollouts.save(...a);
          notifyRollouts();
        },
      },
      leadership: store.leadership,
      clock,
      observe: (ids) => tracker.observe(ids),
      groupHealth: (ids, bundle, since, baseline) =>
        late.telemetry?.groupHealth(ids, bundle, since, baseline),
      assign: (id, bundle, reason, options) =>
        assignments.assignBundle(id, bundle, reason, options),
      onEvent: (rolloutId, e) => log.info({ rollout: rolloutId, event: e.type }, e.message),
      intervalMs: config.rollout.tickMs,
    });
    await executor.resume();
    executor.start();
    onDeviceChange = () => executor.poke();
    stack.push({ name: 'rollout executor', stop: () => executor.stop() });

    // 8. telemetry
    const telemetry = createTelemetryService({
      store: store.telemetry,
      clock,
      retentionMs: config.telemetry.retentionDays * 86_400_000,
      bundleInfo: (digest) => registry.peekBundle(digest),
      deviceGauges: () => deviceGauges(devices),
      metricLabels,
      onError: (err) => log.error({ code: err.code }, err.message),
    });
    late.telemetry = telemetry;
    // Embedded broker: reports come through its durable intake (acknowledged once stored).
    // External broker: through the link, acknowledged by the MQTT client on receipt.
    // JetStream: acknowledged to the stream once stored, so a replica that dies before its
    // commit leaves the report to another.
    gate.on('telemetry', async (id, p) => {
      if (jetstream) await telemetry.ingestStored(id, p);
      else void telemetry.ingest(id, p);
      hub.notify('telemetry');
    });
    telemetryBuilt(telemetry);
    stack.push({ name: 'telemetry', stop: () => telemetry.close() });

    // 9. experiments (A/B of two bundles over the same telemetry and assignments)
    const experiments = createExperimentService({
      store: store.experiments,
      leadership: store.leadership,
      clock,
      registry,
      devices: async () =>
        (await devices.list()).map((d) => ({ id: d.id, chip: d.chip, tags: d.tags })),
      assign: (id, request) => assignments.assign(id, request),
      telemetry,
      createRollout: async ({ bundle, deviceIds, reason, allowDowngrade }) => {
        const id = `promote-${clock.wallNow().toString(36)}`;
        await executor.create(promotionRollout(id, bundle, deviceIds, allowDowngrade === true));
        log.info({ rollout: id, bundle }, reason);
        return id;
      },
    });
    // Guardrails are watched on a timer too, not only when someone opens the analysis.
    const looks = createExperimentLooks({
      experiments,
      leadership: store.leadership,
      clock,
      intervalMs: config.experiments.lookIntervalMs,
      onEvent: (e) => {
        log.warn(
          { code: e.code, experiment: e.experiment },
          `experiment ${e.experiment} aborted back to A: ${e.reason}`,
        );
        hub.notify('experiments');
      },
      onStretch: ({ passMs, intervalMs, nextInMs }) =>
        log.info(
          { lookPassMs: passMs, lookIntervalMs: intervalMs, nextLookInMs: nextInMs },
          `experiment looks stretched: a pass took ${Math.round(passMs)} ms, the next starts ${Math.round(nextInMs)} ms after it began (interval ${intervalMs} ms)`,
        ),
      onError: (err, experiment) => log.error({ err, experiment }, 'experiment look failed'),
    });
    looks.start();
    stack.push({ name: 'experiment looks', stop: () => looks.close() });

    // 10. REST API
    let generatedToken: string | undefined;
    let tokens = config.api.tokens;
    if (!tokens) {
      const [token, created] = await readOrCreateSecret(paths.operatorToken);
      if (created) generatedToken = token;
      tokens = [token];
    }
    const dashboard = createDashboard({
      clock,
      tokens,
      ...(config.api.readOnlyTokens ? { readOnlyTokens: config.api.readOnlyTokens } : {}),
      devices,
      device: (id) => tracker.get(id),
      deviceEvents: (id, limit) => tracker.events(id, { limit }),
      recentEvents: createRecentEvents(store.deviceEvents),
      telemetry,
      hub,
      sessions: store.sessions,
    });
    let ready = false;
    const api = await createApi({
      clock,
      devices,
      registry,
      assignments,
      rollouts,
      executor,
      telemetry,
      tokens,
      auth: dashboard.auth,
      bodyLimit: config.api.bodyLimitBytes,
      logger: log.child({ part: 'api' }),
      ready: () => ready,
      moreMetrics: () => refusals.render(),
      metricLabels,
      agentConfig: async (device, secret) =>
        enrolmentConfig({
          device,
          broker: {
            url: advertised,
            failoverUrls: advertisedFailover,
            password: secret,
            protocolVersion: agentProtocol,
          },
        }),
      rootJson: () => rootJson,
      plugins: [
        // Device-authenticated (HTTP Basic with the device secret), not operator-token.
        (app) => blobDownloadRoutes(app, { registry, devices, assignments }),
        (app) => experimentRoutes(app, { experiments }),
        (app) => dashboard.routes(app),
        ...(options.plugins ?? []),
      ],
    });
    stack.push({ name: 'api', stop: () => api.close() });
    await api.listen({ host: config.api.host, port: config.api.port });
    const addr = api.server.address() as AddressInfo;

    await gate.open();
    ready = true;
    const apiUrl = `http://${loopbackFor(config.api.host)}:${addr.port}`;
    log.info({ api: apiUrl, broker: brokerUrl, dataDir: paths.dataDir }, 'controller started');
    return {
      apiUrl,
      brokerUrl,
      keysDir: paths.keysDir,
      ...(generatedToken ? { generatedToken } : {}),
      api,
      blobStats: () => blobs.stats(),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
