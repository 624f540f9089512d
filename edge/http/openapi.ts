import type { ZodError } from 'zod';
import { API_KEY_HEADER } from '../../shared/api-key.js';
import { ApiError } from '../../shared/errors.js';
import { ErrorResponseSchema } from '../../shared/schemas.js';

/** Name of the OpenAPI security scheme for `x-api-key`. */
export const API_KEY_SECURITY = 'ApiKey';

export const apiKeySecurityScheme = {
  type: 'apiKey',
  in: 'header',
  name: API_KEY_HEADER,
} as const;

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request, or an API key in the query string (`API_KEY_IN_QUERY`: send it in the `x-api-key` header)',
  401: 'No API key',
  403: 'Invalid API key, or one without the scope for this operation',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict (an Idempotency-Key whose first request is still running: retry after `Retry-After`)',
  413: 'Body too large',
  415: 'Body is not JSON',
  422: 'Recipient cannot receive messages, or an Idempotency-Key reused for a different request',
  502: 'WhatsApp refused the message, or sending it failed for good',
  429: 'Too many requests (sends over the session or tenant rate, or refused keys from this address); retry after `Retry-After` seconds',
  503: 'No session host available; retry after `Retry-After` seconds',
};

/** OpenAPI response entries with the error body for each status. */
export function errorResponses<const S extends number>(...statuses: S[]) {
  const out = {} as Record<
    S,
    { description: string; content: { 'application/json': { schema: typeof ErrorResponseSchema } } }
  >;
  for (const status of statuses) {
    out[status] = {
      description: DESCRIPTIONS[status] ?? 'Error',
      content: { 'application/json': { schema: ErrorResponseSchema } },
    };
  }
  return out;
}

/** A safe description of zod's complaints: where and what, never the input. */
export function issuesOf(error: ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/** The generic 400 for a body that does not fit its schema. */
export function validationError(error: ZodError): ApiError {
  return new ApiError('VALIDATION_ERROR', { details: issuesOf(error) });
}
