// The outbox and Idempotency-Key records in SQL. A message is queued (a `queued` row of the messages
// table, with the WhatsApp id it will carry) by the same statement or transaction that takes its key, so a
// key never points at nothing and a message is never queued twice for one key.
import { type Kysely, type Selectable, sql } from 'kysely';
import { bytesToHex } from '../../shared/api-key.js';
import { asyncCommitIf } from '../../shared/async-commit.js';
import type { Database, JsonValue, MessagesTable } from '../../shared/db-schema.js';
import { ApiError } from '../../shared/errors.js';
import { insertEvent } from '../../shared/event-log.js';
import { MESSAGE_STATUS_RANK } from '../../shared/events.js';
import { GroupWriter, writerPerHandle } from '../../shared/group-writer.js';
import type { OutgoingContent } from '../../shared/message-content.js';
import {
  DEFAULT_TTL_SECONDS,
  IDEMPOTENCY_TTL_HOURS,
  newMessageId,
  RETRYABLE_FAILURES,
} from '../../shared/outbox.js';
import { tellDeliveriesQueued } from '../../shared/webhook-notices.js';
import { type IdempotentRequest, sameRequest } from './idempotency.js';

/** The session sending, as its key names it. */
export type Sender = { tenantId: string; sessionId: string; sessionName: string };

/** An answer kept for a key: replayed as it was. */
export type StoredAnswer = { status: number; body: JsonValue };

export type QueueRequest = {
  to: string;
  /** The text, or a file's caption (null for a location, say). */
  text: string | null;
  /** `text` unless said otherwise; see shared/message-content.ts. */
  kind?: string;
  content?: OutgoingContent;
  /** An inline file, kept with the message until it is sent. */
  file?: { data: Uint8Array; mimetype: string } | undefined;
  /** A file the host fetched: claimed by the message. */
  fetched?: { id: string } | undefined;
  ttlSeconds?: number | undefined;
  idempotency?: IdempotentRequest | undefined;
  /**
   * `/api/send`: the client hears back only once a later synchronous commit made the row durable with it
   * (its keys' before it leaves, or its failure), so the row's own INSERT need not wait for the disk.
   */
  answeredLater?: boolean;
  /** The answer to keep for the key at once (the outbox route); without it the key is held for `leaseMs`. */
  answer?: (id: string) => StoredAnswer;
  leaseMs: number;
};

/** A message to send now (`resumed`: a key whose first request died; the message may be on its way). */
export type Queued = { id: string; resumed: boolean } | { replay: StoredAnswer };

/** Queues a message, or finds what its Idempotency-Key already did. */
export async function queueMessage(
  db: Kysely<Database>,
  sender: Sender,
  request: QueueRequest,
  now: Date,
): Promise<Queued> {
  if (!request.file && !request.fetched) {
    // One INSERT is atomic on its own: no BEGIN and COMMIT round trips for the common case, and the
    // messages of requests that arrive together share it. So does a key used for the first time (most
    // are): taken by the same statement. A key used before is looked at in a transaction, below.
    const id = newMessageId();
    const key = request.idempotency && keyRecord(sender, request, request.idempotency, id, now);
    if (await queuerOf(db).submit({ sender, request, id, now, key })) return { id, resumed: false };
  }
  // A key freed by a request that failed retryably can vanish between the insert and the read: once more.
  for (let attempt = 0; attempt < 3; attempt++) {
    const queued = await db.transaction().execute((trx) => queueOnce(trx, sender, request, now));
    if (queued) return queued;
  }
  throw new ApiError('IDEMPOTENCY_KEY_IN_USE');
}

async function queueOnce(
  trx: Kysely<Database>,
  sender: Sender,
  request: QueueRequest,
  now: Date,
): Promise<Queued | undefined> {
  const id = newMessageId();
  const { idempotency } = request;
  if (idempotency) {
    await trx
      .deleteFrom('idempotency_keys')
      .where('session_id', '=', sender.sessionId)
      .where('key', '=', idempotency.key)
      .where('created_at', '<', new Date(now.getTime() - IDEMPOTENCY_TTL_HOURS * 3_600_000))
      .execute();
    // A concurrent first use of the key waits here until that transaction ends.
    const taken = await trx
      .insertInto('idempotency_keys')
      .values(keyRecord(sender, request, idempotency, id, now))
      .onConflict((oc) => oc.columns(['session_id', 'key']).doNothing())
      .returning('key')
      .executeTakeFirst();
    if (!taken) return reuseKey(trx, sender, request, idempotency, now);
  }
  await insertQueued(trx, sender, request, id, now);
  return { id, resumed: false };
}

