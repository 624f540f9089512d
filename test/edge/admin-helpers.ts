// Helpers for the tenancy tests (operator, admin, isolation; their set-up is fixture.ts): a clock the test
// moves, tenants, sessions and keys made through the API, and a snapshot of every row a refused request
// must leave alone.
import { type Kysely, sql } from 'kysely';
import { expect } from 'vitest';
import type {
  ApiKeyInfo,
  AuditEntryInfo,
  CreateKeyResponse,
  CreateTenantResponse,
  RerollKeyResponse,
} from '../../shared/admin-schemas.js';
import type { Database } from '../../shared/db-schema.js';
import { call, type TestEdge } from './helpers.js';

/** A clock the test moves by hand; starts at the real time so database defaults (now()) stay close. */
export class TestClock {
  #ms = Date.now();
  readonly now = (): Date => new Date(this.#ms);
  advance(ms: number): void {
    this.#ms += ms;
  }
}

/** The response's status and JSON body. */
export async function read<T = Record<string, unknown>>(
  response: Response,
): Promise<{ status: number; body: T }> {
  return { status: response.status, body: (await response.json()) as T };
}

/** Calls the edge and expects `status`; returns the body. */
export async function ok<T>(
  edge: TestEdge,
  path: string,
  init: Parameters<typeof call>[2],
  status = 200,
): Promise<T> {
  const response = await call(edge.url, path, init);
  const body = (await response.json()) as T;
  expect({ status: response.status, body }).toMatchObject({ status });
  return body;
}

/** A tenant made by the operator, with its first admin key. */
export async function newTenant(edge: TestEdge, operatorKey: string, name: string) {
  const body = await ok<CreateTenantResponse>(
    edge,
    '/api/operator/tenants',
    { key: operatorKey, json: { name } },
    201,
  );
  return { id: body.tenant.id, adminKey: body.apiKey, adminKeyId: body.key.id };
}

/** A session made by the tenant admin (a live host must be registered), with its session key. */
export async function newSession(edge: TestEdge, adminKey: string, sessionId: string) {
  const body = await ok<{ apiKey: string }>(edge, '/api/session/create', {
    key: adminKey,
    json: { sessionId },
  });
  return body.apiKey;
}

/** A key issued by the tenant admin. */
export async function newKey(
  edge: TestEdge,
  adminKey: string,
  json: { scope: 'admin' | 'session'; sessionId?: string; label: string; expiresAt?: string },
) {
  const body = await ok<CreateKeyResponse>(edge, '/api/admin/keys', { key: adminKey, json }, 201);
  return { key: body.apiKey, info: body.key };
}

/** Re-rolls the tenant's key `keyId`. */
export function reroll(edge: TestEdge, adminKey: string, keyId: string, overlapSeconds: number) {
  return ok<RerollKeyResponse>(edge, `/api/admin/keys/${keyId}/reroll`, {
    key: adminKey,
    json: { overlapSeconds },
  });
}

/** Every key of the tenant, following the cursor to the end. */
export async function allKeys(edge: TestEdge, adminKey: string): Promise<ApiKeyInfo[]> {
  const keys: ApiKeyInfo[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `?limit=100&cursor=${cursor}` : '?limit=100';
    const page: { keys: ApiKeyInfo[]; nextCursor: string | null } = await ok(
      edge,
      `/api/admin/keys${query}`,
      {
        key: adminKey,
      },
    );
    keys.push(...page.keys);
    cursor = page.nextCursor;
  } while (cursor);
  return keys;
}

/** The tenant's whole audit log, oldest first, following the cursor to the end. */
export async function auditLog(edge: TestEdge, adminKey: string, limit = 100): Promise<AuditEntryInfo[]> {
  const entries: AuditEntryInfo[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `?order=asc&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const page: { entries: AuditEntryInfo[]; nextCursor: string | null } = await ok(
      edge,
      `/api/admin/audit${query}`,
      { key: adminKey },
    );
    entries.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor);
  return entries;
}

/**
 * Every row a request could change, in full: tenants, keys (all but last_used_at, which authentication
 * records for accepted keys), sessions, the audit log, webhook endpoints and deliveries, events and
 * messages.
 */
export async function fullSnapshot(db: Kysely<Database>): Promise<unknown> {
  const { rows } = await sql<{ snapshot: unknown }>`
    select json_build_object(
      'tenants', (select json_agg(t order by t.id) from (select id, name, status from tenants) t),
      'keys', (select json_agg(k order by k.id) from (
        select id, encode(digest, 'hex') as digest, prefix, scope, tenant_id, session_id, label, created_at,
               expires_at, revoked_at, overlap_until, replaced_by
        from api_keys) k),
      'sessions', (select json_agg(s order by s.id) from (
        select id, tenant_id, name, description, state, host_id, lease_epoch from sessions) s),
      'audit', (select json_agg(a order by a.id) from audit_log a),
      'webhooks', (select json_agg(w order by w.id) from (
        select id, tenant_id, url, description, event_types, session_id, encode(secret, 'hex') as secret,
               encode(previous_secret, 'hex') as previous_secret, previous_until, enabled, disabled_reason,
               next_attempt_at, failing_since, updated_at
        from webhook_endpoints) w),
      'deliveries', (select json_agg(d order by d.id) from (
        select id, endpoint_id, event_id, status, attempts, parked, next_attempt_at, first_attempt_at,
               delivered_at
        from webhook_deliveries) d),
      'events', (select json_agg(e order by e.id) from (
        select id, tenant_id, seq, session_id, type, data from events) e),
      'messages', (select json_agg(m order by m.session_id, m.id) from messages m)
    ) as snapshot`.execute(db);
  return rows[0]?.snapshot;
}

/** Runs `request` and checks that no row changed; returns the response. */
export async function expectUnchanged(
  db: Kysely<Database>,
  request: () => Promise<Response>,
): Promise<Response> {
  const before = await fullSnapshot(db);
  const response = await request();
  // Let anything the request set off in the background land before looking.
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await fullSnapshot(db)).toEqual(before);
  return response;
}

/** An error body and nothing else: no data rides along with a refusal. */
export async function expectBareError(
  response: Response,
  status: number,
  code: string,
): Promise<Record<string, unknown>> {
  const body = (await response.json()) as Record<string, unknown>;
  expect({ status: response.status, code: body.code, success: body.success }).toEqual({
    status,
    code,
    success: false,
  });
  expect(Object.keys(body).sort()).toEqual(['code', 'error', 'success']);
  return body;
}
