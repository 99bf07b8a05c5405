// Requests no model answered (no bundle to report them under) reach the controller on the next
// report the device sends, as wire failed_before_model; cases as data.
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createManualClock } from '../../../agent/clock.js';
import { createTelemetryCollector } from '../../../agent/telemetry/collector.js';
import { createOutbox } from '../../../agent/telemetry/outbox.js';
import { createTelemetryReporter } from '../../../agent/telemetry/reporter.js';
import type { ErrorCode } from '../../../shared/errors.js';
import { parseDeviceId, parseDigest } from '../../../shared/ids.js';
import type { VariantName } from '../../../shared/ids.js';
import { decodeMessage } from '../../../shared/wire/codec.js';
import type { RequestCounters } from '../../../shared/wire/messages.js';

interface RequestCase {
  readonly variant: VariantName;
  /** One letter, repeated into the digest; null when no model answered. */
  readonly bundle: string | null;
  readonly code: ErrorCode | null;
}
interface IntervalCase {
  readonly requests: readonly RequestCase[];
  readonly reports: readonly {
    readonly variant: string;
    readonly failedBeforeModel: Record<string, RequestCounters>;
  }[];
  readonly waiting: number;
}
const { cases } = JSON.parse(
  readFileSync(
    new URL('../../fixtures/agent/failed-before-model-cases.json', import.meta.url),
    'utf8',
  ),
) as { cases: { name: string; intervals: IntervalCase[] }[] };

for (const c of cases) {
  t.test(c.name, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'bmf-failed-before-model-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const clock = createManualClock();
    const collector = createTelemetryCollector();
    const sent: Uint8Array[] = [];
    const reporter = createTelemetryReporter({
      collector,
      outbox: await createOutbox(join(dir, 'outbox'), 100),
      clock,
      intervalMs: 10_000,
      deviceId: parseDeviceId('dev-1'),
      stateDir: dir,
      runtime: 'sim',
      timingMode: 'host',
      send: async (b) => void sent.push(b),
      isConnected: () => true,
    });
    t.teardown(() => reporter.settle());
    for (const [i, interval] of c.intervals.entries()) {
      for (const r of interval.requests) {
        collector.observer.onRequest?.({
          variant: r.variant,
          bundleDigest: r.bundle === null ? undefined : parseDigest(r.bundle.repeat(64)),
          ok: r.code === null,
          ...(r.code !== null && { errorCode: r.code }),
          serverError: r.code !== null,
          timings: undefined,
        });
      }
      clock.advance(10_000);
      await reporter.tick();
      const reports = sent.splice(0).map((b) => decodeMessage('TelemetryReport', b));
      t.same(
        reports.map((r) => ({ variant: r.variant, failedBeforeModel: r.failedBeforeModel })),
        interval.reports,
        `interval ${i}: reports and what they carried`,
      );
      t.equal(reporter.counts().failedBeforeModel, interval.waiting, `interval ${i}: waiting`);
    }
  });
}
