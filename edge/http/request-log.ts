import type { MiddlewareHandler } from 'hono';
import type { EdgeContext, EdgeEnv } from '../context.js';
import { type EdgeLogger, redactKeys } from '../logger.js';

/** A request that takes this long is logged whatever its answer. */
export const SLOW_REQUEST_MS = 1_000;

/**
 * One line per request: method, path (never the query string), status, time, and who by id. At info only
 * for what an operator looks into (an error answer, a slow request); a fast success goes to debug, so a
 * busy edge does not pay for a log line per call.
 */
export function logRequests(logger: EdgeLogger, now: () => number = Date.now): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    const started = now();
    await next();
    const ms = now() - started;
    const notable = c.res.status >= 400 || ms >= SLOW_REQUEST_MS;
    if (notable) logger.info(fieldsOf(c, ms), 'request');
    // The line's fields are built only if it is written: a busy edge's every success passes here.
    else if (logger.debug && logger.isLevelEnabled?.('debug') !== false)
      logger.debug(fieldsOf(c, ms), 'request');
  };
}

function fieldsOf(c: EdgeContext, ms: number) {
  const principal = c.get('principal');
  return {
    method: c.req.method,
    // Someone will paste a key into a path one day.
    path: redactKeys(c.req.path),
    status: c.res.status,
    ms,
    tenantId: principal?.tenantId ?? undefined,
    sessionId: principal?.sessionId ?? undefined,
    key: principal?.keyPrefix,
  };
}
