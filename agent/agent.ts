// One agent, assembled from its parts in a fixed order and torn down in reverse (STYLE.md).
// Several agents can live in one process: everything is created here, nothing is a module
// singleton; only the simulator session pool is shared, and it is passed in.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { bmfError, isBmfError, toBmfError } from '../shared/errors.js';
import type { BmfError } from '../shared/errors.js';
import { parseRoot, parseSignedRoot } from '../shared/trust/root.js';
import type { Root } from '../shared/trust/root.js';
import { decodeMessage, encodeMessage } from '../shared/wire/codec.js';
import type { DeviceState, Event } from '../shared/wire/messages.js';
import type { Clock } from './clock.js';
import { createSystemClock } from './clock.js';
import type { AgentConfig } from './config.js';
import { createSimSessionPool } from './runtime/session-pool.js';
import type { SimSessionPool } from './runtime/session-pool.js';
import { selectRuntime } from './runtime/select.js';
import type { SelectedRuntime } from './runtime/select.js';
import { createLocalApi } from './serve/http.js';
import { createServeMetrics } from './serve/metrics.js';
import type { ServeObserver } from './serve/observe.js';
import { createInferenceService } from './serve/service.js';
import type { InferenceService } from './serve/service.js';
import type { HealthThresholds, VariantName } from './serve/types.js';
import { createBlobStore } from './store/blob-store.js';
import type { BlobStore } from './store/blob-store.js';
import { createStateFile } from './store/state.js';
import type { AgentState } from './store/state.js';
import { acceptAssignment, healthOf, targetOf, trafficOf } from './sync/assignment.js';
import { eventFromError, eventFromServe, wireVariant } from './sync/events.js';
import { SyncContext } from './sync/executors.js';
import { createBlobFetcher } from './sync/fetcher.js';
import { createHttpChunkSource } from './sync/http-chunks.js';
import { createAgentLink } from './sync/link.js';
import type { AgentLink } from './sync/link.js';
import { announceSteps, reconcileLoop } from './sync/reconcile.js';
import { createTelemetryCollector } from './telemetry/collector.js';
import { createOutbox } from './telemetry/outbox.js';
import type { Outbox } from './telemetry/outbox.js';
import { createTelemetryReporter } from './telemetry/reporter.js';
import type { TelemetryReporter } from './telemetry/reporter.js';

export interface AgentDeps {
  readonly clock?: Clock;
  /** Share one pool between the agents of a process (fleet simulation). */
  readonly pool?: SimSessionPool;
  readonly log?: (line: string) => void;
}

