// The store's one-statement writes: a change and its event together, or neither; the event's message
// view built in SQL is the API's view, field for field.
import { type Kysely, sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  advanceStatusesWithEvents,
  insertMessagesWithEvents,
  insertMessageWithEvent,
  messageJson,
  type SessionRef,
  type StoredMessage,
  storedMessageView,
} from '../../../node-runtime/events/store.js';
import type { Database } from '../../../shared/db-schema.js';
import type { MessageStatus } from '../../../shared/events.js';
import { messageView } from '../../../shared/message-view.js';
import { insertTenantSession, useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();
let session: SessionRef;

beforeAll(async () => {
  const { tenantId, sessionId } = await insertTenantSession(database().db, 'store', 'store-s');
  session = { id: sessionId, tenantId, name: 'store-s' };
});

/** One message's status change through the batch write: the message as it is now, or undefined. */
async function advanceStatusWithEvent(
  db: Kysely<Database>,
  ref: SessionRef,
  id: string,
  status: MessageStatus,
  at: Date,
  failure: string | null = null,
) {
  const [result] = await advanceStatusesWithEvents(db, [
    { session: ref, changes: [{ id, status, at, failure }] },
  ]);
  return result?.moved[0] && { message: result.moved[0], hooked: result.hooked };
}

const message = (id: string, over: Partial<StoredMessage> = {}): StoredMessage => ({
  id,
  direction: 'in',
  chatJid: '628111@s.whatsapp.net',
  chatLid: '4455@lid',
  senderJid: '628111@s.whatsapp.net',
  senderLid: '4455@lid',
  kind: 'text',
  text: 'halo "dunia" \\ 👋',
  quoted: null,
  sentAt: new Date('2026-11-30T10:11:12.345Z'),
  status: null,
  source: 'phone',
  ...over,
});

/** The API's view of a message as stored now (what a `message.sent` event must carry, built in SQL). */
const viewOf = async (id: string) =>
  messageView(
    await database()
      .db.selectFrom('messages')
      .selectAll()
      .where('session_id', '=', session.id)
      .where('id', '=', id)
      .executeTakeFirstOrThrow(),
    session.name,
  );

const eventsOf = (id: string) =>
  database()
    .db.selectFrom('events')
    .select(['type', 'data'])
    .where('session_id', '=', session.id)
    .where(sql<boolean>`data -> 'message' ->> 'id' = ${id} or data ->> 'id' = ${id}`)
    .orderBy('seq')
    .execute();

describe('the message view in SQL', () => {
  it('is messageView, field for field, for messages of every shape', async () => {
    const { db } = database();
    const shapes = [
      message('v-in'),
      message('v-quoted', { quoted: { id: 'q1', from: '628222@s.whatsapp.net', text: 'asal' } }),
      message('v-no-lid', { chatLid: null, senderLid: null, text: null, kind: 'unknown' }),
      message('v-out', { direction: 'out', senderJid: null, status: 'queued', source: 'api' }),
      message('v-image', {
        kind: 'image',
        text: 'a caption',
        content: {
          media: { mimetype: 'image/jpeg', size: 1234 },
          mentions: ['628333@s.whatsapp.net'],
          download: { type: 'image', directPath: '/v/x.enc', mediaKey: 'a2V5' },
        },
      }),
      message('v-doc', {
        kind: 'document',
        content: {
          media: { id: 'internal', mimetype: 'application/pdf', size: null, fileName: 'a.pdf', ptt: false },
        },
      }),
      message('v-place', {
        kind: 'location',
        text: null,
        content: { location: { latitude: -6.2, longitude: 106.8 } },
      }),
      message('v-card', {
        kind: 'contact',
        text: null,
        content: { contact: { displayName: 'Budi', vcard: 'BEGIN:VCARD' } },
      }),
      message('v-react', {
        kind: 'reaction',
        content: {
          reaction: { messageId: 'v-in', emoji: '👍', fromMe: true, chat: '628111@s.whatsapp.net' },
          mentions: [],
        },
      }),
    ];
    for (const m of shapes) await insertMessageWithEvent(db, session, m, 'message.received');
    await advanceStatusWithEvent(db, session, 'v-out', 'failed', new Date(), 'not on WhatsApp');
    const rows = await db.selectFrom('messages').selectAll().where('session_id', '=', session.id).execute();
    expect(rows.length).toBeGreaterThanOrEqual(shapes.length);
    for (const row of rows) {
      const { rows: built } = await sql<{ view: unknown }>`
        select ${messageJson(sql`${session.name}::text`)} as view from messages m
        where m.session_id = ${session.id} and m.id = ${row.id}`.execute(db);
      expect(built[0]?.view).toEqual(messageView(row, session.name));
    }
    // What only the gateway uses is never shown.
    const image = rows.find((r) => r.id === 'v-image');
    expect(image && messageView(image, session.name)).toMatchObject({
      media: { mimetype: 'image/jpeg', size: 1234 },
      mentions: ['628333@s.whatsapp.net'],
    });
    expect(JSON.stringify(rows.map((r) => messageView(r, session.name)))).not.toMatch(
      /download|internal|fromMe/,
    );
  });
});

describe('one-statement writes', () => {
  it('store a message and its event once; a redelivery writes neither again', async () => {
    const { db } = database();
    const first = await insertMessageWithEvent(db, session, message('once'), 'message.received');
    const again = await insertMessageWithEvent(db, session, message('once'), 'message.received');
    expect(first).toEqual({ hooked: false });
    expect(again).toBeUndefined();
    const events = await eventsOf('once');
    expect(events.map((e) => e.type)).toEqual(['message.received']);
  });

  it("store several sessions' messages in one statement, each once, events in order per tenant", async () => {
    const { db } = database();
    const other = await insertTenantSession(db, 'store-other-in', 'store-oi');
    const otherRef: SessionRef = { id: other.sessionId, tenantId: other.tenantId, name: 'store-oi' };
    await insertMessageWithEvent(db, session, message('m-old'), 'message.received');
    const item = (ref: SessionRef, id: string) => ({
      session: ref,
      message: message(id),
      type: 'message.received' as const,
    });
    const written = await insertMessagesWithEvents(db, [
      item(otherRef, 'm-2'),
      item(session, 'm-old'), // stored before: a redelivery
      item(session, 'm-1'),
      item(otherRef, 'm-1'), // the same id in another session is another message
      item(otherRef, 'm-2'), // twice in one list: once
      item(otherRef, 'm-3'),
    ]);
    expect(written).toEqual([
      { hooked: false },
      undefined,
      { hooked: false },
      { hooked: false },
      undefined,
      { hooked: false },
    ]);
    const otherEvents = await db
      .selectFrom('events')
      .select(['seq', 'session_name', 'data'])
      .where('tenant_id', '=', other.tenantId)
      .orderBy('seq')
      .execute();
    expect(otherEvents.map((e) => [e.seq, (e.data as { message: { id: string } }).message.id])).toEqual([
      ['1', 'm-2'],
      ['2', 'm-1'],
      ['3', 'm-3'],
    ]);
    const stored = await db
      .selectFrom('messages')
      .selectAll()
      .where('session_id', '=', other.sessionId)
      .orderBy('id')
      .execute();
    expect(stored.map((row) => messageView(row, 'store-oi'))).toEqual(
      ['m-1', 'm-2', 'm-3'].map((id) => ({ ...storedMessageView(message(id), 'store-oi'), statusAt: null })),
    );
    expect((await eventsOf('m-old')).map((e) => e.type)).toEqual(['message.received']);
  });

  it('move a status forward with its event, never back, and say when a webhook endpoint may want it', async () => {
    const { db } = database();
    await insertMessageWithEvent(
      db,
      session,
      message('out-1', { direction: 'out', status: 'queued', source: 'api' }),
      'message.sent',
    );
    await db.deleteFrom('events').where('session_id', '=', session.id).execute();
    const sent = await advanceStatusWithEvent(db, session, 'out-1', 'sent', new Date());
    expect(sent?.message).toEqual({ id: 'out-1', status: 'sent', failure: null });
    expect(sent?.hooked).toBe(false);
    const view = await viewOf('out-1');
    await db
      .insertInto('webhook_endpoints')
      .values({ tenant_id: session.tenantId, url: 'https://example.com/h', secret: new Uint8Array(8) })
      .execute();
    const at = new Date('2026-11-30T11:00:00.000Z');
    const read = await advanceStatusWithEvent(db, session, 'out-1', 'read', at);
    expect(read?.hooked).toBe(true);
    // Back to delivered, or failed once sent: nothing changes and no event is written.
    expect(await advanceStatusWithEvent(db, session, 'out-1', 'delivered', new Date())).toBeUndefined();
    expect(await advanceStatusWithEvent(db, session, 'out-1', 'failed', new Date(), 'x')).toBeUndefined();
    const events = await eventsOf('out-1');
    expect(events.map((e) => e.type)).toEqual(['message.sent', 'message.status']);
    expect(events[0]?.data).toEqual({ sessionId: session.name, message: view });
    expect(events[1]?.data).toEqual({
      sessionId: session.name,
      id: 'out-1',
      chat: '628111@s.whatsapp.net',
      status: 'read',
      failure: null,
      at: at.toISOString(),
    });
    const deliveries = await db.selectFrom('webhook_deliveries').select('event_seq').execute();
    expect(deliveries).toHaveLength(1); // the read, fanned out to the endpoint in the same statement
  });

  it('move several messages in one statement: each event in the order given, the ones that cannot move skipped', async () => {
    const { db } = database();
    for (const id of ['b-1', 'b-2', 'b-3']) {
      await insertMessageWithEvent(
        db,
        session,
        message(id, { direction: 'out', status: 'queued', source: 'api' }),
        'message.sent',
      );
    }
    await advanceStatusWithEvent(db, session, 'b-3', 'sent', new Date());
    const before = await db
      .selectFrom('events')
      .select(({ fn }) => fn.max('seq').as('seq'))
      .executeTakeFirst();
    const at = new Date('2026-11-30T12:00:00.000Z');
    const [result] = await advanceStatusesWithEvents(db, [
      {
        session,
        changes: [
          { id: 'b-2', status: 'sent', at, failure: null },
          { id: 'b-1', status: 'failed', at, failure: 'refused by WhatsApp (error 479)' },
          { id: 'b-3', status: 'failed', at, failure: 'too late' }, // sent already: stays sent
          { id: 'no-such', status: 'delivered', at, failure: null },
        ],
      },
    ]);
    expect(result?.moved).toEqual([
      { id: 'b-2', status: 'sent', failure: null },
      { id: 'b-1', status: 'failed', failure: 'refused by WhatsApp (error 479)' },
    ]);
    const events = await db
      .selectFrom('events')
      .select(['type', 'data', 'created_at'])
      .where('session_id', '=', session.id)
      .where('seq', '>', String(before?.seq ?? 0))
      .orderBy('seq')
      .execute();
    expect(events.map((e) => e.type)).toEqual(['message.sent', 'message.status']);
    expect(events[0]?.data).toEqual({ sessionId: session.name, message: await viewOf('b-2') });
    expect(events[1]?.data).toMatchObject({ id: 'b-1', status: 'failed', at: at.toISOString() });
  });

  it("move several sessions' messages in one statement, each batch answered with its own", async () => {
    const { db } = database();
    const other = await insertTenantSession(db, 'store-other', 'store-o');
    const otherRef: SessionRef = { id: other.sessionId, tenantId: other.tenantId, name: 'store-o' };
    // The same message id in both sessions: each moves only its own.
    for (const ref of [session, otherRef]) {
      for (const id of ['g-1', 'g-2']) {
        await insertMessageWithEvent(
          db,
          ref,
          message(id, { direction: 'out', status: 'queued', source: 'api' }),
          'message.sent',
        );
      }
    }
    const at = new Date('2026-11-30T13:00:00.000Z');
    const change = (id: string, status: MessageStatus) => ({ id, status, at, failure: null });
    const results = await advanceStatusesWithEvents(db, [
      { session: otherRef, changes: [change('g-2', 'sent'), change('g-1', 'sent')] },
      { session, changes: [change('g-1', 'delivered')] },
      { session: otherRef, changes: [] },
    ]);
    expect(results.map((r) => r.moved.map((m) => [m.id, m.status]))).toEqual([
      [
        ['g-2', 'sent'],
        ['g-1', 'sent'],
      ],
      [['g-1', 'delivered']],
      [],
    ]);
    const otherEvents = await db
      .selectFrom('events')
      .select(['session_name', 'seq', 'data'])
      .where('tenant_id', '=', other.tenantId)
      .orderBy('seq')
      .execute();
    // Two at insert, two moves: numbered within the tenant, in the session's order.
    expect(
      otherEvents.map((e) => [e.seq, (e.data as { message: { id: string; status: string } }).message.status]),
    ).toEqual([
      ['1', 'queued'],
      ['2', 'queued'],
      ['3', 'sent'],
      ['4', 'sent'],
    ]);
    expect(otherEvents.slice(2).map((e) => (e.data as { message: { id: string } }).message.id)).toEqual([
      'g-2',
      'g-1',
    ]);
    expect(otherEvents.every((e) => e.session_name === 'store-o')).toBe(true);
  });

  it('move a message that left the queue without writing index entries (heap-only updates)', async () => {
    const { db } = database();
    await insertMessageWithEvent(
      db,
      session,
      message('out-hot', { direction: 'out', status: 'queued', source: 'api' }),
      'message.sent',
    );
    await sql`update messages set outbox_seq = nextval('messages_outbox_seq')
      where session_id = ${session.id} and id = 'out-hot'`.execute(db);
    const queued = () =>
      db
        .selectFrom('messages')
        .select('id')
        .where('session_id', '=', session.id)
        .where('queue_seq', 'is not', null)
        .execute();
    expect(await queued()).toEqual([{ id: 'out-hot' }]);
    // This connection's counters, not flushed yet (one transaction, so one connection): leaving the queue
    // changes the queue's index, the moves after it none.
    const counts = await db.transaction().execute(async (trx) => {
      const read = async () => {
        const { rows } = await sql<{ updated: string; hot: string }>`select
          pg_stat_get_xact_tuples_updated('messages'::regclass) as updated,
          pg_stat_get_xact_tuples_hot_updated('messages'::regclass) as hot`.execute(trx);
        return { updated: Number(rows[0]?.updated), hot: Number(rows[0]?.hot) };
      };
      const before = await read();
      for (const status of ['sent', 'delivered', 'read'] as const) {
        await advanceStatusesWithEvents(trx, [
          { session, changes: [{ id: 'out-hot', status, at: new Date(), failure: null }] },
        ]);
      }
      const after = await read();
      return { updated: after.updated - before.updated, hot: after.hot - before.hot };
    });
    expect(counts).toEqual({ updated: 3, hot: 2 });
    expect(await queued()).toEqual([]);
  });

  it('writes nothing when the event cannot be written (the change rolls back with it)', async () => {
    const { db } = database();
    await insertMessageWithEvent(
      db,
      session,
      message('out-2', { direction: 'out', status: 'queued', source: 'api' }),
      'message.sent',
    );
    await sql`create or replace function refuse_events() returns trigger language plpgsql as $$
      begin raise exception 'no events today'; end $$`.execute(db);
    await sql`create trigger refuse_events before insert on events
      for each row execute function refuse_events()`.execute(db);
    try {
      await expect(advanceStatusWithEvent(db, session, 'out-2', 'sent', new Date())).rejects.toThrow(
        /no events today/,
      );
      await expect(insertMessageWithEvent(db, session, message('in-2'), 'message.received')).rejects.toThrow(
        /no events today/,
      );
    } finally {
      await sql`drop trigger refuse_events on events`.execute(db);
    }
    const out = await db
      .selectFrom('messages')
      .select('status')
      .where('session_id', '=', session.id)
      .where('id', 'in', ['out-2', 'in-2'])
      .execute();
    expect(out).toEqual([{ status: 'queued' }]);
  });
});
