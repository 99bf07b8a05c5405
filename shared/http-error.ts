// One error shape for every HTTP API of bmfleet, the controller's REST API and the agent's local
// API: `{ error: { code, message, details } }` with the catalogue's status (shared/errors.ts).
// Each API maps its framework's own errors onto catalogue codes first, then builds the response
// here, so a client reads every error of either API the same way.
import { Type, type Static } from '@sinclair/typebox';
import type { BmfError } from './errors.js';

export const ErrorResponseSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Record(Type.String(), Type.Unknown()),
    }),
  },
  { $id: 'ErrorResponse', description: 'Every error, in one shape' },
);
export type ErrorResponse = Static<typeof ErrorResponseSchema>;

export interface HttpErrorResponse {
  readonly status: number;
  readonly body: ErrorResponse;
}

/** The status and body an HTTP API sends for `err`. */
export function httpErrorResponse(err: BmfError): HttpErrorResponse {
  return {
    status: err.status,
    body: { error: { code: err.code, message: err.message, details: { ...err.details } } },
  };
}
