import { type Driver, Kysely } from 'kysely';
import { PostgresJSDialect } from 'kysely-postgres-js';
import postgres from 'postgres';
import { POOL_IDLE_SECONDS } from '../../shared/db-pool.js';
import type { Database } from '../../shared/db-schema.js';

export interface DbOptions {
  /** Pool size; postgres.js opens connections lazily, up to this many. */
  max?: number;
  /** Shown in pg_stat_activity, to tell this pool's connections apart. */
  applicationName?: string;
  /**
   * PostgreSQL ends a transaction left idle this long: a host paused mid-transaction (SIGSTOP, a VM
   * freeze) must not hold its sessions' rows locked, or no live host could claim them.
   */
  idleInTransactionMs?: number;
  /** Seconds an idle connection stays open (default POOL_IDLE_SECONDS). */
  idleSeconds?: number;
}

/** Seconds before the `attempt`th reconnect: 50 ms, doubling, at most 1 s. */
const reconnectDelaySeconds = (attempt: number) => Math.min(0.05 * 2 ** attempt, 1);

/** A Kysely instance over postgres.js for `url`; call `db.destroy()` to close the pool. */
export function createDb(url: string, options: DbOptions = {}): Kysely<Database> {
  const client = postgres(url, {
    max: options.max ?? 10,
    // Server notices (e.g. "relation already exists, skipping") are not ours to print.
    onnotice: () => {},
    // After an outage, connect again within a second of the database's return: postgres.js's default
    // backoff grows to 20 s between attempts, which a host's lease and its sessions cannot wait out.
    backoff: reconnectDelaySeconds,
    connect_timeout: 10,
    idle_timeout: options.idleSeconds ?? POOL_IDLE_SECONDS,
    connection: {
      ...(options.applicationName ? { application_name: options.applicationName } : {}),
      ...(options.idleInTransactionMs
        ? { idle_in_transaction_session_timeout: options.idleInTransactionMs }
        : {}),
    },
  });
  const usage = { inUse: 0, max: options.max ?? 10 };
  const db = new Kysely<Database>({ dialect: new CountingDialect({ postgres: client }, usage) });
  usageOf.set(db, usage);
  return db;
}

/** A pool's connections lent out now, and how many it may open (for metrics). */
export type PoolUsage = { inUse: number; max: number };

const usageOf = new WeakMap<Kysely<Database>, PoolUsage>();

/** The pool's use, for a Kysely made by createDb (undefined for others). */
export const poolUsage = (db: Kysely<Database>): PoolUsage | undefined => usageOf.get(db);

/** Counts the connections Kysely holds (a query or a transaction each) as it takes and gives them back. */
class CountingDialect extends PostgresJSDialect {
  constructor(
    config: ConstructorParameters<typeof PostgresJSDialect>[0],
    private readonly usage: PoolUsage,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    const driver = super.createDriver();
    const acquire = driver.acquireConnection.bind(driver);
    const release = driver.releaseConnection.bind(driver);
    driver.acquireConnection = async () => {
      const connection = await acquire();
      this.usage.inUse++;
      return connection;
    };
    driver.releaseConnection = async (connection) => {
      this.usage.inUse--;
      await release(connection);
    };
    return driver;
  }
}

/** How a session host's connections begin their name (`application_name`). */
export const HOST_CONNECTION_PREFIX = 'wa-host ';

/** The name of a session host's main pool, which writes its sessions' events. */
export const hostConnectionName = (hostId: string) => `${HOST_CONNECTION_PREFIX}${hostId}`;

/**
 * A session host's pool: named after the host in pg_stat_activity, and no transaction left open past a
 * lease (a paused host's locks go away by the time its sessions are claimed).
 */
export const hostDbOptions = (hostId: string, leaseSeconds: number): DbOptions => ({
  applicationName: hostConnectionName(hostId),
  idleInTransactionMs: leaseSeconds * 1000,
});

/**
 * A session host's lease connections, apart from its sessions' so a renewal never waits behind their
 * writes. Three: a renewal stuck on a dead connection is given up after a lease, and the next takes another.
 */
export const createLeaseDb = (url: string, hostId: string, leaseSeconds: number): Kysely<Database> =>
  createDb(url, {
    ...hostDbOptions(hostId, leaseSeconds),
    max: 3,
    applicationName: `${hostConnectionName(hostId)} lease`,
  });

/** The webhook worker's own connections: message writes must not starve deliveries. */
export const createWebhookDb = (url: string, hostId: string): Kysely<Database> =>
  createDb(url, { max: 2, applicationName: `${hostConnectionName(hostId)} webhooks` });

/**
 * Closes the pool, giving up after `timeoutMs`: a write queued while Baileys' sockets end can leave a
 * reserved connection behind, and a shutdown must not hang on it.
 */
export async function closeDb(db: Kysely<Database>, timeoutMs = 5_000): Promise<void> {
  await Promise.race([db.destroy(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
}

/** A connection that only listens for NOTIFY on channels (postgres.js listens again after a reconnect). */
export interface Listener {
  listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export function createListener(url: string): Listener {
  const client = postgres(url, { max: 1, onnotice: () => {}, backoff: reconnectDelaySeconds });
  return {
    async listen(channel, onMessage) {
      const { unlisten } = await client.listen(channel, onMessage);
      return unlisten;
    },
    close: () => client.end({ timeout: 5 }),
  };
}
