// Per-device signed assignments (Uptane's "install only what the server assigned to this
// device"). Each one carries a sequence strictly above every earlier one for that device, is
// persisted before it is published (a crash between the two is repaired by republishing the
// latest, never by reusing a sequence) and is published retained, QoS 1, so a device that
// connects later gets it from the broker.
import { canonicalBytes } from '../../shared/bundle/canonical.js';
import { bmfError } from '../../shared/errors.js';
import type { WallClock } from '../../shared/clock.js';
import { parseAssignment, type Assignment } from '../../shared/trust/assignment.js';
import { signEnvelope } from '../../shared/trust/envelope.js';
import type { Signer } from '../../shared/trust/keys.js';
import { encodeMessage } from '../../shared/wire/codec.js';
import { deviceTopic } from '../../shared/wire/topics.js';
import type { AssignmentRepo, AssignmentRow } from '../store/assignments.js';
import type { DeviceRepo } from '../store/devices.js';
import type { StoreMode } from '../store/repository.js';
import type { Registry } from '../registry/registry.js';
import type { Digest } from '../../shared/ids.js';
import {
  CATCH_UP_WINDOW_MS,
  createCatchUpLedger,
  decideCatchUp,
  type CatchUpDecision,
} from './catch-up.js';

export type Publish = (
  topic: string,
  payload: Uint8Array,
  opts: { qos: 0 | 1; retain?: boolean },
) => Promise<void>;

export interface VariantRequest {
  readonly name: string;
  /** Bundle digest (manifestDigest of its envelope). */
  readonly bundle: Digest;
  readonly weight: number;
}

export interface AssignRequest {
  readonly variants: readonly VariantRequest[];
  readonly split: Assignment['split'];
  readonly shadowRate: number;
  readonly health?: Assignment['health'];
  /** Why (rollout id, operator action): kept with the assignment for the audit trail. */
  readonly reason?: string;
  /**
   * Signed permission for the device to install a bundle sequence below the one it serves: set
   * only by paths that roll back on purpose (rollout rollback, experiment abort).
   */
  readonly allowDowngrade?: boolean;
}

export interface StoredAssignment {
  readonly assignment: Assignment;
  /** Canonical bytes of the signed envelope, exactly as published. */
  readonly envelope: Uint8Array;
  readonly reason: string;
  readonly createdAt: number;
}

export interface AssignmentServiceOptions {
  readonly store: AssignmentRepo<StoreMode>;
  readonly registry: Pick<Registry, 'requireBundle'>;
  readonly devices: Pick<DeviceRepo<StoreMode>, 'require' | 'list'>;
  /** The `assignment` role's signers (keystore.signers('assignment')), or a getter. */
  readonly signers: readonly Signer[] | (() => Promise<readonly Signer[]>);
  readonly publish: Publish;
  readonly clock: WallClock;
  readonly defaults: { readonly expiresInMs: number; readonly health: Assignment['health'] };
  /** At most one catch-up copy per device per this window (catch-up.ts); 60 s by default. */
  readonly catchUpWindowMs?: number;
}

const SIGNERS_TTL_MS = 5000;

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function fromRow(r: AssignmentRow): StoredAssignment {
  const body = JSON.parse(r.body) as { assignment: Assignment; reason: string };
  return {
    assignment: body.assignment,
    envelope: r.envelope,
    reason: body.reason,
    createdAt: r.createdAt,
  };
}

/** Same content (what the device would run), ignoring sequence and expiry. */
function sameContent(a: Assignment, req: AssignRequest, health: Assignment['health']): boolean {
  return (
    a.split === req.split &&
    a.shadowRate === req.shadowRate &&
    (a.allowDowngrade ?? false) === (req.allowDowngrade ?? false) &&
    JSON.stringify(a.health) === JSON.stringify(health) &&
    a.variants.length === req.variants.length &&
    a.variants.every((v, i) => {
      const r = req.variants[i];
      return r && v.name === r.name && v.bundle.digest === r.bundle && v.weight === r.weight;
    })
  );
}

