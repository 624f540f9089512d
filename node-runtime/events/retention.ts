import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../shared/db-schema.js';
import { eventIdsFrom } from '../../shared/event-log.js';
import { IDEMPOTENCY_TTL_HOURS } from '../../shared/outbox.js';
import { sweepOutboxMedia } from '../media/outbox-media.js';

const PURGE_EVERY_MS = 60 * 60_000;
const BATCH = 5_000;

/**
 * Deletes messages and events older than `days` (with their deliveries), and Idempotency-Key records past
 * their 24 hours, in small batches so no purge holds locks for long. Every host runs it; a second one at
 * the same moment finds nothing to do.
 */
export async function purgeOld(
  db: Kysely<Database>,
  days: number,
): Promise<{ messages: number; events: number; idempotencyKeys: number }> {
  const before = sql<Date>`now() - make_interval(days => ${days})`;
  const eventsBefore = eventIdsFrom(new Date(Date.now() - days * 86_400_000));
  // Messages (whose key has two columns) by their physical row id; events by their id, which begins with
  // the time it was made (on its host's clock).
  const messages = await inBatches(
    () =>
      sql`DELETE FROM messages WHERE ctid IN (SELECT ctid FROM messages WHERE created_at < ${before} LIMIT ${BATCH})`,
    db,
  );
  const events = await inBatches(
    () =>
      sql`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id < ${eventsBefore} LIMIT ${BATCH})`,
    db,
  );
  const keysBefore = sql<Date>`now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`;
  const idempotencyKeys = await inBatches(
    () =>
      sql`DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE created_at < ${keysBefore} LIMIT ${BATCH})`,
    db,
  );
  // Files of messages that left (or never will) go with the same run.
  await sweepOutboxMedia(db, new Date());
  return { messages, events, idempotencyKeys };
}

/** Runs a batched DELETE until a batch comes back short; the rows deleted in all. */
async function inBatches(statement: () => RawBuilder<unknown>, db: Kysely<Database>): Promise<number> {
  let total = 0;
  for (;;) {
    const gone = Number((await statement().execute(db)).numAffectedRows ?? 0n);
    total += gone;
    if (gone < BATCH) return total;
  }
}

/** Runs `purgeOld` now and every hour; returns the stop function. */
export function keepRetention(db: Kysely<Database>, days: number, logger: Logger): () => void {
  const run = () =>
    purgeOld(db, days).then(
      (purged) => {
        if (purged.messages + purged.events + purged.idempotencyKeys > 0)
          logger.info({ ...purged, days }, 'purged old messages and events');
      },
      (err: unknown) => logger.warn({ err }, 'purging old messages and events failed'),
    );
  void run();
  const timer = setInterval(run, PURGE_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
