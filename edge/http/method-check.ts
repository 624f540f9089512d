import type { Hono, MiddlewareHandler } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';
import { methodNotAllowed } from '../../shared/errors.js';

const MAX_KNOWN_PATHS = 1_000;

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
  // Answers by path: a busy edge asks about the same few paths all the time.
  const known = new Map<string, Set<string>>();
  const allowedAt = (path: string) => {
    const hit = known.get(path);
    if (hit) return hit;
    // Built on first use, when every route is registered.
    router ??= build();
    const allowed = new Set<string>();
    for (const [methods] of router.match('ALL', path)[0]) for (const m of methods) allowed.add(m);
    // Paths are the client's choice: the memory stays bounded.
    if (known.size >= MAX_KNOWN_PATHS) known.clear();
    known.set(path, allowed);
    return allowed;
  };
  return async (c, next) => {
    const allowed = allowedAt(c.req.path);
    if (allowed.size > 0 && !allowed.has(c.req.method)) {
      // HEAD is implied by GET; listing only the methods that do something is clearer to a reader.
      throw methodNotAllowed([...allowed].filter((m) => m !== 'HEAD'));
    }
    await next();
  };
}
