// Prometheus metrics of one agent's serving path. Each agent gets its own prom-client Registry
// (several agents share a process in fleet simulation; the global registry would mix them).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LATENCY_STAGES } from '../../shared/wire/messages.js';
import type { RuntimeDeviceStat } from '../runtime/types.js';
import type { ServeObserver } from './observe.js';

export interface ServeMetrics {
  readonly registry: Registry;
  readonly observer: ServeObserver;
}

const STAGE_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function createServeMetrics(
  labels: Readonly<Record<string, string>> = {},
  runtimeDeviceStat?: () => RuntimeDeviceStat | undefined,
): ServeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ ...labels });
  if (runtimeDeviceStat) registerDeviceGauges(registry, runtimeDeviceStat);
  const requests = new Counter({
    name: 'bmf_agent_requests_total',
    help: 'Inference requests by variant, bundle and outcome',
    labelNames: ['variant', 'bundle', 'outcome', 'code'],
    registers: [registry],
  });
  const stages = new Histogram({
    name: 'bmf_agent_stage_seconds',
    help: 'Per-stage latency of successful requests',
    labelNames: ['variant', 'stage'],
    buckets: STAGE_BUCKETS_S,
    registers: [registry],
  });
  const shadow = new Counter({
    name: 'bmf_agent_shadow_total',
    help: 'Shadow comparisons by top-1 agreement',
    labelNames: ['shadow', 'agree'],
    registers: [registry],
  });
  const feedback = new Counter({
    name: 'bmf_agent_feedback_total',
    help: 'Ground-truth feedback by correctness',
    labelNames: ['variant', 'correct'],
    registers: [registry],
  });
  const matches = new Counter({
    name: 'bmf_agent_detection_matches_total',
    help: 'Detections scored by ground-truth boxes at IoU 0.5: tp, fp, fn',
    labelNames: ['variant', 'outcome'],
    registers: [registry],
  });
  const events = new Counter({
    name: 'bmf_agent_model_events_total',
    help: 'Activations, gate failures, health verdicts and rollbacks',
    labelNames: ['variant', 'kind'],
    registers: [registry],
  });
  const active = new Gauge({
    name: 'bmf_agent_active_model',
    help: '1 for the bundle each variant serves',
    labelNames: ['variant', 'bundle'],
    registers: [registry],
  });
  const serving = new Map<string, string>();
  const observer: ServeObserver = {
    onRequest(r) {
      requests.inc({
        variant: r.variant,
        bundle: r.bundleDigest ?? '',
        outcome: r.ok ? 'ok' : 'error',
        code: r.errorCode ?? '',
      });
      if (r.timings) {
        // The stage names of telemetry and the experiment report (LATENCY_STAGES): one name for
        // the whole request, e2e (timings.e2eMs), from the timer to the report.
        for (const stage of LATENCY_STAGES) {
          stages.observe({ variant: r.variant, stage }, r.timings[`${stage}Ms`] / 1000);
        }
      }
    },
    onShadow(s) {
      shadow.inc({ shadow: s.shadow, agree: String(s.top1Agree ?? 'failed') });
    },
    onFeedback(f) {
      feedback.inc({ variant: f.variant, correct: String(f.correct) });
    },
    onDetectionFeedback(f) {
      matches.inc({ variant: f.variant, outcome: 'tp' }, f.tp);
      matches.inc({ variant: f.variant, outcome: 'fp' }, f.fp);
      matches.inc({ variant: f.variant, outcome: 'fn' }, f.fn);
    },
    onEvent(e) {
      events.inc({ variant: e.variant, kind: e.kind });
      if (e.kind === 'activated') {
        const before = serving.get(e.variant);
        if (before !== undefined) active.remove({ variant: e.variant, bundle: before });
        serving.set(e.variant, e.bundleDigest);
        active.set({ variant: e.variant, bundle: e.bundleDigest }, 1);
      }
    },
  };
  return { registry, observer };
}

/** TPU figures (bmrt: bm_get_stat), read when /metrics is scraped. */
function registerDeviceGauges(registry: Registry, read: () => RuntimeDeviceStat | undefined): void {
  let last: RuntimeDeviceStat | undefined;
  const gauge = (name: string, help: string, pick: (s: RuntimeDeviceStat) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        // One bm_get_stat per scrape: the first gauge collected reads, the others reuse it.
        if (name === 'bmf_agent_tpu_util_percent') {
          try {
            last = read();
          } catch {
            last = undefined;
          }
        }
        if (last) this.set(pick(last));
      },
    });
  };
  gauge(
    'bmf_agent_tpu_util_percent',
    'TPU utilisation since the previous scrape',
    (s) => s.tpuUtilPercent,
  );
  gauge(
    'bmf_agent_tpu_memory_used_bytes',
    'TPU device memory in use',
    (s) => s.memUsedMiB * 2 ** 20,
  );
  gauge('bmf_agent_tpu_memory_total_bytes', 'TPU device memory', (s) => s.memTotalMiB * 2 ** 20);
}
