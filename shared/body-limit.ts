// A request body size limit for the edge and the hosts. Hono's bodyLimit reads `c.req.raw.body` first,
// which on @hono/node-server builds a whole WHATWG Request (headers, AbortController, stream) even for a
// GET; here a request without a body, or with a Content-Length (which every runtime holds the body to),
// is judged from its headers, and only a chunked upload is counted while it streams.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

export function limitRequestBody(maxBytes: number, onError: (c: Context) => never): MiddlewareHandler {
  const streamed = bodyLimit({ maxSize: maxBytes, onError });
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number.parseInt(length, 10) > maxBytes) onError(c);
      return next();
    }
    return streamed(c, next);
  };
}