export interface Agent {
  readonly config: Readonly<AgentConfig>;
  readonly service: InferenceService;
  readonly runtime: SelectedRuntime;
  /** http://host:port of the local API once started (undefined when disabled). */
  apiAddress(): string | undefined;
  state(): AgentState;
  /** Resolves when the reconcile loop has nothing left to do for the current target. */
  whenIdle(): Promise<void>;
  telemetry(): TelemetryReporter;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const SIGNER_ERRORS: readonly string[] = [
  'BMF_ERR_TRUST_UNKNOWN_KEY',
  'BMF_ERR_TRUST_THRESHOLD',
  'BMF_ERR_TRUST_BAD_SIGNATURE',
];

/** Where the pinned root came from, as trust errors name it. */
export function rootSource(config: Pick<AgentConfig, 'root' | 'rootFile'>): string {
  return config.root !== undefined ? 'the root field of the agent config' : config.rootFile;
}

/** A signature the pinned root does not accept: say which root was read and what to do. */
export function withTrustContext(e: BmfError, source: string): BmfError {
  if (!SIGNER_ERRORS.includes(e.code) || e.details.lookedIn !== undefined) return e;
  return bmfError(
    e.code,
    {
      ...e.details,
      lookedIn: source,
      hint:
        'the controller signs with keys this root does not list: pin the root of the ' +
        "controller's keystore (bmfleet device add --out writes it into agent.json)",
    },
    { cause: e },
  );
}

/** The pinned root: embedded in the config (`root`) or read from `rootFile`. */
async function loadRoot(config: Pick<AgentConfig, 'root' | 'rootFile'>): Promise<Root> {
  const where = rootSource(config);
  try {
    const json = (config.root ?? JSON.parse(await readFile(config.rootFile, 'utf8'))) as Record<
      string,
      unknown
    >;
    return 'signed' in json ? parseSignedRoot(json).root : parseRoot(json);
  } catch (e) {
    if (isBmfError(e)) throw bmfError(e.code, { ...e.details, lookedIn: where }, { cause: e });
    throw bmfError('BMF_ERR_TRUST_ROOT_INVALID', {
      reason: (e as Error).message,
      lookedIn: where,
      hint: 'bmfleet device add --out agent.json writes a config with the root embedded',
    });
  }
}

export function createAgent(config: Readonly<AgentConfig>, deps: AgentDeps = {}): Agent {
  const clock = deps.clock ?? createSystemClock();
  const pool = deps.pool ?? createSimSessionPool();
  const log = deps.log ?? (() => undefined);
  const runtime = selectRuntime(config.runtime, { pool, clock, timing: config.timing });
  const metrics = createServeMetrics({ device: config.deviceId });
  const collector = createTelemetryCollector();
  const stop = new AbortController();
  const teardown: (() => Promise<void>)[] = [];
  const startedAt = clock.now();

  let ctx: SyncContext | undefined;
  let link: AgentLink | undefined;
  let eventsOutbox: Outbox | undefined;
  let reporter: TelemetryReporter | undefined;
  let api: FastifyInstance | undefined;
  let apiAddress: string | undefined;
  let health: HealthThresholds | undefined;
  let assignedDigest: string | undefined;
  let lastError = '';
  let kick: () => void = () => undefined;
  let idleWaiters: (() => void)[] = [];

  const now = (): number => clock.wallNow();

  async function goldenSchedule(intervalMs: number, signal: AbortSignal): Promise<void> {
    if (intervalMs <= 0) return;
    while (!signal.aborted) {
      try {
        await clock.sleep(intervalMs, signal);
        await service.variants.goldenRun(signal);
      } catch (e) {
        if (signal.aborted) return;
        log(`scheduled golden run failed: ${toBmfError(e).message}`);
      }
    }
  }

  async function emit(event: Event): Promise<void> {
    if (!eventsOutbox) return;
    try {
      await eventsOutbox.enqueue(encodeMessage('Event', event));
    } catch (e) {
      log(`event ${event.code} not recorded: ${(e as Error).message}`);
      return;
    }
    void flushEvents();
  }
  async function flushEvents(): Promise<void> {
    if (!link?.connected() || !eventsOutbox) return;
    const l = link;
    await eventsOutbox
      .drain(async (bytes) => {
        await l.publish('event', decodeMessage('Event', bytes));
      })
      .catch((e: unknown) => log(`events not sent yet: ${(e as Error).message}`));
  }
  function reportError(
    e: BmfError,
    context: { variant?: string; bundleDigest?: string; step?: string } = {},
  ): void {
    lastError = e.code;
    log(`${e.code}: ${e.message}`);
    void emit(eventFromError(config.deviceId, now(), e, context));
  }

  function deviceState(): DeviceState {
    const st = ctx?.current();
    const list = (m: Partial<Record<VariantName, string>> | undefined) =>
      Object.entries(m ?? {}).map(([variant, bundleDigest]) => ({
        variant: wireVariant(variant),
        bundleDigest: bundleDigest ?? '',
        bundleSequence: 0,
      }));
    const serving = service.ready();
    return {
      deviceId: config.deviceId,
      active: list(st?.active),
      lastKnownGood: list(st?.lastKnownGood),
      assignmentSequence: st?.installedSequence ?? 0,
      status: !serving ? (assignedDigest ? 'syncing' : 'idle') : lastError ? 'degraded' : 'active',
      lastErrorCode: lastError,
      uptimeMs: Math.round(clock.now() - startedAt),
      timeMs: now(),
    };
  }
  function publishState(): void {
    if (link?.connected()) void link.publish('state', deviceState()).catch(() => undefined);
  }

  const serveEvents: ServeObserver = {
    onEvent(e) {
      void emit(eventFromServe(config.deviceId, now(), e));
      const c = ctx;
      if (!c) return;
      if (e.kind === 'rolled-back') {
        c.reject(e.from, toBmfError(new Error(e.reason)));
        if (e.to) void c.update((st) => ({ ...st, active: { ...st.active, [e.variant]: e.to } }));
      }
      if (e.kind === 'healthy') {
        void c.update((st) => ({
          ...st,
          lastKnownGood: { ...st.lastKnownGood, [e.variant]: e.bundleDigest },
        }));
      }
      kick();
    },
  };

  const service = createInferenceService({
    runtime: runtime.backend,
    clock,
    observers: [metrics.observer, collector.observer, serveEvents],
  });

  async function restore(c: SyncContext, store: BlobStore): Promise<void> {
    const st = c.current();
    for (const name of ['A', 'B'] as const) {
      const candidates = [st.active[name], st.lastKnownGood[name]].filter(
        (d, i, all): d is string => d !== undefined && all.indexOf(d) === i,
      );
      for (const digest of candidates) {
        try {
          // Verified again from the store: serve the old or the new model fully verified, never a mix.
          const spec = await c.specFor(digest);
          await service.variants.install(name, spec, { knownGood: true });
          if (digest !== st.active[name]) {
            await c.update((s) => ({ ...s, active: { ...s.active, [name]: digest } }));
          }
          break;
        } catch (e) {
          reportError(toBmfError(e), { variant: name, bundleDigest: digest, step: 'restore' });
        }
      }
    }
    if (st.assignment && (await store.has(st.assignment))) {
      try {
        const accepted = acceptAssignment({
          bytes: await store.read(st.assignment),
          root: rootDoc as Root,
          deviceId: config.deviceId,
          installedSequence: undefined,
          now: new Date(now()),
        });
        if (accepted.assignment.sequence >= st.installedSequence)
          adopt(accepted.assignment, accepted.digest);
      } catch (e) {
        reportError(toBmfError(e), { step: 'restore assignment' });
      }
    }
  }

  let rootDoc: Root | undefined;

  function adopt(a: Parameters<typeof targetOf>[0], digest: string): void {
    assignedDigest = digest;
    health = healthOf(a, config.healthMinRequests);
    service.setTraffic(trafficOf(a));
    ctx?.assign(targetOf(a));
    kick();
  }

  async function onAssignment(bytes: Uint8Array, store: BlobStore): Promise<void> {
    const c = ctx;
    if (!c || !rootDoc) return;
    try {
      const accepted = acceptAssignment({
        bytes,
        root: rootDoc,
        deviceId: config.deviceId,
        installedSequence: undefined,
        now: new Date(now()),
      });
      // The retained assignment comes again on every reconnect: the same one is not news.
      if (accepted.digest === assignedDigest) return;
      const installed = c.current().installedSequence;
      if (accepted.assignment.sequence <= installed) {
        throw bmfError('BMF_ERR_TRUST_ROLLBACK', {
          what: `assignment for ${config.deviceId}`,
          sequence: accepted.assignment.sequence,
          installed,
        });
      }
      const digest = await store.put(accepted.canonical);
      await c.update((st) => ({ ...st, assignment: digest }));
      adopt(accepted.assignment, accepted.digest);
    } catch (e) {
      reportError(withTrustContext(toBmfError(e), rootSource(config)), { step: 'assignment' });
    }
  }

  return {
    config,
    service,
    runtime,
    apiAddress: () => apiAddress,
    state: () =>
      ctx?.current() ?? { version: 1, installedSequence: 0, active: {}, lastKnownGood: {} },
    whenIdle: () => new Promise<void>((resolve) => idleWaiters.push(resolve)),
    telemetry: () => {
      if (!reporter) throw new Error('agent not started');
      return reporter;
    },
    async start() {
      log(`runtime ${runtime.chosen} (${runtime.reason}), timing ${config.timing}`);
      // 1. disk: state, blobs, outboxes
      const dir = config.stateDir;
      await mkdir(dir, { recursive: true }).catch((e: unknown) => {
        throw bmfError('BMF_ERR_IO', {
          path: dir,
          reason: (e as Error).message,
          hint: 'give a state directory this user can write: --state-dir DIR or stateDir in agent.json',
        });
      });
      const stateFile = createStateFile(dir);
      const initialState = await stateFile.load();
      const store = await createBlobStore(join(dir, 'blobs'));
      const telemetryOutbox = await createOutbox(
        join(dir, 'outbox', 'telemetry'),
        config.telemetry.outboxLimit,
      );
      eventsOutbox = await createOutbox(
        join(dir, 'outbox', 'events'),
        config.telemetry.outboxLimit,
      );
      rootDoc = await loadRoot(config);
      // 2. the link (messages are handled once the sync context below exists)
      const fetcherRef: { current?: ReturnType<typeof createBlobFetcher> } = {};
      link = createAgentLink({
        url: config.broker.url,
        deviceId: config.deviceId,
        username: config.broker.username,
        password: config.broker.password,
        protocolVersion: config.broker.protocolVersion,
        handlers: {
          assignment: (m) => void onAssignment(m.envelope, store),
          blobOffer: (m) => fetcherRef.current?.handleOffer(m),
          blobChunk: (m) => fetcherRef.current?.handleChunk(m),
          command: () => kick(),
        },
        onMalformed: (_topic, e) => reportError(e, { step: 'mqtt' }),
        onConnect: () => {
          void link
            ?.publish('hello', {
              deviceId: config.deviceId,
              chip: config.chip,
              agentVersion: '0.1.0',
              runtime: runtime.chosen,
              capabilities: ['chunked-fetch', 'ab', 'shadow'],
              timeMs: now(),
            })
            .catch(() => undefined);
          publishState();
          void reporter?.flush();
          void flushEvents();
        },
      });
      teardown.push(async () => link?.close());
      const fetcher = createBlobFetcher({
        link,
        store,
        partialDir: join(dir, 'partial'),
        clock,
        maxInFlight: config.fetch.maxInFlight,
        requestTimeoutMs: config.fetch.requestTimeoutMs,
        onBadInput: (e) => reportError(e, { step: 'fetch' }),
        // Optional: chunk bytes over HTTP range requests (chunk table still from the offer).
        ...(config.fetch.http && {
          chunkSource: createHttpChunkSource({
            ...config.fetch.http,
            username: config.deviceId,
            password: config.broker.password ?? '',
            clock,
            onBadInput: (e) => reportError(e, { step: 'fetch' }),
            log,
          }),
        }),
      });
      fetcherRef.current = fetcher;
      // 3. sync context, then restore what was installed before any new work
      const c = new SyncContext({
        store,
        stateFile,
        initialState,
        fetcher,
        service,
        root: rootDoc,
        chip: config.chip,
        clock,
        health: () => health,
        onStateChange: () => publishState(),
        onRejected: (bundleDigest, e) =>
          reportError(withTrustContext(e, rootSource(config)), { bundleDigest }),
      });
      ctx = c;
      await restore(c, store);
      teardown.push(() => service.close());
      // 4. local API
      if (config.api.enabled) {
        api = await createLocalApi({ service, registry: metrics.registry });
        apiAddress = await api.listen({ host: config.api.host, port: config.api.port });
        teardown.push(async () => api?.close());
      }
      // 5. reconcile loop
      const loop = reconcileLoop(
        {
          gatherFacts: () => c.gatherFacts(),
          target: () => c.target(),
          executors: announceSteps(c.executors(), log),
          clock,
          onError: (step, e) =>
            reportError(e, {
              step: step.kind,
              ...('variant' in step && { variant: step.variant }),
              ...('bundleDigest' in step && { bundleDigest: step.bundleDigest }),
            }),
        },
        async (signal) => {
          const waiters = idleWaiters;
          idleWaiters = [];
          for (const w of waiters) w();
          publishState();
          await new Promise<void>((resolve) => {
            kick = resolve;
            signal.addEventListener('abort', () => resolve(), { once: true });
            // Look again now and then even without news (e.g. a fetch that backed off).
            void clock.sleep(30_000, signal).then(resolve, resolve);
          });
        },
        stop.signal,
      );
      teardown.push(() => loop);
      // 6. telemetry
      reporter = createTelemetryReporter({
        collector,
        outbox: telemetryOutbox,
        clock,
        intervalMs: config.telemetry.intervalMs,
        deviceId: config.deviceId,
        stateDir: dir,
        runtime: runtime.chosen,
        timingMode: runtime.chosen === 'sim' ? config.timing : '',
        send: async (bytes) => {
          await link?.publish('telemetry', decodeMessage('TelemetryReport', bytes));
        },
        isConnected: () => link?.connected() ?? false,
      });
      const telemetryRun = reporter.run(stop.signal);
      const r = reporter;
      // 7. golden set on a schedule (field accuracy between activations)
      const goldenRun = goldenSchedule(config.telemetry.goldenIntervalMs, stop.signal);
      teardown.push(() => goldenRun);
      teardown.push(async () => {
        await telemetryRun;
        await r.settle();
      });
    },
    async stop() {
      stop.abort();
      kick();
      for (const step of teardown.reverse()) await step().catch(() => undefined);
      teardown.length = 0;
    },
  };
}
