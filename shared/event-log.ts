// Appending to the event log: one function for the hosts and the edge (plain Kysely, any runtime).
import type { Kysely } from 'kysely';
import { encodeTime, monotonicFactory, TIME_LEN } from 'ulid';
import type { Database, JsonValue } from './db-schema.js';
import type { EventData, EventType } from './events.js';

// Monotonic within this process or isolate: two events of one millisecond still sort in the order they
// were made. (Ids are unique and roughly time-ordered; the log's order is the tenant's `seq`.) The
// random part comes from a pool filled 4 KiB at a time: ulid's own source asks the system for one byte
// per character, 16 calls an id, which was 3% of a host's time sending messages.
const ulid = monotonicFactory(pooledRandom());

function pooledRandom(): () => number {
  const pool = new Uint8Array(4096);
  let next = pool.length;
  return () => {
    if (next === pool.length) {
      crypto.getRandomValues(pool);
      next = 0;
    }
    return (pool[next++] as number) / 256;
  };
}

/** A new event id: `evt_` and a ULID. */
export const newEventId = (): string => `evt_${ulid()}`;

/** Sorts after the id of every event made before `at` and before every one made from then on. */
export const eventIdsFrom = (at: Date): string => `evt_${encodeTime(at.getTime(), TIME_LEN)}`;

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
