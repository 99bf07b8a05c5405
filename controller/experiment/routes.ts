// REST routes of experiments, as a fastify plugin the API registers under its one validator
// (controller/api/validation.ts):
//   POST /v1/experiments, GET /v1/experiments, GET /v1/experiments/:id,
//   POST /v1/experiments/:id/start, GET /v1/experiments/:id/analysis,
//   GET /v1/experiments/:id/report (HTML), POST /v1/experiments/:id/promote,
//   POST /v1/experiments/:id/abort, POST /v1/experiments/plan (devices per arm for a cohort
//   experiment).
// GET /experiments/:id/report, the report link earlier releases printed, redirects (308) to its
// /v1 path. Errors are thrown as BmfError; the API's error handler maps them to HTTP.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { responses } from '../api/schemas.js';
import type { Analysis } from './analyze.js';
import { ExperimentSpecSchema } from './model.js';
import { PlanRequestSchema, type CohortPlan } from './plan.js';
import { renderExperimentReport } from './report.js';
import type { ExperimentRecord, ExperimentService } from './service.js';

export const ExperimentIdParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
/** The body is optional: `{}` or none aborts with the default reason. */
export const AbortBody = Type.Union([
  Type.Object(
    { reason: Type.Optional(Type.String({ maxLength: 500 })) },
    { additionalProperties: false },
  ),
  Type.Null(),
  Type.Undefined(),
]);

/**
 * Response schemas. Records, analyses and plans are the experiment service's own types (model.ts,
 * analyze.ts, plan.ts): each schema names the top-level fields every answer has (the serializer
 * refuses an answer without them) and passes the nested statistics as the service built them.
 * Typed as the service's type, so the client's types (controller/api/client.ts) are these.
 */
function answerOf<T>(title: string, required: readonly (keyof T & string)[]) {
  return Type.Unsafe<T>({
    type: 'object',
    title,
    required: [...required],
    additionalProperties: true,
  });
}
export const ExperimentRecordView = answerOf<ExperimentRecord>('ExperimentRecord', [
  'spec',
  'state',
]);
export const ExperimentList = Type.Object({ experiments: Type.Array(ExperimentRecordView) });
export const AnalysisView = answerOf<Analysis>('Analysis', [
  'experimentId',
  'at',
  'status',
  'allocation',
  'bundles',
  'alpha',
  'samples',
  'failures',
  'metrics',
  'overall',
  'guardrails',
  'groups',
  'cdf',
  'timeline',
  'alwaysValidP',
]);
export const PromotedView = answerOf<ExperimentRecord & { analysis: Analysis }>('Promoted', [
  'spec',
  'state',
  'analysis',
]);
export const CohortPlanView = answerOf<CohortPlan>('CohortPlan', [
  'metric',
  'alpha',
  'power',
  'mde',
  'inputs',
  'devicesPerArm',
  'notes',
]);
export const ReportHtml = Type.String({ description: 'the HTML report (text/html)' });

export function experimentRoutes(
  app: FastifyInstance,
  deps: { experiments: ExperimentService },
): void {
  const svc = deps.experiments;
  const tags = ['experiments'];
  const params = ExperimentIdParams;
  type IdReq = { Params: Static<typeof ExperimentIdParams> };
  // The service parses the body again (parseExperimentSpec) so the CLI's local path gets the
  // same error; over HTTP the schema here refuses it first with the field named.
  app.post(
    '/v1/experiments',
    {
      schema: {
        tags,
        body: ExperimentSpecSchema,
        response: responses({ 201: ExperimentRecordView }),
      },
    },
    async (req, reply) => {
      reply.code(201);
      return svc.create(req.body);
    },
  );
  app.post(
    '/v1/experiments/plan',
    { schema: { tags, body: PlanRequestSchema, response: responses({ 200: CohortPlanView }) } },
    async (req) => svc.plan(req.body),
  );
  app.get(
    '/v1/experiments',
    { schema: { tags, response: responses({ 200: ExperimentList }) } },
    async () => ({ experiments: await svc.list() }),
  );
  app.get<IdReq>(
    '/v1/experiments/:id',
    { schema: { tags, params, response: responses({ 200: ExperimentRecordView }) } },
    async (req) => svc.get(req.params.id),
  );
  app.post<IdReq>(
    '/v1/experiments/:id/start',
    { schema: { tags, params, response: responses({ 200: ExperimentRecordView }) } },
    async (req) => svc.start(req.params.id),
  );
  app.get<IdReq>(
    '/v1/experiments/:id/analysis',
    { schema: { tags, params, response: responses({ 200: AnalysisView }) } },
    async (req) => svc.analyze(req.params.id),
  );
  app.get<IdReq>(
    '/v1/experiments/:id/report',
    { schema: { tags, params, response: responses({ 200: ReportHtml }) } },
    async (req, reply) => {
      const html = renderExperimentReport(await svc.analyze(req.params.id));
      return reply.type('text/html; charset=utf-8').send(html);
    },
  );
  app.get<IdReq>(
    '/experiments/:id/report',
    {
      schema: {
        tags,
        params,
        summary: 'Moved to /v1/experiments/:id/report',
        response: responses({}),
      },
    },
    async (req, reply) =>
      reply.redirect(`/v1/experiments/${encodeURIComponent(req.params.id)}/report`, 308),
  );
  app.post<IdReq>(
    '/v1/experiments/:id/promote',
    { schema: { tags, params, response: responses({ 200: PromotedView }) } },
    async (req) => {
      const r = await svc.promote(req.params.id);
      return { spec: r.spec, state: r.state, analysis: r.analysis };
    },
  );
  app.post<IdReq & { Body: Static<typeof AbortBody> }>(
    '/v1/experiments/:id/abort',
    {
      schema: { tags, params, body: AbortBody, response: responses({ 200: ExperimentRecordView }) },
    },
    async (req) => svc.abort(req.params.id, req.body?.reason),
  );
}
