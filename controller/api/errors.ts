// The one place where errors become HTTP responses of the REST API, in the shape every bmfleet
// HTTP API uses (shared/http-error.ts). Fastify's own errors (validation, JSON syntax, body size, media
// type) are translated to catalogue codes so clients only ever see BMF_ERR_* codes.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bmfError, isBmfError, toBmfError, type BmfError } from '../../shared/errors.js';
import { httpErrorResponse } from '../../shared/http-error.js';

export { ErrorResponseSchema } from '../../shared/http-error.js';

interface AjvIssue {
  readonly instancePath?: string;
  readonly params?: { missingProperty?: string; additionalProperty?: string };
  readonly message?: string;
}

/** `body.groups.0.percent` from fastify's validation context and ajv's JSON pointer. */
function fieldOf(context: string | undefined, issue: AjvIssue | undefined): string {
  // JSON pointer segments, unescaped (RFC 6901: ~1 is '/', ~0 is '~').
  const path = (issue?.instancePath ?? '')
    .split('/')
    .filter(Boolean)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = issue?.params?.missingProperty ?? issue?.params?.additionalProperty;
  return [context ?? 'request', ...path, ...(extra ? [extra] : [])].join('.');
}

export function toApiError(e: unknown, contentType?: string): BmfError {
  if (isBmfError(e)) return e;
  const err = e as Partial<FastifyError> & { validation?: AjvIssue[] };
  if (err.validation) {
    const field = fieldOf(err.validationContext, err.validation[0]);
    return bmfError('BMF_ERR_BAD_REQUEST', {
      field,
      reason: `${field}: ${err.validation[0]?.message ?? 'invalid'}`,
    });
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const type = contentType?.split(';')[0]?.trim();
    return bmfError('BMF_ERR_CONTENT_TYPE', {
      reason: type ? `content type ${type} not supported` : 'content type missing',
      accepted: 'application/json',
    });
  }
  if (err.statusCode === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return bmfError('BMF_ERR_BODY_TOO_LARGE', { reason: err.message ?? 'too large' });
  }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return bmfError('BMF_ERR_BAD_REQUEST', { reason: err.message ?? 'bad request' });
  }
  return toBmfError(e);
}

export function sendError(reply: FastifyReply, err: BmfError): FastifyReply {
  const { status, body } = httpErrorResponse(err);
  return reply.status(status).send(body);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((e: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const err = toApiError(e, request.headers['content-type']);
    if (err.status >= 500) request.log.error({ err: e }, 'request failed');
    else request.log.debug({ code: err.code }, err.message);
    return sendError(reply, err);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      bmfError('BMF_ERR_NOT_FOUND', { kind: 'route', id: `${request.method} ${request.url}` }),
    ),
  );
}
