import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import type { EdgeEnv } from '../context.js';

/**
 * Headers on every response: Hono's secure headers (`X-Content-Type-Options: nosniff` among them), and
 * for the API `Cache-Control: no-store`, since its answers are private to a key and some carry a new key
 * or a QR code that no cache or browser history may keep.
 */
export function responseHeaders(): MiddlewareHandler<EdgeEnv>[] {
  return [
    secureHeaders(),
    async (c, next) => {
      await next();
      if (c.req.path.startsWith('/api/')) c.res.headers.set('Cache-Control', 'no-store');
    },
  ];
}
