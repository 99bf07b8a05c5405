// REST routes of experiments, as a fastify plugin the API registers:
//   POST /experiments, GET /experiments, GET /experiments/:id, POST /experiments/:id/start,
//   GET /experiments/:id/analysis, GET /experiments/:id/report (HTML),
//   POST /experiments/:id/promote, POST /experiments/:id/abort,
//   POST /experiments/plan (devices per arm for a cohort experiment).
// Errors are thrown as BmfError; the API's error handler maps them to HTTP.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ExperimentSpecSchema } from './model.js';
import { PlanRequestSchema } from './plan.js';
import { renderExperimentReport } from './report.js';
import type { ExperimentService } from './service.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const AbortBody = Type.Optional(
  Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }),
);

export function experimentRoutes(
  app: FastifyInstance,
  deps: { experiments: ExperimentService },
): void {
  const svc = deps.experiments;
  const tags = ['experiments'];
  type IdReq = { Params: { id: string } };
  // The body is validated by the service (parseExperimentSpec) so CLI and HTTP get the same error.
  app.post('/experiments', { schema: { tags, body: ExperimentSpecSchema } }, async (req, reply) => {
    reply.code(201);
    return svc.create(req.body);
  });
  app.post('/experiments/plan', { schema: { tags, body: PlanRequestSchema } }, async (req) =>
    svc.plan(req.body),
  );
  app.get('/experiments', { schema: { tags } }, async () => ({ experiments: svc.list() }));
  app.get<IdReq>('/experiments/:id', { schema: { tags, params: IdParams } }, async (req) =>
    svc.get(req.params.id),
  );
  app.post<IdReq>('/experiments/:id/start', { schema: { tags, params: IdParams } }, async (req) =>
    svc.start(req.params.id),
  );
  app.get<IdReq>('/experiments/:id/analysis', { schema: { tags, params: IdParams } }, async (req) =>
    svc.analyze(req.params.id),
  );
  app.get<IdReq>(
    '/experiments/:id/report',
    { schema: { tags, params: IdParams } },
    async (req, reply) => {
      const html = renderExperimentReport(await svc.analyze(req.params.id));
      return reply.type('text/html; charset=utf-8').send(html);
    },
  );
  app.post<IdReq>(
    '/experiments/:id/promote',
    { schema: { tags, params: IdParams } },
    async (req) => {
      const r = await svc.promote(req.params.id);
      return { spec: r.spec, state: r.state, analysis: r.analysis };
    },
  );
  app.post<IdReq & { Body: { reason?: string } | undefined }>(
    '/experiments/:id/abort',
    { schema: { tags, params: IdParams, body: AbortBody } },
    async (req) => svc.abort(req.params.id, req.body?.reason),
  );
}
