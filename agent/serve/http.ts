// The local inference API (fastify; 127.0.0.1 by default so only apps on the board reach it):
// POST /v1/infer (image bytes, a JSON tensor or one raw tensor), POST /v1/feedback,
// GET /v1/models, /healthz, /readyz, /metrics. A thin layer over the in-process InferenceService.
import { Value } from '@sinclair/typebox/value';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { bmfError } from '../../shared/errors.js';
import { contentTypeError, toHttpError } from './http-errors.js';
import {
  BINARY_TENSOR_TYPE,
  FeedbackSchema,
  TensorRequestSchema,
  feedsFromBinary,
  feedsFromJson,
  responseToJson,
} from './http-body.js';
import type { FeedbackRequest, TensorRequest } from './http-body.js';
import { bodyError, typeboxSchemaController } from './http-schema.js';
import type { InferenceService } from './service.js';

export interface LocalApiOptions {
  readonly service: InferenceService;
  readonly registry: Registry;
  /** Largest image or JSON body accepted. */
  readonly bodyLimit?: number;
  /** Request bodies being read at once; more are refused with 503 before reading (default 4). */
  readonly maxConcurrentBodies?: number;
  /** Extra readiness condition (e.g. the first reconcile finished). */
  readonly isReady?: () => boolean;
}

/**
 * What POST /v1/infer takes: a JSON tensor request, one tensor's raw bytes, or image bytes for
 * the model's decoder.
 */
export const INFER_CONTENT_TYPES = [
  'application/json',
  BINARY_TENSOR_TYPE,
  'application/octet-stream',
  'image/*',
];

const mediaType = (header: string | undefined): string =>
  header?.split(';')[0]?.trim().toLowerCase() ?? '';

async function checkInferType(req: FastifyRequest): Promise<void> {
  const header = req.headers['content-type'];
  const type = mediaType(header);
  const ok =
    type === 'application/json' ||
    type === BINARY_TENSOR_TYPE ||
    type === 'application/octet-stream' ||
    type.startsWith('image/');
  if (!ok) throw contentTypeError(header, INFER_CONTENT_TYPES);
}

async function checkJsonType(req: FastifyRequest): Promise<void> {
  const header = req.headers['content-type'];
  if (header?.split(';')[0]?.trim().toLowerCase() !== 'application/json') {
    throw contentTypeError(header, ['application/json']);
  }
}

export async function createLocalApi(options: LocalApiOptions): Promise<FastifyInstance> {
  const { service, registry } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024,
    schemaController: typeboxSchemaController,
  });
  for (const type of [BINARY_TENSOR_TYPE, 'application/octet-stream', /^image\//]) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  }
  // Bodies are buffered whole, so their number in flight bounds the memory they take: a request
  // with a body above the limit is refused before its body is read. Its slot is freed when the
  // response is sent or the client goes away.
  const maxBodies = options.maxConcurrentBodies ?? 4;
  let bodies = 0;
  const holding = new WeakSet<object>();
  const release = (req: object): void => {
    if (holding.delete(req)) bodies -= 1;
  };
  app.addHook('onRequest', async (req) => {
    const length = Number(req.headers['content-length'] ?? 0);
    const hasBody = length > 0 || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) return;
    if (bodies >= maxBodies) throw bmfError('BMF_ERR_AGENT_BUSY', { limit: maxBodies });
    bodies += 1;
    holding.add(req);
  });
  app.addHook('onResponse', async (req) => release(req));
  app.addHook('onRequestAbort', async (req) => release(req));
  app.setErrorHandler((error, _req, reply) => {
    const { status, body } = toHttpError(error);
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const { status, body } = toHttpError(
      bmfError('BMF_ERR_NOT_FOUND', { kind: 'route', id: `${req.method} ${req.url}` }),
    );
    void reply.code(status).send(body);
  });

  app.post('/v1/infer', { onRequest: checkInferType }, async (req) => {
    const key = req.headers['x-request-key'];
    const headerKey = typeof key === 'string' ? key : undefined;
    const options = headerKey !== undefined ? { requestKey: headerKey } : {};
    const contentType = req.headers['content-type'] ?? '';
    if (Buffer.isBuffer(req.body) && mediaType(contentType) === BINARY_TENSOR_TYPE) {
      const r = await service.infer(
        { kind: 'tensor', feeds: feedsFromBinary(contentType, req.body) },
        options,
      );
      return responseToJson(r);
    }
    if (Buffer.isBuffer(req.body)) {
      const r = await service.infer({ kind: 'image', bytes: req.body }, options);
      return responseToJson(r);
    }
    const body = req.body as TensorRequest;
    const requestKey = body.requestKey ?? headerKey;
    const r = await service.infer(
      { kind: 'tensor', feeds: feedsFromJson(body) },
      requestKey !== undefined ? { requestKey } : {},
    );
    return responseToJson(r);
  });
  // The JSON schema applies to JSON bodies only; image and raw tensor bodies arrive as Buffers.
  app.addHook('preValidation', async (req) => {
    if (req.routeOptions.url !== '/v1/infer' || Buffer.isBuffer(req.body)) return;
    if (!Value.Check(TensorRequestSchema, req.body)) throw bodyError(TensorRequestSchema, req.body);
  });

  app.post(
    '/v1/feedback',
    { schema: { body: FeedbackSchema }, onRequest: checkJsonType },
    async (req) => {
      const { requestId, label, boxes } = req.body as FeedbackRequest;
      if ((label === undefined) === (boxes === undefined)) {
        throw bmfError('BMF_ERR_INFER_REQUEST', {
          reason: 'feedback takes a label (classifiers) or boxes (detectors), exactly one',
        });
      }
      if (boxes) return service.feedbackBoxes(requestId, boxes);
      return service.feedback(requestId, label as number | string);
    },
  );
  app.get('/v1/models', async () => ({ models: service.models() }));
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    const ready = service.ready() && (options.isReady?.() ?? true);
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
  return app;
}
