// Probes and Prometheus: /healthz (the process answers), /readyz (every part started),
// /metrics (telemetry figures + device gauges + API request figures; operator token required).
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { bmfError } from '../../../shared/errors.js';
import { responses } from '../schemas.js';
import type { ApiServices } from '../services.js';

const Status = Type.Object({ status: Type.String() });

export function healthRoutes(
  app: FastifyInstance,
  s: ApiServices,
  renderApiMetrics: () => Promise<string>,
): void {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: { summary: 'Liveness', tags: ['health'], response: responses({ 200: Status }) },
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: { summary: 'Readiness', tags: ['health'], response: responses({ 200: Status }) },
    },
    async () => {
      if (s.ready && !s.ready()) throw bmfError('BMF_ERR_ABORTED', { reason: 'starting' });
      return { status: 'ready' };
    },
  );
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format 0.0.4)',
        tags: ['health'],
        response: responses({ 200: Type.String() }),
      },
    },
    async (_req, reply) => {
      const parts = await Promise.all([
        s.telemetry.renderMetrics(),
        renderApiMetrics(),
        s.moreMetrics?.() ?? '',
      ]);
      return reply.type('text/plain; version=0.0.4; charset=utf-8').send(
        `${parts
          .map((p) => p.trimEnd())
          .filter((p) => p !== '')
          .join('\n')}\n`,
      );
    },
  );
}
