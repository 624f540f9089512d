import type { MiddlewareHandler, Next } from 'hono';
import type { EdgeContext, EdgeEnv } from '../context.js';
import type { KeyCache } from './key-cache.js';

// Writes that cannot change any key, and are too frequent to empty anything for: the sends.
const KEY_NEUTRAL = new Set(['POST /api/send', 'POST /api/messages']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * After any write by an authenticated caller, drops the cached keys that write may have changed, before
 * the response goes out: all of them for an operator (tenants are suspended there), the tenant's for a
 * tenant admin (revoke, re-roll), the caller's own for a session key (it may re-roll itself). Judged by
 * who wrote rather than by route, so every admin route, today's and later ones, is covered without
 * knowing about the cache: on this edge instance a revocation takes effect at once. Other instances
 * catch up within the cache's TTL (key-cache.ts).
 */
export function invalidateKeyCacheOnWrites(cache: KeyCache): MiddlewareHandler<EdgeEnv> {
  const afterWrite = async (c: EdgeContext, next: Next) => {
    await next();
    const principal = c.get('principal');
    if (!principal || KEY_NEUTRAL.has(`${c.req.method} ${c.req.path}`)) return;
    // Failed writes too: an error after a commit must not leave a stale entry behind.
    if (principal.scope === 'operator') cache.clear();
    else if (principal.scope === 'admin') cache.forgetTenant(principal.tenantId);
    else cache.forgetKey(principal.keyId);
  };
  // A read hands straight on: nothing to do after it (one promise fewer per request).
  return (c, next) => (SAFE_METHODS.has(c.req.method) ? next() : afterWrite(c, next));
}
