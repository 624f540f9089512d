import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../../shared/errors.js';
import type { EdgeEnv } from '../context.js';
import type { SendLimits } from './rate-limit.js';

/**
 * 429 RATE_LIMITED with `Retry-After` for a send over its session's or its tenant's rate (token buckets,
 * edge/limits/rate-limit.ts). Counts attempts, before the body is read: a flood of bad bodies is a flood too.
 * Leaves other callers (wrong scope, no key) to the route's own refusals.
 */
export function limitSends(limits: SendLimits, now: () => Date): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (c.req.method === 'POST' && principal?.scope === 'session') {
      const { waitMs, limit } = limits.take(principal.tenantId, principal.sessionId, now().getTime());
      if (waitMs > 0) {
        throw new ApiError('RATE_LIMITED', { retryAfterSeconds: waitMs / 1000, details: { limit } });
      }
    }
    await next();
  };
}
