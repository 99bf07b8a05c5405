// The file that keeps requests no model answered across restarts: round trip, removal when
// nothing waits, and files that are not ours refused with the catalogue's code.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { createManualClock } from '../../../agent/clock.js';
import { createTelemetryCollector } from '../../../agent/telemetry/collector.js';
import { createOutbox } from '../../../agent/telemetry/outbox.js';
import { createTelemetryReporter } from '../../../agent/telemetry/reporter.js';
import { createWaitingCountsFile } from '../../../agent/telemetry/waiting-counts.js';
import { parseDeviceId, parseDigest } from '../../../shared/ids.js';
import { decodeMessage } from '../../../shared/wire/codec.js';

async function fileIn(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'bmf-waiting-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return { dir, path: join(dir, 'failed-before-model.json') };
}

const B = {
  requests: 3,
  errors: 3,
  errorsByCode: { BMF_ERR_AGENT_NOT_READY: 3 },
  shadowRequests: 0,
};

t.test('round trip; nothing waiting removes the file', async (t) => {
  const { dir, path } = await fileIn(t);
  const f = createWaitingCountsFile(path);
  t.same(await f.load(), {}, 'no file: nothing waits');
  await f.save({ B });
  t.same(await f.load(), { B });
  await f.save({});
  t.same(await readdir(dir), [], 'removed, no temp file left');
  await f.save({});
  t.same(await f.load(), {}, 'removing twice is fine');
});

const refused: [string, string][] = [
  ['not JSON', '{"version":1,'],
  ['another version', JSON.stringify({ version: 2, variants: {} })],
  ['a variant that does not exist', JSON.stringify({ version: 1, variants: { C: B } })],
  [
    'more errors than requests',
    JSON.stringify({ version: 1, variants: { B: { ...B, errors: 4 } } }),
  ],
  ['a negative count', JSON.stringify({ version: 1, variants: { A: { ...B, requests: -1 } } })],
  [
    'a code off the pattern',
    JSON.stringify({ version: 1, variants: { A: { ...B, errorsByCode: { 'x y': 1 } } } }),
  ],
  ['too large', ' '.repeat(64 * 1024 + 1)],
];
for (const [name, text] of refused) {
  t.test(`refused: ${name}`, async (t) => {
    const { path } = await fileIn(t);
    await writeFile(path, text);
    await t.rejects(createWaitingCountsFile(path).load(), { code: 'BMF_ERR_AGENT_STORE' });
  });
}

t.test(
  'closed at stop without a broker, a reporter leaves its report and what waits to the next life',
  async (t) => {
    const { dir, path } = await fileIn(t);
    const clock = createManualClock();
    const sent: Uint8Array[] = [];
    async function lifeOf(connected: boolean) {
      const file = createWaitingCountsFile(path);
      const collector = createTelemetryCollector();
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
        isConnected: () => connected,
        waiting: { restored: await file.load(), file },
      });
      t.teardown(() => reporter.settle());
      return { collector, reporter };
    }
    const request = (bundle: string | undefined) => ({
      variant: 'B' as const,
      bundleDigest: bundle === undefined ? undefined : parseDigest(bundle.repeat(64)),
      ok: bundle !== undefined,
      ...(bundle === undefined && { errorCode: 'BMF_ERR_AGENT_NOT_READY' as const }),
      serverError: bundle === undefined,
      timings: undefined,
    });

    const one = await lifeOf(true);
    for (let i = 0; i < 3; i++) one.collector.observer.onRequest?.(request(undefined));
    await one.reporter.close();
    t.same(sent, [], 'no report: nothing served a model');
    await one.reporter.tick();
    t.equal(one.reporter.counts().made, 0, 'a tick after close does nothing');

    // The broker is gone when the second life stops: its report stays in the outbox.
    const two = await lifeOf(false);
    t.equal(two.reporter.counts().failedBeforeModel, 3, 'restored');
    two.collector.observer.onRequest?.(request('b'));
    await two.reporter.close();
    t.same(sent, [], 'nothing sent without a broker');
    t.equal(two.reporter.counts().pending, 1, 'the stop report waits in the outbox');

    const three = await lifeOf(true);
    t.equal(three.reporter.counts().failedBeforeModel, 0, 'nothing waits in a third life');
    await three.reporter.flush(); // what a connect does
    const reports = sent.splice(0).map((b) => decodeMessage('TelemetryReport', b));
    t.same(
      reports.map((r) => [r.counters.requests, r.failedBeforeModel]),
      [[1, { B: { ...B } }]],
      'the next start sends the stop report: the served request and the restored ones',
    );
    await three.reporter.close();
    t.same(sent, [], 'and nothing is sent again');
  },
);
