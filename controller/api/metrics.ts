// The API's own Prometheus figures (requests by route and status, latency), in a registry per
// API instance: several controllers can run in one process (tests, simulation) without sharing
// prom-client's global registry. Device gauges are computed here and rendered by the telemetry
// metrics (one owner per metric name). Every replica serves its own registries, each series
// labelled with the replica (default labels, MetricLabels); what describes the whole fleet is read
// from the store, so every replica reports the same (docs/scaling.md, "Metrics per replica").
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { DeviceRepo } from '../store/devices.js';
import type { RolloutRepo } from '../store/rollouts.js';
import type { StoreMode } from '../store/repository.js';
import { deviceView } from './routes/devices.js';

/** Device gauges for the telemetry metrics (online, devices per active bundle). */
export async function deviceGauges(devices: Pick<DeviceRepo<StoreMode>, 'list'>): Promise<{
  online: number;
  perBundle: Record<string, number>;
}> {
  let online = 0;
  const perBundle: Record<string, number> = {};
  for (const d of await devices.list()) {
    if (d.online) online++;
    for (const b of new Set(deviceView(d).active.map((a) => a.bundle))) {
      perBundle[b] = (perBundle[b] ?? 0) + 1;
    }
  }
  return { online, perBundle };
}

/** Labels every series of one controller carries (`replica`: the lease holder's id). */
export type MetricLabels = Readonly<Record<string, string>>;

export function createApiMetrics(
  opts: { labels?: MetricLabels; rollouts?: Pick<RolloutRepo<StoreMode>, 'list'> } = {},
) {
  const registry = new Registry();
  if (opts.labels) registry.setDefaultLabels({ ...opts.labels });
  const rollouts = opts.rollouts;
  if (rollouts) {
    new Gauge({
      name: 'bmfleet_rollouts',
      help: 'Rollouts by status, as the store holds them (the same on every replica)',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        const n: Record<string, number> = {};
        for (const r of await rollouts.list()) n[r.state.status] = (n[r.state.status] ?? 0) + 1;
        this.reset();
        for (const [status, count] of Object.entries(n)) this.set({ status }, count);
      },
    });
  }
  const requests = new Counter({
    name: 'bmfleet_api_requests_total',
    help: 'REST API requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'bmfleet_api_request_duration_seconds',
    help: 'REST API request duration',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2],
    registers: [registry],
  });
  return {
    registry,
    install(app: FastifyInstance): void {
      app.addHook('onResponse', async (req, reply) => {
        // The route pattern, not the URL: ids would explode the label cardinality.
        const route = req.routeOptions.url ?? 'unknown';
        requests.inc({ method: req.method, route, status: String(reply.statusCode) });
        duration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
      });
    },
    render: () => registry.metrics(),
  };
}
