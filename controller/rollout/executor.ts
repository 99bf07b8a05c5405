// The thin shell around the pure planner: load running rollouts, gather what devices report,
// plan, persist the new state, then act. Persisting first means a crash between the two leaves
// devices marked 'assigned' whose assignment was never published; `resume()` re-issues those
// (assignment publishing is idempotent), and the per-device timeout catches anything else.
//
// INVARIANTS: the executor runs on either store (`RolloutRepo<StoreMode>`, every answer awaited);
// one tick at a time, so the planner's input is the state the previous tick saved. With a
// leadership (controller replicas on PostgreSQL) a tick, a command and resume() first make sure
// this replica holds the lease; the repository given is then fenced (pgRollouts(store, fence)),
// so a replica that lost the lease fails its save with BMF_ERR_LEASE_LOST and does not act.
import { runAfter, runEvery, type Clock, type Timer } from '../../shared/clock.js';
import { bmfError } from '../../shared/errors.js';
import { notLeaseHolder, type Leadership } from '../store/leadership.js';
import type { StoreMode } from '../store/repository.js';
import type { RolloutRepo } from '../store/rollouts.js';
import type {
  DeviceObservation,
  GroupHealth,
  RolloutAction,
  RolloutSpec,
  RolloutState,
} from './model.js';
import { applyCommand, canApply, initialState, nextActions, type RolloutCommand } from './plan.js';
import type { Digest } from '../../shared/ids.js';

export interface RolloutExecutorDeps {
  readonly rollouts: RolloutRepo<StoreMode>;
  /** Whether this replica may act now (the rollout lease); always, when absent (one process). */
  readonly leadership?: Leadership;
  /** Stamps the rollout state and drives the tick interval and the poke delay. */
  readonly clock: Pick<Clock, 'wallNow' | 'sleep'>;
  /** What the controller currently knows about these devices. */
  readonly observe: (
    deviceIds: readonly string[],
  ) => ReadonlyMap<string, DeviceObservation> | Promise<ReadonlyMap<string, DeviceObservation>>;
  /** Merged telemetry of these devices on `bundle` since `sinceMs` (for the health gate). */
  readonly groupHealth?: (
    deviceIds: readonly string[],
    bundle: Digest,
    sinceMs: number,
    baselineBundle: Digest | undefined,
  ) => GroupHealth | undefined | Promise<GroupHealth | undefined>;
  /**
   * Assign a bundle to a device (idempotent when the device already has it assigned).
   * `allowDowngrade` is set for a rollback: the device may install a lower bundle sequence.
   */
  readonly assign: (
    deviceId: string,
    bundle: Digest,
    reason: string,
    options?: { readonly allowDowngrade?: boolean },
  ) => Promise<void>;
  readonly onEvent?: (rolloutId: string, action: Extract<RolloutAction, { kind: 'event' }>) => void;
  readonly intervalMs?: number;
}

/** Assignments issued at once by one tick. */
const ASSIGN_CONCURRENCY = 64;
/** How soon a poke (a device state report) runs a tick; reports within it share one tick. */
export const POKE_DELAY_MS = 50;

