// The event log as the edge reads it (GET /api/events) and the few events the edge itself writes
// (`webhook.test`). Every read names the tenant, and for a session key the session, so another
// tenant's or session's event is simply not there.
import type { Kysely } from 'kysely';
import type { Database, JsonValue } from '../../../shared/db-schema.js';
import { EVENT_ID_PATTERN, type EventType } from '../../../shared/events.js';

/** Whose events: a tenant's (an admin key), or one session's of it (a session key). */
export interface EventScope {
  tenantId: string;
  /** sessions.id; null: every event of the tenant, its own (session-less) events included. */
  sessionId: string | null;
}

export interface StoredEvent {
  id: string;
  seq: string;
  type: string;
  sessionName: string | null;
  data: JsonValue;
  createdAt: Date;
}

function inScope(db: Kysely<Database>, scope: EventScope) {
  let query = db.selectFrom('events').where('tenant_id', '=', scope.tenantId);
  if (scope.sessionId !== null) query = query.where('session_id', '=', scope.sessionId);
  return query;
}

/** The position of the scope's last event ('0' when it has none): what comes after it is new. */
export async function lastEventSeq(db: Kysely<Database>, scope: EventScope): Promise<string> {
  const row = await inScope(db, scope)
    .select((eb) => eb.fn.max('seq').as('seq'))
    .executeTakeFirst();
  return row?.seq ?? '0';
}

/**
 * The position (`seq`) of event `id` in the scope's log; undefined when it is not in the scope, or not
 * an event id at all (then without a look-up).
 */
export async function findEventSeq(
  db: Kysely<Database>,
  scope: EventScope,
  id: string,
): Promise<string | undefined> {
  if (!EVENT_ID_PATTERN.test(id)) return undefined;
  const row = await inScope(db, scope).select('seq').where('id', '=', id).executeTakeFirst();
  return row?.seq;
}

/**
 * The scope's events after position `afterSeq`, in the log's order (`seq`, which is commit order within
 * the tenant: a reader that sees an event has seen every event before it), `types` only if given.
 */
export async function listEvents(
  db: Kysely<Database>,
  scope: EventScope,
  page: { afterSeq: string; types: EventType[] | undefined; limit: number },
): Promise<StoredEvent[]> {
  let query = inScope(db, scope)
    .select(['id', 'seq', 'type', 'session_name', 'data', 'created_at'])
    .where('seq', '>', page.afterSeq)
    .orderBy('seq')
    .limit(page.limit);
  if (page.types !== undefined) query = query.where('type', 'in', page.types);
  const rows = await query.execute();
  return rows.map((r) => ({
    id: r.id,
    seq: r.seq,
    type: r.type,
    sessionName: r.session_name,
    data: r.data,
    createdAt: r.created_at,
  }));
}
