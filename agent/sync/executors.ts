// The executors of the reconcile plan, one per step kind (the `Executors` record makes the
// compiler prove every kind is handled), and the fact gathering they are planned from. Every
// executor is idempotent: run twice, or again after a crash, it finds the work done and returns.
import type { BundleInput, BundleManifest, Chip } from '../../shared/bundle/manifest.js';
import { isDigest, VARIANT_NAMES } from '../../shared/ids.js';
import { bmfError, toBmfError } from '../../shared/errors.js';
import type { BmfError } from '../../shared/errors.js';
import type { Root } from '../../shared/trust/root.js';
import type { Clock } from '../clock.js';
import type { InferenceService } from '../serve/service.js';
import type { HealthThresholds, ModelSpec, VariantName } from '../serve/types.js';
import type { BlobStore } from '../store/blob-store.js';
import type { AgentState, StateFile } from '../store/state.js';
import type { BlobFetcher } from './fetcher.js';
import type { Facts, Target } from './plan.js';
import type { Executors } from './reconcile.js';
import { restorePlan } from './restore.js';
import { stageBundle, verifyBundleBlob } from './stage.js';
import type { ManifestBlob } from './stage.js';
import type { Digest } from '../../shared/ids.js';

export interface SyncContextOptions {
  readonly store: BlobStore;
  readonly stateFile: StateFile;
  readonly initialState: AgentState;
  readonly fetcher: BlobFetcher;
  readonly service: InferenceService;
  readonly root: Root;
  readonly chip: Chip;
  readonly clock: Clock;
  readonly health: () => HealthThresholds | undefined;
  readonly onStateChange?: (state: AgentState) => void;
  readonly onRejected?: (bundleDigest: Digest, error: BmfError, variant?: VariantName) => void;
  /** A lower bundle sequence is being installed because the assignment allows it explicitly. */
  readonly onDowngrade?: (info: {
    variant: VariantName;
    bundleDigest: Digest;
    name: string;
    sequence: number;
    from: number;
  }) => void;
  /** A bundle a restart tried to restore did not install; the next one in line is tried. */
  readonly onRestoreFailed?: (variant: VariantName, bundleDigest: Digest, error: BmfError) => void;
}

export interface AssignedTarget {
  readonly sequence: number;
  readonly variants: readonly {
    readonly name: VariantName;
    readonly bundleDigest: Digest;
    /** The manifest blob and its size when the assignment names them. */
    readonly manifest?: { readonly digest: Digest; readonly size: number };
  }[];
  /** The signed assignment allows installing a bundle sequence below the one served. */
  readonly allowDowngrade?: boolean;
}

/** What the reconcile loop knows beyond the disk: verified manifests, staged specs, rejections. */
export class SyncContext {
  private readonly manifests = new Map<Digest, BundleManifest>();
  /** Each verified bundle's inputs, preprocessing typed (parsed once, at verification). */
  private readonly inputs = new Map<Digest, readonly BundleInput[]>();
  private readonly specs = new Map<Digest, ModelSpec>();
  private readonly rejected = new Set<Digest>();
  /** Per variant, the bundles a restart still has to try (the planner's `restoring` fact). */
  private readonly restoring = new Map<VariantName, Digest[]>();
  private assigned: AssignedTarget | undefined;
  private state: AgentState;

  constructor(private readonly o: SyncContextOptions) {
    this.state = o.initialState;
    for (const r of restorePlan(o.initialState)) this.restoring.set(r.variant, [...r.candidates]);
  }

  current(): AgentState {
    return this.state;
  }

  /**
   * A new verified assignment: earlier rejections no longer apply. One below the target already
   * held is refused (false): restore and live assignments meet here and the newest sequence wins.
   */
  assign(target: AssignedTarget): boolean {
    if (this.assigned && target.sequence < this.assigned.sequence) return false;
    this.assigned = target;
    this.rejected.clear();
    return true;
  }

  /** Sequence of the target currently held (0 before any). */
  assignedSequence(): number {
    return this.assigned?.sequence ?? 0;
  }

