// Who runs what: a deterministic plan per device for each allocation kind (pure).
//
// Cohorts: within each stratum (chip, or the value of a tag), devices are ordered by
// sha256(experiment id, device id) and the first round(shareB * n) go to B. Hashing with the
// experiment id gives every experiment its own independent split; ordering within the stratum
// (rather than thresholding each hash) makes every stratum's share exact to one device, which
// keeps chips or sites balanced between arms (stratified randomisation).
import { createHash } from 'node:crypto';
import type { AssignRequest } from '../distribution/assignments.js';
import type { Arm, DeviceInfo, ExperimentSpec } from './model.js';

export interface DevicePlan {
  readonly deviceId: string;
  readonly arm: Arm | 'both';
  readonly request: AssignRequest;
}

function hashRank(experimentId: string, deviceId: string): string {
  return createHash('sha256').update(`${experimentId}\u0000${deviceId}`).digest('hex');
}

export function stratumOf(device: DeviceInfo, stratifyBy: string | undefined): string {
  if (stratifyBy === undefined) return '';
  if (stratifyBy === 'chip') return device.chip.toLowerCase();
  return device.tags[stratifyBy] ?? '';
}

function single(spec: ExperimentSpec, arm: Arm): AssignRequest {
  return {
    variants: [{ name: arm, bundle: arm === 'A' ? spec.bundleA : spec.bundleB, weight: 1 }],
    split: 'weighted',
    shadowRate: 0,
    reason: `experiment ${spec.id}: arm ${arm}`,
  };
}

/** Plans for the given population (devices outside it are ignored), sorted by device id. */
export function planAllocation(
  spec: ExperimentSpec,
  population: readonly DeviceInfo[],
): DevicePlan[] {
  const alloc = spec.allocation;
  const sorted = [...population].sort((x, y) => x.id.localeCompare(y.id));
  if (alloc.kind === 'traffic' || alloc.kind === 'shadow') {
    const weightB = alloc.kind === 'traffic' ? alloc.weightB : 0;
    // Shadow: A serves every request; B runs on `rate` of them and is never returned
    // (Assignment.shadowRate: "run on the non-serving variant(s)").
    const request: AssignRequest = {
      variants: [
        { name: 'A', bundle: spec.bundleA, weight: 1 - weightB },
        { name: 'B', bundle: spec.bundleB, weight: weightB },
      ],
      split: 'weighted',
      // A traffic split may shadow a share of A's requests too (detectors' box agreement).
      shadowRate: alloc.kind === 'shadow' ? alloc.rate : (alloc.shadowRate ?? 0),
      reason: `experiment ${spec.id}: ${alloc.kind}`,
    };
    return sorted.map((d) => ({ deviceId: d.id, arm: 'both', request }));
  }
  const strata = new Map<string, DeviceInfo[]>();
  for (const d of sorted) {
    const key = stratumOf(d, alloc.stratifyBy);
    strata.set(key, [...(strata.get(key) ?? []), d]);
  }
  const arms = new Map<string, Arm>();
  for (const members of strata.values()) {
    const ordered = members
      .map((d) => ({ d, h: hashRank(spec.id, d.id) }))
      .sort((x, y) => (x.h < y.h ? -1 : x.h > y.h ? 1 : 0));
    const nB = Math.round(alloc.shareB * ordered.length);
    ordered.forEach((o, i) => arms.set(o.d.id, i < nB ? 'B' : 'A'));
  }
  return sorted.map((d) => {
    const arm = arms.get(d.id) ?? 'A';
    return { deviceId: d.id, arm, request: single(spec, arm) };
  });
}

/** What `abort` publishes: A only, all traffic, no shadow, downgrade allowed. */
export function restorePlan(spec: ExperimentSpec, deviceIds: readonly string[]): DevicePlan[] {
  return [...deviceIds].sort().map((deviceId) => ({
    deviceId,
    arm: 'A',
    // A rollback on purpose: devices of arm B go back to A even when A's sequence is lower.
    request: {
      ...single(spec, 'A'),
      reason: `experiment ${spec.id}: aborted, restore A`,
      allowDowngrade: true,
    },
  }));
}
