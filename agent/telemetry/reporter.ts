// Every interval (default 10 s): one TelemetryReport per variant into the persisted outbox, then
// a drain when the broker is reachable. A reconnect drains as well (`flush`).
import type { RuntimeKind } from '../../shared/wire/messages.js';
import type { Clock } from '../clock.js';
import type { TelemetryCollector } from './collector.js';
import { readDeviceStats } from './device-stats.js';
import type { Outbox } from './outbox.js';
import { encodeTelemetryReport } from './report.js';

export interface TelemetryReporterOptions {
  readonly collector: TelemetryCollector;
  readonly outbox: Outbox;
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly deviceId: string;
  readonly stateDir: string;
  readonly runtime: RuntimeKind;
  readonly timingMode: string;
  readonly send: (report: Uint8Array) => Promise<void>;
  readonly isConnected: () => boolean;
}

export interface TelemetryReporter {
  /** Closes the current interval into the outbox and tries to send. */
  tick(): Promise<void>;
  flush(): Promise<void>;
  run(signal: AbortSignal): Promise<void>;
}

export function createTelemetryReporter(o: TelemetryReporterOptions): TelemetryReporter {
  let intervalStart = o.clock.wallNow();
  // Unique across restarts without a counter file: wall-clock milliseconds, then +1 per report.
  let sequence = o.clock.wallNow();

  async function flush(): Promise<void> {
    if (!o.isConnected()) return;
    await o.outbox.drain(o.send).catch(() => undefined); // what is left goes on the next flush
  }

  async function closeInterval(): Promise<void> {
    // Interval bounds and the reports are taken together, before any await.
    const start = intervalStart;
    const end = Math.max(start, o.clock.wallNow());
    intervalStart = end;
    const reports = o.collector.take();
    if (reports.length > 0) {
      const device = await readDeviceStats(o.stateDir);
      for (const r of reports) {
        await o.outbox.enqueue(
          encodeTelemetryReport(r, {
            deviceId: o.deviceId,
            intervalStartMs: start,
            intervalEndMs: end,
            reportSequence: sequence++,
            device,
            runtime: o.runtime,
            timingMode: o.timingMode,
          }),
        );
      }
    }
    await flush();
  }

  // Ticks are serialised so reports enter the outbox in interval order.
  let chain: Promise<unknown> = Promise.resolve();
  function tick(): Promise<void> {
    const run = chain.then(closeInterval);
    chain = run.catch(() => undefined);
    return run;
  }

  return {
    tick,
    flush,
    async run(signal) {
      while (!signal.aborted) {
        await o.clock.sleep(o.intervalMs, signal).catch(() => undefined);
        if (signal.aborted) break;
        await tick().catch(() => undefined);
      }
    },
  };
}
