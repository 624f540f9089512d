// The outbox in SQL: the queued rows of the messages table, in queue order.
import type { Kysely } from 'kysely';
import type { Database } from '../../shared/db-schema.js';
import { type Pacing, PacingSchema } from '../../shared/outbox.js';

export type Queued = {
  id: string;
  chatJid: string;
  text: string | null;
  expiresAt: Date | null;
  attempts: number;
};

/**
 * The session's queued messages, oldest first, but for those in `skip`, with the tenant admin's pacing
 * for the session (null: the deployment's default) read in the same query.
 */
export async function queuedMessages(
  db: Kysely<Database>,
  sessionId: string,
  limit: number,
  skip: ReadonlySet<string>,
): Promise<{ queue: Queued[]; pacing: Pacing | null }> {
  let query = db
    .selectFrom('messages')
    .select(['id', 'chat_jid', 'text', 'expires_at', 'attempts'])
    .select((eb) => eb.selectFrom('sessions').select('pacing').where('id', '=', sessionId).as('pacing'))
    .where('session_id', '=', sessionId)
    .where('status', '=', 'queued');
  if (skip.size > 0) query = query.where('id', 'not in', [...skip]);
  const rows = await query.orderBy('outbox_seq').limit(limit).execute();
  const parsed = PacingSchema.safeParse(rows[0]?.pacing);
  return {
    queue: rows.map((r) => ({
      id: r.id,
      chatJid: r.chat_jid,
      text: r.text,
      expiresAt: r.expires_at,
      attempts: r.attempts,
    })),
    pacing: parsed.success ? parsed.data : null,
  };
}

/**
 * Claims a queued message for a hand-over to WhatsApp, counting it before it happens (a crash after it
 * resends under the same id). False when it is no longer queued: cancelled or failed meanwhile. The row
 * lock orders this against a cancel, which only takes messages never handed over.
 */
export async function claimForSend(db: Kysely<Database>, sessionId: string, id: string): Promise<boolean> {
  const claimed = await db
    .updateTable('messages')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('session_id', '=', sessionId)
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .returning('id')
    .executeTakeFirst();
  return claimed !== undefined;
}

/** The sessions among `sessionIds` that have queued messages. */
export async function sessionsWithQueued(db: Kysely<Database>, sessionIds: string[]): Promise<string[]> {
  if (sessionIds.length === 0) return [];
  const rows = await db
    .selectFrom('messages')
    .select('session_id')
    .distinct()
    .where('status', '=', 'queued')
    .where('session_id', 'in', sessionIds)
    .execute();
  return rows.map((r) => r.session_id);
}

/** When the next queued message is planned to go (null: nothing waits), for the admin's view. */
export async function recordNextSend(
  db: Kysely<Database>,
  sessionId: string,
  at: Date | null,
): Promise<void> {
  await db.updateTable('sessions').set({ outbox_next_at: at }).where('id', '=', sessionId).execute();
}

/** A message of the session as `/api/send` needs it. */
export async function messageOf(db: Kysely<Database>, sessionId: string, id: string) {
  return db
    .selectFrom('messages')
    .select(['id', 'status', 'failure', 'chat_jid', 'text', 'attempts'])
    .where('session_id', '=', sessionId)
    .where('id', '=', id)
    .executeTakeFirst();
}
