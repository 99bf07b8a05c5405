// Checks before an experiment is stored or acted on; each failure is a typed BmfError.
import { bmfError } from '../../shared/errors.js';
import type { BundleManifest } from '../../shared/bundle/manifest.js';
import { canonicalJson } from '../../shared/bundle/canonical.js';
import { matchesFilter } from '../rollout/plan.js';
import type { DeviceInfo, ExperimentSpec, ExperimentState, ExperimentStatus } from './model.js';

/** Same model name and the same inputs with the same preprocessing: only then is A vs B fair. */
export function checkCompatible(a: BundleManifest, b: BundleManifest): void {
  const reasons: string[] = [];
  if (a.name !== b.name) reasons.push(`model ${a.name} vs ${b.name}`);
  const names = (m: BundleManifest): string => m.inputs.map((i) => i.name).join(',');
  if (names(a) !== names(b)) reasons.push(`inputs [${names(a)}] vs [${names(b)}]`);
  else {
    a.inputs.forEach((ia, k) => {
      const ib = b.inputs[k]!;
      if (canonicalJson(ia.preprocess) !== canonicalJson(ib.preprocess)) {
        reasons.push(`input ${ia.name} preprocessing differs`);
      }
    });
  }
  const common = a.chips.filter((c) => b.chips.includes(c));
  if (common.length === 0) reasons.push(`no chip in common (${a.chips} vs ${b.chips})`);
  if (reasons.length > 0) {
    throw bmfError('BMF_ERR_EXPERIMENT_INCOMPATIBLE', { reason: reasons.join('; ') });
  }
}

export function resolvePopulation(spec: ExperimentSpec, devices: readonly DeviceInfo[]): string[] {
  const ids = devices
    .filter((d) => matchesFilter(d, spec.population))
    .map((d) => d.id)
    .sort();
  if (ids.length === 0) throw bmfError('BMF_ERR_EXPERIMENT_EMPTY');
  return ids;
}

/** Devices may be in one live (created or running) experiment at a time. */
export function checkNoOverlap(
  id: string,
  devices: readonly string[],
  others: readonly { id: string; state: ExperimentState }[],
): void {
  const mine = new Set(devices);
  for (const o of others) {
    if (o.id === id || (o.state.status !== 'running' && o.state.status !== 'created')) continue;
    const shared = o.state.devices.filter((d) => mine.has(d));
    if (shared.length > 0) {
      const shown = shared.slice(0, 5).join(', ') + (shared.length > 5 ? ', ...' : '');
      throw bmfError('BMF_ERR_EXPERIMENT_OVERLAP', { devices: shown, other: o.id });
    }
  }
}

export function checkState(
  id: string,
  state: ExperimentState,
  allowed: readonly ExperimentStatus[],
  action: string,
): void {
  if (!allowed.includes(state.status)) {
    throw bmfError('BMF_ERR_EXPERIMENT_STATE', { id, state: state.status, action });
  }
}

/** Promote needs the minimum duration and the minimum sample per arm. */
/**
 * What promotion still waits for (minimum duration, minimum samples per arm), in words; empty
 * when the experiment may be promoted. The analysis names a winner only when this is empty, so
 * a verdict never names a winner that `promote` would refuse.
 */
export function poweredShortfall(
  spec: ExperimentSpec,
  state: ExperimentState,
  samples: { A: number; B: number },
  now: number,
): string[] {
  const out: string[] = [];
  const ranMs = state.startedAt === undefined ? 0 : now - state.startedAt;
  if (ranMs < spec.minDurationMs) {
    const s = (ms: number): number => Math.ceil(ms / 1000);
    out.push(
      `ran ${s(ranMs)} s of the minimum ${s(spec.minDurationMs)} s (${s(spec.minDurationMs - ranMs)} s more)`,
    );
  }
  const least = Math.min(samples.A, samples.B);
  if (least < spec.minSamples) {
    out.push(
      `${least} samples in the smaller arm, minimum ${spec.minSamples} (${spec.minSamples - least} more)`,
    );
  }
  return out;
}

export function checkPowered(
  spec: ExperimentSpec,
  state: ExperimentState,
  samples: { A: number; B: number },
  now: number,
): void {
  const short = poweredShortfall(spec, state, samples, now);
  if (short.length > 0) {
    throw bmfError('BMF_ERR_EXPERIMENT_UNDERPOWERED', { reason: short.join('; ') });
  }
}
