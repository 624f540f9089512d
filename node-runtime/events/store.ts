// The message store and the event log in SQL: plain functions over a Kysely (or a transaction), so a
// change and the event that reports it are written together.
import { type Insertable, type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database, MessageRow, MessagesTable } from '../../shared/db-schema.js';
import { newEventId } from '../../shared/event-log.js';
import {
  type EventType,
  MESSAGE_STATUS_RANK,
  type Message,
  type MessageStatus,
} from '../../shared/events.js';
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

/** The messages row a stored message becomes. */
const messageValues = (session: SessionRef, message: StoredMessage): Insertable<MessagesTable> => ({
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
});

// The hot paths below write a change and its event in one statement (a data-modifying CTE): atomic on
// its own, and one round trip instead of four (BEGIN, the change, the event, COMMIT). Each also says
// whether the tenant has an enabled webhook endpoint, so the worker is woken only when it may have work.

/** Whether the tenant has an enabled webhook endpoint (the worker need not look otherwise). */
const hooked = (tenantId: string) =>
  sql<boolean>`exists (select 1 from webhook_endpoints w where w.tenant_id = ${tenantId} and w.enabled)`;

/** Inserts a message and its event unless the session already has it (a redelivery): undefined then. */
export async function insertMessageWithEvent(
  db: Kysely<Database>,
  session: SessionRef,
  message: StoredMessage,
  type: 'message.received' | 'message.sent',
): Promise<{ hooked: boolean } | undefined> {
  const data = { sessionId: session.name, message: storedMessageView(message, session.name) };
  return db
    .with('m', (qb) =>
      qb
        .insertInto('messages')
        .values(messageValues(session, message))
        .onConflict((oc) => oc.columns(['session_id', 'id']).doNothing())
        .returning('id'),
    )
    .insertInto('events')
    .columns(['id', 'tenant_id', 'session_id', 'session_name', 'type', 'data'])
    .expression((eb) =>
      eb
        .selectFrom('m')
        .select([
          sql<string>`${newEventId()}`.as('id'),
          sql<string>`${session.tenantId}::uuid`.as('tenant_id'),
          sql<string>`${session.id}::uuid`.as('session_id'),
          sql<string>`${session.name}`.as('session_name'),
          sql<string>`${type}`.as('type'),
          sql`cast(${JSON.stringify(data)} as text)::jsonb`.as('data'),
        ]),
    )
    .returning(hooked(session.tenantId).as('hooked'))
    .executeTakeFirst();
}

/**
 * Moves an outbound message's status forward (never back; `failed` only from below `sent`) and, when it
 * moved, writes its event (`message.sent` with the message, or `message.status`; none for `queued`), in
 * one statement. Returns the message as it is now, or undefined when nothing changed.
 */
export async function advanceStatusWithEvent(
  db: Kysely<Database>,
  session: SessionRef,
  id: string,
  status: MessageStatus,
  at: Date,
  failure: string | null = null,
): Promise<{ message: Message; hooked: boolean } | undefined> {
  const below = status === 'failed' ? MESSAGE_STATUS_RANK.sent : MESSAGE_STATUS_RANK[status];
  const type: EventType | null =
    status === 'sent' ? 'message.sent' : status === 'queued' ? null : 'message.status';
  const data =
    type === 'message.sent'
      ? sql`jsonb_build_object('sessionId', ${session.name}::text, 'message', ${messageJson(session.name)})`
      : sql`jsonb_build_object('sessionId', ${session.name}::text, 'id', m.id, 'chat', m.chat_jid,
          'status', m.status, 'failure', m.failure, 'at', ${at.toISOString()}::text)`;
  const { rows } = await sql<MessageRow & { hooked: boolean }>`
    with m as (
      update messages
      set status = ${status}, status_rank = ${MESSAGE_STATUS_RANK[status]}, status_at = ${at},
        failure = ${failure}
      where session_id = ${session.id} and id = ${id} and direction = 'out' and status_rank < ${below}
      returning *
    ), e as (
      insert into events (id, tenant_id, session_id, session_name, type, data)
      select ${newEventId()}, ${session.tenantId}, ${session.id}, ${session.name}, ${type}, ${data}
      from m where ${type}::text is not null
    )
    select m.*, ${hooked(session.tenantId)} as hooked from m`.execute(db);
  const row = rows[0];
  return row && { message: messageView(row, session.name), hooked: row.hooked };
}

/**
 * The API view of the messages row `m` (shared/message-view.ts `messageView`) built in SQL, for events
 * written in the statement that changes the row; a test holds the two to the same output.
 */
export function messageJson(sessionName: string): RawBuilder<unknown> {
  const iso = (column: string) =>
    sql`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  return sql`jsonb_build_object(
    'id', m.id, 'sessionId', ${sessionName}::text, 'direction', m.direction, 'chat', m.chat_jid,
    'chatLid', m.chat_lid, 'from', m.sender_jid, 'fromLid', m.sender_lid, 'kind', m.kind, 'text', m.text,
    'quoted', coalesce(m.content -> 'quoted', 'null'::jsonb), 'timestamp', ${iso('m.sent_at')},
    'status', m.status, 'statusAt', ${iso('m.status_at')}, 'failure', m.failure, 'source', m.source)`;
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
