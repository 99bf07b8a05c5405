// What the REST API needs from the rest of the controller, as narrow structural interfaces: the
// API depends on these shapes, not on how the registry, distribution or telemetry parts are
// built, so each part can be tested and replaced on its own.
import type { FastifyInstance } from 'fastify';
import type { WallClock } from '../../shared/clock.js';
import type { EnrolmentConfig } from '../../shared/config/enrolment.js';
import type { Digest, VariantName } from '../../shared/ids.js';
import type { BundleSummary } from '../registry/registry.js';
import type { TelemetrySummary } from '../telemetry/summary.js';
import type { RolloutCommand } from '../rollout/plan.js';
import type { GroupHealth, RolloutSpec, RolloutState } from '../rollout/model.js';
import type { DeviceRepo } from '../store/devices.js';
import type { StoreMode } from '../store/repository.js';
import type { RolloutRepo } from '../store/rollouts.js';

/** A bundle as the registry lists it: the registry's own type, not a copy of it. */
export type BundleInfo = BundleSummary;

/** A bundle with its signed manifest (GET /v1/bundles/:digest). */
export interface BundleDetail extends BundleInfo {
  readonly manifest: {
    readonly runtime: string;
    readonly files: readonly { role: string; path: string; sha256: string; size: number }[];
    readonly provenance: Readonly<Record<string, unknown>>;
    readonly metadata: Readonly<Record<string, unknown>>;
    readonly expires: string;
  };
  /** The signed envelope as stored (its signatures are shown, controller/registry/signatures.ts). */
  readonly envelope: Uint8Array;
}

export interface ModelInfo {
  readonly name: string;
  readonly createdAt: number;
  readonly bundles: number;
  readonly latest?: BundleInfo;
}

export interface RegistryApi {
  importBundleDir(dir: string): Promise<BundleDetail>;
  listModels(): Promise<readonly ModelInfo[]>;
  listBundles(filter?: { model?: string }): Promise<readonly BundleInfo[]>;
  /** By digest or unique prefix (>= 8 hex); BMF_ERR_DIGEST_PREFIX when ambiguous or short. */
  getBundle(digest: string): Promise<BundleDetail | undefined>;
  /** A digest or unique prefix to the full digest of a stored bundle. */
  resolveDigest(ref: string): Promise<Digest>;
}

export interface AssignmentApi {
  assignBundle(deviceId: string, digest: string, reason: string): Promise<unknown>;
}

export interface TelemetryFilter {
  readonly deviceIds?: readonly string[];
  readonly bundle?: string;
  readonly variant?: VariantName;
  readonly fromMs: number;
  readonly toMs: number;
}

export interface TelemetryApi {
  query(filter: TelemetryFilter): TelemetrySummary | Promise<TelemetrySummary>;
  groupHealth(
    deviceIds: readonly string[],
    bundle: string,
    sinceMs: number,
    baselineBundle?: string,
  ): GroupHealth | undefined | Promise<GroupHealth | undefined>;
  renderMetrics(): Promise<string> | string;
}

export interface RolloutControl {
  create(spec: RolloutSpec): Promise<RolloutState>;
  command(id: string, command: RolloutCommand): Promise<RolloutState>;
}

/**
 * The agent configuration handed out once, when a device is enrolled (agent/config.ts shape;
 * its `rootFile` names the file the pinned root is written to next to it).
 */
export interface AgentConfigFactory {
  (device: { id: string; chip: string }, secret: string): Promise<EnrolmentConfig>;
}

export interface ApiServices {
  readonly clock: WallClock;
  readonly devices: DeviceRepo<StoreMode>;
  readonly registry: RegistryApi;
  readonly assignments: AssignmentApi;
  readonly rollouts: RolloutRepo<StoreMode>;
  readonly executor: RolloutControl;
  readonly telemetry: TelemetryApi;
  readonly agentConfig: AgentConfigFactory;
  /** The signed root devices pin (keys/root.json), exactly as on disk. */
  readonly rootJson: () => string;
  /** True once every part is started (GET /readyz). */
  readonly ready?: () => boolean;
  /** More Prometheus text rendered on /metrics (refused and dropped messages). */
  readonly moreMetrics?: () => Promise<string>;
  /** Labels on every series this controller renders on /metrics (its replica id). */
  readonly metricLabels?: Readonly<Record<string, string>>;
}

/** More route plugins (experiments, device-authenticated blob download) registered by main.ts. */
export type RoutePlugin = (app: FastifyInstance) => Promise<void> | void;
