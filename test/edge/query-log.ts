// A Kysely over the test database that remembers every statement it runs, for tests that count round
// trips (the key cache, the last-used buffer) on the real database.
import { Kysely } from 'kysely';
import { PostgresJSDialect } from 'kysely-postgres-js';
import postgres from 'postgres';
import type { KeyLookup } from '../../edge/auth/queries/api-keys.js';
import { findKeyByDigest } from '../../edge/auth/queries/api-keys.js';
import type { Database } from '../../shared/db-schema.js';

export interface LoggedDb {
  db: Kysely<Database>;
  /** Every statement's SQL, in order. */
  statements: string[];
  /** Statements that read api_keys (the key look-up). */
  keyReads(): number;
  /** Statements that write api_keys' last_used_at. */
  lastUsedWrites(): number;
}

/** A pool of its own on `url` that logs its SQL; `db.destroy()` it after use. */
export function loggedDb(url: string): LoggedDb {
  const statements: string[] = [];
  const db = new Kysely<Database>({
    dialect: new PostgresJSDialect({ postgres: postgres(url, { max: 5, onnotice: () => {} }) }),
    log: (event) => {
      if (event.level === 'query') statements.push(event.query.sql);
    },
  });
  return {
    db,
    statements,
    keyReads: () => statements.filter((s) => /^select\b/i.test(s) && /from "api_keys"/.test(s)).length,
    lastUsedWrites: () =>
      statements.filter((s) => /^update "api_keys"/i.test(s) && /last_used_at/.test(s)).length,
  };
}

/** The database look-up, counting its calls: the key cache's misses. */
export function countingLookup(): { lookup: KeyLookup; calls: () => number } {
  let calls = 0;
  return {
    lookup: (db, digest) => {
      calls++;
      return findKeyByDigest(db, digest);
    },
    calls: () => calls,
  };
}

/** A clock the test moves by hand. */
export function manualClock(start = Date.now()) {
  let at = start;
  return {
    now: () => new Date(at),
    ms: () => at,
    advance: (ms: number) => {
      at += ms;
    },
    set: (ms: number) => {
      at = ms;
    },
  };
}
