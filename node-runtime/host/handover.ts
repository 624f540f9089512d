// Moving sessions between hosts in the sessions table: live hosts claiming the sessions of hosts whose
// lease lapsed (failover), and a draining host handing its sessions to others one at a time. Every move
// bumps the session's lease epoch, which fences off whatever the previous owner still tries to write.
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../shared/db-schema.js';

/** Where a host's sessions are announced when one is handed to it, so it starts them at once. */
export const HANDOVER_CHANNEL = 'session_handover';

/**
 * How many sessions of lapsed hosts this host takes now: enough to bring it to the average load of the
 * live hosts that are not draining once every orphan is placed (so a failover spreads by load, whichever
 * host claims first), more when the others have no room for the rest, within its HOST_MAX_SESSIONS.
 */
async function fairShare(db: Kysely<Database>, hostId: string): Promise<number> {
  const { rows } = await sql<{
    orphans: string;
    live: string;
    load: string;
    mine: string;
    max: number | null;
    draining: boolean | null;
    room: string | null;
  }>`
    with live as (
      select h.id, h.max_sessions, (select count(*) from sessions s where s.host_id = h.id) as load
      from hosts h where h.lease_until > now() and not h.draining
    )
    select
      (select count(*) from sessions s join hosts h on h.id = s.host_id where h.lease_until <= now()) as orphans,
      (select count(*) from live) as live,
      (select coalesce(sum(load), 0) from live) as load,
      (select count(*) from sessions where host_id = ${hostId}) as mine,
      (select max_sessions from hosts where id = ${hostId}) as max,
      (select draining from hosts where id = ${hostId}) as draining,
      -- Null when some other host has no limit.
      (select case when bool_or(max_sessions is null) then null else coalesce(sum(max_sessions - load), 0) end
        from live where id <> ${hostId}) as room`.execute(db);
  const row = rows[0];
  const orphans = Number(row?.orphans ?? 0);
  if (!row || orphans === 0 || row.draining !== false) return 0;
  const mine = Number(row.mine);
  const target = Math.ceil((orphans + Number(row.load)) / Math.max(Number(row.live), 1));
  let share = Math.min(Math.max(target - mine, 0), orphans);
  const othersRoom = row.room === null ? Number.POSITIVE_INFINITY : Math.max(Number(row.room), 0);
  if (othersRoom < orphans) share = Math.max(share, orphans - othersRoom);
  return row.max === null ? share : Math.max(Math.min(share, row.max - mine), 0);
}

/**
 * Takes this host's share of the sessions whose host's lease lapsed (that host has stopped their
 * sockets, or is dead), assigning them here under a new epoch; the ids taken. The lapsed host's row is
 * share-locked while its sessions move, so its own renewal waits for the claim to commit and finds them
 * gone, and claimers never take the same session (SKIP LOCKED), in id order, so they split the rest.
 */
export async function claimOrphans(db: Kysely<Database>, hostId: string): Promise<string[]> {
  const share = await fairShare(db, hostId);
  if (share === 0) return [];
  const { rows } = await sql<{ id: string }>`
    update sessions set host_id = ${hostId}, lease_epoch = lease_epoch + 1
    where id in (
      select s.id from sessions s join hosts h on h.id = s.host_id
      where h.lease_until <= now() and h.id <> ${hostId}
      order by s.id
      limit ${share}
      -- Not FOR UPDATE: that would also skip a session a message or key is being written for meanwhile
      -- (their foreign keys share-lock its row), the busiest ones first.
      for no key update of s skip locked
      for share of h
    )
    returning id`.execute(db);
  return rows.map((r) => r.id);
}

/** The sessions assigned to this host, with their lease epochs. */
export async function ownedLeases(db: Kysely<Database>, hostId: string): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('sessions')
    .select(['id', 'lease_epoch'])
    .where('host_id', '=', hostId)
    .execute();
  return new Map(rows.map((r) => [r.id, r.lease_epoch]));
}

/**
 * Gives a session this host has stopped to `target` under a new epoch, and tells it to start it now;
 * false when the session was no longer this host's under `epoch` (it moved meanwhile).
 */
export async function handOver(
  db: Kysely<Database>,
  session: { id: string; from: string; epoch: string },
  target: string,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const moved = await trx
      .updateTable('sessions')
      .set({ host_id: target, lease_epoch: sql`lease_epoch + 1` })
      .where('id', '=', session.id)
      .where('host_id', '=', session.from)
      .where('lease_epoch', '=', session.epoch)
      .executeTakeFirst();
    if (moved.numUpdatedRows === 0n) return false;
    // Delivered on commit: the target looks at what it owns at once rather than at its next renewal.
    await sql`select pg_notify(${HANDOVER_CHANNEL}, ${target})`.execute(trx);
    return true;
  });
}
