import type { MiddlewareHandler } from 'hono';
import type { EdgeEnv } from '../context.js';
import { type EdgeLogger, redactKeys } from '../logger.js';

/** One line per request: method, path (never the query string), status, time, and who by id. */
export function logRequests(logger: EdgeLogger, now: () => number = Date.now): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    const started = now();
    await next();
    const principal = c.get('principal');
    logger.info(
      {
        method: c.req.method,
        // Someone will paste a key into a path one day.
        path: redactKeys(c.req.path),
        status: c.res.status,
        ms: now() - started,
        tenantId: principal?.tenantId ?? undefined,
        sessionId: principal?.sessionId ?? undefined,
        key: principal?.keyPrefix,
      },
      'request',
    );
  };
}
