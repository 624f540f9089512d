// A database of its own for each test file, on the server test/global-setup.ts started (or on
// DATABASE_URL's server), so files run in parallel and nothing is left behind.
import { randomBytes } from 'node:crypto';
import type { Kysely, RootOperationNode } from 'kysely';
import postgres from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { createDb } from '../../node-runtime/db/connect.js';
import { migrateToLatest } from '../../node-runtime/db/migrate.js';
import type { Database } from '../../shared/db-schema.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test server (may create databases). */
    postgresUrl: string;
  }
}

export interface TestDatabase {
  /** Name of the database, `test_<random hex>`. */
  name: string;
  url: string;
  db: Kysely<Database>;
  /** Closes `db` and drops the database, even with connections still open. */
  drop(): Promise<void>;
}

/** The URL of the test server's maintenance database. */
export function serverUrl(): string {
  const url = inject('postgresUrl');
  if (!url) throw new Error('no test PostgreSQL: run through vitest.config.ts, whose globalSetup starts one');
  return url;
}

/** How long a test database's pool may take to close before what keeps it open is shown and ended. */
const POOL_CLOSE_GRACE_MS = 10_000;

/** Whether `promise` is still pending after `ms`. */
const outlasts = (promise: Promise<unknown>, ms: number) =>
  new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(true), ms);
    const settled = () => {
      clearTimeout(timer);
      resolve(false);
    };
    promise.then(settled, settled);
  });

/** Creates a fresh database, migrated unless `migrate: false`. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const admin = serverUrl();
  const name = `test_${randomBytes(8).toString('hex')}`;
  await withAdmin(admin, (sql) => sql.unsafe(`CREATE DATABASE ${name}`));
  const url = databaseUrl(admin, name);
  const db = createDb(url);
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    // A pool closes once its queries end. One left waiting (on a lock a test left held, say) would keep
    // it open for good: say what it waits for, cancel it, and drop the database without waiting further
    // (as closeDb gives up on a pool; FORCE ends its connections).
    const closed = db.destroy();
    if (await outlasts(closed, POOL_CLOSE_GRACE_MS)) {
      const waiting = await withAdmin(
        admin,
        (sql) => sql`SELECT pid, application_name, wait_event_type, wait_event, left(query, 200) AS query,
            pg_cancel_backend(pid) AS cancelled
          FROM pg_stat_activity WHERE datname = ${name} AND state = 'active'`,
      );
      console.warn(`test database ${name}: its pool was still open after ${POOL_CLOSE_GRACE_MS} ms`, waiting);
    }
    await withAdmin(admin, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  };
  try {
    if (options.migrate !== false) await migrateToLatest(db);
  } catch (error) {
    await drop();
    throw error;
  }
  return { name, url, db, drop };
}

/** Registers beforeAll/afterAll for a per-file database; call the result inside tests. */
export function useTestDatabase(options: { migrate?: boolean } = {}): () => TestDatabase {
  let current: TestDatabase | undefined;
  beforeAll(async () => {
    current = await createTestDatabase(options);
  });
  afterAll(async () => {
    await current?.drop();
  });
  return () => {
    if (!current) throw new Error('test database not ready: use it inside a test or hook');
    return current;
  };
}

/** `url` pointing at database `name` instead. */
export function databaseUrl(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function withAdmin<T>(url: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}

/** A tenant named `tenant` with one session named `session`, for tests that write a session's rows. */
export async function insertTenantSession(
  db: Kysely<Database>,
  tenant: string,
  session: string,
): Promise<{ tenantId: string; sessionId: string }> {
  const tenantId = (
    await db.insertInto('tenants').values({ name: tenant }).returning('id').executeTakeFirstOrThrow()
  ).id;
  const sessionId = (
    await db
      .insertInto('sessions')
      .values({ tenant_id: tenantId, name: session })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
  return { tenantId, sessionId };
}

/**
 * `db` counting the statements it runs that `matches` picks out (all of them by default): `count()` is
 * how many have answered so far.
 */
export function countingStatements(
  db: Kysely<Database>,
  matches: (node: RootOperationNode) => boolean = () => true,
) {
  let n = 0;
  // Counted once run: a query built into another statement (a subquery in `sql`) is transformed too.
  const matching = new Set<string>();
  const counted = db.withPlugin({
    transformQuery: ({ node, queryId }) => {
      if (matches(node)) matching.add(queryId.queryId);
      return node;
    },
    transformResult: async ({ result, queryId }) => {
      if (matching.delete(queryId.queryId)) n++;
      return result;
    },
  });
  return { counted, count: () => n };
}

/**
 * Runs `work` in a transaction and keeps it open, with the locks it took, until `commit()`: what another
 * client writing meanwhile does to a statement under test.
 */
export async function openTransaction(
  db: Kysely<Database>,
  work: (trx: Kysely<Database>) => Promise<unknown>,
): Promise<{ commit(): Promise<void> }> {
  let end = () => {};
  const ended = new Promise<void>((resolve) => {
    end = resolve;
  });
  let workDone = () => {};
  const worked = new Promise<void>((resolve) => {
    workDone = resolve;
  });
  const running = db.transaction().execute(async (trx) => {
    await work(trx);
    workDone();
    await ended;
  });
  // A failed `work` rejects here rather than leaving the caller waiting.
  await Promise.race([worked, running]);
  return {
    commit() {
      end();
      return running;
    },
  };
}
