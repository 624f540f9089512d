import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../shared/db-schema.js';

/** How often a host says it is alive; the edge treats a host silent for 30 s as gone. */
export const HEARTBEAT_MS = 5_000;

/**
 * Registers this host in the hosts table and keeps its heartbeat fresh. The row outlives a restart
 * (the host's sessions stay assigned to it); on shutdown it is only marked draining.
 */
export const registerHost = async (
  db: Kysely<Database>,
  host: { id: string; internalUrl: string },
  logger: Logger,
) => {
  await db
    .insertInto('hosts')
    .values({ id: host.id, internal_url: host.internalUrl })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        internal_url: host.internalUrl,
        heartbeat_at: sql`now()`,
        draining: false,
        started_at: sql`now()`,
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
    /** Stops the heartbeat and marks the host draining, so the edge places nothing new here. */
    async stop() {
      clearInterval(timer);
      await db.updateTable('hosts').set({ draining: true }).where('id', '=', host.id).execute();
    },
  };
};
