// One agent, assembled from its parts in a fixed order and torn down in reverse.
// Several agents can live in one process: everything is created here, nothing is a module
// singleton; only the simulator session pool is shared, and it is passed in.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { bmfError, toBmfError } from '../shared/errors.js';
import { eventCode } from '../shared/events.js';
import { silentLogger, type Logger } from '../shared/log.js';
import { settlesWithin } from '../shared/wire/end-connection.js';
import type { BmfError } from '../shared/errors.js';
import type { Root } from '../shared/trust/root.js';
import { decodeMessage } from '../shared/wire/codec.js';
import type { DeviceState, Event } from '../shared/wire/messages.js';
import type { Clock } from './clock.js';
import { createSystemClock } from './clock.js';
import type { AgentConfig } from './config.js';
import { createSimSessionPool } from './runtime/session-pool.js';
import type { SimSessionPool } from './runtime/session-pool.js';
import { createBmrtBackend } from './runtime/bmrt/backend.js';
import { openLibsophon } from './runtime/bmrt/libsophon.js';
import { selectRuntime } from './runtime/select.js';
import type { RuntimeBackend } from './runtime/types.js';
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
import { removeOrphanedTempFiles } from './store/temp-files.js';
import type { AgentState } from './store/state.js';
import { acceptAssignment, healthOf, targetOf, trafficOf } from './sync/assignment.js';
import { eventFromError, eventFromServe, healthRegression } from './sync/events.js';
import { SyncContext } from './sync/executors.js';
import { createBlobFetcher } from './sync/fetcher.js';
import { createHttpChunkSource } from './sync/http-chunks.js';
import { createAgentLink } from './sync/link.js';
import type { AgentLink } from './sync/link.js';
import { brokerEventLogger, logServeEvent } from './log-events.js';
import { loadRoot, rootSource, withTrustContext } from './trust-root.js';
import { decideAssignment } from './sync/assignment-order.js';
import { deviceStateOf } from './sync/device-state.js';
import { createStateOrder } from '../shared/wire/state-order.js';
import { announceSteps, reconcileLoop, reconcileOnce, waitForKick } from './sync/reconcile.js';
import type { Step } from './sync/plan.js';
import type { Executors } from './sync/reconcile.js';
import { createTelemetryCollector } from './telemetry/collector.js';
import { createOutbox } from './telemetry/outbox.js';
import { createEventOutbox } from './telemetry/event-outbox.js';
import type { EventOutbox } from './telemetry/event-outbox.js';
import { createTelemetryReporter } from './telemetry/reporter.js';
import type { TelemetryReporter } from './telemetry/reporter.js';
import { createWaitingCountsFile } from './telemetry/waiting-counts.js';
import type { WaitingCounts } from './telemetry/waiting-counts.js';
import type { Digest } from '../shared/ids.js';

