import { type Kysely, type RawBuilder, type SqlBool, sql } from 'kysely';
import type { Database } from '../../../shared/db-schema.js';

export interface HostTarget {
  id: string;
  internalUrl: string;
}

export interface HostLoad {
  id: string;
  internalUrl: string;
  live: boolean;
  draining: boolean;
  /** Sessions assigned to it. */
  sessions: number;
  /** How many it takes (HOST_MAX_SESSIONS); null, no limit. */
  maxSessions: number | null;
  heartbeatAt: Date;
  startedAt: Date;
  whatsapp: 'unknown' | 'reachable' | 'unreachable';
  whatsappError: string | null;
  whatsappCheckedAt: Date | null;
}

/**
 * The host holds its lease (renewed with each heartbeat): it counts as alive. Judged by the database's
 * clock, the one the leases are written with. Once a lease lapses, its host has stopped its sockets.
 */
export function isLive(): RawBuilder<SqlBool> {
  return sql<SqlBool>`coalesce(hosts.lease_until > now(), false)`;
}

/**
 * The live, non-draining host that owns the fewest sessions and has room for one more (its
 * HOST_MAX_SESSIONS), or undefined when there is none; never `except` (a draining host handing off).
 * Ties go to the lowest id so placement is predictable.
 */
export async function leastLoadedLiveHost(
  db: Kysely<Database>,
  except?: string,
): Promise<HostTarget | undefined> {
  const row = await db
    .selectFrom('hosts')
    .leftJoin('sessions', 'sessions.host_id', 'hosts.id')
    .select(['hosts.id', 'hosts.internal_url', (eb) => eb.fn.count<string>('sessions.id').as('owned')])
    .where('hosts.draining', '=', false)
    .where(isLive())
    .$if(except !== undefined, (qb) => qb.where('hosts.id', '<>', except ?? ''))
    .groupBy(['hosts.id', 'hosts.internal_url', 'hosts.max_sessions'])
    .having((eb) =>
      eb.or([
        eb('hosts.max_sessions', 'is', null),
        eb(eb.fn.count('sessions.id'), '<', eb.ref('hosts.max_sessions')),
      ]),
    )
    .orderBy('owned', 'asc')
    .orderBy('hosts.id', 'asc')
    .limit(1)
    .executeTakeFirst();
  return row ? { id: row.id, internalUrl: row.internal_url } : undefined;
}

/** Sets the host's draining flag; false when there is no such host. */
export async function setDraining(db: Kysely<Database>, hostId: string, draining: boolean): Promise<boolean> {
  const updated = await db.updateTable('hosts').set({ draining }).where('id', '=', hostId).executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}

/** Every registered host with its liveness, load and WhatsApp reachability, for health and operators. */
export async function listHostLoads(db: Kysely<Database>): Promise<HostLoad[]> {
  const rows = await db
    .selectFrom('hosts')
    .leftJoin('sessions', 'sessions.host_id', 'hosts.id')
    .select([
      'hosts.id',
      'hosts.internal_url',
      'hosts.draining',
      'hosts.heartbeat_at',
      'hosts.started_at',
      'hosts.whatsapp',
      'hosts.whatsapp_error',
      'hosts.whatsapp_checked_at',
      'hosts.max_sessions',
      isLive().as('live'),
      (eb) => eb.fn.count<string>('sessions.id').as('owned'),
    ])
    .groupBy('hosts.id')
    .orderBy('hosts.id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    internalUrl: r.internal_url,
    live: r.live === true,
    draining: r.draining,
    sessions: Number(r.owned),
    maxSessions: r.max_sessions,
    heartbeatAt: r.heartbeat_at,
    startedAt: r.started_at,
    whatsapp: r.whatsapp,
    whatsappError: r.whatsapp_error,
    whatsappCheckedAt: r.whatsapp_checked_at,
  }));
}
