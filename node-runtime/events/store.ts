// The message store and the event log in SQL: plain functions over a Kysely (or a transaction), so a
// change and the event that reports it are written together.
import { type Insertable, type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database, MessageRow, MessagesTable } from '../../shared/db-schema.js';
import { newEventId } from '../../shared/event-log.js';
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

/** One outbound message's status to move forward. */
export type StatusChange = { id: string; status: MessageStatus; at: Date; failure: string | null };

/**
 * Moves outbound messages' statuses forward (never back; `failed` only from below `sent`) and, for each
 * that moved, writes its event (`message.sent` with the message, or `message.status`; none for
 * `queued`), in the order given: all in one statement, so acks and receipts that arrive together cost
 * one round trip and one commit. The ids must be distinct. Returns the messages that moved, as they are
 * now, and whether the tenant has a webhook endpoint.
 */
export async function advanceStatusesWithEvents(
  db: Kysely<Database>,
  session: SessionRef,
  changes: readonly StatusChange[],
): Promise<{ moved: Message[]; hooked: boolean }> {
  if (changes.length === 0) return { moved: [], hooked: false };
  const column = <T>(pick: (change: StatusChange) => T) => changes.map(pick);
  const { rows } = await sql<MessageRow & { hooked: boolean; ord: string }>`
    with i as (
      select * from unnest(
        ${column((c) => c.id)}::text[], ${column((c) => c.status)}::text[],
        ${column((c) => MESSAGE_STATUS_RANK[c.status])}::smallint[],
        ${column((c) => (c.status === 'failed' ? MESSAGE_STATUS_RANK.sent : MESSAGE_STATUS_RANK[c.status]))}::smallint[],
        ${column((c) => c.at.toISOString())}::text[], ${column((c) => c.failure)}::text[],
        ${column(() => newEventId())}::text[]
      ) with ordinality as i(id, status, rank, below, at, failure, event_id, ord)
    ), m as (
      update messages set status = i.status, status_rank = i.rank, status_at = i.at::timestamptz,
        failure = i.failure
      from i
      where messages.session_id = ${session.id} and messages.id = i.id and messages.direction = 'out'
        and messages.status_rank < i.below
      returning messages.*, i.ord, i.event_id, i.at as moved_at
    ), e as (
      insert into events (id, tenant_id, session_id, session_name, type, data)
      select m.event_id, ${session.tenantId}, ${session.id}, ${session.name},
        case when m.status = 'sent' then 'message.sent' else 'message.status' end,
        case when m.status = 'sent'
          then jsonb_build_object('sessionId', ${session.name}::text, 'message', ${messageJson(session.name)})
          else jsonb_build_object('sessionId', ${session.name}::text, 'id', m.id, 'chat', m.chat_jid,
            'status', m.status, 'failure', m.failure, 'at', m.moved_at)
        end
      from m where m.status <> 'queued' order by m.ord
    )
    select m.*, ${hooked(session.tenantId)} as hooked from m order by m.ord`.execute(db);
  return {
    moved: rows.map((row) => messageView(row, session.name)),
    hooked: rows.some((row) => row.hooked),
  };
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
