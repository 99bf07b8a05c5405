// The experiment shell: validate, persist (table `experiments`), publish assignments, gather
// telemetry, analyze, promote through a rollout, abort back to A. State lives in SQLite so an
// experiment survives controller restarts; every decision is made by the pure modules.
import { Value } from '@sinclair/typebox/value';
import { bmfError } from '../../shared/errors.js';
import type { WallClock } from '../../shared/clock.js';
import type { BundleManifest } from '../../shared/bundle/manifest.js';
import { parseCalibrationStats } from '../../shared/stats/drift.js';
import type { AssignRequest } from '../distribution/assignments.js';
import type { ExperimentRecord, ExperimentRepo } from '../store/experiments.js';
import { notLeaseHolder, type Leadership } from '../store/leadership.js';
import type { StoreMode } from '../store/repository.js';
import type { TelemetryFilter } from '../telemetry/store.js';
import { planAllocation, restorePlan, stratumOf } from './allocate.js';
import {
  analyzeExperiment,
  type Analysis,
  type ArmTelemetry,
  type DeviceTelemetry,
} from './analyze.js';
import {
  ExperimentSpecSchema,
  type DeviceInfo,
  type ExperimentSpec,
  type ExperimentSpecInput,
  type ExperimentState,
} from './model.js';
import { planCohortExperiment, parsePlanRequest, type CohortPlan } from './plan.js';
import { gatherPlanEstimates } from './plan-source.js';
import type { ExperimentTelemetry } from './telemetry-source.js';
import { parseDigest, type Digest } from '../../shared/ids.js';
import {
  checkCompatible,
  checkNoOverlap,
  checkPowered,
  checkState,
  resolvePopulation,
} from './validate.js';

export interface ExperimentServiceDeps {
  /** Either store; on PostgreSQL its writes are fenced by the controller lease. */
  readonly store: ExperimentRepo<StoreMode>;
  /** Whether this replica may change experiments now; always, when absent (one process). */
  readonly leadership?: Leadership;
  readonly clock: WallClock;
  readonly registry: {
    getBundle(
      digest: string,
    ):
      | Promise<{ readonly manifest: BundleManifest } | undefined>
      | { readonly manifest: BundleManifest }
      | undefined;
    /** A unique digest prefix to the full digest (typed error when ambiguous or too short). */
    resolveDigest?(ref: string): Promise<Digest> | Digest;
  };
  readonly devices: () => readonly DeviceInfo[] | Promise<readonly DeviceInfo[]>;
  readonly assign: (deviceId: string, request: AssignRequest) => Promise<unknown>;
  readonly telemetry: ExperimentTelemetry;
  /** Start a rollout of `bundle` to `deviceIds`; returns its id. */
  readonly createRollout: (spec: {
    bundle: Digest;
    deviceIds: readonly string[];
    reason: string;
    /** Promoting arm A takes arm B's devices back to A: a downgrade when A's sequence is lower. */
    allowDowngrade?: boolean;
  }) => Promise<string>;
  /** Bucket width of "sample size over time" (default 1 minute, the telemetry rollup). */
  readonly timelineBucketMs?: number;
}

export type { ExperimentRecord } from '../store/experiments.js';

/** A create request's spec, its bundles still as given (digests or unique prefixes). */
export function parseExperimentSpec(body: unknown): ExperimentSpecInput {
  if (!Value.Check(ExperimentSpecSchema, body)) {
    const first = [...Value.Errors(ExperimentSpecSchema, body)][0];
    throw bmfError('BMF_ERR_BAD_REQUEST', {
      reason: first ? `${first.path || '/'}: ${first.message}` : 'invalid experiment spec',
    });
  }
  return body;
}

