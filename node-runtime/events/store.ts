// The message store and the event log in SQL: plain functions over a Kysely (or a transaction), so a
// change and the event that reports it are written together.
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { asyncCommitIf } from '../../shared/async-commit.js';
import type { Database } from '../../shared/db-schema.js';
import { newEventId } from '../../shared/event-log.js';
import { MESSAGE_STATUS_RANK, type Message, type MessageStatus } from '../../shared/events.js';
import { contentView, type MediaDownload, type StoredContent } from '../../shared/message-view.js';
import { type Fence, heldCte, type LeaseLostError, unlessLost } from '../db/lease-fence.js';

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
  /** What a message other than a plain text carries (a file's description and download keys, ...). */
  content?: StoredContent;
  sentAt: Date;
  status: MessageStatus | null;
  source: Message['source'];
};

// The hot paths below write a change and its event in one statement (a data-modifying CTE): atomic on
// its own, and one round trip instead of four (BEGIN, the change, the event, COMMIT). Each also says
// whether the tenant has an enabled webhook endpoint, so the worker is woken only when it may have work.

/** Whether the row's tenant has an enabled webhook endpoint (the worker need not look otherwise). */
const hooked = (tenantColumn: string) =>
  sql<boolean>`exists (select 1 from webhook_endpoints w where w.tenant_id = ${sql.ref(tenantColumn)} and w.enabled)`;

/**
 * Rows in the order their events go in: tenant by tenant (each tenant's numbering takes a lock held to the
 * commit, so every writer takes them in one order and two statements cannot deadlock), stable within one.
 */
const byTenant = (a: { session: SessionRef }, b: { session: SessionRef }) =>
  a.session.tenantId < b.session.tenantId ? -1 : a.session.tenantId > b.session.tenantId ? 1 : 0;

/** A message to store, with the event that reports it. */
export type MessageInsert = {
  session: SessionRef;
  message: StoredMessage;
  type: 'message.received' | 'message.sent';
};

/** Inserts a message and its event unless the session already has it (a redelivery): undefined then. */
export async function insertMessageWithEvent(
  db: Kysely<Database>,
  session: SessionRef,
  message: StoredMessage,
  type: 'message.received' | 'message.sent',
): Promise<{ hooked: boolean } | undefined> {
  const [written] = await insertMessagesWithEvents(db, [{ session, message, type }]);
  return written;
}

/** With a fence: LeaseLostError for the items of sessions whose leases this host no longer holds. */
type Fenced<R> = R | LeaseLostError;

/**
 * Inserts messages, of one session or several, each with its event unless its session already has it
 * (a redelivery, or the same message twice in the list: undefined then), all in one statement. Events
 * go in tenant by tenant (`byTenant`), and in the order given within a session. With a fence, only for
 * the sessions whose leases this host holds, checked in the same statement.
 */
export async function insertMessagesWithEvents(
  db: Kysely<Database>,
  items: readonly MessageInsert[],
): Promise<({ hooked: boolean } | undefined)[]>;
export async function insertMessagesWithEvents(
  db: Kysely<Database>,
  items: readonly MessageInsert[],
  fence: Fence | undefined,
): Promise<Fenced<{ hooked: boolean } | undefined>[]>;
export async function insertMessagesWithEvents(
  db: Kysely<Database>,
  items: readonly MessageInsert[],
  fence?: Fence,
): Promise<Fenced<{ hooked: boolean } | undefined>[]> {
  const seen = new Set<string>();
  const rows = items
    .map((item, index) => ({ ...item, index, key: `${item.session.id}/${item.message.id}` }))
    .filter((row) => !seen.has(row.key) && seen.add(row.key))
    .sort(byTenant);
  const out: ({ hooked: boolean } | undefined)[] = items.map(() => undefined);
  if (rows.length === 0) return out;
  const now = new Date().toISOString();
  const column = <T>(pick: (row: (typeof rows)[number]) => T) => rows.map(pick);
  const { rows: written } = await sql<{ held_id: string; id: string | null; hooked: boolean }>`
    with held as (${heldCte(
      fence,
      column((r) => r.session.id),
    )}), i as (
      select * from unnest(
        ${column((r) => r.session.id)}::uuid[], ${column((r) => r.session.tenantId)}::uuid[],
        ${column((r) => r.session.name)}::text[], ${column((r) => r.message.id)}::text[],
        ${column((r) => r.message.direction)}::text[], ${column((r) => r.message.chatJid)}::text[],
        ${column((r) => r.message.chatLid)}::text[], ${column((r) => r.message.senderJid)}::text[],
        ${column((r) => r.message.senderLid)}::text[], ${column((r) => r.message.kind)}::text[],
        ${column((r) => r.message.text)}::text[],
        ${column((r) => JSON.stringify({ ...r.message.content, ...(r.message.quoted ? { quoted: r.message.quoted } : {}) }))}::text[],
        ${column((r) => r.message.sentAt.toISOString())}::text[], ${column((r) => r.message.status)}::text[],
        ${column((r) => (r.message.status ? MESSAGE_STATUS_RANK[r.message.status] : 0))}::smallint[],
        ${column((r) => (r.message.status ? now : null))}::text[], ${column((r) => r.message.source)}::text[],
        ${column(() => newEventId())}::text[], ${column((r) => r.type)}::text[],
        ${column((r) => JSON.stringify({ sessionId: r.session.name, message: storedMessageView(r.message, r.session.name) }))}::text[]
      ) with ordinality as i(session_id, tenant_id, session_name, id, direction, chat_jid, chat_lid,
        sender_jid, sender_lid, kind, text, content, sent_at, status, status_rank, status_at, source,
        event_id, type, data, ord)
      where session_id in (select id from held)
    ), m as (
      insert into messages (session_id, id, tenant_id, direction, chat_jid, chat_lid, sender_jid,
        sender_lid, kind, text, content, sent_at, status, status_rank, status_at, source)
      select session_id, id, tenant_id, direction, chat_jid, chat_lid, sender_jid, sender_lid, kind, text,
        content::jsonb, sent_at::timestamptz, status, status_rank, status_at::timestamptz, source
      from i order by ord
      on conflict (session_id, id) do nothing
      returning session_id, id
    ), e as (
      insert into events (id, tenant_id, session_id, session_name, type, data)
      select i.event_id, i.tenant_id, i.session_id, i.session_name, i.type, i.data::jsonb
      from i join m on m.session_id = i.session_id and m.id = i.id
      order by i.ord
    )
    select h.id as held_id, m.id, ${hooked('i.tenant_id')} as hooked
    from held h left join (m join i on m.session_id = i.session_id and m.id = i.id) on m.session_id = h.id`.execute(
    db,
  );
  const indexOf = new Map(rows.map((r) => [r.key, r.index]));
  for (const row of written) {
    const index = row.id === null ? undefined : indexOf.get(`${row.held_id}/${row.id}`);
    if (index !== undefined) out[index] = { hooked: row.hooked };
  }
  const held = new Set(written.map((row) => row.held_id));
  return unlessLost(
    fence,
    items,
    (item) => item.session.id,
    held,
    (_, i) => out[i],
  );
}

