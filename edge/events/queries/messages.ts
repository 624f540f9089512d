// A session's stored messages, newest first. Every query names the session (sessions.id), so another
// session's message is simply not there.
import { type Kysely, type Selectable, type SqlBool, sql } from 'kysely';
import type { Database, MessagesTable } from '../../../shared/db-schema.js';
import { type Page, pageOf } from '../../tenancy/pagination.js';
import { encodeMessageCursor, type MessageCursor } from '../message-cursor.js';

/** `sent_at` to the microsecond, as text: a Date would drop the microseconds and skip rows. */
const exactSentAt = sql<string>`to_char(messages.sent_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export type MessageRowWithCursor = Selectable<MessagesTable> & { sent_at_exact: string };

/**
 * One page of the session's messages, newest first (by WhatsApp's time, then id, so equal times keep a
 * fixed order), `chat` only if given (matched by its phone JID or its LID), older than `before` if given.
 */
export async function listMessages(
  db: Kysely<Database>,
  sessionUuid: string,
  page: { chat?: string | undefined; before?: MessageCursor | undefined; limit: number },
): Promise<Page<MessageRowWithCursor>> {
  let query = db
    .selectFrom('messages')
    .selectAll()
    .select(exactSentAt.as('sent_at_exact'))
    .where('session_id', '=', sessionUuid)
    .orderBy('sent_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  const { chat, before } = page;
  if (chat !== undefined) {
    query = query.where((eb) => eb.or([eb('chat_jid', '=', chat), eb('chat_lid', '=', chat)]));
  }
  if (before !== undefined) {
    // Sent as text: postgres.js would make a Date of a timestamptz parameter and drop the microseconds.
    query = query.where(
      sql<SqlBool>`(messages.sent_at, messages.id) < (${before.sentAt}::text::timestamptz, ${before.id})`,
    );
  }
  const rows = await query.execute();
  return pageOf(rows, page.limit, (row) => encodeMessageCursor({ sentAt: row.sent_at_exact, id: row.id }));
}

/** The session's message with WhatsApp id `id`. */
export async function findMessage(
  db: Kysely<Database>,
  sessionUuid: string,
  id: string,
): Promise<Selectable<MessagesTable> | undefined> {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('session_id', '=', sessionUuid)
    .where('id', '=', id)
    .executeTakeFirst();
}
