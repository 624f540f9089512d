import type { ErrorHandler, NotFoundHandler } from 'hono';
import { ApiError, toApiError } from '../../shared/errors.js';
import type { EdgeEnv } from '../context.js';
import { type EdgeLogger, errorInfo, redactKeys } from '../logger.js';

/**
 * Renders every error as `{success:false, error, code}`. Expected errors carry their own client text;
 * anything else is a generic 500, and only the log hears what it was.
 */
export function handleError(logger: EdgeLogger): ErrorHandler<EdgeEnv> {
  return (err, c) => {
    const apiError = toApiError(err, c.req.raw);
    if (apiError.status >= 500) {
      const principal = c.get('principal');
      logger.error(
        {
          code: apiError.code,
          method: c.req.method,
          path: redactKeys(c.req.path),
          tenantId: principal?.tenantId ?? undefined,
          sessionId: principal?.sessionId ?? undefined,
          err: errorInfo(apiError === err ? apiError.cause : err),
        },
        'request failed',
      );
    }
    return apiError.getResponse();
  };
}

export const notFound: NotFoundHandler<EdgeEnv> = () => new ApiError('NOT_FOUND').getResponse();
