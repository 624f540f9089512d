// Files waiting to be sent (migrations/0006): kept from the moment their message is queued until it left,
// failed or was cancelled, then swept.
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../shared/db-schema.js';

/** A file downloaded for a message the edge is about to queue: kept unclaimed until then. */
export async function keepUnclaimed(
  db: Kysely<Database>,
  sessionId: string,
  file: { data: Uint8Array; mimetype: string },
): Promise<string> {
  const id = crypto.randomUUID();
  await db
    .insertInto('outbox_media')
    .values({ id, session_id: sessionId, message_id: null, mimetype: file.mimetype, data: file.data })
    .execute();
  return id;
}

/** The file a queued message carries. */
export async function fileOf(
  db: Kysely<Database>,
  sessionId: string,
  id: string,
): Promise<Buffer | undefined> {
  const row = await db
    .selectFrom('outbox_media')
    .select('data')
    .where('id', '=', id)
    .where('session_id', '=', sessionId)
    .executeTakeFirst();
  // The driver hands bytea over as a Buffer of its own: a view of it, not a copy of a megabyte.
  return row && Buffer.from(row.data.buffer, row.data.byteOffset, row.data.byteLength);
}

/** How long a downloaded file waits for its message before it is swept. */
export const UNCLAIMED_GRACE_MS = 60 * 60_000;

/**
 * Drops files no message will send any more: those never claimed within the grace, and those of messages
 * no longer queued (sent, failed, cancelled, or deleted).
 */
export async function sweepOutboxMedia(db: Kysely<Database>, now: Date): Promise<number> {
  const { numAffectedRows } = await sql`
    delete from outbox_media o
    where (o.message_id is null and o.created_at < ${new Date(now.getTime() - UNCLAIMED_GRACE_MS)})
       or (o.message_id is not null and not exists (
         select 1 from messages m
         where m.session_id = o.session_id and m.id = o.message_id and m.status = 'queued'))`.execute(db);
  return Number(numAffectedRows ?? 0);
}
