// Every interval (default 10 s): one TelemetryReport per variant into the persisted outbox, then
// a drain when the broker is reachable. A reconnect drains as well (`flush`). At a clean stop
// `close` closes the interval under way the same way, so the next start sends what it counted;
// a crash loses at most that interval (requests no model answered: waiting-counts.ts).
import type { DeviceStats, RuntimeKind } from '../../shared/wire/messages.js';
import type { Clock } from '../clock.js';
import type { RuntimeDeviceStat } from '../runtime/types.js';
import {
  addRequestCounters,
  emptyRequestCounters,
  type TelemetryCollector,
  type VariantReport,
} from './collector.js';
import { readDeviceStats } from './device-stats.js';
import type { Outbox } from './outbox.js';
import { encodeTelemetryReport } from './report.js';
import type { WaitingCounts, WaitingCountsFile } from './waiting-counts.js';
import type { DeviceId } from '../../shared/ids.js';

export interface TelemetryReporterOptions {
  readonly collector: TelemetryCollector;
  readonly outbox: Outbox;
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly deviceId: DeviceId;
  readonly stateDir: string;
  readonly runtime: RuntimeKind;
  readonly timingMode: string;
  readonly send: (report: Uint8Array) => Promise<void>;
  /** TPU figures from the runtime (bmrt's bm_get_stat), read at every report. */
  readonly runtimeDeviceStat?: () => RuntimeDeviceStat | undefined;
  readonly isConnected: () => boolean;
  /** Requests no model answered that the last run left waiting, and the file that keeps them. */
  readonly waiting?: { readonly restored: WaitingCounts; readonly file: WaitingCountsFile };
}

export interface TelemetryReporter {
  /** Closes the current interval into the outbox and tries to send. */
  tick(): Promise<void>;
  flush(): Promise<void>;
  run(signal: AbortSignal): Promise<void>;
  /**
   * At stop, once nothing is served any more: closes the interval under way into the outbox
   * (and what waits into its file), then tries to send. Ticks after it do nothing.
   */
  close(): Promise<void>;
  /** Waits for a background device-stats refresh (shutdown). */
  settle(): Promise<void>;
  /**
   * Reports made by this reporter so far, how many still wait in the outbox, and the requests
   * that failed before any model answered them and wait for a report to carry them.
   */
  counts(): { readonly made: number; readonly pending: number; readonly failedBeforeModel: number };
}

const FIRST_READ_WAIT_MS = 2000;

async function waitAtMost(p: Promise<void> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  await Promise.race([p, bound]);
  clearTimeout(timer);
}

