// How the hosts' webhook workers hear, on commit, that something may need delivering. Most notices come
// from triggers (migrations 0011 to 0013); the edge sends its own for deliveries the fan-out does not
// queue, or that a host would take for its own writes.
import { type Kysely, sql } from 'kysely';
import type { Database } from './db-schema.js';

/** Deliveries were queued for a tenant: `<tenant id> <writer>` (migrations/0011_webhook_notify.sql). */
export const WEBHOOK_CHANNEL = 'webhook_due';
/**
 * A tenant's endpoints were added, removed, turned on or off (0012), or given a new URL or secret (0013):
 * the tenant's id.
 */
export const ENDPOINTS_CHANNEL = 'webhook_endpoints';
/**
 * The writer the edge's own notices name. No worker is woken for what the edge writes, but in one process
 * (`npm start`) its connections are named as the host's, and a worker skips the notices of its own host's
 * writers (it was woken as they wrote).
 */
export const EDGE_WRITER = 'edge';

/**
 * Tells every host, when `db`'s transaction commits, that the edge queued deliveries for `tenantId`: a
 * test event's or a replay's (which the fan-out leaves alone), or an event's it wrote.
 */
export async function tellDeliveriesQueued(db: Kysely<Database>, tenantId: string): Promise<void> {
  await sql`SELECT pg_notify(${WEBHOOK_CHANNEL}, ${`${tenantId} ${EDGE_WRITER}`})`.execute(db);
}
