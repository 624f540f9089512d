import type { MiddlewareHandler } from 'hono';

const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;

/**
 * Route middleware: an empty body sent as JSON counts as `{}`. The seed's Express parser read it that way
 * (many HTTP clients label every POST as JSON), so its clients got a session, or the seed's
 * 'Parameter ... diperlukan', rather than "malformed JSON". Must run before the body validator.
 */
export function emptyJsonBodyAsObject(): MiddlewareHandler {
  return async (c, next) => {
    if (JSON_TYPE.test(c.req.header('content-type') ?? '')) {
      const text = await c.req.text();
      // The validator reads the body through this cache, so this is what it parses. The cache holds
      // promises, whatever Hono's type for it says; the tests for empty bodies notice if that changes.
      if (text.trim() === '') Reflect.set(c.req.bodyCache, 'text', Promise.resolve('{}'));
    }
    await next();
  };
}
