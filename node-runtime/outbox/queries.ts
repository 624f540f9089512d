// The outbox in SQL: the queued rows of the messages table, in queue order.
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../shared/db-schema.js';
import { type Pacing, PacingSchema } from '../../shared/outbox.js';

export type Queued = {
  id: string;
  chatJid: string;
  text: string | null;
  expiresAt: Date | null;
  /** Hand-overs before this one. */
  attempts: number;
};

/** What one look at the outbox found: the message it claimed, if any, and what else waits. */
export type Claim = {
  /** Claimed for a hand-over (its attempt counted), or none. */
  message: Queued | undefined;
  /** The tenant admin's pacing for the session (null: the deployment's default). */
  pacing: Pacing | null;
  /** Another queued message could go next (not in flight, not in a chat waiting out its gap). */
  more: boolean;
  /** The chats among `waiting` that have queued messages. */
  waitingWithQueued: string[];
};

/**
 * Claims the session's oldest queued message that is not in `skip` (handed over on this connection) and
 * whose chat is not in `waiting` (waiting out its own gap; each chat keeps its order), counting the
 * attempt before the hand-over (a crash after it resends under the same id), and tells what else waits,
 * with the admin's pacing: one statement where a look and a claim were two. The row lock orders this
 * against a cancel, which only takes messages never handed over.
 */
export async function claimNext(
  db: Kysely<Database>,
  sessionId: string,
  skip: ReadonlySet<string>,
  waiting: readonly string[],
): Promise<Claim> {
  const { rows } = await sql<{
    id: string | null;
    chat_jid: string | null;
    text: string | null;
    expires_at: Date | null;
    attempts: number | null;
    pacing: unknown;
    more: boolean;
    waiting_with_queued: string[] | null;
  }>`
    with candidates as (
      select id, outbox_seq from messages
      where session_id = ${sessionId} and status = 'queued'
        and id <> all(${[...skip]}::text[]) and chat_jid <> all(${waiting}::text[])
      order by outbox_seq limit 2
    ), claimed as (
      update messages set attempts = attempts + 1
      where session_id = ${sessionId} and status = 'queued'
        and id = (select id from candidates order by outbox_seq limit 1)
      returning id, chat_jid, text, expires_at, attempts
    )
    select c.id, c.chat_jid, c.text, c.expires_at, c.attempts,
      (select pacing from sessions where id = ${sessionId}) as pacing,
      (select count(*) from candidates) > 1 as more,
      (select array_agg(distinct chat_jid) from messages
        where session_id = ${sessionId} and status = 'queued' and chat_jid = any(${waiting}::text[])
      ) as waiting_with_queued
    from (select 1) as one left join claimed as c on true`.execute(db);
  const row = rows[0];
  const parsed = PacingSchema.safeParse(row?.pacing);
  const claimed =
    row?.id && row.chat_jid && row.attempts !== null
      ? {
          id: row.id,
          chatJid: row.chat_jid,
          text: row.text,
          expiresAt: row.expires_at,
          attempts: row.attempts - 1,
        }
      : undefined;
  return {
    message: claimed,
    pacing: parsed.success ? parsed.data : null,
    more: row?.more ?? false,
    waitingWithQueued: row?.waiting_with_queued ?? [],
  };
}

/** The tenant admin's pacing for the session (null: the deployment's default). */
export async function pacingOf(db: Kysely<Database>, sessionId: string): Promise<Pacing | null> {
  const row = await db.selectFrom('sessions').select('pacing').where('id', '=', sessionId).executeTakeFirst();
  const parsed = PacingSchema.safeParse(row?.pacing);
  return parsed.success ? parsed.data : null;
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