export function createTelemetryReporter(o: TelemetryReporterOptions): TelemetryReporter {
  let intervalStart = o.clock.wallNow();
  // systeminformation can take a second or more on a busy board (it runs df, reads sensors):
  // reports use the latest figures and a refresh runs in the background, never in a tick's way.
  let device: DeviceStats = {
    cpuPercent: 0,
    memUsedBytes: 0,
    memTotalBytes: 0,
    diskUsedBytes: 0,
    diskTotalBytes: 0,
    agentRssBytes: process.memoryUsage().rss,
  };
  let refreshing: Promise<void> | undefined;
  function refreshDevice(): void {
    refreshing ??= readDeviceStats(o.stateDir)
      .then(
        (d) => void (device = d),
        () => undefined,
      )
      .finally(() => {
        refreshing = undefined;
      });
  }
  // Reports exist only for variants that served, so the first read waits for the first report
  // (an agent with nothing to report does not load systeminformation). That one read is awaited,
  // for at most FIRST_READ_WAIT_MS of real time, so the first report carries real figures too.
  let firstRead = true;
  // Unique across restarts without a counter file: wall-clock milliseconds, then +1 per report.
  let sequence = o.clock.wallNow();
  let made = 0;
  let failedBeforeModel: WaitingCounts = structuredClone(o.waiting?.restored ?? {});
  function takeFailedBeforeModel(): WaitingCounts | undefined {
    if (Object.keys(failedBeforeModel).length === 0) return undefined;
    const taken = failedBeforeModel;
    failedBeforeModel = {};
    return taken;
  }
  function putBack(carried: WaitingCounts): void {
    for (const [variant, c] of Object.entries(carried)) {
      addRequestCounters((failedBeforeModel[variant] ??= emptyRequestCounters()), c);
    }
  }
  async function keepWaiting(): Promise<void> {
    // They stay in memory when the write fails; only a restart before the next write loses them.
    await o.waiting?.file.save(failedBeforeModel).catch(() => undefined);
  }
  let closed = false;

  function withTpu(d: DeviceStats): DeviceStats {
    let tpu: RuntimeDeviceStat | undefined;
    try {
      tpu = o.runtimeDeviceStat?.();
    } catch {
      tpu = undefined; // a failing bm_get_stat leaves the report without TPU figures
    }
    if (!tpu) return d;
    return {
      ...d,
      tpuPercent: tpu.tpuUtilPercent,
      tpuMemUsedBytes: tpu.memUsedMiB * 2 ** 20,
      tpuMemTotalBytes: tpu.memTotalMiB * 2 ** 20,
    };
  }

  async function flush(): Promise<void> {
    if (!o.isConnected()) return;
    await o.outbox.drain(o.send).catch(() => undefined); // what is left goes on the next flush
  }

  async function closeInterval(): Promise<void> {
    // Interval bounds and the reports are taken together, before any await.
    const start = intervalStart;
    const end = Math.max(start, o.clock.wallNow());
    intervalStart = end;
    // A report names the bundle that served; one without (a variant whose requests all failed
    // before a model answered) cannot go out as a report of its own, and must not stop the
    // others going out. Its requests are still failures users saw: they wait in
    // `failedBeforeModel` for the next report, which carries them (wire failed_before_model).
    const reports: VariantReport[] = [];
    let moreWaiting = false;
    for (const r of o.collector.take()) {
      if (r.bundleDigest !== undefined) reports.push(r);
      else if (r.counters.requests > 0) {
        addRequestCounters((failedBeforeModel[r.variant] ??= emptyRequestCounters()), r.counters);
        moreWaiting = true;
      }
    }
    if (reports.length === 0 && moreWaiting) await keepWaiting();
    if (reports.length > 0) {
      refreshDevice();
      if (firstRead) {
        firstRead = false;
        // Not at stop: the stop budget is for the report, not for a first device read.
        if (!closed) await waitAtMost(refreshing, FIRST_READ_WAIT_MS);
      }
      for (const r of reports) {
        // Taken before the await: a tick never runs concurrently (chain), but keep it obvious.
        const carried = takeFailedBeforeModel();
        // Their file goes before the report that carries them is written: a crash in between
        // loses them, and none is ever sent twice.
        if (carried) await keepWaiting();
        try {
          await o.outbox.enqueue(
            encodeTelemetryReport(r, {
              ...(carried && { failedBeforeModel: carried }),
              deviceId: o.deviceId,
              intervalStartMs: start,
              intervalEndMs: end,
              reportSequence: sequence++,
              device: withTpu(device),
              runtime: o.runtime,
              timingMode: o.timingMode,
            }),
          );
        } catch (e) {
          if (carried) {
            putBack(carried);
            await keepWaiting();
          }
          throw e;
        }
        made += 1;
      }
    }
    await flush();
  }

  // Ticks are serialised so reports enter the outbox in interval order.
  let chain: Promise<unknown> = Promise.resolve();
  function serialised(work: () => Promise<void>): Promise<void> {
    const run = chain.then(work);
    chain = run.catch(() => undefined);
    return run;
  }
  const tick = (): Promise<void> =>
    serialised(() => (closed ? Promise.resolve() : closeInterval()));

  return {
    tick,
    flush,
    close() {
      closed = true;
      return serialised(closeInterval);
    },
    settle: async () => {
      await refreshing;
    },
    counts: () => ({
      made,
      pending: o.outbox.size(),
      failedBeforeModel: Object.values(failedBeforeModel).reduce((n, c) => n + c.requests, 0),
    }),
    async run(signal) {
      while (!signal.aborted) {
        await o.clock.sleep(o.intervalMs, signal).catch(() => undefined);
        if (signal.aborted) break;
        await tick().catch(() => undefined);
      }
    },
  };
}