/** The key was used before: its answer, a conflict, or the message of a request that died. */
async function reuseKey(
  trx: Kysely<Database>,
  sender: Sender,
  request: QueueRequest,
  idempotency: IdempotentRequest,
  now: Date,
): Promise<Queued | undefined> {
  const record = await trx
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('session_id', '=', sender.sessionId)
    .where('key', '=', idempotency.key)
    .forUpdate()
    .executeTakeFirst();
  if (!record) return undefined;
  if (!sameRequest(record.request_hash, idempotency.hash)) throw new ApiError('IDEMPOTENCY_KEY_REUSED');
  if (record.response_status !== null) {
    return { replay: { status: record.response_status, body: record.response_body } };
  }
  if (record.locked_until && record.locked_until > now) throw new ApiError('IDEMPOTENCY_KEY_IN_USE');
  // The first request died (or gave up) before answering: this one carries on, under the same lease.
  const lockedUntil = new Date(now.getTime() + request.leaseMs);
  const message = await findOutbound(trx, sender.sessionId, record.message_id);
  let id = record.message_id;
  if (!message || isRetryableFailure(message)) {
    // It never left and failed for a passing reason: this request tries again, as a new message.
    id = newMessageId();
    await insertQueued(trx, sender, request, id, now);
  }
  await trx
    .updateTable('idempotency_keys')
    .set({ message_id: id, locked_until: lockedUntil })
    .where('session_id', '=', sender.sessionId)
    .where('key', '=', idempotency.key)
    .execute();
  return { id, resumed: id === record.message_id };
}

/** A message to queue, with the id it will carry, when it was asked for, and its key's record if any. */
type NewMessage = {
  sender: Sender;
  request: QueueRequest;
  id: string;
  now: Date;
  key?: KeyRecord | undefined;
};

/**
 * One writer per database handle: on Node the edge's one pool, so messages queued while an INSERT is
 * under way go together in the next (a commit for many); a Worker's handle is its request's own, so
 * there each goes alone, as a Worker may not do I/O for another request.
 */
const queuerOf = writerPerHandle(
  (db: Kysely<Database>) =>
    new GroupWriter<NewMessage, boolean>(async (messages) => {
      const queued = await insertMessages(db, messages);
      return messages.map((m) => queued.has(m.id));
    }),
);

/** A key's record as its first request takes it. */
type KeyRecord = {
  session_id: string;
  key: string;
  request_hash: Uint8Array;
  message_id: string;
  response_status: number | null;
  response_body: JsonValue | null;
  locked_until: Date | null;
};

/** Held until the answer is kept (`/api/send`), or with the answer at once (the outbox route). */
function keyRecord(
  sender: Sender,
  request: QueueRequest,
  idempotency: IdempotentRequest,
  id: string,
  now: Date,
): KeyRecord {
  const answer = request.answer?.(id);
  return {
    session_id: sender.sessionId,
    key: idempotency.key,
    request_hash: idempotency.hash,
    message_id: id,
    response_status: answer?.status ?? null,
    response_body: answer?.body ?? null,
    locked_until: answer ? null : new Date(now.getTime() + request.leaseMs),
  };
}

/**
 * Inserts queued messages' rows in one statement, in the order given (their queue order); the ids queued.
 * Grouped, a message the statement cannot take (its session deleted meanwhile) fails the statement; the
 * group writer then inserts each alone, so only that one fails. The statement takes the messages' keys
 * first: a message whose key an earlier request holds is not queued.
 */
