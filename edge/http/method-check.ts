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
  let answers: ((path: string) => Set<string>) | undefined;
  const build = () => {
    const byPath = new Map<string, Set<string>>();
    for (const route of app.routes) {
      if (route.method === 'ALL') continue;
      const methods = byPath.get(route.path) ?? new Set<string>();
      methods.add(route.method);
      if (route.method === 'GET') methods.add('HEAD');
      byPath.set(route.path, methods);
    }
    const router = new TrieRouter<string[]>();
    for (const [path, methods] of byPath) router.add('ALL', path, [...methods]);
    const match = (path: string) => {
      const allowed = new Set<string>();
      for (const [methods] of router.match('ALL', path)[0]) for (const m of methods) allowed.add(m);
      return allowed;
    };
    // The answer for each path without parameters, worked out once: most requests ask about one of them.
    const fixed = new Map<string, Set<string>>();
    for (const path of byPath.keys()) if (!/[:*]/.test(path)) fixed.set(path, match(path));
    return (path: string) => fixed.get(path) ?? match(path);
  };
  // Not async: a method that is allowed hands straight on (one promise fewer per request).
  return (c, next) => {
    // Built on first use, when every route is registered.
    answers ??= build();
    const allowed = answers(c.req.path);
    if (allowed.size > 0 && !allowed.has(c.req.method)) {
      // HEAD is implied by GET; listing only the methods that do something is clearer to a reader.
      throw methodNotAllowed([...allowed].filter((m) => m !== 'HEAD'));
    }
    return next();
  };
}
