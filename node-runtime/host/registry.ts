import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../shared/db-schema.js';
import type { WhatsAppReachability } from './whatsapp-probe.js';

/** How often a host says it is alive; the edge treats a host silent for 30 s as gone. */
export const HEARTBEAT_MS = 5_000;

const reachabilityColumns = (r: WhatsAppReachability) => ({
  whatsapp: r.status,
  whatsapp_error: r.status === 'unreachable' ? r.error : null,
  whatsapp_checked_at: r.status === 'unknown' ? null : r.checkedAt,
});

/**
 * Registers this host in the hosts table and keeps its heartbeat fresh. The row outlives a restart
 * (the host's sessions stay assigned to it); on shutdown it is only marked draining.
 */
export const registerHost = async (
  db: Kysely<Database>,
  host: { id: string; internalUrl: string; maxSessions?: number | undefined },
  logger: Logger,
) => {
  const unknown = reachabilityColumns({ status: 'unknown' });
  const maxSessions = host.maxSessions ?? null;
  await db
    .insertInto('hosts')
    .values({ id: host.id, internal_url: host.internalUrl, max_sessions: maxSessions, ...unknown })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        internal_url: host.internalUrl,
        max_sessions: maxSessions,
        heartbeat_at: sql`now()`,
        draining: false,
        started_at: sql`now()`,
        ...unknown,
      }),
    )
    .execute();
  const beat = () =>
    db
      .updateTable('hosts')
      .set({ heartbeat_at: sql`now()` })
      .where('id', '=', host.id)
      .execute()
      .catch((err: unknown) => logger.warn({ err }, 'heartbeat failed'));
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  return {
    /** Records whether this host can reach WhatsApp, for /health; logged when it changes. */
    async reportWhatsApp(reachability: WhatsAppReachability) {
      if (reachability.status === 'unreachable') {
        logger.warn({ error: reachability.error }, 'cannot reach WhatsApp');
      } else logger.info({ whatsapp: reachability.status }, 'WhatsApp reachable');
      await db
        .updateTable('hosts')
        .set(reachabilityColumns(reachability))
        .where('id', '=', host.id)
        .execute()
        .catch((err: unknown) => logger.warn({ err }, 'recording WhatsApp reachability failed'));
    },
    /** Stops the heartbeat and marks the host draining, so the edge places nothing new here. */
    async stop() {
      clearInterval(timer);
      await db.updateTable('hosts').set({ draining: true }).where('id', '=', host.id).execute();
    },
  };
};