async function insertMessages(db: Kysely<Database>, messages: NewMessage[]): Promise<Set<string>> {
  const column = <T>(pick: (m: NewMessage) => T) => messages.map(pick);
  // Keys in one order on every edge, so two statements taking the same keys wait rather than deadlock.
  const keyed = messages
    .flatMap((m) => (m.key ? [m.key] : []))
    .sort((a, b) => compare(a.session_id, b.session_id) || compare(a.key, b.key));
  const keyColumn = <T>(pick: (k: KeyRecord) => T) => keyed.map(pick);
  // Hashes as hex and answers as JSON text: arrays of those go as text[] whatever the driver.
  const taken =
    keyed.length > 0
      ? sql`with k as (
          select * from unnest(${keyColumn((k) => k.session_id)}::uuid[], ${keyColumn((k) => k.key)}::text[],
            ${keyColumn((k) => bytesToHex(k.request_hash))}::text[],
            ${keyColumn((k) => k.message_id)}::text[],
            ${keyColumn((k) => k.response_status)}::smallint[],
            ${keyColumn((k) => (k.response_body === null ? null : JSON.stringify(k.response_body)))}::text[],
            ${keyColumn((k) => k.locked_until?.toISOString() ?? null)}::timestamptz[]
          ) as k(session_id, key, hash, message_id, status, body, locked_until)
        ), taken as (
          insert into idempotency_keys (session_id, key, request_hash, message_id, response_status,
            response_body, locked_until)
          select session_id, key, decode(hash, 'hex'), message_id, status, body::jsonb, locked_until from k
          on conflict (session_id, key) do nothing
          returning message_id
        )`
      : sql``;
  // Volatile nextval() is evaluated after the ORDER BY, so the queue order is the array order.
  const { rows } = await sql<{ id: string }>`${taken}
    insert into messages (session_id, id, tenant_id, direction, chat_jid, sender_jid, kind, text, content,
      sent_at, status, status_rank, status_at, source, outbox_seq, expires_at)
    select m.session_id, m.id, m.tenant_id, 'out', m.chat_jid, s.account_jid, m.kind, m.text,
      m.content::jsonb, m.at, 'queued', ${MESSAGE_STATUS_RANK.queued}, m.at, 'api',
      nextval('messages_outbox_seq'), m.expires_at
    from unnest(
      ${column((m) => m.sender.sessionId)}::uuid[], ${column((m) => m.id)}::text[],
      ${column((m) => m.sender.tenantId)}::uuid[], ${column((m) => m.request.to)}::text[],
      ${column((m) => m.request.kind ?? 'text')}::text[], ${column((m) => m.request.text)}::text[],
      ${column((m) => JSON.stringify(viewContent(m.request.content ?? {})))}::text[],
      ${column((m) => m.now.toISOString())}::timestamptz[], ${column((m) => expiresAt(m.request, m.now).toISOString())}::timestamptz[]
    ) with ordinality as m(session_id, id, tenant_id, chat_jid, kind, text, content, at, expires_at, ord)
    left join sessions s on s.id = m.session_id
    ${
      keyed.length > 0
        ? sql`where m.id not in (select message_id from k) or m.id in (select message_id from taken)`
        : sql``
    }
    order by m.ord
    returning id, ${asyncCommitIf(
      db,
      messages.every((m) => m.request.answeredLater),
    )}`.execute(db);
  return new Set(rows.map((row) => row.id));
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const expiresAt = (request: QueueRequest, now: Date) =>
  new Date(now.getTime() + (request.ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000);

/** Queues one message in `trx` (a key's or a file's transaction), with its file if it has one. */
async function insertQueued(
  trx: Kysely<Database>,
  sender: Sender,
  request: QueueRequest,
  id: string,
  now: Date,
) {
  await insertMessages(trx, [{ sender, request, id, now }]);
  const mediaId = request.content?.media?.id;
  if (request.file && mediaId) {
    await trx
      .insertInto('outbox_media')
      .values({
        id: mediaId,
        session_id: sender.sessionId,
        message_id: id,
        mimetype: request.file.mimetype,
        data: request.file.data,
      })
      .execute();
  } else if (request.fetched) {
    const claimed = await trx
      .updateTable('outbox_media')
      .set({ message_id: id })
      .where('id', '=', request.fetched.id)
      .where('session_id', '=', sender.sessionId)
      .where('message_id', 'is', null)
      .executeTakeFirst();
    // Swept as unclaimed meanwhile (it waited past the sweep's grace): the client may simply retry.
    if (claimed.numUpdatedRows === 0n) throw new ApiError('MEDIA_URL_UNREACHABLE');
  }
}

/**
 * What the row's `content` keeps: what the host needs to send it and what the API shows, in one. A
 * reply is also kept as `quoted`, as an inbound reply is.
 */
function viewContent(content: OutgoingContent) {
  const { replyTo } = content;
  return replyTo
    ? {
        ...content,
        quoted: { id: replyTo.id, from: replyTo.fromMe ? null : replyTo.chat, text: replyTo.text },
      }
    : content;
}

/** Failed or cancelled for a reason that passes (the session was reconnecting, its queue was busy). */
export const isRetryableFailure = (message: Pick<Selectable<MessagesTable>, 'status' | 'failure'>) =>
  (message.status === 'failed' || message.status === 'cancelled') &&
  RETRYABLE_FAILURES.includes(message.failure ?? '');

/** An outbound message of the session. */
export function findOutbound(db: Kysely<Database>, sessionId: string, id: string) {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('session_id', '=', sessionId)
    .where('id', '=', id)
    .where('direction', '=', 'out')
    .executeTakeFirst();
}

/** Keeps the key's answer (replayed from now on) and lets go of it. */
export function keepAnswer(
  db: Kysely<Database>,
  sessionId: string,
  key: string,
  answer: StoredAnswer,
): Promise<void> {
  return keeperOf(db).submit({ sessionId, key, answer });
}

type KeptAnswer = { sessionId: string; key: string; answer: StoredAnswer };

/**
 * Answers kept while one UPDATE is under way go together in the next, as queued messages do: on Node's
 * one pool, `/api/send`'s answers with keys cost one statement and one commit per group, not one each.
 */
const keeperOf = writerPerHandle(
  (db: Kysely<Database>) =>
    new GroupWriter<KeptAnswer, void>(async (kept) => {
      await keepAnswers(db, kept);
      return kept.map(() => undefined);
    }),
);

/**
 * One UPDATE for many keys' answers. Unsorted: only the request holding a key keeps its answer, so no
 * other statement waits on these rows.
 */
async function keepAnswers(db: Kysely<Database>, kept: KeptAnswer[]): Promise<void> {
  const column = <T>(pick: (k: KeptAnswer) => T) => kept.map(pick);
  // Answers as JSON text: an array of those goes as text[] whatever the driver.
  await sql`update idempotency_keys i
    set response_status = a.status, response_body = a.body::jsonb, locked_until = null
    from unnest(${column((k) => k.sessionId)}::uuid[], ${column((k) => k.key)}::text[],
      ${column((k) => k.answer.status)}::smallint[], ${column((k) => JSON.stringify(k.answer.body))}::text[]
    ) as a(session_id, key, status, body)
    where i.session_id = a.session_id and i.key = a.key`.execute(db);
}

/**
 * Lets go of a key without an answer. `forget`: its message never left, so a retry starts afresh; else the
 * message may be on its way and a retry waits for it again.
 */
export async function releaseKey(
  db: Kysely<Database>,
  sessionId: string,
  key: string,
  forget: boolean,
): Promise<void> {
  if (forget) {
    await db
      .deleteFrom('idempotency_keys')
      .where('session_id', '=', sessionId)
      .where('key', '=', key)
      .where('response_status', 'is', null)
      .execute();
    return;
  }
  await db
    .updateTable('idempotency_keys')
    .set({ locked_until: null })
    .where('session_id', '=', sessionId)
    .where('key', '=', key)
    .execute();
}

/**
 * Cancels a queued message never handed to WhatsApp, with its `message.status` event. Undefined when it is
 * not (or no longer) such a message. The host claims a message with a row lock before sending it, so a
 * message is either cancelled here or sent, never both.
 */
export async function cancelUnsent(
  db: Kysely<Database>,
  sender: Sender,
  id: string,
  failure: string,
  now: Date,
): Promise<{ chat: string } | undefined> {
  return db.transaction().execute(async (trx) => {
    const cancelled = await trx
      .updateTable('messages')
      .set({ status: 'cancelled', status_rank: MESSAGE_STATUS_RANK.cancelled, status_at: now, failure })
      .where('session_id', '=', sender.sessionId)
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .where('attempts', '=', 0)
      .returning('chat_jid')
      .executeTakeFirst();
    if (!cancelled) return undefined;
    await insertEvent(
      trx,
      { tenantId: sender.tenantId, sessionId: sender.sessionId, sessionName: sender.sessionName },
      'message.status',
      {
        sessionId: sender.sessionName,
        id,
        chat: cancelled.chat_jid,
        status: 'cancelled',
        failure,
        at: now.toISOString(),
      },
    );
    await tellDeliveriesQueued(trx, sender.tenantId);
    return { chat: cancelled.chat_jid };
  });
}
