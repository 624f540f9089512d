// The set-up most edge tests share, registered as hooks like useTestDatabase: the file's own database,
// stand-in session hosts registered as live, tenants with their admin keys, and the edge (Node entry) on a
// capturing logger; everything closed after the file, the hosts' answers and records cleared after each
// test. Hooks a file registers after calling useEdge run after its set-up and before its clean-up
// (vitest's default `sequence.hooks: 'stack'`), so they can use the fixture and check the hosts' records.
import type { Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { StartEdgeOptions } from '../../edge/entries/node.js';
import { ensureOperatorKey } from '../../edge/tenancy/bootstrap.js';
import type { Database } from '../../shared/db-schema.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { createKey, createTenant, HOST_SECRET, putHost, startTestEdge, type TestEdge } from './helpers.js';
import { type StandInHost, startStandInHost } from './stand-in-host.js';

export interface StandInHostSpec {
  id: string;
  /** Put in the hosts table as live (default); false leaves that to the test. */
  register?: boolean;
  /** The stand-in server's keep-alive timeout; default Node's. */
  keepAliveTimeoutMs?: number;
}

/**
 * Options for the edge. `db` replaces the file's database for the edge (e.g. a pool that logs its
 * queries); the fixture destroys it after the edge has closed.
 */
export type EdgeOverrides = Partial<Omit<StartEdgeOptions, 'db'>> & { db?: Kysely<Database> };

export interface UseEdgeOptions {
  /** Stand-in hosts to start, by id or spec. Default: one, `host-main`. */
  hosts?: (string | StandInHostSpec)[];
  /** Tenants to create, by name, each with an admin key. Default: one, `tenant`. */
  tenants?: string[];
  /** Also make the first operator key, as a first start does. */
  operator?: boolean;
  /**
   * The edge's options, or a function of the database and hosts returning them (run once the hosts and
   * tenants are in place, just before the edge starts). `false`: no edge; the file starts its own
   * (startTestEdge), e.g. one per group with different limits.
   */
  edge?:
    | EdgeOverrides
    | ((setup: { database: TestDatabase; hosts: StandInHost[] }) => EdgeOverrides | Promise<EdgeOverrides>)
    | false;
}

export interface FixtureTenant {
  id: string;
  name: string;
  /** Its admin key (plaintext). */
  admin: string;
}

export interface EdgeFixture {
  database: TestDatabase;
  db: Kysely<Database>;
  /** The edge; throws when the file asked for none. */
  edge: TestEdge;
  /** The first stand-in host. */
  host: StandInHost;
  hosts: StandInHost[];
  tenants: FixtureTenant[];
  /** The first tenant's id and admin key. */
  tenantId: string;
  admin: string;
  /** The operator key; throws unless asked for. */
  operator: string;
  /** The stand-in host `id`. */
  hostById(id: string): StandInHost;
  /** The tenant named `name`. */
  tenant(name: string): FixtureTenant;
}

/** Registers beforeAll/afterAll (and afterEach) for the file's edge set-up; call the result inside tests. */
export function useEdge(options: UseEdgeOptions = {}): () => EdgeFixture {
  let fixture: EdgeFixture | undefined;
  let database: TestDatabase | undefined;
  let edge: TestEdge | undefined;
  let edgeDb: Kysely<Database> | undefined;
  const hosts: StandInHost[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    const { db } = database;
    for (const spec of options.hosts ?? ['host-main']) {
      const { id, register = true, keepAliveTimeoutMs } = typeof spec === 'string' ? { id: spec } : spec;
      const host = await startStandInHost({ id, secret: HOST_SECRET, keepAliveTimeoutMs });
      hosts.push(host);
      if (register) await putHost(db, { id: host.id, url: host.url });
    }
    const tenants: FixtureTenant[] = [];
    for (const name of options.tenants ?? ['tenant']) {
      const id = await createTenant(db, { name });
      tenants.push({ id, name, admin: await createKey(db, 'admin', { tenantId: id }) });
    }
    const operator = options.operator ? (await ensureOperatorKey(db)).operatorKey : undefined;
    if (options.edge !== false) {
      const overrides =
        typeof options.edge === 'function' ? await options.edge({ database, hosts }) : options.edge;
      const { db: ownDb, ...edgeOptions } = overrides ?? {};
      edgeDb = ownDb;
      edge = await startTestEdge(edgeDb ?? db, edgeOptions);
    }
    const started = edge;
    fixture = {
      database,
      db,
      hosts,
      tenants,
      get edge() {
        return started ?? missing('edge: this file starts its own (useEdge({ edge: false }))');
      },
      get host() {
        return hosts[0] ?? missing('stand-in host');
      },
      get tenantId() {
        return (tenants[0] ?? missing('tenant')).id;
      },
      get admin() {
        return (tenants[0] ?? missing('tenant')).admin;
      },
      get operator() {
        return operator ?? missing('operator key (useEdge({ operator: true }))');
      },
      hostById: (id) => hosts.find((h) => h.id === id) ?? missing(`stand-in host ${id}`),
      tenant: (name) => tenants.find((t) => t.name === name) ?? missing(`tenant ${name}`),
    };
  });

  afterEach(() => {
    for (const host of hosts) host.reset();
  });

  afterAll(async () => {
    await edge?.close();
    await edgeDb?.destroy();
    await Promise.all(hosts.map((host) => host.close()));
    await database?.drop();
  });

  return () => {
    if (!fixture) throw new Error('edge fixture not ready: use it inside a test or hook');
    return fixture;
  };
}

function missing(what: string): never {
  throw new Error(`the fixture has no ${what}`);
}

/**
 * For files whose cases each need a database of their own (a first start is what they test): returns a
 * function that makes a fresh one; all are dropped after the file.
 */
export function useFreshDatabases(): () => Promise<Kysely<Database>> {
  const opened: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((d) => d.drop()));
  });
  return async () => {
    const database = await createTestDatabase();
    opened.push(database);
    return database.db;
  };
}

/** Runs `work` against an edge started on `db` with `overrides`, and closes the edge after it. */
export async function withEdge<T>(
  db: Kysely<Database>,
  overrides: Partial<Omit<StartEdgeOptions, 'db'>>,
  work: (edge: TestEdge) => Promise<T>,
): Promise<T> {
  const edge = await startTestEdge(db, overrides);
  try {
    return await work(edge);
  } finally {
    await edge.close();
  }
}
