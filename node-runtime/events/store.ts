// The message store and the event log in SQL: plain functions over a Kysely (or a transaction), so a
// change and the event that reports it are written together.
import type { Kysely } from 'kysely';
import type { Database } from '../../shared/db-schema.js';
import { MESSAGE_STATUS_RANK, type Message, type MessageStatus } from '../../shared/events.js';
import { messageView } from '../../shared/message-view.js';

/** The session an event or a message belongs to. */
export type SessionRef = { id: string; tenantId: string; name: string };

/** A message as the store keeps it (before it has a session name attached for the API). */
export type StoredMessage = {
  id: string;
  direction: 'in' | 'out';
  chatJid: string;
  chatLid: string | null;
  senderJid: string | null;
  senderLid: string | null;
  kind: Message['kind'];
  text: string | null;
  quoted: Message['quoted'];
  sentAt: Date;
  status: MessageStatus | null;
  source: Message['source'];
};

/** Inserts a message unless the session already has one with its id (a redelivery); true if new. */
export async function insertMessage(
  db: Kysely<Database>,
  session: SessionRef,
  message: StoredMessage,
): Promise<boolean> {
  const inserted = await db
    .insertInto('messages')
    .values({
      session_id: session.id,
      id: message.id,
      tenant_id: session.tenantId,
      direction: message.direction,
      chat_jid: message.chatJid,
      chat_lid: message.chatLid,
      sender_jid: message.senderJid,
      sender_lid: message.senderLid,
      kind: message.kind,
      text: message.text,
      content: message.quoted ? { quoted: message.quoted } : {},
      sent_at: message.sentAt,
      status: message.status,
      status_rank: message.status ? MESSAGE_STATUS_RANK[message.status] : 0,
      status_at: message.status ? new Date() : null,
      source: message.source,
    })
    .onConflict((oc) => oc.columns(['session_id', 'id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/**
 * Moves an outbound message's status forward (never back; `failed` only from below `sent`). Returns the
 * message as it is now, or undefined when nothing changed.
 */
export async function advanceStatus(
  db: Kysely<Database>,
  session: SessionRef,
  id: string,
  status: MessageStatus,
  at: Date,
  failure: string | null = null,
): Promise<Message | undefined> {
  let query = db
    .updateTable('messages')
    .set({ status, status_rank: MESSAGE_STATUS_RANK[status], status_at: at, failure })
    .where('session_id', '=', session.id)
    .where('id', '=', id)
    .where('direction', '=', 'out');
  query =
    status === 'failed'
      ? query.where('status_rank', '<', MESSAGE_STATUS_RANK.sent)
      : query.where('status_rank', '<', MESSAGE_STATUS_RANK[status]);
  const row = await query.returningAll().executeTakeFirst();
  return row && messageView(row, session.name);
}

/** The API view of a message about to be stored. */
export function storedMessageView(message: StoredMessage, sessionName: string): Message {
  return {
    id: message.id,
    sessionId: sessionName,
    direction: message.direction,
    chat: message.chatJid,
    chatLid: message.chatLid,
    from: message.senderJid,
    fromLid: message.senderLid,
    kind: message.kind,
    text: message.text,
    quoted: message.quoted,
    timestamp: message.sentAt.toISOString(),
    status: message.status,
    statusAt: message.status ? new Date().toISOString() : null,
    failure: null,
    source: message.source,
  };
}
