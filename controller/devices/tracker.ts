// Ingestion of what devices publish about themselves: hello, state, presence, events and command
// acks. Each payload is decoded and validated at the edge (shared/wire), must name the device of
// its topic (a device cannot speak for another even on a broker without our ACLs), and must
// come from a registered device; anything else is counted and dropped, never thrown at the link.
//
// INVARIANTS: runs on either store (every repository answer awaited). Messages of one device
// (and its broker connect/disconnect) are handled one after another in arrival order, so its
// presence and state are written in the order they happened even when the store answers later
// (PostgreSQL); different devices proceed independently.
import { bmfError, toBmfError, type BmfError } from '../../shared/errors.js';
import type { WallClock } from '../../shared/clock.js';
import { eventCode } from '../../shared/events.js';
import { decodeMessage } from '../../shared/wire/codec.js';
import type {
  Ack,
  DeviceHello,
  DeviceState,
  Event,
  WireMessages,
} from '../../shared/wire/messages.js';
import type { WireMessageType } from '../../shared/wire/schema.js';
import type { DeviceTopicKind } from '../../shared/wire/topics.js';
import type { DeviceObservation } from '../rollout/model.js';
import type { DeviceEventRepo, DeviceEventRow } from '../store/device-events.js';
import type { DeviceRecord, DeviceRepo } from '../store/devices.js';
import type { StoreMode } from '../store/repository.js';
import { activeBundleOf, installFailureBundle } from './observe.js';
import { createTokenBuckets } from './rate-limit.js';
import { isDigest } from '../../shared/ids.js';

export interface DeviceView extends DeviceRecord {
  /** Latest hello since the controller started (hellos are retained, so brokers replay them). */
  readonly hello?: DeviceHello;
  readonly activeBundle?: string;
}

export type { DeviceEventRow } from '../store/device-events.js';

export interface LinkLike {
  on(kind: DeviceTopicKind, handler: (deviceId: string, payload: Uint8Array) => void): void;
}

export interface DeviceTrackerOptions {
  readonly devices: DeviceRepo<StoreMode>;
  readonly eventStore: DeviceEventRepo<StoreMode>;
  readonly clock: WallClock;
  readonly onDropped?: (kind: string, err: BmfError) => void;
  readonly onAck?: (deviceId: string, ack: Ack) => void;
  /** A device reported its state or an event (what rollouts watch). */
  readonly onChange?: (deviceId: string) => void;
  /**
   * A device's state, once stored (the assignment catch-up compares its sequence). Awaited in
   * the device's order: on JetStream the report is acknowledged after it, so a replica that dies
   * before acting leaves the report to another.
   */
  readonly onState?: (deviceId: string, state: DeviceState) => Promise<void> | void;
  /**
   * Whether the device has a connection open now, when the broker can say (the embedded one).
   * Then presence is the connection's, and hello, presence and will messages (which may arrive
   * after the connection they speak of is gone, or after a newer one opened) do not override it.
   */
  readonly connected?: (deviceId: string) => boolean;
  /** Events (and command acks) per device: rate limit and retention (config `events`). */
  readonly events?: Partial<EventPolicy>;
  /** An event or ack dropped by the rate limit (BMF_ERR_EVENT_RATE_LIMITED). */
  readonly onRateLimited?: (deviceId: string, err: BmfError) => void;
}

export interface EventPolicy {
  /** Average events a device may record per second. */
  readonly ratePerSecond: number;
  /** Events a device may record at once. */
  readonly burst: number;
  /** Events older than this are deleted. */
  readonly retentionMs: number;
  /** Newest events kept per device. */
  readonly maxPerDevice: number;
}

export const EVENT_POLICY_DEFAULTS: EventPolicy = Object.freeze({
  ratePerSecond: 1,
  burst: 60,
  retentionMs: 30 * 86_400_000,
  maxPerDevice: 10_000,
});

type Failure = NonNullable<DeviceObservation['failure']>;

