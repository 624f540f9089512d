// The outbox in SQL: the queued rows of the messages table, in queue order.
import { type Kysely, sql } from 'kysely';
import { asyncCommitIf } from '../../shared/async-commit.js';
import type { Database } from '../../shared/db-schema.js';
import { GroupWriter, writerPerHandle } from '../../shared/group-writer.js';
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

/** One session's look at the queue, as `claimNext` takes it. */
type ClaimRequest = {
  sessionId: string;
  skip: readonly string[];
  waiting: readonly string[];
  size: ClaimSize;
  lease: Lease | undefined;
};

type ClaimRow = {
  i: number;
  held: boolean;
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
};

/**
 * Claims the session's oldest queued messages that are not in `skip` (handed over on this connection)
 * and whose chat is not in `waiting` (waiting out its own gap; each chat keeps its order), counting their
 * attempts before the hand-over (a crash after it resends under the same ids), and tells what else waits,
 * with the admin's pacing: one statement where a look and a claim per message were several. How many it
 * claims follows the pacing it reads, so a change by the admin since the last look is never claimed past.
 * The row locks order this against a cancel, which only takes messages never handed over. With `lease`,
 * nothing is claimed unless the host holds the session's lease under that epoch (its row locked in share
 * mode, as every fenced write does). The looks of a host's sessions that come while one is under way go
 * together in the next statement (group commit, as for their keys and statuses).
 */
export function claimNext(
  db: Kysely<Database>,
  sessionId: string,
  skip: ReadonlySet<string>,
  waiting: readonly string[],
  size: ClaimSize,
  lease?: Lease,
): Promise<Claim> {
  return claimerOf(db).submit({ sessionId, skip: [...skip], waiting, size, lease });
}

/** One per database handle: a host's pool, shared by all its sessions. */
const claimerOf = writerPerHandle(
  (db: Kysely<Database>) => new GroupWriter<ClaimRequest, Claim>((requests) => claimEach(db, requests)),
);

/** One statement per round; a session asked for twice goes in the next round (one look sees the other's claim). */
async function claimEach(db: Kysely<Database>, requests: ClaimRequest[]): Promise<Claim[]> {
  const claims: Claim[] = new Array(requests.length);
  let left = requests.map((request, i) => ({ request, i }));
  while (left.length > 0) {
    const round: typeof left = [];
    const later: typeof left = [];
    const sessions = new Set<string>();
    for (const entry of left) {
      if (sessions.has(entry.request.sessionId)) later.push(entry);
      else {
        sessions.add(entry.request.sessionId);
        round.push(entry);
      }
    }
    const rows = await claimRound(
      db,
      round.map((entry) => entry.request),
    );
    for (const [k, { i }] of round.entries()) claims[i] = claimOf(rows.get(k));
    left = later;
  }
  return claims;
}

/**
 * A literal LIMIT at least `n` (a power of two, so a few statements serve every size): it tells the
 * planner how many requests come. Without it, it assumes 100 rows from the recordset, and joining the
 * claimed rows by scanning the whole messages table looks cheaper than looking each up by its key
 * until the table holds tens of thousands of rows; a generic plan made while the table was small kept
 * scanning it on every claim.
 */
const rowsHint = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

async function claimRound(db: Kysely<Database>, requests: ClaimRequest[]): Promise<Map<number, ClaimRow>> {
  const input = requests.map((r, i) => ({
    i,
    session_id: r.sessionId,
    fenced: r.lease !== undefined,
    host_id: r.lease?.hostId ?? null,
    epoch: r.lease?.epoch ?? null,
    skip: r.skip,
    waiting: r.waiting,
    unpaced: r.size.unpaced,
    default_unpaced: r.size.defaultUnpaced,
  }));
  const { rows } = await sql<ClaimRow>`
    with req as (
      select * from jsonb_to_recordset(${JSON.stringify(input)}::text::jsonb) as r(
        i int, session_id uuid, fenced boolean, host_id text, epoch bigint, skip text[], waiting text[],
        unpaced int, default_unpaced boolean)
      limit ${sql.lit(rowsHint(input.length))}
    ), held as (
      select s.id, s.pacing from sessions s join req r on r.session_id = s.id
      where not r.fenced or (s.host_id = r.host_id and s.lease_epoch = r.epoch)
      order by s.id
      for share of s
    ), size as (
      -- Anything but four zeros (or no pacing, when the default is unpaced) claims one.
      -- A session not held claims nothing, so its pacing is not read.
      select r.i, r.session_id, r.skip, r.waiting, h.pacing, h.id is not null as held,
        case when coalesce(case
          when h.pacing is null then r.default_unpaced
          else h.pacing->'minIntervalMs' = '0' and h.pacing->'jitterMs' = '0'
            and h.pacing->'typingMs' = '0' and h.pacing->'perChatMinIntervalMs' = '0'
          end, false) then r.unpaced else 1 end as n
      from req r left join held h on h.id = r.session_id
    ), candidates as (
      select z.i, z.session_id, z.n, c.id, c.queue_seq,
        row_number() over (partition by z.i order by c.queue_seq) as rn
      from size z cross join lateral (
        select m.id, m.queue_seq from messages m
        where m.session_id = z.session_id and m.queue_seq is not null and z.held
          and m.id <> all(z.skip) and m.chat_jid <> all(z.waiting)
        order by m.queue_seq limit z.n + 1
      ) c
    ), claimed as (
      -- Joined to the candidates alone: joined to size too, every row the plan joined carried that row,
      -- skip list and all (for rechecks), and the list grows with what is in flight: with a few hundred
      -- in flight, a look took 10-40 ms.
      update messages m set attempts = m.attempts + 1
      from candidates c
      where m.session_id = c.session_id and m.id = c.id and c.rn <= c.n and m.status = 'queued'
      returning c.i, m.id, m.chat_jid, m.kind, m.text, m.content, m.expires_at, m.attempts, m.outbox_seq
    )
    select z.i, z.held,
      coalesce((select json_agg(json_build_object('id', c.id, 'chat_jid', c.chat_jid, 'kind', c.kind,
          'text', c.text, 'content', c.content, 'expires_at', c.expires_at, 'attempts', c.attempts)
        order by c.outbox_seq) from claimed c where c.i = z.i), '[]'::json) as claimed,
      z.pacing,
      (select count(*) from candidates c where c.i = z.i) > z.n as more,
      -- Read only when a chat waits: it reads the session's whole queue.
      case when cardinality(z.waiting) > 0 then (select array_agg(distinct m.chat_jid) from messages m
        where m.session_id = z.session_id and m.queue_seq is not null and m.chat_jid = any(z.waiting)
      ) end as waiting_with_queued,
      -- A claim only counts attempts: a hand-over follows the synchronous commit of the message's keys,
      -- which puts this commit on disk with it, and a claim lost with PostgreSQL resends under the same id.
      ${asyncCommitIf(db, true)} as async_commit
    from size z`.execute(db);
  return new Map(rows.map((row) => [row.i, row]));
}

function claimOf(row: ClaimRow | undefined): Claim {
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
