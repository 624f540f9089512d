import { Kysely } from 'kysely';
import { PostgresJSDialect } from 'kysely-postgres-js';
import postgres from 'postgres';
import type { Database } from '../../shared/db-schema.js';

export interface DbOptions {
  /** Pool size; postgres.js opens connections lazily, up to this many. */
  max?: number;
  /** Shown in pg_stat_activity, to tell this pool's connections apart. */
  applicationName?: string;
}

/** A Kysely instance over postgres.js for `url`; call `db.destroy()` to close the pool. */
export function createDb(url: string, options: DbOptions = {}): Kysely<Database> {
  const client = postgres(url, {
    max: options.max ?? 10,
    // Server notices (e.g. "relation already exists, skipping") are not ours to print.
    onnotice: () => {},
    ...(options.applicationName ? { connection: { application_name: options.applicationName } } : {}),
  });
  return new Kysely<Database>({ dialect: new PostgresJSDialect({ postgres: client }) });
}

/**
 * Closes the pool, giving up after `timeoutMs`: a write queued while Baileys' sockets end can leave a
 * reserved connection behind, and a shutdown must not hang on it.
 */
export async function closeDb(db: Kysely<Database>, timeoutMs = 5_000): Promise<void> {
  await Promise.race([db.destroy(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
}
