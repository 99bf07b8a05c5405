// The rollout planner: a pure function from (spec, state, what devices report, group telemetry,
// now) to the next state and the actions the executor must carry out. No I/O, no clock: the
// executor persists the returned state before it acts, so a restart replays nothing twice
// (assignments are idempotent: re-assigning the same bundle only bumps the sequence).
import type {
  DeviceFilter,
  DeviceObservation,
  DeviceProgress,
  GroupHealth,
  GroupSize,
  RolloutAction,
  RolloutSpec,
  RolloutState,
} from './model.js';

const MINUTE_MS = 60_000;

export interface DeviceRecordForTargeting {
  readonly id: string;
  readonly chip: string;
  readonly tags: Readonly<Record<string, string>>;
}

export function matchesFilter(device: DeviceRecordForTargeting, filter: DeviceFilter): boolean {
  if (filter.ids && !filter.ids.includes(device.id)) return false;
  if (filter.chip && device.chip.toLowerCase() !== filter.chip.toLowerCase()) return false;
  for (const [k, v] of Object.entries(filter.tags ?? {})) {
    if (device.tags[k] !== v) return false;
  }
  return true;
}

/**
 * Split device ids into groups. Sizes are percent of the whole or absolute counts; the last group
 * always takes whatever is left so no matching device is forgotten. Every group has >= 1 device.
 */
export function splitGroups(deviceIds: readonly string[], sizes: readonly GroupSize[]): string[][] {
  const ids = [...deviceIds].sort();
  const groups: string[][] = [];
  let at = 0;
  for (const [i, size] of sizes.entries()) {
    if (at >= ids.length) break;
    const last = i === sizes.length - 1;
    const n =
      'count' in size ? size.count : Math.max(1, Math.round((size.percent / 100) * ids.length));
    const take = last ? ids.length - at : Math.min(Math.max(1, n), ids.length - at);
    groups.push(ids.slice(at, at + take));
    at += take;
  }
  if (at < ids.length) groups.push(ids.slice(at));
  return groups;
}

export function initialState(spec: RolloutSpec, now: number): RolloutState {
  const devices: Record<string, DeviceProgress> = {};
  spec.groups.forEach((ids, group) => {
    for (const id of ids) devices[id] = { group, status: 'pending', attempts: 0 };
  });
  return { status: 'running', group: 0, devices, recentStarts: [], updatedAt: now };
}

const isFailure = (p: DeviceProgress): boolean => p.status === 'failed' || p.status === 'timed_out';

export interface PlanInput {
  readonly spec: RolloutSpec;
  readonly state: RolloutState;
  readonly observations: ReadonlyMap<string, DeviceObservation>;
  /** Telemetry of the current group since its soak started; undefined when none yet. */
  readonly health?: GroupHealth;
  readonly now: number;
}

export interface PlanResult {
  readonly state: RolloutState;
  readonly actions: readonly RolloutAction[];
}

/** Observe device reports: assigned -> active | failed | timed_out; failures retry within cap. */
function observeDevices(
  input: PlanInput,
  devices: Record<string, DeviceProgress>,
  actions: RolloutAction[],
): void {
  const { spec, observations, now } = input;
  for (const [id, p] of Object.entries(devices)) {
    if (p.status !== 'assigned') continue;
    const obs = observations.get(id);
    if (obs?.activeBundle === spec.bundle) {
      devices[id] = { ...p, status: 'active', finishedAt: now };
      continue;
    }
    const failedHere =
      obs?.failure && obs.failure.bundle === spec.bundle && obs.failure.at >= (p.startedAt ?? 0);
    const timedOut = p.startedAt !== undefined && now - p.startedAt >= spec.deviceTimeoutMs;
    if (!failedHere && !timedOut) continue;
    const status = failedHere ? 'failed' : 'timed_out';
    const error = failedHere ? obs?.failure?.code : `no report within ${spec.deviceTimeoutMs} ms`;
    if (p.attempts <= spec.maxRetries) {
      // Retries count from the first attempt: attempts 1 + maxRetries in all.
      devices[id] = { ...p, status: 'pending', error };
      actions.push({
        kind: 'event',
        type: 'device_retry',
        deviceId: id,
        message: `${id} ${status} (${error}); retry ${p.attempts} of ${spec.maxRetries}`,
      });
    } else {
      devices[id] = { ...p, status, finishedAt: now, error };
      actions.push({
        kind: 'event',
        type: failedHere ? 'device_failed' : 'device_timed_out',
        deviceId: id,
        message: `${id} ${status}: ${error}`,
      });
    }
  }
}