export interface AgentDeps {
  readonly clock?: Clock;
  /** Share one pool between the agents of a process (fleet simulation). */
  readonly pool?: SimSessionPool;
  /** Where the agent logs (shared/log.ts); silent when absent. Lines carry `device`. */
  readonly logger?: Logger;
  /** How `bmrt` is built (default: the libsophon binding on BMFLEET_LIBSOPHON_DIR, device 0). */
  readonly createBmrtBackend?: () => RuntimeBackend;
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

/** Time `stop()` may take in all (a 5 s shutdown leaves the rest for the process shell). */
export const STOP_BUDGET_MS = 3500;

export function createAgent(config: Readonly<AgentConfig>, deps: AgentDeps = {}): Agent {
  const clock = deps.clock ?? createSystemClock();
  const pool = deps.pool ?? createSimSessionPool();
  const log = (deps.logger ?? silentLogger()).child({ device: config.deviceId });
  const runtime = selectRuntime(config.runtime, {
    pool,
    clock,
    timing: config.timing,
    createBmrtBackend:
      deps.createBmrtBackend ??
      (() => createBmrtBackend({ device: openLibsophon(), clock, timing: config.timing })),
  });
  const deviceStat = runtime.backend.deviceStat?.bind(runtime.backend);
  const metrics = createServeMetrics({ device: config.deviceId }, deviceStat);
  const collector = createTelemetryCollector();
  const stop = new AbortController();
  const teardown: (() => Promise<void>)[] = [];
  const startedAt = clock.now();
  const nextStateOrder = createStateOrder();

  let ctx: SyncContext | undefined;
  let link: AgentLink | undefined;
  let events: EventOutbox | undefined;
  let reporter: TelemetryReporter | undefined;
  let api: FastifyInstance | undefined;
  let apiAddress: string | undefined;
  let health: HealthThresholds | undefined;
  let assignedDigest: Digest | undefined;
  let lastError = '';
  // News (an assignment, a serve event) wakes the reconcile loop; news that comes while it is
  // not waiting (mid-pass, during retention) is kept, so the next wait ends at once.
  let kicked = false;
  let wakeUp: (() => void) | undefined;
  const kick = (): void => {
    kicked = true;
    wakeUp?.();
  };
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
        const err = toBmfError(e);
        log.warn({ code: err.code }, `scheduled golden run failed: ${err.message}`);
      }
    }
  }

  async function emit(event: Event): Promise<void> {
    await events?.emit(event);
  }
  /** `refused`: the bundle's content was rejected for good (trust, hash, chip), not a failure. */
  function reportError(
    e: BmfError,
    context: { variant?: VariantName; bundleDigest?: Digest; step?: string } = {},
    refused = false,
  ): void {
    lastError = e.code;
    const { bundleDigest, ...where } = context;
    log.warn(
      { code: e.code, ...where, ...(bundleDigest !== undefined && { bundle: bundleDigest }) },
      refused ? `bundle refused: ${e.message}` : `${context.step ?? 'agent'} failed: ${e.message}`,
    );
    void emit(eventFromError(config.deviceId, now(), e, context));
  }

  function deviceState(): DeviceState {
    return deviceStateOf({
      deviceId: config.deviceId,
      state: ctx?.current(),
      serving: service.ready(),
      assigned: assignedDigest !== undefined,
      lastError,
      uptimeMs: clock.now() - startedAt,
      timeMs: now(),
      order: nextStateOrder(),
    });
  }
  function targetServed(c: SyncContext): boolean {
    const target = c.target();
    if (!target || service.variants.regressed().size > 0) return false;
    const active = c.current().active;
    return target.variants.every((v) => active[v.name] === v.bundleDigest);
  }
  function publishState(): void {
    if (link?.connected()) void link.publish('state', deviceState()).catch(() => undefined);
  }

  /** The stage step is where a verified bundle becomes installed on disk. */
  function logInstalls(executors: Executors): Executors {
    return {
      ...executors,
      stage: async (step, signal) => {
        await executors.stage(step, signal);
        log.info({ bundle: step.bundleDigest }, 'bundle installed (verified and staged)');
      },
    };
  }

  const logBrokerEvent = brokerEventLogger(log, config.broker.url);

  const serveEvents: ServeObserver = {
    onEvent(e) {
      logServeEvent(log, e);
      const c = ctx;
      if (e.kind === 'regressed') {
        // A fact for the planner: the bundle is not tried again under this assignment, and the
        // rejection is what reports it; the rollback step follows from `regressed()`.
        c?.reject(e.bundleDigest, healthRegression(e), e.variant);
        kick();
        return;
      }
      void emit(eventFromServe(config.deviceId, now(), e));
      if (!c) return;
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

  /**
   * The persisted assignment goes through the same ordered path as live ones: when a newer one
   * arrived while the restored models were loading, this older one is refused there.
   */
  async function readoptPersistedAssignment(c: SyncContext, store: BlobStore): Promise<void> {
    const persisted = c.current().assignment;
    if (!persisted || !(await store.has(persisted))) return;
    try {
      await takeAssignment(await store.read(persisted), store, 'restore');
    } catch (e) {
      reportError(toBmfError(e), { step: 'restore assignment' });
    }
  }

  let rootDoc: Root | undefined;

  let interruptPass: () => void = () => undefined;
  function adopt(a: Parameters<typeof targetOf>[0], digest: Digest): void {
    if (!ctx?.assign(targetOf(a))) return;
    // Work in flight for the previous target (a fetch stalled on an abandoned bundle) stops now.
    interruptPass();
    assignedDigest = digest;
    health = healthOf(a, config.healthMinRequests);
    service.setTraffic(trafficOf(a));
    kick();
  }

  // Restored and live assignments run one at a time through takeAssignment, in arrival order,
  // and compare sequences there: whatever the order, the newest one is the target.
  // Retention runs on the same chain, so it never deletes an assignment being stored.
  let assignments: Promise<unknown> = Promise.resolve();
  function serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = assignments.then(work);
    assignments = run.catch(() => undefined);
    return run;
  }
  function takeAssignment(
    bytes: Uint8Array,
    store: BlobStore,
    source: 'live' | 'restore',
  ): Promise<void> {
    return serialized(() => orderedAssignment(bytes, store, source));
  }

  async function orderedAssignment(
    bytes: Uint8Array,
    store: BlobStore,
    source: 'live' | 'restore',
  ): Promise<void> {
    const c = ctx;
    if (!c || !rootDoc) return;
    const accepted = acceptAssignment({
      bytes,
      root: rootDoc,
      deviceId: config.deviceId,
      installedSequence: undefined,
      now: new Date(now()),
    });
    const st = c.current();
    const sequence = accepted.assignment.sequence;
    const decision = decideAssignment({
      digest: accepted.digest,
      sequence,
      source,
      adoptedDigest: assignedDigest,
      persistedDigest: st.assignment,
      persistedSequence: st.assignmentSequence,
      installedSequence: st.installedSequence,
      targetSequence: c.assignedSequence(),
    });
    switch (decision.kind) {
      case 'same':
        return;
      case 'stale':
        log.info(
          { sequence, newer: decision.newer },
          `restored assignment ${sequence} is older than ${decision.newer}: not adopted`,
        );
        return;
      case 'replay':
        throw bmfError('BMF_ERR_TRUST_ROLLBACK', {
          what: `assignment for ${config.deviceId}`,
          sequence,
          installed: decision.installed,
        });
      case 'adopt':
        if (decision.persist) {
          // On disk before the broker hears it was received (the link acknowledges after this).
          const digest = await store.put(accepted.canonical);
          await c.update((s) => ({ ...s, assignment: digest, assignmentSequence: sequence }));
        }
    }
    adopt(accepted.assignment, accepted.digest);
  }

  async function onAssignment(bytes: Uint8Array, store: BlobStore): Promise<void> {
    try {
      await takeAssignment(bytes, store, 'live');
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
      log.info(
        { runtime: runtime.chosen, timing: config.timing },
        `runtime ${runtime.chosen} (${runtime.reason})`,
      );
      // 1. disk: state, blobs, outboxes
      const dir = config.stateDir;
      await mkdir(dir, { recursive: true }).catch((e: unknown) => {
        throw bmfError('BMF_ERR_IO', {
          path: dir,
          reason: (e as Error).message,
          hint: 'give a state directory this user can write: --state-dir DIR or stateDir in agent.json',
        });
      });
      const orphans = await removeOrphanedTempFiles([
        dir,
        join(dir, 'blobs'),
        join(dir, 'outbox', 'telemetry'),
        join(dir, 'outbox', 'events'),
      ]);
      if (orphans.length > 0) {
        log.info({ files: orphans.length }, `removed ${orphans.length} orphaned temp files`);
      }
      const stateFile = createStateFile(dir);
      const initialState = await stateFile.load();
      const store = await createBlobStore(join(dir, 'blobs'));
      const telemetryOutbox = await createOutbox(
        join(dir, 'outbox', 'telemetry'),
        config.telemetry.outboxLimit,
      );
      const waitingFile = createWaitingCountsFile(
        join(dir, 'outbox', 'telemetry', 'failed-before-model.json'),
      );
      const restored = await waitingFile.load().catch((e: unknown): WaitingCounts => {
        // Counts only: the agent serves without them rather than not at all.
        const err = toBmfError(e);
        log.warn(
          { code: err.code },
          `requests failed before a model, not restored: ${err.message}`,
        );
        return {};
      });
      const eventsOutbox = await createOutbox(
        join(dir, 'outbox', 'events'),
        config.telemetry.outboxLimit,
      );
      events = createEventOutbox({
        outbox: eventsOutbox,
        connected: () => link?.connected() ?? false,
        publish: async (event) => {
          await link?.publish('event', event);
        },
        log,
      });
      rootDoc = await loadRoot(config);
      // 2. the link (messages are handled once the sync context below exists)
      const fetcherRef: { current?: ReturnType<typeof createBlobFetcher> } = {};
      link = createAgentLink({
        url: config.broker.url,
        ...(config.broker.failoverUrls ? { failoverUrls: config.broker.failoverUrls } : {}),
        deviceId: config.deviceId,
        username: config.broker.username,
        password: config.broker.password,
        protocolVersion: config.broker.protocolVersion,
        handlers: {
          assignment: (m) => onAssignment(m.envelope, store),
          blobOffer: (m) => fetcherRef.current?.handleOffer(m),
          blobChunk: (m) => fetcherRef.current?.handleChunk(m),
          command: () => kick(),
        },
        onMalformed: (_topic, e) => reportError(e, { step: 'mqtt' }),
        onBrokerEvent: (e) => logBrokerEvent(e),
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
          void events?.flush();
        },
        // Reported again once the assignment subscription is in place: a state behind the
        // controller's makes it send the assignment again (controller/distribution/catch-up.ts).
        onResubscribed: () => publishState(),
      });
      teardown.push(async () => link?.close());
      // Telemetry is built with the link it sends on and closed just before it, after the local
      // API and the models: every request served is counted when the last interval closes.
      const r = createTelemetryReporter({
        collector,
        outbox: telemetryOutbox,
        clock,
        intervalMs: config.telemetry.intervalMs,
        deviceId: config.deviceId,
        stateDir: dir,
        runtime: runtime.chosen,
        timingMode: runtime.chosen === 'sim' ? config.timing : '',
        runtimeDeviceStat: deviceStat,
        send: async (bytes) => {
          await link?.publish('telemetry', decodeMessage('TelemetryReport', bytes));
        },
        isConnected: () => link?.connected() ?? false,
        waiting: { restored, file: waitingFile },
      });
      reporter = r;
      teardown.push(() => r.close());
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
            log: (line) => log.warn(line),
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
        onRejected: (bundleDigest, e, variant) =>
          reportError(
            withTrustContext(e, rootSource(config)),
            { bundleDigest, ...(variant && { variant }) },
            true,
          ),
        onRestoreFailed: (variant, bundleDigest, e) =>
          reportError(e, { variant, bundleDigest, step: 'restore' }),
        onDowngrade: (d) => {
          log.warn(
            { bundle: d.bundleDigest, sequence: d.sequence, from: d.from },
            `downgrade of ${d.name} from sequence ${d.from} to ${d.sequence}: the assignment allows it`,
          );
          void emit({
            deviceId: config.deviceId,
            timeMs: now(),
            severity: 'warning',
            code: eventCode('BMF_EVT_DOWNGRADE'),
            message: `installing ${d.name} sequence ${d.sequence} below the served ${d.from} (allowDowngrade)`,
            details: { name: d.name, sequence: String(d.sequence), from: String(d.from) },
            variant: d.variant,
            bundleDigest: d.bundleDigest,
          });
        },
      });
      ctx = c;
      const executors = announceSteps(logInstalls(c.executors()), (line) => log.debug(line));
      const reconcile = {
        gatherFacts: () => c.gatherFacts(),
        target: () => c.target(),
        executors,
        clock,
        onError: (step: Step, e: BmfError) =>
          reportError(e, {
            step: step.kind,
            ...('variant' in step && { variant: step.variant }),
            ...('bundleDigest' in step && { bundleDigest: step.bundleDigest }),
          }),
      };
      // Before any new work, one pass with no target: the planner plans only the restore steps
      // from the restore facts (SyncContext), so a restart serves what it served before.
      await reconcileOnce({ ...reconcile, target: () => undefined }, stop.signal).catch(
        () => undefined, // reported by onError; the loop plans the rest again
      );
      await readoptPersistedAssignment(c, store);
      teardown.push(() => service.close());
      // 4. local API
      if (config.api.enabled) {
        api = await createLocalApi({
          service,
          registry: metrics.registry,
          bodyLimit: config.api.maxBodyBytes,
          maxConcurrentBodies: config.api.maxConcurrentBodies,
        });
        apiAddress = await api.listen({ host: config.api.host, port: config.api.port });
        teardown.push(async () => api?.close());
      }
      // 5. reconcile loop
      const loop = reconcileLoop(
        {
          ...reconcile,
          onPass: (interrupt) => {
            interruptPass = interrupt;
          },
        },
        async (signal) => {
          // Converged with every assigned variant serving its bundle and none regressed: whatever
          // went wrong before no longer holds, so the device stops reporting itself degraded.
          if (targetServed(c)) {
            lastError = '';
            // Retention once the target is served: nothing in flight needs the blobs it drops.
            try {
              const deleted = await serialized(() => c.retain(config.store.keepExtraBundles));
              if (deleted.length > 0) {
                log.info({ blobs: deleted.length }, `retention: deleted ${deleted.length} blobs`);
              }
            } catch (e) {
              const err = toBmfError(e);
              log.warn({ code: err.code }, `retention failed: ${err.message}`);
            }
          }
          const waiters = idleWaiters;
          idleWaiters = [];
          for (const w of waiters) w();
          publishState();
          // A kick while a pass ran is not lost (kicked); the wait removes its listeners.
          if (!kicked && !signal.aborted) {
            // Look again now and then even without news (e.g. a fetch that backed off).
            await waitForKick(clock, 30_000, signal, (wake) => (wakeUp = wake));
          }
          kicked = false;
          wakeUp = undefined;
        },
        stop.signal,
      );
      teardown.push(() => loop);
      // 6. telemetry intervals (the reporter itself was built with the link)
      const telemetryRun = r.run(stop.signal);
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
      // Every step gets what is left of the budget: a part stuck on a broker that is gone (a
      // publish nobody will acknowledge) must not hold the process past a service manager's
      // patience. The parts' own waits are bounded too; this is the backstop.
      const deadline = clock.now() + STOP_BUDGET_MS;
      for (const step of teardown.reverse()) {
        const left = deadline - clock.now();
        if (!(await settlesWithin(step(), left))) log.warn('a shutdown step overran; going on');
      }
      teardown.length = 0;
      await runtime.backend.close?.().catch(() => undefined);
      log.info('agent stopped');
    },
  };
}