  reject(bundleDigest: Digest, error: BmfError, variant?: VariantName): void {
    this.rejected.add(bundleDigest);
    this.o.onRejected?.(bundleDigest, error, variant);
  }

  target(): Target | undefined {
    const a = this.assigned;
    if (!a) return undefined;
    return {
      sequence: a.sequence,
      variants: a.variants.map((v) => {
        const m = this.manifests.get(v.bundleDigest);
        return {
          name: v.name,
          bundleDigest: v.bundleDigest,
          ...(v.manifest && { manifest: v.manifest }),
          files: m?.files.map((f) => ({ digest: f.sha256, size: f.size })),
        };
      }),
    };
  }

  async gatherFacts(): Promise<Facts> {
    const variants = this.o.service.variants;
    const active: Partial<Record<VariantName, Digest>> = {};
    const lastKnownGood: Partial<Record<VariantName, Digest>> = {};
    const candidates: Partial<Record<VariantName, { bundleDigest: Digest; gated: boolean }>> = {};
    for (const name of VARIANT_NAMES) {
      const serving = variants.slot(name)?.current()?.spec.bundleDigest;
      if (serving) active[name] = serving;
      const lkg = variants.lastKnownGood(name)?.bundleDigest ?? this.state.lastKnownGood[name];
      if (lkg) lastKnownGood[name] = lkg;
      const c = variants.candidate(name);
      if (c) candidates[name] = c;
    }
    return {
      installedSequence: this.state.installedSequence,
      ...(this.state.assignmentSequence !== undefined && {
        assignedSequence: this.state.assignmentSequence,
      }),
      blobs: new Set(await this.o.store.list()),
      verified: new Set(this.manifests.keys()),
      staged: new Set(this.specs.keys()),
      candidates,
      active,
      lastKnownGood,
      rejected: this.rejected,
      regressed: variants.regressed(),
      restoring: Object.fromEntries([...this.restoring].map(([v, bundles]) => [v, [...bundles]])),
    };
  }

  private writes: Promise<unknown> = Promise.resolve();

  /** Applies `change` to the state and writes it atomically; writes are serialised. */
  update(change: (s: AgentState) => AgentState): Promise<void> {
    const run = this.writes.then(async () => {
      const next = change(this.state);
      await this.o.stateFile.save(next);
      this.state = next;
      this.o.onStateChange?.(next);
    });
    this.writes = run.catch(() => undefined);
    return run;
  }

  /** Verify + stage a bundle already in the store (restart, rollback to last-known-good). */
  async specFor(bundleDigest: Digest, signal?: AbortSignal): Promise<ModelSpec> {
    const cached = this.specs.get(bundleDigest);
    if (cached) return cached;
    const manifest = this.manifests.get(bundleDigest) ?? (await this.verifyManifest(bundleDigest));
    this.manifests.set(bundleDigest, manifest);
    const spec = await stageBundle({
      store: this.o.store,
      bundleDigest,
      bundle: { manifest, inputs: this.inputs.get(bundleDigest) ?? [] },
      ...(signal && { signal }),
    });
    this.specs.set(bundleDigest, spec);
    return spec;
  }

  /** The blob that holds a bundle's manifest: from the assignment, else as recorded on disk. */
  manifestBlobOf(bundleDigest: Digest): ManifestBlob {
    const assigned = this.assigned?.variants.find((v) => v.bundleDigest === bundleDigest)?.manifest;
    if (assigned) return assigned;
    const recorded = this.state.manifestBlobs?.[bundleDigest];
    return { digest: recorded ?? bundleDigest, size: undefined };
  }

  private async verifyManifest(bundleDigest: Digest): Promise<BundleManifest> {
    const blob = this.manifestBlobOf(bundleDigest);
    const { manifest, inputs } = await verifyBundleBlob({
      store: this.o.store,
      bundleDigest,
      manifestBlob: blob,
      root: this.o.root,
      chip: this.o.chip,
      now: new Date(this.o.clock.wallNow()),
    });
    this.manifests.set(bundleDigest, manifest);
    this.inputs.set(bundleDigest, inputs);
    if (blob.digest !== bundleDigest && this.state.manifestBlobs?.[bundleDigest] !== blob.digest) {
      // Recorded so a restart finds the manifest of an active or last-known-good bundle.
      await this.update((st) => ({
        ...st,
        manifestBlobs: { ...st.manifestBlobs, [bundleDigest]: blob.digest },
      }));
    }
    return manifest;
  }

