// A tenant's webhook endpoints. Every query names the tenant, so another tenant's endpoint is simply not
// there. The signing secrets are read only to be moved (a rotation); they are never selected for a view.
import { type Kysely, type SqlBool, sql, type Updateable } from 'kysely';
import type { Database, WebhookEndpointsTable } from '../../../shared/db-schema.js';
import { type Page, pageOf } from '../../tenancy/pagination.js';

/** An endpoint as its tenant's admin sees it; never its secret. */
export interface EndpointRow {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  sessionUuid: string | null;
  /** The session's name (the client's `sessionId`). */
  sessionName: string | null;
  enabled: boolean;
  disabledReason: string | null;
  failingSince: Date | null;
  nextAttemptAt: Date;
  /** Deliveries waiting to be made. */
  pending: number;
  createdAt: Date;
  updatedAt: Date;
}

function selectEndpoints(db: Kysely<Database>, tenantId: string) {
  return db
    .selectFrom('webhook_endpoints as e')
    .leftJoin('sessions as s', 's.id', 'e.session_id')
    .select([
      'e.id',
      'e.url',
      'e.description',
      'e.event_types',
      'e.session_id',
      's.name as session_name',
      'e.enabled',
      'e.disabled_reason',
      'e.failing_since',
      'e.next_attempt_at',
      'e.created_at',
      'e.updated_at',
    ])
    .select((eb) =>
      eb
        .selectFrom('webhook_deliveries as d')
        .select((count) => count.fn.countAll<string>().as('n'))
        .whereRef('d.endpoint_id', '=', 'e.id')
        .where('d.status', '=', 'pending')
        .as('pending'),
    )
    .where('e.tenant_id', '=', tenantId);
}

type SelectedEndpoint = Awaited<ReturnType<ReturnType<typeof selectEndpoints>['executeTakeFirstOrThrow']>>;

const toEndpointRow = (row: SelectedEndpoint): EndpointRow => ({
  id: row.id,
  url: row.url,
  description: row.description,
  eventTypes: row.event_types,
  sessionUuid: row.session_id,
  sessionName: row.session_name,
  enabled: row.enabled,
  disabledReason: row.disabled_reason,
  failingSince: row.failing_since,
  nextAttemptAt: row.next_attempt_at,
  pending: Number(row.pending ?? 0),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** The tenant's endpoints, oldest first; the cursor is the id of the previous page's last one. */
export async function listEndpoints(
  db: Kysely<Database>,
  tenantId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<EndpointRow>> {
  let query = selectEndpoints(db, tenantId)
    .orderBy('e.created_at')
    .orderBy('e.id')
    .limit(page.limit + 1);
  if (page.cursor !== undefined) {
    // Looked up in this tenant only: another tenant's id gives an empty page, as an unknown one does.
    query = query.where(
      sql<SqlBool>`(e.created_at, e.id) > (select c.created_at, c.id from webhook_endpoints c where c.id = ${page.cursor} and c.tenant_id = ${tenantId})`,
    );
  }
  const rows = await query.execute();
  return pageOf(rows.map(toEndpointRow), page.limit, (e) => e.id);
}

/** The tenant's endpoint `id`. */
export async function findEndpoint(
  db: Kysely<Database>,
  tenantId: string,
  id: string,
): Promise<EndpointRow | undefined> {
  const row = await selectEndpoints(db, tenantId).where('e.id', '=', id).executeTakeFirst();
  return row ? toEndpointRow(row) : undefined;
}

/** What a change to an endpoint needs to know of it now. */
export interface LockedEndpoint {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  sessionUuid: string | null;
  enabled: boolean;
  /** Sealed (SecretBox): moved aside by a rotation, never opened here. */
  secret: Uint8Array;
}

/**
 * The tenant's endpoint `id`, its row locked until the transaction ends. NO KEY UPDATE: a host's event
 * fanning out to this endpoint at the same time (its delivery row references the endpoint) goes on, so a
 * change that writes an event itself (a test) cannot deadlock with it on the tenant's event lock.
 */
export async function lockEndpoint(
  db: Kysely<Database>,
  tenantId: string,
  id: string,
): Promise<LockedEndpoint | undefined> {
  const row = await db
    .selectFrom('webhook_endpoints')
    .select(['id', 'url', 'description', 'event_types', 'session_id', 'enabled', 'secret'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .forNoKeyUpdate()
    .executeTakeFirst();
  return (
    row && {
      id: row.id,
      url: row.url,
      description: row.description,
      eventTypes: row.event_types,
      sessionUuid: row.session_id,
      enabled: row.enabled,
      secret: row.secret,
    }
  );
}

export interface NewEndpoint {
  tenantId: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  sessionUuid: string | null;
  secret: Uint8Array;
}

/**
 * Inserts an endpoint; undefined when the tenant has one with this URL for the same sessions already
 * (ON CONFLICT instead of catching the unique violation keeps the surrounding transaction usable).
 */
export async function insertEndpoint(
  db: Kysely<Database>,
  endpoint: NewEndpoint,
): Promise<{ id: string } | undefined> {
  return db
    .insertInto('webhook_endpoints')
    .values({
      tenant_id: endpoint.tenantId,
      url: endpoint.url,
      description: endpoint.description,
      event_types: endpoint.eventTypes,
      session_id: endpoint.sessionUuid,
      secret: endpoint.secret,
    })
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .executeTakeFirst();
}

export type EndpointChanges = Pick<
  Updateable<WebhookEndpointsTable>,
  | 'url'
  | 'description'
  | 'event_types'
  | 'session_id'
  | 'enabled'
  | 'disabled_reason'
  | 'failing_since'
  | 'secret'
  | 'previous_secret'
  | 'previous_until'
> & {
  /** The endpoint and its pending deliveries are due at once (the database's now()). */
  resumeNow?: boolean;
};

/** Applies `changes` to endpoint `id`. Throws the database's unique violation for a taken URL. */
export async function updateEndpoint(
  db: Kysely<Database>,
  id: string,
  changes: EndpointChanges,
): Promise<void> {
  const { resumeNow, ...columns } = changes;
  await db
    .updateTable('webhook_endpoints')
    .set({ ...columns, ...(resumeNow ? { next_attempt_at: sql<Date>`now()` } : {}) })
    .where('id', '=', id)
    .execute();
  // Its pending deliveries too: their retries were scheduled for the failures this change ends.
  if (resumeNow) {
    await db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: sql<Date>`now()` })
      .where('endpoint_id', '=', id)
      .where('status', '=', 'pending')
      .execute();
  }
}

/** Whether `err` is the database refusing a second endpoint with the same URL for the same sessions. */
export function isDuplicateEndpoint(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    Reflect.get(err, 'code') === '23505' &&
    Reflect.get(err, 'constraint_name') === 'webhook_endpoints_url_idx'
  );
}

/** Deletes endpoint `id` (its deliveries and their log go with it). */
export async function deleteEndpoint(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
}

/** The endpoint is claimed by the next worker round, whatever failure made it wait. */
export async function wakeEndpoint(db: Kysely<Database>, id: string): Promise<void> {
  await db
    .updateTable('webhook_endpoints')
    .set({ next_attempt_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}
