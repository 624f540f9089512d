// Kysely over postgres.js for the Workers and Deno entries. postgres.js picks its own build per runtime
// (`cloudflare:sockets` on workerd, `node:net` on Deno), so this one file serves both.
import { Kysely } from 'kysely';
import { PostgresJSDialect } from 'kysely-postgres-js';
import postgres from 'postgres';
import { POOL_IDLE_SECONDS } from '../../shared/db-pool.js';
import type { Database } from '../../shared/db-schema.js';

/** A Kysely over a postgres.js pool of at most `max` connections; `db.destroy()` closes it. */
export function createEdgeDb(url: string, options: { max: number }): Kysely<Database> {
  const client = postgres(url, {
    max: options.max,
    // Keep fetch_types on (the default), although Cloudflare suggests turning it off: with it off,
    // reserve() on a fresh pool never resolves (porsager/postgres#751), and Kysely reserves for every query.
    onnotice: () => {},
    idle_timeout: POOL_IDLE_SECONDS,
  });
  return new Kysely<Database>({ dialect: new PostgresJSDialect({ postgres: client }) });
}
