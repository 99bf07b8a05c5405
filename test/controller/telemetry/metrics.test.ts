// The Prometheus text: per model version and variant, from the service's own registry.
import t from 'tap';
import { register as globalRegistry } from 'prom-client';
import { BUNDLE_A, BUNDLE_B, encodeReport } from '../../../harness/controller/telemetry-reports.js';
import { openTelemetry } from './harness.js';

t.test('metrics text holds the expected series', async (t) => {
  const now = 1_700_000_000_000;
  const info: Record<string, { model: string; version: string; precision: string }> = {
    [BUNDLE_A]: { model: 'fmnist', version: '3', precision: 'fp32' },
    [BUNDLE_B]: { model: 'fmnist', version: '3', precision: 'int8' },
  };
  const { service } = openTelemetry(t, now, {
    bundleInfo: (d) => info[d],
    deviceGauges: () => ({ online: 7, perBundle: { [BUNDLE_A]: 4, [BUNDLE_B]: 3 } }),
  });
  service.ingest(
    'dev-1',
    encodeReport({
      deviceId: 'dev-1',
      intervalStartMs: now - 30_000,
      latency: { e2e: [10, 20, 30], infer: [5, 6, 7] },
      errors: 1,
      golden: [8, 10],
    }),
  );
  service.ingest(
    'dev-2',
    encodeReport({
      deviceId: 'dev-2',
      intervalStartMs: now - 30_000,
      bundleDigest: BUNDLE_B,
      variant: 'B',
      latency: { e2e: [4, 4] },
      shadow: { pairs: 4, agree: 3 },
      feedback: [1, 2],
    }),
  );
  service.ingest(
    'dev-3',
    encodeReport({ deviceId: 'dev-3', intervalStartMs: now - 30_000 }).subarray(0, 10),
  );
  // An old report outside the gauge window counts in the totals but not in the quantiles.
  service.ingest(
    'dev-4',
    encodeReport({ deviceId: 'dev-4', intervalStartMs: now - 3_600_000, latency: { e2e: [1000] } }),
  );
  const text = await service.renderMetrics();
  const a = 'bundle="aaaaaaaaaaaa",model="fmnist",version="3",precision="fp32",variant="A"';
  const b = 'bundle="bbbbbbbbbbbb",model="fmnist",version="3",precision="int8",variant="B"';
  const expected = [
    `bmfleet_model_requests_total{${a}} 5`,
    `bmfleet_model_errors_total{${a}} 1`,
    `bmfleet_model_requests_total{${b}} 2`,
    `bmfleet_model_latency_ms{${a},stage="infer",quantile="0.5"}`,
    `bmfleet_model_latency_ms{${b},stage="e2e",quantile="0.99"}`,
    `bmfleet_model_accuracy{${a},kind="golden"} 0.8`,
    `bmfleet_model_accuracy{${b},kind="shadow_agreement"} 0.75`,
    `bmfleet_model_accuracy{${b},kind="feedback"} 0.5`,
    'bmfleet_telemetry_reports_total{result="accepted"} 3',
    'bmfleet_telemetry_dropped_total{reason="malformed"} 1',
    'bmfleet_devices_online 7',
    'bmfleet_devices_bundle{bundle="bbbbbbbbbbbb",model="fmnist",version="3",precision="int8"} 3',
  ];
  for (const line of expected) t.ok(text.includes(line), line);
  const p99 = /bmfleet_model_latency_ms\{[^}]*variant="A",stage="e2e",quantile="0.99"\} (\S+)/.exec(
    text,
  );
  t.ok(
    // rank floor(0.99 * (3 - 1)) of [10, 20, 30]; with the old 1000 ms it would be 30
    p99 && Math.abs(Number(p99[1]) - 20) / 20 < 0.01,
    `e2e p99 over the window ${p99?.[1]} ~ 20 (the old report is outside)`,
  );
  t.equal(
    service.metricsRegistry().getSingleMetric('bmfleet_model_requests_total') !== undefined,
    true,
  );
  t.notOk((await globalRegistry.metrics()).includes('bmfleet_'), 'nothing on the global registry');
  t.match(service.metricsContentType(), /text\/plain/);
});