export function createRolloutExecutor(deps: RolloutExecutorDeps) {
  const { rollouts, clock } = deps;
  let timer: Timer | undefined;
  let poked: Timer | undefined;
  let ticking: Promise<void> | undefined;

  async function act(
    rolloutId: string,
    actions: readonly RolloutAction[],
    allowDowngrade = false,
  ): Promise<void> {
    const assigns: Extract<RolloutAction, { kind: 'assign' }>[] = [];
    for (const a of actions) {
      if (a.kind === 'assign') assigns.push(a);
      else deps.onEvent?.(rolloutId, a);
    }
    // Devices are independent and each publish waits for the broker's PUBACK: one at a time
    // capped a 500-device group at one start per round trip (~30 ms under load, measured by
    // the fleet benchmark), so a bounded number run at once.
    let at = 0;
    const worker = async (): Promise<void> => {
      for (let a = assigns[at++]; a; a = assigns[at++])
        await deps.assign(a.deviceId, a.bundle, `rollout ${rolloutId}: ${a.reason}`, {
          allowDowngrade: allowDowngrade || a.reason === 'rollback',
        });
    };
    await Promise.all(Array.from({ length: Math.min(ASSIGN_CONCURRENCY, assigns.length) }, worker));
  }

  async function persist(
    id: string,
    state: RolloutState,
    actions: readonly RolloutAction[],
  ): Promise<void> {
    await rollouts.save(
      id,
      state,
      actions.flatMap((a) =>
        a.kind === 'event'
          ? [{ type: a.type, message: a.message, ...(a.deviceId ? { deviceId: a.deviceId } : {}) }]
          : [],
      ),
    );
  }

  function baselineOf(
    spec: RolloutSpec,
    state: RolloutState,
    ids: readonly string[],
  ): Digest | undefined {
    for (const id of ids) {
      const prev = state.devices[id]?.previousBundle;
      if (prev) return prev;
    }
    return undefined;
  }

  async function tickOne(spec: RolloutSpec, state: RolloutState): Promise<void> {
    const now = clock.wallNow();
    const ids = Object.keys(state.devices);
    const groupIds = spec.groups[state.group] ?? [];
    const health =
      spec.healthGate && state.soakStartedAt !== undefined && deps.groupHealth
        ? await deps.groupHealth(
            groupIds,
            spec.bundle,
            state.soakStartedAt,
            baselineOf(spec, state, groupIds),
          )
        : undefined;
    const result = nextActions({
      spec,
      state,
      observations: await deps.observe(ids),
      ...(health ? { health } : {}),
      now,
    });
    if (result.state === state) return;
    await persist(spec.id, result.state, result.actions);
    await act(spec.id, result.actions, spec.allowDowngrade === true);
  }

  /** Whether this replica may act now; a replica that just took the lease over resumes first. */
  let leading = deps.leadership === undefined;
  async function mayAct(): Promise<boolean> {
    if (!deps.leadership) return true;
    const held = await deps.leadership.hold();
    if (held && !leading) {
      leading = true;
      await reissue();
    }
    leading = held;
    return held;
  }

  async function tick(): Promise<void> {
    if (!(await mayAct())) return;
    for (const r of await rollouts.running()) await tickOne(r.spec, r.state);
  }

  /** Re-issue assignments of devices the saved state marks as assigned (idempotent). */
  async function reissue(): Promise<void> {
    for (const { spec, state } of await rollouts.running()) {
      for (const [id, p] of Object.entries(state.devices)) {
        if (p.status === 'assigned')
          await deps.assign(id, spec.bundle, `rollout ${spec.id}: resume`);
      }
    }
  }

  function tickFailed(e: unknown): void {
    deps.onEvent?.('executor', {
      kind: 'event',
      type: 'paused',
      message: `executor tick failed: ${(e as Error).message}`,
    });
  }

  function backgroundTick(): void {
    serialTick().catch(tickFailed);
  }

  function serialTick(): Promise<void> {
    // One tick at a time: the planner's input must be the state the previous tick saved.
    ticking = (ticking ?? Promise.resolve()).then(tick, tick);
    return ticking;
  }

  // Names the replica that holds the lease (the one to retry on), not this one.
  const notLeader = () => notLeaseHolder(deps.leadership!, 'controller');

  return {
    async create(spec: RolloutSpec): Promise<RolloutState> {
      if (spec.groups.length === 0 || spec.groups.every((g) => g.length === 0)) {
        throw bmfError('BMF_ERR_ROLLOUT_EMPTY');
      }
      const state = initialState(spec, clock.wallNow());
      if (!(await mayAct())) throw await notLeader();
      await rollouts.create(spec, state, clock.wallNow());
      await serialTick();
      return (await rollouts.require(spec.id)).state;
    },
    async command(id: string, command: RolloutCommand): Promise<RolloutState> {
      await ticking;
      if (!(await mayAct())) throw await notLeader();
      const { spec, state } = await rollouts.require(id);
      if (!canApply(command, state)) {
        throw bmfError('BMF_ERR_ROLLOUT_STATE', { id, state: state.status, action: command });
      }
      const result = applyCommand(command, state, clock.wallNow());
      await persist(id, result.state, result.actions);
      await act(id, result.actions, spec.allowDowngrade === true);
      await serialTick();
      return (await rollouts.require(id)).state;
    },
    /** After a restart: re-issue assignments of devices the saved state marks as assigned. */
    async resume(): Promise<void> {
      // With a leadership, the replica that takes the lease re-issues them then (mayAct).
      if (!deps.leadership) await reissue();
    },
    tick: serialTick,
    /**
     * Something a rollout watches changed (a device reported its state): tick within
     * POKE_DELAY_MS instead of at the next interval, once for a burst of reports.
     */
    poke(): void {
      if (!timer || poked) return;
      poked = runAfter(
        clock,
        POKE_DELAY_MS,
        () => {
          poked = undefined;
          backgroundTick();
        },
        { keepAlive: false, onError: tickFailed },
      );
    },
    start(): void {
      if (timer) return;
      timer = runEvery(clock, deps.intervalMs ?? 1000, backgroundTick, {
        keepAlive: false,
        onError: tickFailed,
      });
    },
    async stop(): Promise<void> {
      timer?.cancel();
      poked?.cancel();
      timer = undefined;
      poked = undefined;
      await ticking;
    },
  };
}
export type RolloutExecutor = ReturnType<typeof createRolloutExecutor>;
