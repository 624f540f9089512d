// Queues a message the way the edge does (its own query), for tests that drive a host directly.
import type { Kysely } from 'kysely';
import { queueMessage } from '../../edge/outbox/queries.js';
import type { Database } from '../../shared/db-schema.js';

/** Queues `text` to `to` (a JID) for the session with id `sessionId`; resolves with the message id. */
export async function queueText(
  db: Kysely<Database>,
  sessionId: string,
  to: string,
  text: string,
  options: { ttlSeconds?: number } = {},
): Promise<string> {
  const session = await db
    .selectFrom('sessions')
    .select(['tenant_id', 'name'])
    .where('id', '=', sessionId)
    .executeTakeFirstOrThrow();
  const queued = await queueMessage(
    db,
    { tenantId: session.tenant_id, sessionId, sessionName: session.name },
    { to, text, ttlSeconds: options.ttlSeconds, leaseMs: 0 },
    new Date(),
  );
  if ('replay' in queued) throw new Error('no key, no replay');
  return queued.id;
}
