// Which host owns a session, and handing a session to another host: what routing and placement read
// and write of the sessions table.
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../../shared/db-schema.js';
import { isLive } from './hosts.js';

export interface SessionOwner {
  hostId: string | null;
  /** Null when there is no owner or its row is gone. */
  internalUrl: string | null;
  live: boolean;
  leaseEpoch: string;
}

/**
 * The session's owning host and whether it is alive; undefined when the session does not exist.
 * `forUpdate` locks the session row, so only one edge at a time moves it.
 */
export async function findSessionOwner(
  db: Kysely<Database>,
  sessionId: string,
  options: { forUpdate?: boolean } = {},
): Promise<SessionOwner | undefined> {
  let query = db
    .selectFrom('sessions')
    .leftJoin('hosts', 'hosts.id', 'sessions.host_id')
    .select([
      'sessions.host_id',
      'sessions.lease_epoch',
      'hosts.internal_url',
      (eb) => eb.and([eb('hosts.id', 'is not', null), isLive()]).as('live'),
    ])
    .where('sessions.id', '=', sessionId);
  if (options.forUpdate) query = query.forUpdate('sessions');
  const row = await query.executeTakeFirst();
  if (!row) return undefined;
  return {
    hostId: row.host_id,
    internalUrl: row.internal_url,
    live: row.live === true,
    leaseEpoch: row.lease_epoch,
  };
}

/**
 * Gives the session to `hostId` and bumps its lease epoch, fencing off the previous owner's writes. The
 * first owner is a change of owner too: a placed session has epoch 1.
 */
export async function reassignSession(
  db: Kysely<Database>,
  sessionId: string,
  hostId: string,
): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ host_id: hostId, lease_epoch: sql`lease_epoch + 1` })
    .where('id', '=', sessionId)
    .execute();
}
