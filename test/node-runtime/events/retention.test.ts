// Messages and events are kept MESSAGE_RETENTION_DAYS (default 30), then purged with their deliveries.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { purgeOld } from '../../../node-runtime/events/retention.js';
import { insertEvent } from '../../../node-runtime/events/store.js';
import { useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();
let tenantId: string;
let sessionId: string;

beforeAll(async () => {
  const { db } = database();
  tenantId = (await db.insertInto('tenants').values({ name: 't' }).returning('id').executeTakeFirstOrThrow())
    .id;
  sessionId = (
    await db
      .insertInto('sessions')
      .values({ tenant_id: tenantId, name: 's' })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
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
    const eventId = await insertEvent(db, { tenantId, id: sessionId, name: 's' }, 'session.qr', {
      sessionId: 's',
      qr: id,
    });
    await db
      .updateTable('events')
      .set({ created_at: daysAgo(age) })
      .where('id', '=', eventId)
      .execute();
  }
  expect(await purgeOld(db, 30)).toEqual({ messages: 2, events: 2 });
  const left = await db.selectFrom('messages').select('id').orderBy('id').execute();
  expect(left.map((m) => m.id)).toEqual(['new-1', 'new-2']);
  const events = await db.selectFrom('events').select('data').execute();
  expect(events.map((e) => (e.data as { qr: string }).qr).sort()).toEqual(['new-1', 'new-2']);
  expect(await purgeOld(db, 30)).toEqual({ messages: 0, events: 0 });
});
