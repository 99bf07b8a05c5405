// The reconcile decision, pure (balena-supervisor's pattern): from what the agent has
// (Facts) and what its verified assignment asks for (Target), the next steps to take. Executors
// run them and the loop looks again, so a step that was interrupted is simply planned again; each
// step is idempotent. Order per variant follows the trust rules: nothing is loaded before its
// bundle and every file were verified.
import type { VariantName } from '../serve/types.js';
import type { Digest } from '../../shared/ids.js';

export interface TargetFile {
  readonly digest: Digest;
  readonly size: number;
}

export interface TargetVariant {
  readonly name: VariantName;
  readonly bundleDigest: Digest;
  /**
   * The blob carrying the signed manifest and its size, as the assignment names it; the bundle
   * digest itself (size unknown, bounded by the fetcher) for assignments that predate it.
   */
  readonly manifest?: TargetFile;
  /** Files the bundle's manifest lists; unknown until the manifest itself is fetched and verified. */
  readonly files: readonly TargetFile[] | undefined;
}

export interface Target {
  readonly sequence: number;
  readonly variants: readonly TargetVariant[];
}

export interface Facts {
  readonly installedSequence: number;
  /**
   * Sequence of the newest assignment persisted on disk (state.json), whether it came live or was
   * restored. A target below it is stale (a restore that lost the race to a newer assignment) and
   * is never acted on: the newest sequence always wins. Absent means none persisted yet.
   */
  readonly assignedSequence?: number;
  /** Blob digests present (and hash-named) in the store. */
  readonly blobs: ReadonlySet<Digest>;
  /** Bundles whose signed manifest verified (signatures, threshold, expiry, chip). */
  readonly verified: ReadonlySet<Digest>;
  /** Bundles whose files were all checked (hash, size, BMODEL description vs manifest). */
  readonly staged: ReadonlySet<Digest>;
  /** Candidate loaded beside the serving model, per variant, and whether it passed the gate. */
  readonly candidates: Readonly<
    Partial<Record<VariantName, { bundleDigest: Digest; gated: boolean }>>
  >;
  /** Bundle each variant serves. */
  readonly active: Readonly<Partial<Record<VariantName, Digest>>>;
  readonly lastKnownGood: Readonly<Partial<Record<VariantName, Digest>>>;
  /** Bundles that failed verification or the gate under the current assignment: not retried. */
  readonly rejected: ReadonlySet<Digest>;
  /** Variants whose health window regressed and still serve the regressed bundle. */
  readonly regressed: ReadonlySet<VariantName>;
  /**
   * After a restart, per variant, the bundles still to try in order (restorePlan in restore.ts:
   * the one it served, then its last-known-good); a variant leaves once one installs or every
   * one failed. Absent or empty: nothing to restore.
   */
  readonly restoring?: Readonly<Partial<Record<VariantName, readonly Digest[]>>>;
}

export type Step =
  | { readonly kind: 'fetch'; readonly digest: Digest; readonly size: number | undefined }
  | { readonly kind: 'verify'; readonly bundleDigest: Digest }
  | { readonly kind: 'stage'; readonly bundleDigest: Digest }
  | { readonly kind: 'load'; readonly variant: VariantName; readonly bundleDigest: Digest }
  | { readonly kind: 'gate'; readonly variant: VariantName; readonly bundleDigest: Digest }
  | {
      readonly kind: 'activate';
      readonly variant: VariantName;
      readonly bundleDigest: Digest;
      readonly sequence: number;
    }
  | { readonly kind: 'unload'; readonly variant: VariantName; readonly bundleDigest: Digest }
  | { readonly kind: 'rollback'; readonly variant: VariantName; readonly to: Digest }
  | { readonly kind: 'restore'; readonly variant: VariantName; readonly bundleDigest: Digest };

export type StepKind = Step['kind'];

function planVariant(f: Facts, sequence: number, v: TargetVariant): Step[] {
  const d = v.bundleDigest;
  if (f.active[v.name] === d) return [];
  if (f.rejected.has(d)) return [];
  const m = v.manifest ?? { digest: d, size: undefined };
  if (!f.blobs.has(m.digest)) return [{ kind: 'fetch', digest: m.digest, size: m.size }];
  if (!f.verified.has(d)) return [{ kind: 'verify', bundleDigest: d }];
  const missing = (v.files ?? []).filter((file) => !f.blobs.has(file.digest));
  // Fetch every missing file at once: the fetcher keeps several chunks in flight across them.
  if (missing.length > 0)
    return missing.map((m) => ({ kind: 'fetch', digest: m.digest, size: m.size }));
  if (!f.staged.has(d)) return [{ kind: 'stage', bundleDigest: d }];
  const c = f.candidates[v.name];
  if (!c || c.bundleDigest !== d) return [{ kind: 'load', variant: v.name, bundleDigest: d }];
  if (!c.gated) return [{ kind: 'gate', variant: v.name, bundleDigest: d }];
  return [{ kind: 'activate', variant: v.name, bundleDigest: d, sequence }];
}

export function planSteps(current: Facts, target: Target | undefined): Step[] {
  const steps: Step[] = [];
  // What served before a restart comes back before anything else is decided: the newest
  // assignment may well name the same bundles, and a device that serves keeps serving.
  for (const [variant, bundles] of Object.entries(current.restoring ?? {}) as [
    VariantName,
    readonly Digest[],
  ][]) {
    const next = bundles[0];
    if (next !== undefined) steps.push({ kind: 'restore', variant, bundleDigest: next });
  }
  if (steps.length > 0) return steps;
  // A local health regression comes first and needs no assignment: go back to last-known-good.
  for (const variant of current.regressed) {
    const to = current.lastKnownGood[variant];
    if (to !== undefined && to !== current.active[variant])
      steps.push({ kind: 'rollback', variant, to });
  }
  if (steps.length > 0 || target === undefined) return steps;
  // An assignment below the installed one is a replay (TUF rollback attack): verifyAssignment
  // rejects it at the edge and the plan never acts on it either. The installed one itself is
  // planned again after a restart, which converges to nothing when all its variants serve.
  if (target.sequence < current.installedSequence) return steps;
  if (target.sequence < (current.assignedSequence ?? 0)) return steps;
  const wanted = new Set(target.variants.map((v) => v.name));
  for (const v of target.variants) steps.push(...planVariant(current, target.sequence, v));
  for (const [variant, bundleDigest] of Object.entries(current.active) as [VariantName, Digest][]) {
    if (!wanted.has(variant)) steps.push({ kind: 'unload', variant, bundleDigest });
  }
  return steps;
}
