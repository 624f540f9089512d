import type { MiddlewareHandler } from 'hono';
import type { Kysely } from 'kysely';
import type { Database } from '../../shared/db-schema.js';
import type { EdgeDatabase, EdgeEnv } from '../context.js';

/**
 * Makes `c.var.db()` open the request's database on first use and closes it after the response. Lazy, so
 * requests refused on their face (no key, malformed key, wrong method) never touch the database.
 */
export function provideDatabase(source: EdgeDatabase): MiddlewareHandler<EdgeEnv> {
  const { close } = source;
  const nothingToClose = async () => {};
  return (c, next) => {
    let opened: Kysely<Database> | undefined;
    c.set('db', () => (opened ??= source.open(c)));
    // A pool shared by all requests (Node, Deno): nothing to close after one, so nothing to wait for.
    if (!close) {
      c.set('holdDb', () => nothingToClose);
      return next();
    }
    let held = false;
    const closeOpened = async () => {
      if (opened) await close(opened, c);
    };
    c.set('holdDb', () => {
      held = true;
      return closeOpened;
    });
    return next().finally(() => (held ? undefined : closeOpened()));
  };
}
