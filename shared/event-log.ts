// Appending to the event log: one function for the hosts and the edge (plain Kysely, any runtime).
import type { Kysely } from 'kysely';
import { monotonicFactory } from 'ulid';
import type { Database, JsonValue } from './db-schema.js';
import type { EventData, EventType } from './events.js';

// Monotonic within this process or isolate: two events of one millisecond still sort in the order they
// were made. (Ids are unique and roughly time-ordered; the log's order is the tenant's `seq`.)
const ulid = monotonicFactory();

/** A new event id: `evt_` and a ULID. */
export const newEventId = (): string => `evt_${ulid()}`;

/** Who an event belongs to: a tenant, and the session unless it is the tenant's own (webhook.disabled). */
export type EventOwner = { tenantId: string; sessionId: string | null; sessionName: string | null };

/**
 * Appends an event. The database numbers it within the tenant (the log's order) and fans it out to the
 * tenant's matching webhook endpoints (all but `webhook.test`, which its caller delivers itself), in the
 * caller's transaction.
 */
export async function insertEvent<T extends EventType>(
  db: Kysely<Database>,
  owner: EventOwner,
  type: T,
  data: EventData<T>,
): Promise<{ id: string; seq: string }> {
  return db
    .insertInto('events')
    .values({
      id: newEventId(),
      tenant_id: owner.tenantId,
      session_id: owner.sessionId,
      session_name: owner.sessionName,
      type,
      // jsonb: postgres.js encodes the value itself.
      data: data as JsonValue,
    })
    .returning(['id', 'seq'])
    .executeTakeFirstOrThrow();
}