export function createAssignmentService(opts: AssignmentServiceOptions) {
  const { store, registry, devices, publish, clock, defaults } = opts;
  const catchUpWindowMs = opts.catchUpWindowMs ?? CATCH_UP_WINDOW_MS;
  const caughtUp = createCatchUpLedger(catchUpWindowMs);

  // Loading the signers reads root.json and the key files; a rollout start signs hundreds of
  // assignments at once, so they are loaded once per SIGNERS_TTL_MS (a rotated key is picked up
  // within that time). A failed load is not kept.
  let cachedSigners: { at: number; signers: Promise<readonly Signer[]> } | undefined;
  async function signers(): Promise<readonly Signer[]> {
    const get = opts.signers;
    if (typeof get !== 'function') return get;
    const now = clock.wallNow();
    if (!cachedSigners || now - cachedSigners.at >= SIGNERS_TTL_MS) {
      const loading = get();
      cachedSigners = { at: now, signers: loading };
      loading.catch(() => {
        if (cachedSigners?.signers === loading) cachedSigners = undefined;
      });
    }
    return cachedSigners.signers;
  }

  async function latest(deviceId: string): Promise<StoredAssignment | undefined> {
    const r = await store.latest(deviceId);
    return r ? fromRow(r) : undefined;
  }

  async function publishStored(deviceId: string, s: StoredAssignment): Promise<void> {
    await publish(
      deviceTopic('assignment', deviceId),
      encodeMessage('SignedAssignment', {
        envelope: s.envelope,
      }),
      { qos: 1, retain: true },
    );
  }

  /**
   * The next sequence, taken inside the store's transaction that inserts it, so two assignments
   * for the same device can never share a sequence. The device's own reported sequence counts
   * too: after a controller database restore the device would refuse anything not above what it
   * installed.
   */
  function buildOne(
    [deviceId, reported, build, by, reason]: Parameters<typeof persist>,
    storedMax: number,
  ): AssignmentRow {
    const assignment = parseAssignment(build(Math.max(storedMax, reported) + 1));
    const envelope = canonicalBytes(signEnvelope(assignment, by));
    return {
      deviceId,
      sequence: assignment.sequence,
      body: JSON.stringify({ assignment, reason }),
      envelope,
      createdAt: clock.wallNow(),
    };
  }

  // Group commit: assignments requested in the same turn of the event loop (a rollout starting
  // a group issues many at once) are persisted in one transaction, one fsync instead of one per
  // device (synchronous = FULL; measured ~5 ms each by the fleet benchmark). Each one still
  // gets its own sequence and is persisted before it is published.
  interface PendingPersist {
    readonly args: Parameters<typeof persist>;
    readonly resolve: (s: StoredAssignment) => void;
    readonly reject: (e: unknown) => void;
  }
  let pending: PendingPersist[] = [];
  async function flush(): Promise<void> {
    const batch = pending;
    pending = [];
    try {
      const outcomes = await store.appendEach(
        batch,
        (p) => p.args[0],
        (p, max) => buildOne(p.args, max),
      );
      outcomes.forEach((r, i) => {
        const p = batch[i] as PendingPersist;
        if (r.ok) p.resolve(fromRow(r.value));
        else p.reject(r.error);
      });
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
  }
  function persist(
    ...args: [
      deviceId: string,
      /** The sequence the device last reported installing. */
      reported: number,
      build: (sequence: number) => Assignment,
      by: readonly Signer[],
      reason: string,
    ]
  ): Promise<StoredAssignment> {
    return new Promise((resolve, reject) => {
      if (pending.length === 0) setImmediate(() => void flush());
      pending.push({ args, resolve, reject });
    });
  }

  async function assign(deviceId: string, req: AssignRequest): Promise<StoredAssignment> {
    const device = await devices.require(deviceId);
    const bundles = await Promise.all(req.variants.map((v) => registry.requireBundle(v.bundle)));
    const variants = req.variants.map((v, i) => {
      const bundle = bundles[i] as (typeof bundles)[number];
      // Checked before signing: a signed assignment the device must refuse helps nobody.
      if (!bundle.chips.includes(device.chip)) {
        throw bmfError('BMF_ERR_TRUST_CHIP_MISMATCH', {
          targets: bundle.chips.join(','),
          chip: device.chip,
        });
      }
      return {
        name: v.name,
        bundle: {
          digest: bundle.digest,
          sequence: bundle.sequence,
          manifest: { sha256: bundle.manifestBlob.sha256, size: bundle.manifestBlob.size },
        },
        weight: v.weight,
      };
    });
    const by = await signers();
    const health = req.health ?? defaults.health;
    // The device's own reported sequence counts too (see buildOne).
    const reported = Number(device.state?.assignmentSequence ?? 0) || 0;
    const stored = await persist(
      deviceId,
      reported,
      (sequence) => ({
        type: 'assignment',
        deviceId: device.id,
        sequence,
        expires: isoSeconds(clock.wallNow() + defaults.expiresInMs),
        variants,
        split: req.split,
        shadowRate: req.shadowRate,
        ...(req.allowDowngrade === true && { allowDowngrade: true }),
        health,
      }),
      by,
      req.reason ?? '',
    );
    await publishStored(deviceId, stored);
    return stored;
  }

  return {
    assign,
    /**
     * One bundle as variant A, all traffic. Idempotent: when the latest assignment already says
     * exactly that, it is republished (a crash may have come between persist and publish) and no
     * new sequence is used. The rollout executor's `assign` callback.
     */
    async assignBundle(
      deviceId: string,
      digest: Digest,
      reason: string,
      options: { readonly allowDowngrade?: boolean } = {},
    ): Promise<void> {
      const req: AssignRequest = {
        variants: [{ name: 'A', bundle: digest, weight: 1 }],
        split: 'weighted',
        shadowRate: 0,
        reason,
        ...(options.allowDowngrade === true && { allowDowngrade: true }),
      };
      const current = await latest(deviceId);
      if (current && sameContent(current.assignment, req, defaults.health)) {
        await publishStored(deviceId, current);
        return;
      }
      await assign(deviceId, req);
    },
    latest,
    /**
     * A device reported the assignment sequence it has (its state, on every connect and after
     * every reconcile pass): when that is below the one persisted for it, its current signed
     * assignment is published to it again, QoS 1, at most once per window (catch-up.ts). Only
     * the replica that consumes the report does this.
     */
    async catchUp(deviceId: string, reported: number): Promise<CatchUpDecision> {
      const current = await latest(deviceId);
      const now = clock.wallNow();
      const decision = decideCatchUp({
        reported,
        persisted: current?.assignment.sequence,
        lastSentAt: caughtUp.lastSentAt(deviceId),
        now,
        windowMs: catchUpWindowMs,
      });
      if (decision.kind === 'republish' && current) {
        // Counted before the publish: a publish waiting on a lost connection is not sent twice.
        caughtUp.sent(deviceId, now);
        await publishStored(deviceId, current);
      }
      return decision;
    },
    /**
     * On controller start: publish every device's latest assignment again (an external broker may
     * have lost its retained messages). One that expires within half its lifetime is re-signed
     * with the next sequence instead, so an idle fleet never runs into expiry.
     */
    async republishAll(): Promise<{ republished: number; renewed: number }> {
      let republished = 0;
      let renewed = 0;
      const known = new Set<string>((await devices.list()).map((d) => d.id));
      for (const row of await store.latestPerDevice()) {
        if (!known.has(row.deviceId)) continue; // device removed since
        const s = fromRow(row);
        const left = Date.parse(s.assignment.expires) - clock.wallNow();
        if (left < defaults.expiresInMs / 2) {
          await assign(row.deviceId, {
            variants: s.assignment.variants.map((v) => ({
              name: v.name,
              bundle: v.bundle.digest,
              weight: v.weight,
            })),
            split: s.assignment.split,
            shadowRate: s.assignment.shadowRate,
            health: s.assignment.health,
            ...(s.assignment.allowDowngrade === true && { allowDowngrade: true }),
            reason: `renewed: ${s.reason}`,
          });
          renewed++;
        } else {
          await publishStored(row.deviceId, s);
          republished++;
        }
      }
      return { republished, renewed };
    },
  };
}
export type AssignmentService = ReturnType<typeof createAssignmentService>;
