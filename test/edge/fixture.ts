// The set-up most edge tests share, registered as hooks like useTestDatabase: the file's own database,
// stand-in session hosts registered as live, tenants with their admin keys, and the edge (Node entry) on a
// capturing logger; everything closed after the file, the hosts' records cleared after each test.
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

/** Options for the edge; `db` replaces the file's database (e.g. one that logs its queries). */
export type EdgeOverrides = Partial<Omit<StartEdgeOptions, 'db'>> & { db?: Kysely<Database> };

export interface UseEdgeOptions {
  /** Stand-in hosts to start, by id or spec. Default: one, `host-main`. */
  hosts?: (string | StandInHostSpec)[];
  /** Tenants to create, by name, each with an admin key. Default: one, `tenant`. */
  tenants?: string[];
  /** Also make the first operator key, as a first start does. */
  operator?: boolean;
  /**
   * The edge's options, or a function of the database and hosts returning them (run once the hosts are
   * registered). `false`: no edge; the file starts its own (startTestEdge) where it needs different ones.
   */
  edge?: EdgeOverrides | ((setup: { db: Kysely<Database>; hosts: StandInHost[] }) => EdgeOverrides) | false;
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
}

/** Registers beforeAll/afterAll (and afterEach) for the file's edge set-up; call the result inside tests. */
export function useEdge(options: UseEdgeOptions = {}): () => EdgeFixture {
  let fixture: EdgeFixture | undefined;
  let database: TestDatabase | undefined;
  let edge: TestEdge | undefined;
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
      const overrides = typeof options.edge === 'function' ? options.edge({ db, hosts }) : options.edge;
      edge = await startTestEdge(overrides?.db ?? db, overrides ?? {});
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
    };
  });

  afterEach(() => {
    for (const host of hosts) host.reset();
  });

  afterAll(async () => {
    await edge?.close();
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