/** One outbound message's status to move forward. */
export type StatusChange = { id: string; status: MessageStatus; at: Date; failure: string | null };

/** Whether a change is WhatsApp's ack of a message we sent (`sent`). */
export const isAck = (change: StatusChange) => change.status === 'sent';

/** One session's status changes, in the order they happened; the ids distinct. */
export type StatusBatch = { session: SessionRef; changes: readonly StatusChange[] };

/** A message whose status moved, and where it stands now. */
export type MovedStatus = { id: string; status: MessageStatus; failure: string | null };

/** What a batch moved, and whether the tenant has a webhook endpoint. */
export type StatusesMoved = { moved: MovedStatus[]; hooked: boolean };

/**
 * Moves outbound messages' statuses forward (never back; `failed` only from below `sent`) and, for each
 * that moved, writes its event (`message.sent` with the message, or `message.status`; none for
 * `queued`), in the order given: all in one statement, so acks and receipts that arrive together, from
 * any of the host's sessions, cost one round trip and one commit. Answers one result per batch. With a
 * fence, only for the sessions whose leases this host holds, checked in the same statement. A statement
 * of acks only commits without waiting for the disk (shared/async-commit.ts): an ack lost with
 * PostgreSQL leaves its message queued, and it goes again under its id.
 *
 * Events go in tenant by tenant (`byTenant`); a session's own changes keep their order.
 */
