import type { Hono, MiddlewareHandler } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';
import { methodNotAllowed } from '../../shared/errors.js';

/**
 * 405 with `Allow` when the path is a route but the method is not one of its methods, before
 * authentication: asking `GET /api/send` (as the seed's README said) gets pointed at POST with or without
 * a key. Hono's own middleware does this only after the handlers ran, i.e. after authentication.
 */
// biome-ignore lint/suspicious/noExplicitAny: any app, whatever its env and schema.
export function checkMethod(app: Hono<any, any, any>): MiddlewareHandler {
  let router: TrieRouter<string[]> | undefined;
  const build = () => {
    const byPath = new Map<string, Set<string>>();
    for (const route of app.routes) {
      if (route.method === 'ALL') continue;
      const methods = byPath.get(route.path) ?? new Set<string>();
      methods.add(route.method);
      if (route.method === 'GET') methods.add('HEAD');
      byPath.set(route.path, methods);
    }
    const built = new TrieRouter<string[]>();
    for (const [path, methods] of byPath) built.add('ALL', path, [...methods]);
    return built;
  };
  return async (c, next) => {
    // Built on first use, when every route is registered.
    router ??= build();
    const allowed = new Set<string>();
    for (const [methods] of router.match('ALL', c.req.path)[0]) for (const m of methods) allowed.add(m);
    if (allowed.size > 0 && !allowed.has(c.req.method)) {
      // HEAD is implied by GET; listing only the methods that do something is clearer to a reader.
      throw methodNotAllowed([...allowed].filter((m) => m !== 'HEAD'));
    }
    await next();
  };
}
