// Messages and events are kept MESSAGE_RETENTION_DAYS (default 30), then purged with their deliveries;
// Idempotency-Key records 24 hours.
import { ulid } from 'ulid';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { purgeOld } from '../../../node-runtime/events/retention.js';
import { insertEvent } from '../../../shared/event-log.js';
import { insertTenantSession, useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();
let tenantId: string;
let sessionId: string;

beforeAll(async () => {
  ({ tenantId, sessionId } = await insertTenantSession(database().db, 't', 's'));
});
afterAll(() => undefined);

it('purges what is older than the retention, and nothing newer', async () => {
  const { db } = database();
  const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);
  for (const [id, age] of [
    ['old-1', 40],
    ['old-2', 31],
    ['new-1', 29],
    ['new-2', 0],
  ] as const) {
    await db
      .insertInto('messages')
      .values({
        session_id: sessionId,
        id,
        tenant_id: tenantId,
        direction: 'in',
        chat_jid: '628100000001@s.whatsapp.net',
        chat_lid: null,
        sender_jid: '628100000001@s.whatsapp.net',
        sender_lid: null,
        kind: 'text',
        text: id,
        sent_at: daysAgo(age),
        status: null,
        status_at: null,
        failure: null,
        source: null,
        created_at: daysAgo(age),
      })
      .execute();
    const { id: eventId } = await insertEvent(db, { tenantId, sessionId, sessionName: 's' }, 'session.qr', {
      sessionId: 's',
      qr: id,
    });
    // An event's age is in its id (a ULID begins with the time it was made).
    await db
      .updateTable('events')
      .set({ id: `evt_${ulid(daysAgo(age).getTime())}` })
      .where('id', '=', eventId)
      .execute();
  }
  // Idempotency-Key answers are kept 24 hours.
  for (const [key, hours] of [
    ['old-key', 25],
    ['new-key', 23],
  ] as const) {
    await db
      .insertInto('idempotency_keys')
      .values({
        session_id: sessionId,
        key,
        request_hash: new Uint8Array(32),
        message_id: 'new-1',
        created_at: new Date(Date.now() - hours * 3_600_000),
      })
      .execute();
  }
  expect(await purgeOld(db, 30)).toEqual({ messages: 2, events: 2, idempotencyKeys: 1 });
  const keys = await db.selectFrom('idempotency_keys').select('key').execute();
  expect(keys.map((k) => k.key)).toEqual(['new-key']);
  const left = await db.selectFrom('messages').select('id').orderBy('id').execute();
  expect(left.map((m) => m.id)).toEqual(['new-1', 'new-2']);
  const events = await db.selectFrom('events').select('data').execute();
  expect(events.map((e) => (e.data as { qr: string }).qr).sort()).toEqual(['new-1', 'new-2']);
  expect(await purgeOld(db, 30)).toEqual({ messages: 0, events: 0, idempotencyKeys: 0 });
});
