// The outbox in SQL: the queued rows of the messages table, in queue order.
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../shared/db-schema.js';
import type { OutgoingContent } from '../../shared/message-content.js';
import { type Pacing, PacingSchema } from '../../shared/outbox.js';

/** The session's lease as this host holds it: a write under it is refused once another host owns it. */
export type Lease = { hostId: string; epoch: string };

/** Where PostgreSQL announces, on commit, the sessions that messages were queued for (migration 0010). */
export const OUTBOX_CHANNEL = 'outbox_queued';

export type Queued = {
  id: string;
  chatJid: string;
  /** `text`, or another kind of shared/message-content.ts, whose `content` says what to send. */
  kind: string;
  text: string | null;
  content: OutgoingContent;
  expiresAt: Date | null;
  /** Hand-overs before this one. */
  attempts: number;
};

/** What one look at the outbox found: the message it claimed, if any, and what else waits. */
export type Claim = {
  /** False: the host no longer holds the session's lease (nothing was claimed). */
  held: boolean;
  /** Claimed for a hand-over (their attempts counted), in queue order; none when nothing may go. */
  messages: Queued[];
  /** The tenant admin's pacing for the session (null: the deployment's default). */
  pacing: Pacing | null;
  /** Another queued message could go next (not in flight, not in a chat waiting out its gap). */
  more: boolean;
  /** The chats among `waiting` that have queued messages. */
  waitingWithQueued: string[];
};

/** How many one look claims: `unpaced` when the session's pacing is all zeros, else one (its gap decides). */
export type ClaimSize = {
  unpaced: number;
  /** The deployment's default pacing is all zeros (it applies to a session whose admin set none). */
  defaultUnpaced: boolean;
};

/**
 * Claims the session's oldest queued messages that are not in `skip` (handed over on this connection)
 * and whose chat is not in `waiting` (waiting out its own gap; each chat keeps its order), counting their
 * attempts before the hand-over (a crash after it resends under the same ids), and tells what else waits,
 * with the admin's pacing: one statement where a look and a claim per message were several. How many it
 * claims follows the pacing it reads, so a change by the admin since the last look is never claimed past.
 * The row locks order this against a cancel, which only takes messages never handed over. With `lease`,
 * nothing is claimed unless the host holds the session's lease under that epoch (its row locked in share
 * mode, as every fenced write does).
 */
export async function claimNext(
  db: Kysely<Database>,
  sessionId: string,
  skip: ReadonlySet<string>,
  waiting: readonly string[],
  size: ClaimSize,
  lease?: Lease,
): Promise<Claim> {
  const { rows } = await sql<{
    claimed: {
      id: string;
      chat_jid: string;
      kind: string;
      text: string | null;
      content: OutgoingContent | null;
      expires_at: string | null;
      attempts: number;
    }[];
    pacing: unknown;
    more: boolean;
    waiting_with_queued: string[] | null;
    held: boolean;
  }>`
    with held as (
      select id from sessions where id = ${sessionId}
        ${lease ? sql`and host_id = ${lease.hostId} and lease_epoch = ${lease.epoch}` : sql``}
      for share
    ), pace as (
      select pacing from sessions where id = ${sessionId}
    ), size as (
      -- Anything but four zeros (or no pacing, when the default is unpaced) claims one.
      select case when coalesce((select case
        when pacing is null then ${size.defaultUnpaced}
        else pacing->'minIntervalMs' = '0' and pacing->'jitterMs' = '0'
          and pacing->'typingMs' = '0' and pacing->'perChatMinIntervalMs' = '0'
        end from pace), false) then ${size.unpaced}::int else 1 end as n
    ), candidates as (
      select id, queue_seq from messages
      where session_id = ${sessionId} and queue_seq is not null and exists (select 1 from held)
        and id <> all(${[...skip]}::text[]) and chat_jid <> all(${waiting}::text[])
      order by queue_seq limit (select n + 1 from size)
    ), claimed as (
      update messages set attempts = attempts + 1
      where session_id = ${sessionId} and status = 'queued'
        and id in (select id from candidates order by queue_seq limit (select n from size))
      returning id, chat_jid, kind, text, content, expires_at, attempts, outbox_seq
    )
    select
      exists (select 1 from held) as held,
      coalesce((select json_agg(c order by c.outbox_seq) from claimed c), '[]'::json) as claimed,
      (select pacing from pace) as pacing,
      (select count(*) from candidates) > (select n from size) as more,
      (select array_agg(distinct chat_jid) from messages
        where session_id = ${sessionId} and queue_seq is not null and chat_jid = any(${waiting}::text[])
      ) as waiting_with_queued`.execute(db);
  const row = rows[0];
  return {
    held: row?.held ?? false,
    messages: (row?.claimed ?? []).map((c) => ({
      id: c.id,
      chatJid: c.chat_jid,
      kind: c.kind,
      text: c.text,
      content: c.content ?? {},
      expiresAt: c.expires_at === null ? null : new Date(c.expires_at),
      attempts: c.attempts - 1,
    })),
    pacing: PacingSchema.safeParse(row?.pacing).data ?? null,
    more: row?.more ?? false,
    waitingWithQueued: row?.waiting_with_queued ?? [],
  };
}