function errorThresholdReached(spec: RolloutSpec, members: DeviceProgress[]): boolean {
  const failed = members.filter(isFailure).length;
  const finished = members.filter((p) => p.status === 'active' || isFailure(p)).length;
  if (failed === 0 || finished < spec.errorThreshold.minFinished) return false;
  const { count, percent } = spec.errorThreshold;
  if (count !== undefined && failed >= count) return true;
  if (percent !== undefined && (failed / members.length) * 100 >= percent) return true;
  return false;
}

/** Why the group's telemetry fails the health gate, or undefined when it passes. */
export function healthGateFailure(
  spec: RolloutSpec,
  health: GroupHealth | undefined,
): string | undefined {
  const gate = spec.healthGate;
  if (!gate) return undefined;
  if (!health || health.requests < (gate.minRequests ?? 1)) {
    return `not enough telemetry (${health?.requests ?? 0} requests, need ${gate.minRequests ?? 1})`;
  }
  if (gate.maxErrorRate !== undefined && health.errorRate > gate.maxErrorRate) {
    return `error rate ${health.errorRate.toFixed(4)} above ${gate.maxErrorRate}`;
  }
  if (gate.maxP95Ms !== undefined && health.p95Ms !== undefined && health.p95Ms > gate.maxP95Ms) {
    return `p95 ${health.p95Ms.toFixed(2)} ms above ${gate.maxP95Ms} ms`;
  }
  if (
    gate.maxP95RegressionPct !== undefined &&
    health.p95Ms !== undefined &&
    health.baselineP95Ms !== undefined &&
    health.baselineP95Ms > 0
  ) {
    const regression = ((health.p95Ms - health.baselineP95Ms) / health.baselineP95Ms) * 100;
    if (regression > gate.maxP95RegressionPct) {
      return `p95 regressed ${regression.toFixed(1)}% (limit ${gate.maxP95RegressionPct}%)`;
    }
  }
  if (
    gate.minAccuracy !== undefined &&
    health.accuracy !== undefined &&
    health.accuracy < gate.minAccuracy
  ) {
    return `accuracy ${health.accuracy.toFixed(4)} below ${gate.minAccuracy}`;
  }
  return undefined;
}

/** Assign the previous bundle to every device this rollout touched. */
function rollbackActions(
  devices: Record<string, DeviceProgress>,
  now: number,
  actions: RolloutAction[],
): void {
  for (const [id, p] of Object.entries(devices)) {
    if (p.status === 'pending') continue;
    if (p.previousBundle) {
      actions.push({ kind: 'assign', deviceId: id, bundle: p.previousBundle, reason: 'rollback' });
    }
    devices[id] = { ...p, status: 'rolled_back', finishedAt: now };
  }
}

function onError(
  input: PlanInput,
  devices: Record<string, DeviceProgress>,
  reason: string,
  eventType: 'error_threshold' | 'health_gate_failed',
  actions: RolloutAction[],
): RolloutState {
  const { spec, state, now } = input;
  actions.push({ kind: 'event', type: eventType, message: reason });
  if (spec.onError === 'rollback') {
    rollbackActions(devices, now, actions);
    actions.push({ kind: 'event', type: 'rolled_back', message: `rolled back: ${reason}` });
    return { ...state, devices, status: 'rolled_back', reason, updatedAt: now };
  }
  actions.push({ kind: 'event', type: 'paused', message: `paused: ${reason}` });
  return { ...state, devices, status: 'paused', reason, updatedAt: now };
}

