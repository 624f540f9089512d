import type { MiddlewareHandler } from 'hono';
import type { EdgeEnv } from '../context.js';

/**
 * Headers on every response: what Hono's `secureHeaders()` sets by default (`X-Content-Type-Options:
 * nosniff` among them), and for the API `Cache-Control: no-store`, since its answers are private to a
 * key and some carry a new key or a QR code that no cache or browser history may keep.
 */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Origin-Agent-Cluster', '?1'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=15552000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-DNS-Prefetch-Control', 'off'],
  ['X-Download-Options', 'noopen'],
  ['X-Frame-Options', 'SAMEORIGIN'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '0'],
];

const API_HEADERS: readonly (readonly [string, string])[] = [
  ...SECURITY_HEADERS,
  ['Cache-Control', 'no-store'],
];

/** The headers a response to `path` carries unless its route set them: the API's are private to a key. */
export const responseHeadersFor = (path: string) =>
  path.startsWith('/api/') ? API_HEADERS : SECURITY_HEADERS;

/**
 * The headers as middleware, for entries that do not put them on the response themselves (the Node entry
 * does: entries/node.ts).
 */
export function responseHeaders(): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    await next();
    // A header the route set wins (a download says `private, no-store`).
    const headers = c.res.headers;
    for (const [name, value] of responseHeadersFor(c.req.path))
      if (!headers.has(name)) headers.set(name, value);
  };
}