/**
 * Takes back the attempt counted for claimed messages that were never handed over (they stay queued):
 * `attempts` counts hand-overs, and a message gets MAX_ATTEMPTS of them. Fenced like the claim.
 */
export async function unclaim(
  db: Kysely<Database>,
  sessionId: string,
  ids: readonly string[],
  lease?: Lease,
): Promise<void> {
  await db
    .updateTable('messages')
    .set((eb) => ({ attempts: eb('attempts', '-', 1) }))
    .where('session_id', '=', sessionId)
    .where('id', 'in', ids)
    .where('status', '=', 'queued')
    .where('attempts', '>', 0)
    .$if(lease !== undefined, (qb) =>
      qb.where((eb) =>
        eb.exists(
          eb
            .selectFrom('sessions')
            .select('sessions.id')
            .where('sessions.id', '=', sessionId)
            .where('sessions.host_id', '=', lease?.hostId ?? '')
            .where('sessions.lease_epoch', '=', lease?.epoch ?? '0'),
        ),
      ),
    )
    .execute();
}

/** The tenant admin's pacing for the session (null: the deployment's default). */
export async function pacingOf(db: Kysely<Database>, sessionId: string): Promise<Pacing | null> {
  const row = await db.selectFrom('sessions').select('pacing').where('id', '=', sessionId).executeTakeFirst();
  return PacingSchema.safeParse(row?.pacing).data ?? null;
}

/** The sessions among `sessionIds` that have queued messages. */
export async function sessionsWithQueued(db: Kysely<Database>, sessionIds: string[]): Promise<string[]> {
  if (sessionIds.length === 0) return [];
  const rows = await db
    .selectFrom('messages')
    .select('session_id')
    .distinct()
    .where('queue_seq', 'is not', null)
    .where(sql<boolean>`session_id = any(${sessionIds}::uuid[])`) // one plan whatever the count
    .execute();
  return rows.map((r) => r.session_id);
}

/** How many messages of `sessionIds` are queued (the outbox's depth, for metrics). */
export async function countQueued(db: Kysely<Database>, sessionIds: string[]): Promise<number> {
  if (sessionIds.length === 0) return 0;
  const row = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('queue_seq', 'is not', null)
    .where(sql<boolean>`session_id = any(${sessionIds}::uuid[])`)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** When the next queued message is planned to go (null: nothing waits), for the admin's view. */
export async function recordNextSend(
  db: Kysely<Database>,
  sessionId: string,
  at: Date | null,
  lease?: Lease,
): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ outbox_next_at: at })
    .where('id', '=', sessionId)
    .$if(lease !== undefined, (qb) =>
      qb.where('host_id', '=', lease?.hostId ?? '').where('lease_epoch', '=', lease?.epoch ?? '0'),
    )
    .execute();
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