export function nextActions(input: PlanInput): PlanResult {
  const { spec, state, observations, now } = input;
  if (state.status !== 'running') return { state, actions: [] };

  const actions: RolloutAction[] = [];
  const devices: Record<string, DeviceProgress> = { ...state.devices };
  observeDevices(input, devices, actions);

  const members = Object.values(devices).filter((p) => p.group === state.group);
  if (errorThresholdReached(spec, members)) {
    const failed = members.filter(isFailure).length;
    return {
      state: onError(
        input,
        devices,
        `group ${state.group + 1}: ${failed} of ${members.length} devices failed`,
        'error_threshold',
        actions,
      ),
      actions,
    };
  }

  // Start pending devices of the current group within the per-minute rate.
  const recentStarts = state.recentStarts.filter((t) => now - t < MINUTE_MS);
  if (recentStarts.length === 0 && members.every((p) => p.status === 'pending')) {
    actions.push({
      kind: 'event',
      type: 'group_started',
      message: `group ${state.group + 1} of ${spec.groups.length} started (${members.length} devices)`,
    });
  }
  for (const id of spec.groups[state.group] ?? []) {
    const p = devices[id];
    if (!p || p.status !== 'pending') continue;
    if (recentStarts.length >= spec.maxStartsPerMinute) break;
    const obs = observations.get(id);
    const previousBundle = p.previousBundle ?? obs?.activeBundle;
    devices[id] = {
      ...p,
      status: 'assigned',
      attempts: p.attempts + 1,
      startedAt: now,
      ...(previousBundle !== undefined && previousBundle !== spec.bundle ? { previousBundle } : {}),
    };
    recentStarts.push(now);
    actions.push({
      kind: 'assign',
      deviceId: id,
      bundle: spec.bundle,
      reason: p.attempts > 0 ? 'retry' : 'start',
    });
  }

  let next: RolloutState = { ...state, devices, recentStarts, updatedAt: now };
  const current = Object.values(devices).filter((p) => p.group === state.group);
  const activePct = (current.filter((p) => p.status === 'active').length / current.length) * 100;
  const allSettled = current.every((p) => p.status !== 'pending' && p.status !== 'assigned');
  if (activePct < spec.successThresholdPct) {
    // A group that has settled below the success threshold (without reaching the error
    // threshold) cannot progress by waiting: it needs an operator.
    if (allSettled) {
      const reason = `group ${state.group + 1}: only ${activePct.toFixed(0)}% active, needs ${spec.successThresholdPct}%`;
      return {
        state: onError({ ...input, state: next }, devices, reason, 'error_threshold', actions),
        actions,
      };
    }
    return { state: next, actions };
  }

  if (spec.healthGate) {
    if (next.soakStartedAt === undefined) {
      return { state: { ...next, soakStartedAt: now }, actions };
    }
    if (now - next.soakStartedAt < spec.healthGate.soakMs) return { state: next, actions };
    const failure = healthGateFailure(spec, input.health);
    if (failure) {
      const reason = `group ${state.group + 1} health gate: ${failure}`;
      return {
        state: onError({ ...input, state: next }, devices, reason, 'health_gate_failed', actions),
        actions,
      };
    }
  }

  actions.push({
    kind: 'event',
    type: 'group_succeeded',
    message: `group ${state.group + 1}: ${activePct.toFixed(0)}% active${spec.healthGate ? ', health gate passed' : ''}`,
  });
  const { soakStartedAt: _soak, ...rest } = next;
  next = rest;
  if (state.group + 1 >= spec.groups.length) {
    actions.push({ kind: 'event', type: 'completed', message: 'rollout completed' });
    return { state: { ...next, status: 'completed' }, actions };
  }
  if (spec.afterGroup === 'approval') {
    actions.push({
      kind: 'event',
      type: 'awaiting_approval',
      message: `group ${state.group + 1} done; approve to start group ${state.group + 2}`,
    });
    return { state: { ...next, group: state.group + 1, status: 'awaiting_approval' }, actions };
  }
  return { state: { ...next, group: state.group + 1 }, actions };
}

export type RolloutCommand = 'pause' | 'resume' | 'approve' | 'cancel' | 'rollback';

const allowed: Record<RolloutCommand, readonly RolloutState['status'][]> = {
  pause: ['running', 'awaiting_approval'],
  resume: ['paused'],
  approve: ['awaiting_approval'],
  cancel: ['running', 'paused', 'awaiting_approval'],
  rollback: ['running', 'paused', 'awaiting_approval', 'completed'],
};

export function canApply(command: RolloutCommand, state: RolloutState): boolean {
  return allowed[command].includes(state.status);
}

/** Operator commands. Callers check canApply first (the API turns a refusal into a 409). */
export function applyCommand(
  command: RolloutCommand,
  state: RolloutState,
  now: number,
  reason = `operator ${command}`,
): PlanResult {
  if (!canApply(command, state)) return { state, actions: [] };
  switch (command) {
    case 'pause':
      return {
        state: { ...state, status: 'paused', reason, updatedAt: now },
        actions: [{ kind: 'event', type: 'paused', message: reason }],
      };
    case 'resume':
    case 'approve': {
      // Resuming after a failed gate restarts the soak window.
      const { soakStartedAt: _s, reason: _r, ...rest } = state;
      return { state: { ...rest, status: 'running', updatedAt: now }, actions: [] };
    }
    case 'cancel':
      return { state: { ...state, status: 'cancelled', reason, updatedAt: now }, actions: [] };
    case 'rollback': {
      const actions: RolloutAction[] = [];
      const devices = { ...state.devices };
      rollbackActions(devices, now, actions);
      actions.push({ kind: 'event', type: 'rolled_back', message: reason });
      return {
        state: { ...state, devices, status: 'rolled_back', reason, updatedAt: now },
        actions,
      };
    }
  }
}
