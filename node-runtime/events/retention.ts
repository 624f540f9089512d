import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../shared/db-schema.js';

const PURGE_EVERY_MS = 60 * 60_000;
const BATCH = 5_000;

/**
 * Deletes messages and events older than `days` (with their deliveries), in small batches so no purge
 * holds locks for long. Every host runs it; a second one at the same moment finds nothing to do.
 */
export async function purgeOld(
  db: Kysely<Database>,
  days: number,
): Promise<{ messages: number; events: number }> {
  const before = sql<Date>`now() - make_interval(days => ${days})`;
  let messages = 0;
  let events = 0;
  for (;;) {
    const gone = await sql`
      DELETE FROM messages WHERE ctid IN (SELECT ctid FROM messages WHERE created_at < ${before} LIMIT ${BATCH})
    `.execute(db);
    messages += Number(gone.numAffectedRows ?? 0n);
    if (Number(gone.numAffectedRows ?? 0n) < BATCH) break;
  }
  for (;;) {
    const gone = await sql`
      DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at < ${before} LIMIT ${BATCH})
    `.execute(db);
    events += Number(gone.numAffectedRows ?? 0n);
    if (Number(gone.numAffectedRows ?? 0n) < BATCH) break;
  }
  return { messages, events };
}

/** Runs `purgeOld` now and every hour; returns the stop function. */
export function keepRetention(db: Kysely<Database>, days: number, logger: Logger): () => void {
  const run = () =>
    purgeOld(db, days).then(
      (purged) => {
        if (purged.messages + purged.events > 0)
          logger.info({ ...purged, days }, 'purged old messages and events');
      },
      (err: unknown) => logger.warn({ err }, 'purging old messages and events failed'),
    );
  void run();
  const timer = setInterval(run, PURGE_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
