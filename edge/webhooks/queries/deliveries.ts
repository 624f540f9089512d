// Delivery rows the edge writes (a test event's, a replay's) and the delivery log it reads. They fit the
// hosts' queue (node-runtime/webhooks/queue.ts): a `pending` row that is due is sent by the next worker
// to claim its endpoint, in event order (`event_seq`) among the endpoint's pending rows.
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../../shared/db-schema.js';
import { type Page, pageOf } from '../../tenancy/pagination.js';

/** One delivery of event `event` to endpoint `endpointId`, due now. */
export async function insertDelivery(
  db: Kysely<Database>,
  endpointId: string,
  event: { id: string; seq: string },
): Promise<void> {
  await db
    .insertInto('webhook_deliveries')
    .values({ endpoint_id: endpointId, event_id: event.id, event_seq: event.seq })
    .execute();
}

// A replayed event is pending and due again, no longer set aside, with a fresh give-up window (the
// worker gives up on a delivery that has failed for days since its first attempt). Its attempt count
// and its log are kept.
const RESET = sql`
  ON CONFLICT (endpoint_id, event_id) DO UPDATE
  SET status = 'pending', next_attempt_at = now(), parked = false, first_attempt_at = NULL, delivered_at = NULL
`;

// A test event made for this endpoint: it went here whatever the endpoint's filters.
const OWN_TEST = sql`(ev.type = 'webhook.test' AND ev.data ->> 'webhookId' = ep.id::text)`;
// An endpoint for one session takes that session's events only; one for all, the tenant's own too.
const SESSION_TAKES = sql`(ep.session_id IS NULL OR ev.session_id = ep.session_id)`;

/**
 * Queues event `eventId` for endpoint `endpointId` again, if it is the tenant's and the endpoint would
 * get it by its session filter (or it is a test event made for it). Returns how many were queued: 0 or 1.
 */
export async function replayEvent(
  db: Kysely<Database>,
  tenantId: string,
  endpointId: string,
  eventId: string,
): Promise<number> {
  const result = await sql`
    INSERT INTO webhook_deliveries (endpoint_id, event_id, event_seq)
    SELECT ep.id, ev.id, ev.seq
    FROM events AS ev
    JOIN webhook_endpoints AS ep ON ep.id = ${endpointId} AND ep.tenant_id = ev.tenant_id
    WHERE ev.id = ${eventId}
      AND ev.tenant_id = ${tenantId}
      AND (${OWN_TEST} OR ${SESSION_TAKES})
    ${RESET}
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

/**
 * Queues again every event of the tenant since `since` that went, or would have gone, to the endpoint:
 * those its filters take (its session, its types; another endpoint's test events never), and its own
 * test events. Returns how many.
 */
export async function replaySince(
  db: Kysely<Database>,
  tenantId: string,
  endpointId: string,
  since: Date,
): Promise<number> {
  const result = await sql`
    INSERT INTO webhook_deliveries (endpoint_id, event_id, event_seq)
    SELECT ep.id, ev.id, ev.seq
    FROM events AS ev
    JOIN webhook_endpoints AS ep ON ep.id = ${endpointId} AND ep.tenant_id = ev.tenant_id
    WHERE ev.tenant_id = ${tenantId}
      AND ev.created_at >= ${since}
      AND (
        ${OWN_TEST}
        OR (
          ev.type <> 'webhook.test'
          AND ${SESSION_TAKES}
          AND (ep.event_types IS NULL OR ev.type = ANY (ep.event_types))
        )
      )
    ${RESET}
  `.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

export interface AttemptRow {
  id: string;
  eventId: string;
  /** Null once the event has passed retention. */
  eventType: string | null;
  attemptedAt: Date;
  statusCode: number | null;
  latencyMs: number | null;
  error: string | null;
  outcome: 'delivered' | 'failed' | 'dead' | 'disabled';
  nextAttemptAt: Date | null;
}

/**
 * The endpoint's delivery log, newest first. An attempt's id is its number within the endpoint; the
 * cursor is the previous page's last one.
 */
export async function listAttempts(
  db: Kysely<Database>,
  endpointId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<AttemptRow>> {
  let query = db
    .selectFrom('webhook_attempts as a')
    .leftJoin('events as ev', 'ev.id', 'a.event_id')
    .select([
      'a.seq as id',
      'a.event_id',
      'ev.type',
      'a.attempted_at',
      'a.status_code',
      'a.latency_ms',
      'a.error',
      'a.outcome',
      'a.next_attempt_at',
    ])
    .where('a.endpoint_id', '=', endpointId)
    .orderBy('a.seq', 'desc')
    .limit(page.limit + 1);
  if (page.cursor !== undefined) query = query.where('a.seq', '<', page.cursor);
  const rows = await query.execute();
  return pageOf(
    rows.map((r) => ({
      id: r.id,
      eventId: r.event_id,
      eventType: r.type,
      attemptedAt: r.attempted_at,
      statusCode: r.status_code,
      latencyMs: r.latency_ms,
      error: r.error,
      outcome: r.outcome,
      nextAttemptAt: r.next_attempt_at,
    })),
    page.limit,
    (a) => a.id,
  );
}
