// Rows of the message store and the event log, written straight to Postgres as a session host writes
// them, for the tests of the routes that read them (messages, events, webhooks).
import { type Kysely, sql } from 'kysely';
import type { Database, MessageRow } from '../../shared/db-schema.js';
import { insertEvent } from '../../shared/event-log.js';
import type { EventData, EventType } from '../../shared/events.js';
import { generateSecretKey } from '../../shared/webhook-secrets.js';
import { createKey, createSessionRow } from './helpers.js';

/** A public address for every name: what a test edge's resolver says unless a test says otherwise. */
export const PUBLIC_ADDRESS = '93.184.216.34';

/** The webhook settings of a test edge: a secret key of its own, private URLs refused. */
export const webhookConfig = () => ({ secretKey: generateSecretKey(), allowPrivate: false });

/** A session row of `tenantId` and its session key. */
export async function sessionWithKey(db: Kysely<Database>, tenantId: string, name: string) {
  const id = await createSessionRow(db, { tenantId, name });
  return { id, name, tenantId, key: await createKey(db, 'session', { tenantId, sessionId: id }) };
}

export type TestSession = Awaited<ReturnType<typeof sessionWithKey>>;

let counter = 0;

/** A stored message of `session`; unset fields as an incoming text would have them. */
export async function insertMessage(
  db: Kysely<Database>,
  session: { id: string; tenantId: string },
  fields: Partial<Omit<MessageRow, 'session_id' | 'tenant_id' | 'sent_at'>> & { sent_at: string | Date },
): Promise<MessageRow> {
  counter++;
  const chat = fields.chat_jid ?? '6281111111111@s.whatsapp.net';
  return db
    .insertInto('messages')
    .values({
      session_id: session.id,
      tenant_id: session.tenantId,
      id: fields.id ?? `3EB0TEST${String(counter).padStart(12, '0')}`,
      direction: fields.direction ?? 'in',
      chat_jid: chat,
      chat_lid: fields.chat_lid ?? null,
      sender_jid: fields.sender_jid ?? (fields.direction === 'out' ? null : chat),
      sender_lid: fields.sender_lid ?? null,
      kind: fields.kind ?? 'text',
      text: fields.text ?? `message ${counter}`,
      content: fields.content ?? {},
      // Text goes in as text: postgres.js would make a Date of it for a timestamptz, dropping microseconds.
      sent_at:
        typeof fields.sent_at === 'string' ? sql<Date>`${fields.sent_at}::text::timestamptz` : fields.sent_at,
      status: fields.status ?? null,
      status_at: fields.status_at ?? null,
      failure: fields.failure ?? null,
      source: fields.source ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** An event as a host writes it: of `session`, or of the tenant itself (`session` with null id). */
export async function addEvent<T extends EventType>(
  db: Kysely<Database>,
  owner: { tenantId: string; id: string | null; name: string | null },
  type: T,
  data: EventData<T>,
): Promise<string> {
  const { id } = await insertEvent(
    db,
    { tenantId: owner.tenantId, sessionId: owner.id, sessionName: owner.name },
    type,
    data,
  );
  return id;
}

/** A `session.status` event of `session`, the simplest kind to make many of. */
export function statusEvent(
  db: Kysely<Database>,
  session: { tenantId: string; id: string; name: string },
  state = 'connecting',
): Promise<string> {
  return addEvent(db, session, 'session.status', {
    sessionId: session.name,
    state,
    previousState: 'idle',
    connected: false,
    user: null,
    reason: null,
  });
}