  /**
   * Downgrade rule: a bundle whose sequence is below that of a bundle of the same model this
   * device serves installs only when the signed assignment says `allowDowngrade`; it is then
   * reported. Local rollbacks to last-known-good and restores never come through here.
   */
  private checkDowngrade(variant: VariantName, bundleDigest: Digest): void {
    const m = this.manifests.get(bundleDigest);
    if (!m) return;
    let highest: number | undefined;
    for (const name of VARIANT_NAMES) {
      const d = this.o.service.variants.slot(name)?.current()?.spec.bundleDigest;
      const served = d !== undefined ? this.manifests.get(d) : undefined;
      if (served && served.name === m.name && served.sequence > (highest ?? -1))
        highest = served.sequence;
    }
    if (highest === undefined || m.sequence >= highest) return;
    if (!this.assigned?.allowDowngrade) {
      throw bmfError('BMF_ERR_TRUST_DOWNGRADE', {
        what: `${m.name} ${m.version}`,
        sequence: m.sequence,
        installed: highest,
      });
    }
    this.o.onDowngrade?.({
      variant,
      bundleDigest,
      name: m.name,
      sequence: m.sequence,
      from: highest,
    });
  }

  /**
   * Retention: keeps the blobs of the active bundles, the last-known-good ones, the current
   * target, and the `keepExtra` most recently served others (with each one's manifest blob and
   * files) and the persisted assignment; deletes every other blob. Does nothing while a kept
   * bundle's manifest is unknown (its files cannot be named yet). Returns the deleted digests.
   */
  async retain(keepExtra: number): Promise<Digest[]> {
    const st = this.state;
    const variants = this.o.service.variants;
    const keep = new Set<Digest>([
      ...Object.values(st.active),
      ...Object.values(st.lastKnownGood),
      ...(this.assigned?.variants.map((v) => v.bundleDigest) ?? []),
    ]);
    for (const name of VARIANT_NAMES) {
      const serving = variants.slot(name)?.current()?.spec.bundleDigest;
      const lkg = variants.lastKnownGood(name)?.bundleDigest;
      if (serving) keep.add(serving);
      if (lkg) keep.add(lkg);
    }
    for (const d of (st.recentBundles ?? []).filter((x) => !keep.has(x)).slice(0, keepExtra))
      keep.add(d);
    const blobs = new Set<Digest>(st.assignment ? [st.assignment] : []);
    for (const bundle of keep) {
      const m = this.manifests.get(bundle);
      if (!m) return [];
      blobs.add(this.manifestBlobOf(bundle).digest);
      for (const f of m.files) blobs.add(f.sha256);
    }
    const deleted: Digest[] = [];
    for (const digest of await this.o.store.list()) {
      if (blobs.has(digest)) continue;
      await this.o.store.remove(digest);
      deleted.push(digest);
    }
    const forgotten = Object.keys(st.manifestBlobs ?? {})
      .filter(isDigest)
      .filter((d) => !keep.has(d));
    if (forgotten.length > 0) {
      await this.update((s) => {
        const manifestBlobs = { ...s.manifestBlobs };
        for (const d of forgotten) delete manifestBlobs[d];
        return { ...s, manifestBlobs };
      });
    }
    for (const d of [...this.manifests.keys()]) if (!keep.has(d)) this.manifests.delete(d);
    for (const d of [...this.inputs.keys()]) if (!keep.has(d)) this.inputs.delete(d);
    for (const d of [...this.specs.keys()]) if (!keep.has(d)) this.specs.delete(d);
    return deleted;
  }

