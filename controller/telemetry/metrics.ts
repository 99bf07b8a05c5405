// Prometheus exposition of the merged telemetry, on a Registry owned by one service (several
// controllers may share a process in tests). Series are computed at scrape time from the
// service's in-memory totals and its recent window, so labels use the bundle info known *now*
// (a bundle registered after its first report still gets its model/version labels).
import { Counter, Gauge, Registry } from 'prom-client';
import type { Rollup } from './rollup.js';

export interface BundleInfo {
  readonly model: string;
  readonly version: string;
  readonly precision: string;
}

export interface DeviceGauges {
  readonly online: number;
  /** Bundle digest -> devices running it. */
  readonly perBundle: Readonly<Record<string, number>>;
}

export interface SeriesTotals {
  readonly bundle: string;
  readonly variant: string;
  readonly requests: number;
  readonly errors: number;
}

export interface MetricsSource {
  totals(): Iterable<SeriesTotals>;
  /** Merged rollups of the recent window, per bundle and variant. */
  recent(): Iterable<{
    readonly bundle: string;
    readonly variant: string;
    readonly rollup: Rollup;
  }>;
  reports(): { readonly accepted: number; readonly duplicate: number };
  dropped(): Readonly<Record<string, number>>;
  readonly bundleInfo?: (digest: string) => BundleInfo | undefined;
  readonly deviceGauges?: () => DeviceGauges | Promise<DeviceGauges>;
  /** Labels on every series (the replica id). */
  readonly labels?: Readonly<Record<string, string>>;
}

const MODEL_LABELS = ['bundle', 'model', 'version', 'precision'] as const;
const SERIES_LABELS = [...MODEL_LABELS, 'variant'] as const;
const QUANTILES = [0.5, 0.95, 0.99] as const;

export function createTelemetryMetrics(src: MetricsSource): Registry {
  const registry = new Registry();
  if (src.labels) registry.setDefaultLabels({ ...src.labels });
  const modelLabels = (digest: string) => {
    const info = src.bundleInfo?.(digest);
    return {
      bundle: digest.slice(0, 12),
      model: info?.model ?? '',
      version: info?.version ?? '',
      precision: info?.precision ?? '',
    };
  };

  new Counter({
    name: 'bmfleet_model_requests_total',
    help: 'Inference requests reported by devices, per model version and variant',
    labelNames: SERIES_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const t of src.totals()) {
        this.inc({ ...modelLabels(t.bundle), variant: t.variant }, t.requests);
      }
    },
  });
  new Counter({
    name: 'bmfleet_model_errors_total',
    help: 'Failed inference requests reported by devices, per model version and variant',
    labelNames: SERIES_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const t of src.totals()) {
        this.inc({ ...modelLabels(t.bundle), variant: t.variant }, t.errors);
      }
    },
  });
  new Gauge({
    name: 'bmfleet_model_latency_ms',
    help: 'Latency quantiles per stage over the recent window (merged DDSketches, 0.5% accuracy)',
    labelNames: [...SERIES_LABELS, 'stage', 'quantile'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { bundle, variant, rollup } of src.recent()) {
        for (const [stage, sketch] of rollup.sketches) {
          if (sketch.count === 0) continue;
          for (const q of QUANTILES) {
            this.set(
              { ...modelLabels(bundle), variant, stage, quantile: String(q) },
              sketch.quantile(q),
            );
          }
        }
      }
    },
  });
  new Gauge({
    name: 'bmfleet_model_accuracy',
    help: 'Accuracy over the recent window: golden set, shadow top-1 agreement, feedback labels',
    labelNames: [...SERIES_LABELS, 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { bundle, variant, rollup } of src.recent()) {
        const c = rollup.counters;
        const labels = { ...modelLabels(bundle), variant };
        const kinds: [string, number, number][] = [
          ['golden', c.goldenCorrect, c.goldenTotal],
          ['shadow_agreement', c.shadow.top1Agree, c.shadow.pairs],
          ['feedback', c.feedbackCorrect, c.feedbackTotal],
        ];
        for (const [kind, good, total] of kinds) {
          if (total > 0) this.set({ ...labels, kind }, good / total);
        }
      }
    },
  });
  new Counter({
    name: 'bmfleet_telemetry_reports_total',
    help: 'Telemetry reports received: accepted, or duplicate (QoS 1 redelivery, counted once)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      const r = src.reports();
      this.inc({ result: 'accepted' }, r.accepted);
      this.inc({ result: 'duplicate' }, r.duplicate);
    },
  });
  new Counter({
    name: 'bmfleet_telemetry_dropped_total',
    help: 'Telemetry reports dropped: malformed, oversized, wrong device, out of time range',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(src.dropped())) this.inc({ reason }, n);
    },
  });
  if (src.deviceGauges) {
    const gauges = src.deviceGauges;
    new Gauge({
      name: 'bmfleet_devices_online',
      help: 'Devices connected to the broker',
      registers: [registry],
      async collect() {
        this.set((await gauges()).online);
      },
    });
    new Gauge({
      name: 'bmfleet_devices_bundle',
      help: 'Devices running each bundle',
      labelNames: MODEL_LABELS,
      registers: [registry],
      async collect() {
        const { perBundle } = await gauges();
        this.reset();
        for (const [digest, n] of Object.entries(perBundle)) {
          this.set(modelLabels(digest), n);
        }
      },
    });
  }
  return registry;
}