export async function advanceStatusesWithEvents(
  db: Kysely<Database>,
  batches: readonly StatusBatch[],
): Promise<StatusesMoved[]>;
export async function advanceStatusesWithEvents(
  db: Kysely<Database>,
  batches: readonly StatusBatch[],
  fence: Fence | undefined,
): Promise<Fenced<StatusesMoved>[]>;
export async function advanceStatusesWithEvents(
  db: Kysely<Database>,
  batches: readonly StatusBatch[],
  fence?: Fence,
): Promise<Fenced<StatusesMoved>[]> {
  const rows = batches
    .flatMap((batch, index) => batch.changes.map((change) => ({ index, session: batch.session, change })))
    .sort(byTenant);
  if (rows.length === 0) return batches.map(() => ({ moved: [], hooked: false }));
  const column = <T>(pick: (row: (typeof rows)[number]) => T) => rows.map(pick);
  // Left-joined to `held`: every held session answers a row, with the message columns null when none moved.
  const result = await sql<
    (MovedStatus & { session_id: string; hooked: boolean; held_id: string }) | NothingMoved
  >`
    with held as (${heldCte(
      fence,
      column((r) => r.session.id),
    )}), i as (
      select * from unnest(
        ${column((r) => r.session.id)}::uuid[], ${column((r) => r.session.name)}::text[],
        ${column((r) => r.change.id)}::text[], ${column((r) => r.change.status)}::text[],
        ${column((r) => MESSAGE_STATUS_RANK[r.change.status])}::smallint[],
        ${column((r) => (r.change.status === 'failed' ? MESSAGE_STATUS_RANK.sent : MESSAGE_STATUS_RANK[r.change.status]))}::smallint[],
        ${column((r) => r.change.at.toISOString())}::text[], ${column((r) => r.change.failure)}::text[],
        ${column(() => newEventId())}::text[]
      ) with ordinality
        as i(session_id, session_name, id, status, rank, below, at, failure, event_id, ord)
      where session_id in (select id from held)
    ), m as (
      update messages set status = i.status, status_rank = i.rank, status_at = i.at::timestamptz,
        failure = i.failure
      from i
      where messages.session_id = i.session_id and messages.id = i.id and messages.direction = 'out'
        and messages.status_rank < i.below
      returning messages.*, i.session_name, i.ord, i.event_id, i.at as moved_at
    ), e as (
      insert into events (id, tenant_id, session_id, session_name, type, data)
      select m.event_id, m.tenant_id, m.session_id, m.session_name,
        case when m.status = 'sent' then 'message.sent' else 'message.status' end,
        case when m.status = 'sent'
          then jsonb_build_object('sessionId', m.session_name, 'message', ${messageJson(sql.ref('m.session_name'))})
          else jsonb_build_object('sessionId', m.session_name, 'id', m.id, 'chat', m.chat_jid,
            'status', m.status, 'failure', m.failure, 'at', m.moved_at)
        end
      from m where m.status <> 'queued' order by m.ord
    )
    select h.id as held_id, m.session_id, m.id, m.status, m.failure, ${hooked('m.tenant_id')} as hooked,
      ${asyncCommitIf(
        db,
        rows.every((r) => isAck(r.change)),
      )} as async_commit
    from held h left join m on m.session_id = h.id order by m.ord`.execute(db);
  const out = batches.map((): StatusesMoved => ({ moved: [], hooked: false }));
  const batchOf = new Map(rows.map((r) => [`${r.session.id}/${r.change.id}`, out[r.index]]));
  for (const row of result.rows) {
    if (row.id === null) continue;
    const moved = batchOf.get(`${row.session_id}/${row.id}`);
    if (!moved) continue;
    moved.moved.push({ id: row.id, status: row.status, failure: row.failure });
    moved.hooked ||= row.hooked;
  }
  const held = new Set(result.rows.map((row) => row.held_id));
  return unlessLost(
    fence,
    batches,
    (batch) => batch.session.id,
    held,
    (_, i) => out[i] as StatusesMoved,
  );
}

/** A held session's row when none of its messages moved. */
type NothingMoved = { held_id: string; id: null };

/**
 * The API view of the messages row `m` (shared/message-view.ts `messageView`) built in SQL, for events
 * written in the statement that changes the row; `sessionName` is an SQL expression for the session's name.
 * A test holds the two to the same output.
 */
export function messageJson(sessionName: RawBuilder<unknown>): RawBuilder<unknown> {
  const iso = (column: string) =>
    sql`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  // The kind's own fields only when the message has them (contentView): absent, not null.
  return sql`jsonb_build_object(
    'id', m.id, 'sessionId', ${sessionName}, 'direction', m.direction, 'chat', m.chat_jid,
    'chatLid', m.chat_lid, 'from', m.sender_jid, 'fromLid', m.sender_lid, 'kind', m.kind, 'text', m.text,
    'quoted', coalesce(m.content -> 'quoted', 'null'::jsonb), 'timestamp', ${iso('m.sent_at')},
    'status', m.status, 'statusAt', ${iso('m.status_at')}, 'failure', m.failure, 'source', m.source)
    || case when m.content ? 'media' then jsonb_build_object('media',
         jsonb_build_object('mimetype', m.content -> 'media' -> 'mimetype',
           'size', coalesce(m.content -> 'media' -> 'size', 'null'::jsonb))
         || ((m.content -> 'media') - 'id' - 'mimetype' - 'size'))
       else '{}'::jsonb end
    || jsonb_strip_nulls(jsonb_build_object(
      'location', m.content -> 'location', 'contact', m.content -> 'contact',
      'reaction', (m.content -> 'reaction') - 'fromMe' - 'chat',
      'mentions', case when jsonb_array_length(coalesce(m.content -> 'mentions', '[]'::jsonb)) > 0
        then m.content -> 'mentions' end,
      'editedAt', m.content -> 'editedAt', 'deletedAt', m.content -> 'deletedAt'))`;
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
    ...contentView(message.content ?? null),
    timestamp: message.sentAt.toISOString(),
    status: message.status,
    statusAt: message.status ? new Date().toISOString() : null,
    failure: null,
    source: message.source,
  };
}

/** Keeps where a message's file is on WhatsApp's media servers, and its keys (GET .../media). */
export async function keepDownload(
  db: Kysely<Database>,
  sessionId: string,
  id: string,
  download: MediaDownload,
): Promise<void> {
  await sql`update messages set content = content || jsonb_build_object('download', ${JSON.stringify(download)}::text::jsonb)
    where session_id = ${sessionId} and id = ${id}`.execute(db);
}