  private async guard<T>(bundleDigest: Digest, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      const err = toBmfError(e);
      // Bad content is rejected for this assignment (retrying cannot fix a signature or a hash);
      // anything else (I/O, aborts) is retried with backoff.
      if (isRejection(err)) this.reject(bundleDigest, err);
      throw err;
    }
  }

  executors(): Executors {
    const o = this.o;
    return {
      fetch: (s, signal) => o.fetcher.fetch(s.digest, s.size, signal),
      verify: (s) =>
        this.guard(s.bundleDigest, async () => {
          await this.verifyManifest(s.bundleDigest);
        }),
      stage: (s, signal) =>
        this.guard(s.bundleDigest, async () => {
          await this.specFor(s.bundleDigest, signal);
        }),
      load: (s, signal) =>
        this.guard(s.bundleDigest, async () => {
          const spec = this.specs.get(s.bundleDigest);
          if (!spec)
            throw bmfError('BMF_ERR_INTERNAL', { reason: `bundle ${s.bundleDigest} not staged` });
          this.checkDowngrade(s.variant, s.bundleDigest);
          await o.service.variants.prepare(s.variant, spec, signal);
        }),
      gate: (s, signal) =>
        this.guard(s.bundleDigest, () => o.service.variants.gate(s.variant, { signal })),
      activate: async (s) => {
        const health = o.health();
        await o.service.variants.activate(s.variant, health ? { health } : {});
        await this.update((st) => ({
          ...st,
          installedSequence: Math.max(st.installedSequence, s.sequence),
          active: { ...st.active, [s.variant]: s.bundleDigest },
          recentBundles: [
            s.bundleDigest,
            ...(st.recentBundles ?? []).filter((d) => d !== s.bundleDigest),
          ].slice(0, 64),
          lastKnownGood: health
            ? st.lastKnownGood
            : { ...st.lastKnownGood, [s.variant]: s.bundleDigest },
        }));
      },
      unload: async (s) => {
        await o.service.variants.remove(s.variant);
        await this.update((st) => {
          const active = { ...st.active };
          delete active[s.variant];
          return { ...st, active };
        });
      },
      rollback: async (s, signal) => {
        const spec = await this.specFor(s.to, signal);
        await o.service.variants.rollbackTo(s.variant, spec);
        await this.update((st) => ({ ...st, active: { ...st.active, [s.variant]: s.to } }));
      },
      restore: async (s, signal) => {
        const left = this.restoring.get(s.variant);
        if (left?.[0] !== s.bundleDigest) return;
        try {
          // Verified again from the store: serve the old or the new model fully verified, never a mix.
          const spec = await this.specFor(s.bundleDigest, signal);
          await o.service.variants.install(s.variant, spec, { knownGood: true, signal });
        } catch (e) {
          if (signal.aborted) throw e;
          // Tried once: the fact changes (the next in line, or nothing), so the plan moves on.
          left.shift();
          if (left.length === 0) this.restoring.delete(s.variant);
          o.onRestoreFailed?.(s.variant, s.bundleDigest, toBmfError(e));
          return;
        }
        this.restoring.delete(s.variant);
        if (this.state.active[s.variant] !== s.bundleDigest) {
          await this.update((st) => ({
            ...st,
            active: { ...st.active, [s.variant]: s.bundleDigest },
          }));
        }
      },
    };
  }
}

const REJECTING = new Set<string>([
  'BMF_ERR_AGENT_GATE_FAILED',
  'BMF_ERR_BUNDLE_MANIFEST',
  'BMF_ERR_BUNDLE_FILE_MISSING',
  'BMF_ERR_RUNTIME_SIM_ONLY',
  'BMF_ERR_RUNTIME_LOAD',
  'BMF_ERR_TENSOR_SHAPE',
  // libsophon refusing the model itself (agent/runtime/bmrt/failure-policy.ts); BMF_ERR_LIBSOPHON
  // is the device's state (busy, out of memory, timeout) and is retried.
  'BMF_ERR_LIBSOPHON_MODEL',
]);

function isRejection(e: BmfError): boolean {
  return (
    REJECTING.has(e.code) ||
    e.code.startsWith('BMF_ERR_TRUST_') ||
    e.code.startsWith('BMF_ERR_BMODEL_')
  );
}
