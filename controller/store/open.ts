// The controller's store, opened from its configuration: the embedded SQLite file (default), or a
// PostgreSQL server that several controller replicas share. Either way the rest of the controller
// gets the same repositories (`Repo<StoreMode>`, every answer awaited) and a leadership that says
// whether this replica may advance rollouts and experiments (always, on SQLite).
import type { Clock } from '../../shared/clock.js';
import { createAssignmentRepo, type AssignmentRepo } from './assignments.js';
import { createBundleRepo, type BundleRepo } from './bundles.js';
import { createCounters, type CounterRepo } from './counters.js';
import { openDatabase } from './db.js';
import { createDeviceEventRepo, type DeviceEventRepo } from './device-events.js';
import { createDeviceRepo, type DeviceRepo } from './devices.js';
import { createExperimentRepo, type ExperimentRepo } from './experiments.js';
import { leaseLeadership, soleLeadership, type Leadership } from './leadership.js';
import { createPgLease } from './postgres/lease.js';
import { openPostgresStore, type PgStore } from './postgres/open.js';
import {
  pgAssignments,
  pgBundles,
  pgCounters,
  pgDeviceEvents,
  pgDevices,
  pgExperiments,
  pgRollouts,
  pgSessions,
  pgTelemetry,
  type Fence,
} from './postgres/repos.js';
import type { StoreMode } from './repository.js';
import { createRolloutRepo, type RolloutRepo } from './rollouts.js';
import { createSessionRepo, type SessionRepo } from './sessions.js';
import { createTelemetryRepo, type TelemetryRepo } from './telemetry.js';

export interface ControllerStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, for logs (a PostgreSQL URL without its password). */
  readonly where: string;
  readonly devices: DeviceRepo<StoreMode>;
  readonly deviceEvents: DeviceEventRepo<StoreMode>;
  readonly assignments: AssignmentRepo<StoreMode>;
  readonly bundles: BundleRepo<StoreMode>;
  /** Writes fenced by the lease on PostgreSQL. */
  readonly rollouts: RolloutRepo<StoreMode>;
  /** Writes fenced by the lease on PostgreSQL. */
  readonly experiments: ExperimentRepo<StoreMode>;
  readonly telemetry: TelemetryRepo<StoreMode>;
  readonly counters: CounterRepo<StoreMode>;
  readonly sessions: SessionRepo<StoreMode>;
  readonly leadership: Leadership;
  /** The PostgreSQL store, when that is the store (bundle blobs live in it too). */
  readonly postgres?: PgStore;
  /** Flush what is queued, give the lease up, close. */
  close(): Promise<void>;
}

/** The one lease rollouts and experiments advance under. */
export const CONTROLLER_LEASE = 'controller';
/** Without a renewal for this long another replica takes the lease over. */
export const LEASE_TTL_MS = 10_000;

export interface StoreOptions {
  /** A postgres:// URL; SQLite at `sqlitePath` when absent. */
  readonly url?: string;
  readonly sqlitePath: string;
  readonly clock: Clock;
  /** This replica, as the lease names it (host:pid). */
  readonly holder: string;
  readonly leaseTtlMs?: number;
  /** Connections in the PostgreSQL pool. */
  readonly poolSize?: number;
}

export async function openControllerStore(o: StoreOptions): Promise<ControllerStore> {
  if (!o.url) {
    const db = openDatabase(o.sqlitePath);
    const devices = createDeviceRepo(db, { clock: o.clock });
    return {
      kind: 'sqlite',
      where: o.sqlitePath,
      devices,
      deviceEvents: createDeviceEventRepo(db),
      assignments: createAssignmentRepo(db),
      bundles: createBundleRepo(db),
      rollouts: createRolloutRepo(db),
      experiments: createExperimentRepo(db),
      telemetry: createTelemetryRepo(db),
      counters: createCounters(db),
      sessions: createSessionRepo(db),
      leadership: soleLeadership(),
      async close() {
        devices.flush();
        db.close();
      },
    };
  }
  const store = await openPostgresStore(o.url, { max: o.poolSize ?? 10 });
  const ttlMs = o.leaseTtlMs ?? LEASE_TTL_MS;
  const lease = createPgLease(store, { name: CONTROLLER_LEASE, holder: o.holder, ttlMs });
  const leadership = leaseLeadership(lease, { holder: o.holder, ttlMs, clock: o.clock });
  const fence: Fence = { lease, token: () => leadership.token() };
  return {
    kind: 'postgres',
    where: store.url,
    devices: pgDevices(store),
    deviceEvents: pgDeviceEvents(store),
    assignments: pgAssignments(store),
    bundles: pgBundles(store),
    rollouts: pgRollouts(store, fence),
    experiments: pgExperiments(store, fence),
    telemetry: pgTelemetry(store),
    counters: pgCounters(store),
    sessions: pgSessions(store),
    leadership,
    postgres: store,
    async close() {
      await leadership.release().catch(() => undefined);
      await store.close();
    },
  };
}
