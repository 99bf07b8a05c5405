// The one place errors become HTTP responses of the local API, in the shape every bmfleet HTTP
// API uses (shared/http-error.ts). Fastify's own errors (body limits, media types, schema) are mapped
// onto catalogue codes first so clients only ever see BMF_ERR_* codes.
import { BmfError, bmfError, toBmfError } from '../../shared/errors.js';
import { httpErrorResponse, type HttpErrorResponse } from '../../shared/http-error.js';

interface FastifyLikeError {
  readonly code?: string;
  readonly statusCode?: number;
  readonly message?: string;
  readonly validation?: unknown;
}

const JSON_ONLY = ['application/json'] as const;

/** BMF_ERR_CONTENT_TYPE saying whether the type was missing or which one was refused. */
export function contentTypeError(
  header: string | undefined,
  accepted: readonly string[],
): BmfError {
  const type = header?.split(';')[0]?.trim();
  return bmfError('BMF_ERR_CONTENT_TYPE', {
    reason: type ? `content type ${type} not supported` : 'content type missing',
    accepted: accepted.join(', '),
  });
}

function fromFastify(e: FastifyLikeError): BmfError | undefined {
  if (e.validation)
    return bmfError('BMF_ERR_INFER_REQUEST', { reason: e.message ?? 'invalid body' });
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bmfError('BMF_ERR_BODY_TOO_LARGE', { reason: e.message ?? '' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return contentTypeError(undefined, JSON_ONLY);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return bmfError('BMF_ERR_INFER_REQUEST', { reason: e.message ?? 'invalid JSON' });
  }
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
    return bmfError('BMF_ERR_BAD_REQUEST', { reason: e.message ?? 'bad request' });
  }
  return undefined;
}

export function toHttpError(e: unknown): HttpErrorResponse {
  const err =
    e instanceof BmfError || typeof e !== 'object' || e === null
      ? toBmfError(e)
      : (fromFastify(e as FastifyLikeError) ?? toBmfError(e));
  return httpErrorResponse(err);
}
