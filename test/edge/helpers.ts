// Helpers for the edge tests (the set-up they share is fixture.ts): an edge started on a database, rows
// made directly in Postgres, and a snapshot of everything a refused request must leave alone.
import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import { expect } from 'vitest';
import { KeyCache } from '../../edge/auth/key-cache.js';
import { parseEdgeConfig } from '../../edge/config.js';
import { type RunningEdge, type StartEdgeOptions, startEdge } from '../../edge/entries/node.js';
import type { EdgeLogger, LogFields } from '../../edge/logger.js';
import { type ApiKeyScope, generateApiKey } from '../../shared/api-key.js';
import type { Database, TenantStatus } from '../../shared/db-schema.js';

export const HOST_SECRET = 'edge-tests-host-secret-0123456789abcdef';

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  fields: LogFields;
  message: string;
}

/** A logger that keeps every line, so tests can check what was (and was not) logged. */
export function capturingLogger(): EdgeLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (fields: LogFields, message: string) => {
    lines.push({ level, fields, message });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

export type TestEdge = RunningEdge & { logger: ReturnType<typeof capturingLogger>; keyCache: KeyCache };

/**
 * Starts the edge (Node entry) on a free local port over `db`. Every test client is 127.0.0.1, so the
 * failed-authentication limit is out of the way unless a test sets `rateLimits` (rate-limit.test.ts).
 */
export async function startTestEdge(
  db: Kysely<Database>,
  overrides: Partial<Omit<StartEdgeOptions, 'db'>> = {},
): Promise<TestEdge> {
  const logger = capturingLogger();
  const options = {
    hostSecret: HOST_SECRET,
    rateLimits: { failedAuth: { limit: 1_000_000 } },
    ...overrides,
  };
  const now = options.now ?? (() => new Date());
  const keyCache =
    options.keyCacheInstance ??
    new KeyCache({ ...parseEdgeConfig(options).keyCache, now: () => now().getTime() });
  const edge = await startEdge({
    port: 0,
    hostname: '127.0.0.1',
    db,
    logger,
    ...options,
    keyCacheInstance: keyCache,
  });
  return { ...edge, logger, keyCache };
}

export async function createTenant(
  db: Kysely<Database>,
  options: { name?: string; status?: TenantStatus } = {},
): Promise<string> {
  const row = await db
    .insertInto('tenants')
    .values({ name: options.name ?? 'tenant', status: options.status ?? 'active' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface KeyOptions {
  tenantId?: string | null;
  sessionId?: string | null;
  expiresAt?: Date | null;
  revokedAt?: Date | null;
  overlapUntil?: Date | null;
}

/** Stores a new key of `scope` (digest only, as the edge does) and returns its plaintext. */
export async function createKey(
  db: Kysely<Database>,
  scope: ApiKeyScope,
  options: KeyOptions = {},
): Promise<string> {
  const key = await generateApiKey(scope);
  await db
    .insertInto('api_keys')
    .values({
      digest: key.digest,
      prefix: key.displayPrefix,
      scope,
      tenant_id: options.tenantId ?? null,
      session_id: options.sessionId ?? null,
      expires_at: options.expiresAt ?? null,
      revoked_at: options.revokedAt ?? null,
      overlap_until: options.overlapUntil ?? null,
    })
    .execute();
  return key.key;
}

/** A session row (not through the API), owned by `hostId`. */
export async function createSessionRow(
  db: Kysely<Database>,
  options: { tenantId: string; name: string; hostId?: string | null; leaseEpoch?: number },
): Promise<string> {
  const row = await db
    .insertInto('sessions')
    .values({
      tenant_id: options.tenantId,
      name: options.name,
      host_id: options.hostId ?? null,
      lease_epoch: options.leaseEpoch ?? 1,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * Registers a host row. A live host's heartbeat is put an hour ahead, so it stays live however long the
 * file runs; a dead one's is five minutes old.
 */
export async function putHost(
  db: Kysely<Database>,
  host: {
    id: string;
    url: string;
    live?: boolean;
    draining?: boolean;
    whatsapp?: 'unknown' | 'reachable' | 'unreachable';
  },
): Promise<void> {
  const heartbeat =
    host.live === false ? sql<Date>`now() - interval '5 minutes'` : sql<Date>`now() + interval '1 hour'`;
  // A stand-in host reaches WhatsApp unless told otherwise, as a healthy real one does.
  const whatsapp = host.whatsapp ?? 'reachable';
  const row = {
    internal_url: host.url,
    heartbeat_at: heartbeat,
    lease_until: heartbeat,
    draining: host.draining ?? false,
    whatsapp,
    whatsapp_error: whatsapp === 'unreachable' ? 'getaddrinfo ENOTFOUND web.whatsapp.com' : null,
    whatsapp_checked_at: whatsapp === 'unknown' ? null : new Date(),
  };
  await db
    .insertInto('hosts')
    .values({ id: host.id, ...row })
    .onConflict((oc) => oc.column('id').doUpdateSet(row))
    .execute();
}

/** Marks every host dead (for "no live host" cases); returns a function that restores the heartbeats. */
export async function killAllHosts(db: Kysely<Database>): Promise<() => Promise<void>> {
  const before = await db.selectFrom('hosts').select(['id', 'heartbeat_at', 'lease_until']).execute();
  const past = sql<Date>`now() - interval '5 minutes'`;
  await db.updateTable('hosts').set({ heartbeat_at: past, lease_until: past }).execute();
  return async () => {
    for (const h of before) {
      await db
        .updateTable('hosts')
        .set({ heartbeat_at: h.heartbeat_at, lease_until: h.lease_until })
        .where('id', '=', h.id)
        .execute();
    }
  };
}

/** What a refused request must not change: row counts and every session's owner and lease. */
export async function dbSnapshot(db: Kysely<Database>) {
  const { rows } = await sql<{
    sessions: string;
    api_keys: string;
    audit_log: string;
    tenants: string;
    messages: string | null;
    events: string;
    idempotency_keys: string;
    pacing: string | null;
    owners: string | null;
  }>`
    select
      (select count(*) from sessions) as sessions,
      (select count(*) from api_keys) as api_keys,
      (select count(*) from audit_log) as audit_log,
      (select count(*) from tenants) as tenants,
      (select string_agg(id || ':' || coalesce(status, '-'), ',' order by id) from messages) as messages,
      (select count(*) from events) as events,
      (select count(*) from idempotency_keys) as idempotency_keys,
      (select string_agg(id || ':' || pacing::text, ',' order by id) from sessions where pacing is not null) as pacing,
      (select string_agg(id || ':' || coalesce(host_id, '-') || ':' || lease_epoch || ':' || state, ',' order by id)
         from sessions) as owners`.execute(db);
  return rows[0];
}

/** Runs `request` and checks the database is exactly as before; returns the response. */
export async function expectNoDbChange(
  db: Kysely<Database>,
  request: () => Promise<Response>,
): Promise<Response> {
  const before = await dbSnapshot(db);
  const response = await request();
  // Let anything the request set off in the background land before looking.
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(await dbSnapshot(db)).toEqual(before);
  return response;
}

/** The error body every refusal has. */
export async function expectError(
  response: Response,
  status: number,
  code: string,
  error?: string,
): Promise<Record<string, unknown>> {
  const body = (await response.json()) as Record<string, unknown>;
  expect({ status: response.status, success: body.success, code: body.code }).toEqual({
    status,
    success: false,
    code,
  });
  expect(typeof body.error).toBe('string');
  if (error !== undefined) expect(body.error).toBe(error);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return body;
}

/** fetch against the edge with JSON in and out. */
export function call(
  base: string,
  path: string,
  init: {
    method?: string;
    key?: string;
    json?: unknown;
    body?: BodyInit;
    headers?: Record<string, string>;
  } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.key !== undefined) headers.set('x-api-key', init.key);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(init.json);
  }
  return fetch(base + path, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
}

/** A database that refuses every connection, as one that is down does (with no network involved). */
export function unreachableDb(): Kysely<Database> {
  const refuse = () =>
    Promise.reject(Object.assign(new Error('connect ECONNREFUSED (test)'), { code: 'ECONNREFUSED' }));
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => ({
        init: async () => {},
        acquireConnection: refuse,
        beginTransaction: async () => {},
        commitTransaction: async () => {},
        rollbackTransaction: async () => {},
        releaseConnection: async () => {},
        destroy: async () => {},
      }),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
}
