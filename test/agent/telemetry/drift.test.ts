import t from 'tap';
import { createTelemetryCollector } from '../../../agent/telemetry/collector.js';
import { makeTensor } from '../../../shared/tensor.js';
import { parseDigest } from '../../../shared/ids.js';

t.test('preprocessed inputs become per-variant, per-channel drift moments', async (t) => {
  const c = createTelemetryCollector();
  const rgb = (v: number) => makeTensor('float32', [1, 3, 2, 2], new Float32Array(12).fill(v));
  c.observer.onInput?.({
    variant: 'A',
    bundleDigest: parseDigest('e'.repeat(64)),
    feeds: { input: rgb(1) },
    channelFormat: 'nchw',
  });
  c.observer.onInput?.({
    variant: 'A',
    bundleDigest: parseDigest('e'.repeat(64)),
    feeds: { input: rgb(3) },
    channelFormat: 'nchw',
  });
  c.observer.onInput?.({
    variant: 'B',
    bundleDigest: parseDigest('f'.repeat(64)),
    feeds: { input: rgb(5) },
    channelFormat: 'nchw',
  });
  const reports = c.take();
  const a = reports.find((r) => r.variant === 'A');
  t.equal(a?.drift.length, 3, 'three channels');
  t.same(
    a?.drift.map((m) => [m.channel, m.count, m.sum, m.min, m.max]),
    [
      [0, 8, 16, 1, 3],
      [1, 8, 16, 1, 3],
      [2, 8, 16, 1, 3],
    ],
  );
  t.equal(reports.find((r) => r.variant === 'B')?.drift[0]?.sum, 20);
  t.same(c.take(), [], 'a new interval starts empty');
});
