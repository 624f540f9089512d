// A request body size limit for the edge and the hosts. Hono's bodyLimit reads `c.req.raw.body` first,
// which on @hono/node-server builds a whole WHATWG Request (headers, AbortController, stream) even for a
// GET; here a request without a body, or with a Content-Length (which every runtime holds the body to),
// is judged from its headers, and only a chunked upload is counted while it streams.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

/**
 * `larger`: routes (`POST /path`) that take bigger bodies than `maxBytes` (files), with their own limit.
 */
export function limitRequestBody(
  maxBytes: number,
  onError: (c: Context) => never,
  larger: Readonly<Record<string, number>> = {},
): MiddlewareHandler {
  const streamed = bodyLimit({ maxSize: maxBytes, onError });
  const streamedLarger = new Map(
    Object.entries(larger).map(([route, max]) => [
      route,
      { max, check: bodyLimit({ maxSize: max, onError }) },
    ]),
  );
  // Not async: a request without a body hands straight on (one promise fewer per request).
  return (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const route = streamedLarger.size ? streamedLarger.get(`${c.req.method} ${c.req.path}`) : undefined;
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number.parseInt(length, 10) > (route?.max ?? maxBytes)) onError(c);
      return next();
    }
    return (route?.check ?? streamed)(c, next);
  };
}