export function createExperimentService(deps: ExperimentServiceDeps) {
  const { store, clock } = deps;
  const list = async (): Promise<ExperimentRecord[]> => store.list();
  const others = async (): Promise<{ id: string; state: ExperimentState }[]> =>
    (await list()).map((r) => ({ id: r.spec.id, state: r.state }));
  async function get(id: string): Promise<ExperimentRecord> {
    const record = await store.get(id);
    if (!record) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'experiment', id });
    return record;
  }
  /** Changes are made by the lease holder only (the store's writes are fenced as well). */
  async function mayWrite(): Promise<void> {
    if (deps.leadership && !(await deps.leadership.hold())) {
      throw await notLeaseHolder(deps.leadership, 'controller');
    }
  }
  async function save(id: string, state: ExperimentState): Promise<void> {
    await mayWrite();
    await store.update(id, state, clock.wallNow());
  }
  async function manifest(digest: string): Promise<BundleManifest> {
    const b = await deps.registry.getBundle(digest);
    if (!b) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'bundle', id: digest });
    return b.manifest;
  }
  async function population(state: ExperimentState): Promise<DeviceInfo[]> {
    const ids = new Set(state.devices);
    return (await deps.devices()).filter((d) => ids.has(d.id));
  }

  async function armTelemetry(
    deviceIds: readonly string[],
    bundle: string,
    fromMs: number,
    toMs: number,
    perDevice?: ReadonlyMap<string, DeviceTelemetry>,
  ): Promise<ArmTelemetry> {
    const filter: TelemetryFilter = { deviceIds, bundle, fromMs, toMs };
    return {
      sketches: await deps.telemetry.sketches(filter),
      summary: await deps.telemetry.query(filter),
      ...(perDevice
        ? { devices: deviceIds.flatMap((id) => (perDevice.has(id) ? [perDevice.get(id)!] : [])) }
        : {}),
    };
  }

  /**
   * Cohorts: telemetry of each device on its arm's bundle, for the device-level analysis. One
   * query pair per device, sequential (hundreds of devices: a few hundred indexed reads).
   */
  async function deviceTelemetry(
    state: ExperimentState,
    spec: ExperimentSpec,
    fromMs: number,
    toMs: number,
  ): Promise<Map<string, DeviceTelemetry>> {
    const out = new Map<string, DeviceTelemetry>();
    for (const id of state.devices) {
      const arm = state.arms?.[id];
      if (arm !== 'A' && arm !== 'B') continue;
      const filter: TelemetryFilter = {
        deviceIds: [id],
        bundle: arm === 'A' ? spec.bundleA : spec.bundleB,
        fromMs,
        toMs,
      };
      out.set(id, {
        id,
        sketches: await deps.telemetry.sketches(filter),
        summary: await deps.telemetry.query(filter),
      });
    }
    return out;
  }

  function armDevices(
    state: ExperimentState,
    arm: 'A' | 'B',
    within?: ReadonlySet<string>,
  ): string[] {
    return state.devices.filter((d) => {
      const a = state.arms?.[d] ?? 'both';
      return (a === arm || a === 'both') && (!within || within.has(d));
    });
  }

  async function gather(spec: ExperimentSpec, state: ExperimentState): Promise<Analysis> {
    const now = clock.wallNow();
    const from = state.startedAt ?? now;
    const to = state.endedAt ?? now + 1;
    const perDevice =
      spec.allocation.kind === 'cohorts' ? await deviceTelemetry(state, spec, from, to) : undefined;
    const [A, B] = await Promise.all([
      armTelemetry(armDevices(state, 'A'), spec.bundleA, from, to, perDevice),
      armTelemetry(armDevices(state, 'B'), spec.bundleB, from, to, perDevice),
    ]);
    const stratify =
      spec.allocation.kind === 'cohorts' ? (spec.allocation.stratifyBy ?? 'chip') : 'chip';
    const byGroup = new Map<string, Set<string>>();
    for (const d of await population(state)) {
      const key = stratumOf(d, stratify) || '(none)';
      byGroup.set(key, (byGroup.get(key) ?? new Set()).add(d.id));
    }
    const groups = [];
    if (byGroup.size > 1) {
      for (const [name, ids] of [...byGroup].sort(([x], [y]) => x.localeCompare(y))) {
        groups.push({
          name: `${stratify}=${name}`,
          A: await armTelemetry(armDevices(state, 'A', ids), spec.bundleA, from, to, perDevice),
          B: await armTelemetry(armDevices(state, 'B', ids), spec.bundleB, from, to, perDevice),
        });
      }
    }
    const bucket = deps.timelineBucketMs ?? 60_000;
    const tA = await deps.telemetry.timeline(
      { deviceIds: armDevices(state, 'A'), bundle: spec.bundleA, fromMs: from, toMs: to },
      bucket,
    );
    const tB = await deps.telemetry.timeline(
      { deviceIds: armDevices(state, 'B'), bundle: spec.bundleB, fromMs: from, toMs: to },
      bucket,
    );
    const starts = [...new Set([...tA, ...tB].map((b) => b.startMs))].sort((x, y) => x - y);
    const timeline = starts.map((startMs) => ({
      startMs,
      A: tA.find((b) => b.startMs === startMs)?.requests ?? 0,
      B: tB.find((b) => b.startMs === startMs)?.requests ?? 0,
    }));
    const mB = (await deps.registry.getBundle(spec.bundleB))?.manifest;
    const calibration = mB ? parseCalibrationStats(mB.metadata) : [];
    return analyzeExperiment({
      spec,
      state,
      now,
      arms: { A, B },
      groups,
      timeline,
      ...(calibration.length > 0 && mB
        ? { calibrationB: { stats: calibration, int8Input: mB.precision === 'int8' } }
        : {}),
    });
  }

  async function publish(
    plans: readonly { deviceId: string; request: AssignRequest }[],
  ): Promise<void> {
    for (const p of plans) await deps.assign(p.deviceId, p.request);
  }

  const service = {
    list,
    get,

    async create(body: unknown): Promise<ExperimentRecord> {
      const given = parseExperimentSpec(body);
      const full = deps.registry.resolveDigest ?? ((d: string) => parseDigest(d, 'bundle'));
      const spec = {
        ...given,
        bundleA: await full(given.bundleA),
        bundleB: await full(given.bundleB),
      };
      await mayWrite();
      if (await store.get(spec.id))
        throw bmfError('BMF_ERR_CONFLICT', { kind: 'experiment', id: spec.id, reason: 'exists' });
      if (spec.bundleA === spec.bundleB) {
        throw bmfError('BMF_ERR_EXPERIMENT_INCOMPATIBLE', {
          reason: 'A and B are the same bundle',
        });
      }
      checkCompatible(await manifest(spec.bundleA), await manifest(spec.bundleB));
      const devices = resolvePopulation(spec, await deps.devices());
      checkNoOverlap(spec.id, devices, await others());
      const now = clock.wallNow();
      const state: ExperimentState = {
        status: 'created',
        createdAt: now,
        devices,
        alwaysValidP: {},
        looks: [],
      };
      if (!(await store.insert(spec, state, now)))
        throw bmfError('BMF_ERR_CONFLICT', { kind: 'experiment', id: spec.id, reason: 'exists' });
      return { spec, state };
    },

    async start(id: string): Promise<ExperimentRecord> {
      const { spec, state } = await get(id);
      checkState(id, state, ['created'], 'start');
      checkNoOverlap(id, state.devices, await others());
      const plans = planAllocation(spec, await population(state));
      const next: ExperimentState = {
        ...state,
        status: 'running',
        startedAt: clock.wallNow(),
        arms: Object.fromEntries(plans.map((p) => [p.deviceId, p.arm])),
      };
      // Persist first so the devices are claimed; a crash mid-publish leaves some devices on their old
      // assignment (no resume yet: abort and start a new experiment).
      await save(id, next);
      await publish(plans);
      return { spec, state: next };
    },

    /**
     * Analyze now; a look while running is recorded (its p-values feed the next look) and a
     * breached guardrail aborts, both by the lease holder only: on another replica this is a read.
     * The look is saved before the abort reads the record, so the abort's state is the last word.
     * `aborted` is the abort's reason when this look aborted the experiment.
     */
    async look(id: string): Promise<{ analysis: Analysis; aborted?: string }> {
      const { spec, state } = await get(id);
      checkState(id, state, ['running', 'concluded', 'aborted', 'promoted'], 'analyze');
      const analysis = await gather(spec, state);
      if (state.status !== 'running' || (deps.leadership && !(await deps.leadership.hold()))) {
        return { analysis };
      }
      const look = {
        at: analysis.at,
        samplesA: analysis.samples.A,
        samplesB: analysis.samples.B,
        verdict: analysis.overall.verdict,
      };
      await save(id, {
        ...state,
        alwaysValidP: analysis.alwaysValidP,
        looks: [...state.looks, look].slice(-500),
      });
      if (!analysis.guardrails.breached) return { analysis };
      const reason = `guardrail: ${analysis.guardrails.reasons.join('; ')}`;
      await service.abort(id, reason);
      return { analysis, aborted: reason };
    },

    /** The analysis of GET /v1/experiments/:id/analysis (a look, as above). */
    async analyze(id: string): Promise<Analysis> {
      return (await service.look(id)).analysis;
    },

    async promote(id: string): Promise<ExperimentRecord & { analysis: Analysis }> {
      const { spec, state } = await get(id);
      checkState(id, state, ['running', 'concluded'], 'promote');
      await mayWrite();
      const analysis = await service.analyze(id);
      const fresh = (await get(id)).state;
      checkState(id, fresh, ['running', 'concluded'], 'promote');
      checkPowered(spec, fresh, analysis.samples, clock.wallNow());
      const winner = analysis.overall.winner;
      if (!winner) {
        throw bmfError('BMF_ERR_EXPERIMENT_UNDERPOWERED', {
          reason: `no winner yet (${analysis.overall.reason})`,
        });
      }
      const bundle = winner === 'A' ? spec.bundleA : spec.bundleB;
      const rolloutId = await deps.createRollout({
        bundle,
        deviceIds: fresh.devices,
        reason: `experiment ${id}: promote ${winner}`,
        ...(winner === 'A' && { allowDowngrade: true }),
      });
      const next: ExperimentState = {
        ...fresh,
        status: 'promoted',
        endedAt: clock.wallNow(),
        winner,
        rolloutId,
        reason: analysis.overall.reason,
      };
      await save(id, next);
      return { spec, state: next, analysis };
    },

    /**
     * Devices per arm for a cohort experiment (plan.ts); unknowns estimated from a previous
     * experiment's or a bundle's per-device telemetry when the request names one.
     */
    async plan(body: unknown): Promise<CohortPlan> {
      const given = parsePlanRequest(body);
      const from = given.from;
      const req =
        from && 'bundle' in from && deps.registry.resolveDigest
          ? { ...given, from: { ...from, bundle: await deps.registry.resolveDigest(from.bundle) } }
          : given;
      const estimates = await gatherPlanEstimates(req, {
        telemetry: deps.telemetry,
        devices: deps.devices,
        experiment: get,
        now: clock.wallNow(),
      });
      return planCohortExperiment(req, estimates);
    },

    async abort(id: string, reason = 'aborted by operator'): Promise<ExperimentRecord> {
      const { spec, state } = await get(id);
      checkState(id, state, ['created', 'running', 'concluded'], 'abort');
      const next: ExperimentState = {
        ...state,
        status: 'aborted',
        endedAt: clock.wallNow(),
        reason,
      };
      await save(id, next);
      if (state.status !== 'created') await publish(restorePlan(spec, state.devices));
      return { spec, state: next };
    },
  };
  return service;
}

export type ExperimentService = ReturnType<typeof createExperimentService>;
