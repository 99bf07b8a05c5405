// The API's own Prometheus figures (requests by route and status, latency) and the device
// gauges (online, per active bundle), in a registry per API instance: several controllers can
// run in one process (tests, simulation) without sharing prom-client's global registry.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { DeviceRepo } from '../store/devices.js';
import { deviceView } from './routes/devices.js';

export function createApiMetrics(devices: DeviceRepo) {
  const registry = new Registry();
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
  new Gauge({
    name: 'bmfleet_devices',
    help: 'Enrolled devices by presence',
    labelNames: ['online'] as const,
    registers: [registry],
    collect() {
      this.reset();
      let online = 0;
      const all = devices.list();
      for (const d of all) if (d.online) online++;
      this.set({ online: 'true' }, online);
      this.set({ online: 'false' }, all.length - online);
    },
  });
  new Gauge({
    name: 'bmfleet_devices_active_bundle',
    help: 'Devices reporting each bundle as active (any variant)',
    labelNames: ['bundle'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const d of devices.list()) {
        for (const b of new Set(deviceView(d).active.map((a) => a.bundle))) {
          counts.set(b, (counts.get(b) ?? 0) + 1);
        }
      }
      for (const [bundle, n] of counts) this.set({ bundle }, n);
    },
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