export function createDeviceTracker(opts: DeviceTrackerOptions) {
  const { devices, clock } = opts;
  const store = opts.eventStore;
  const policy: EventPolicy = { ...EVENT_POLICY_DEFAULTS, ...opts.events };
  const buckets = createTokenBuckets(policy);
  /** Events recorded per device since its last trim to maxPerDevice. */
  const sinceTrim = new Map<string, number>();
  const hellos = new Map<string, DeviceHello>();
  /** Latest install failure per device; undefined = looked up, none; absent = not loaded. */
  const failures = new Map<string, Failure | undefined>();

  async function decode<K extends WireMessageType>(
    type: K,
    deviceId: string,
    payload: Uint8Array,
  ): Promise<WireMessages[K]> {
    const m = decodeMessage(type, payload) as WireMessages[K];
    const claimed = (m as { deviceId?: string }).deviceId;
    if (claimed !== undefined && claimed !== deviceId) {
      throw bmfError('BMF_ERR_DEVICE_ACL', {
        device: deviceId,
        action: `speak for ${claimed}`,
        topic: type,
      });
    }
    if (!(await devices.get(deviceId)))
      throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'device', id: deviceId });
    return m;
  }

  /** Device-sent events and acks pass the device's bucket; false when rate-limited. */
  function admit(deviceId: string): boolean {
    if (buckets.take(deviceId, clock.wallNow())) return true;
    opts.onRateLimited?.(
      deviceId,
      bmfError('BMF_ERR_EVENT_RATE_LIMITED', {
        device: deviceId,
        rate: policy.ratePerSecond,
        burst: policy.burst,
      }),
    );
    return false;
  }

  async function recordEvent(
    deviceId: string,
    e: Omit<Event, 'deviceId'>,
    at: number,
  ): Promise<void> {
    const details = {
      ...e.details,
      variant: e.variant,
      bundleDigest: e.bundleDigest,
      deviceTimeMs: String(e.timeMs),
    };
    await store.insert({
      deviceId,
      at,
      severity: e.severity,
      code: e.code,
      message: e.message,
      details,
    });
    // Keep at most maxPerDevice: trimmed every tenth of it, so the table holds at most 1.1x.
    const n = (sinceTrim.get(deviceId) ?? 0) + 1;
    if (n >= Math.max(1, Math.floor(policy.maxPerDevice / 10))) {
      await store.trim(deviceId, policy.maxPerDevice);
      sinceTrim.set(deviceId, 0);
    } else sinceTrim.set(deviceId, n);
    const failed = installFailureBundle(e);
    if (failed) failures.set(deviceId, { bundle: failed, code: e.code, at });
  }

  const handlers: Record<
    'hello' | 'state' | 'presence' | 'event' | 'ack',
    (id: string, p: Uint8Array) => Promise<void>
  > = {
    async hello(id, p) {
      const hello = await decode('DeviceHello', id, p);
      const registered = await devices.require(id);
      hellos.set(id, hello);
      await devices.setPresence(id, opts.connected?.(id) ?? true, clock.wallNow());
      if (hello.chip !== registered.chip) {
        await recordEvent(
          id,
          {
            timeMs: hello.timeMs,
            severity: 'warning',
            code: 'BMF_ERR_TRUST_CHIP_MISMATCH',
            message: `device reports chip ${hello.chip}, registered as ${registered.chip}`,
            details: {},
            variant: '',
            bundleDigest: '',
          },
          clock.wallNow(),
        );
      }
    },
    async state(id, p) {
      const state: DeviceState = await decode('DeviceState', id, p);
      const value = state as unknown as Record<string, unknown>;
      // Another replica may have stored a newer report of this device meanwhile; this one then
      // says nothing the store does not know better.
      if (!(await devices.setState(id, value, state, clock.wallNow()))) return;
      opts.onChange?.(id);
      await opts.onState?.(id, state);
    },
    async presence(id, p) {
      const presence = await decode('Presence', id, p);
      await devices.setPresence(id, opts.connected?.(id) ?? presence.online, clock.wallNow());
    },
    async event(id, p) {
      const e = await decode('Event', id, p);
      if (!admit(id)) return;
      await recordEvent(id, e, clock.wallNow());
      opts.onChange?.(id);
    },
    async ack(id, p) {
      const ack = await decode('Ack', id, p);
      if (!admit(id)) return opts.onAck?.(id, ack);
      await recordEvent(
        id,
        {
          timeMs: ack.timeMs,
          severity: ack.ok ? 'info' : 'warning',
          code: ack.ok ? eventCode('BMF_EVT_COMMAND_ACK') : ack.errorCode || 'BMF_ERR_INTERNAL',
          message: ack.message || (ack.ok ? 'command done' : 'command failed'),
          details: { commandId: ack.commandId },
          variant: '',
          bundleDigest: '',
        },
        clock.wallNow(),
      );
      opts.onAck?.(id, ack);
    },
  };

  /** The tail of each device's queue of work (messages, connects), while it has any. */
  const queues = new Map<string, Promise<void>>();
  function inOrder(deviceId: string, work: () => Promise<void>): Promise<void> {
    const run = (queues.get(deviceId) ?? Promise.resolve()).then(work);
    // The queue goes on after a failed message; the caller sees the failure through `run`.
    const tail = run.catch(() => undefined);
    queues.set(deviceId, tail);
    void tail.then(() => {
      if (queues.get(deviceId) === tail) queues.delete(deviceId);
    });
    return run;
  }

  function guarded(kind: keyof typeof handlers) {
    return (deviceId: string, payload: Uint8Array): Promise<void> =>
      inOrder(deviceId, () => handlers[kind](deviceId, payload)).catch((e: unknown) =>
        opts.onDropped?.(kind, toBmfError(e)),
      );
  }

  async function failureOf(deviceId: string): Promise<Failure | undefined> {
    if (!failures.has(deviceId)) {
      const r = await store.latestInstallFailure(deviceId);
      // A stored row: its bundle is checked as it is read back.
      failures.set(
        deviceId,
        r && isDigest(r.bundle) ? { bundle: r.bundle, code: r.code, at: r.at } : undefined,
      );
    }
    return failures.get(deviceId);
  }

  function view(d: DeviceRecord): DeviceView {
    const hello = hellos.get(d.id);
    const active = activeBundleOf((d.state as DeviceState | null)?.active ?? []);
    return { ...d, ...(hello ? { hello } : {}), ...(active ? { activeBundle: active } : {}) };
  }

  return {
    /** Register the handlers on the controller's MQTT link. */
    attach(link: LinkLike): void {
      for (const kind of Object.keys(handlers) as (keyof typeof handlers)[])
        link.on(kind, guarded(kind));
    },
    /** Direct entry points (same validation), e.g. for a link that routes differently. */
    handle(kind: keyof typeof handlers, deviceId: string, payload: Uint8Array): Promise<void> {
      return guarded(kind)(deviceId, payload);
    },
    /** Broker connect/disconnect callback (startEmbeddedBroker's onPresence). */
    setConnected(deviceId: string, online: boolean): Promise<void> {
      const at = clock.wallNow();
      return inOrder(deviceId, async () => {
        if (await devices.get(deviceId)) await devices.setPresence(deviceId, online, at);
      }).catch((e: unknown) => opts.onDropped?.('presence', toBmfError(e)));
    },
    async observe(deviceIds: readonly string[]): Promise<Map<string, DeviceObservation>> {
      const out = new Map<string, DeviceObservation>();
      for (const id of deviceIds) {
        const d = await devices.get(id);
        if (!d) continue;
        const active = activeBundleOf((d.state as DeviceState | null)?.active ?? []);
        const failure = await failureOf(id);
        out.set(id, {
          online: d.online,
          ...(active ? { activeBundle: active } : {}),
          ...(failure ? { failure } : {}),
        });
      }
      return out;
    },
    async list(): Promise<DeviceView[]> {
      return (await devices.list()).map(view);
    },
    async get(id: string): Promise<DeviceView | undefined> {
      const d = await devices.get(id);
      return d ? view(d) : undefined;
    },
    /** Delete events older than the retention; returns how many. */
    async pruneEvents(): Promise<number> {
      return store.pruneBefore(clock.wallNow() - policy.retentionMs);
    },
    /** Newest first; page with `before` (an event id). */
    async events(
      deviceId: string,
      page: { before?: number; limit?: number } = {},
    ): Promise<DeviceEventRow[]> {
      return store.page(
        deviceId,
        page.before ?? Number.MAX_SAFE_INTEGER,
        Math.min(page.limit ?? 100, 1000),
      );
    },
  };
}
export type DeviceTracker = ReturnType<typeof createDeviceTracker>;
