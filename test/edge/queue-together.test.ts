// Messages queued together (POST /api/messages and /api/send without a file) share one INSERT
// and one commit on the edge's pool, on the real database: each keeps its own fields, the queue order is
// the order they were asked in, and one the database refuses fails alone. Messages with keys used for the
// first time go in that INSERT too, which takes their keys.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { idempotentRequest } from '../../edge/outbox/idempotency.js';
import { keepAnswer, queueMessage, type Sender } from '../../edge/outbox/queries.js';
import { useEdge } from './fixture.js';
import { createSessionRow } from './helpers.js';
import { type LoggedDb, loggedDb } from './query-log.js';

let logged: LoggedDb;
const fx = useEdge({
  hosts: ['host-queue-together'],
  tenants: ['together'],
  edge: ({ database }) => {
    logged = loggedDb(database.url);
    return { db: logged.db };
  },
});

let sender: Sender;
beforeAll(async () => {
  const { db, tenantId } = fx();
  const sessionId = await createSessionRow(db, { tenantId, name: 'together' });
  sender = { tenantId, sessionId, sessionName: 'together' };
});

/** Statements that queue messages (a key's first use takes the key in the same one). */
const inserts = () => logged.statements.filter((s) => /\binsert into "?messages"?\s/i.test(s)).length;
const request = (text: string, to = '6281234567890@s.whatsapp.net') => ({ to, text, leaseMs: 30_000 });

describe('messages queued together', () => {
  it('go in one INSERT, each with its own fields, in the order asked', async () => {
    const before = inserts();
    const now = new Date('2026-12-01T10:00:00.000Z');
    // Asked in one turn of the event loop: the six go together.
    const queued = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        queueMessage(
          logged.db,
          sender,
          { ...request(`m${i}`, `62811111111${i}@s.whatsapp.net`), ttlSeconds: 60 + i },
          new Date(now.getTime() + i),
        ),
      ),
    );
    expect(inserts() - before).toBe(1);
    const rows = await fx()
      .db.selectFrom('messages')
      .select(['id', 'chat_jid', 'text', 'kind', 'status', 'direction', 'source', 'sent_at', 'expires_at'])
      .where('session_id', '=', sender.sessionId)
      .orderBy('outbox_seq')
      .execute();
    expect(rows.map((r) => r.id)).toEqual(queued.map((q) => ('id' in q ? q.id : null)));
    rows.forEach((row, i) => {
      expect(row).toMatchObject({
        chat_jid: `62811111111${i}@s.whatsapp.net`,
        text: `m${i}`,
        kind: 'text',
        status: 'queued',
        direction: 'out',
        source: 'api',
      });
      expect(row.sent_at.getTime()).toBe(now.getTime() + i);
      expect((row.expires_at?.getTime() ?? 0) - row.sent_at.getTime()).toBe((60 + i) * 1000);
    });
  });

  it('one the database refuses (its session is gone) fails alone; the others are queued', async () => {
    const gone: Sender = { ...sender, sessionId: randomUUID() };
    // Asked in one turn, the four share an INSERT, which the database refuses; each then goes alone.
    const results = await Promise.allSettled([
      queueMessage(logged.db, sender, request('lead'), new Date()),
      queueMessage(logged.db, sender, request('ok-1'), new Date()),
      queueMessage(logged.db, gone, request('refused'), new Date()),
      queueMessage(logged.db, sender, request('ok-2'), new Date()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const texts = await fx()
      .db.selectFrom('messages')
      .select('text')
      .where('session_id', 'in', [sender.sessionId, gone.sessionId])
      .where('text', 'in', ['lead', 'ok-1', 'refused', 'ok-2'])
      .orderBy('outbox_seq')
      .execute();
    expect(texts.map((t) => t.text)).toEqual(['lead', 'ok-1', 'ok-2']);
  });
});

describe('a message with an Idempotency-Key', () => {
  const keyRow = (key: string) =>
    fx()
      .db.selectFrom('idempotency_keys')
      .selectAll()
      .where('session_id', '=', sender.sessionId)
      .where('key', '=', key)
      .executeTakeFirst();

  it('used for the first time: the key is taken and the message queued in one statement', async () => {
    const body = { to: '6281234567890@s.whatsapp.net', message: 'keyed' };
    const idempotency = await idempotentRequest('first-use', 'POST /api/send', body);
    const before = logged.statements.length;
    const now = new Date();
    const queued = await queueMessage(
      logged.db,
      sender,
      { to: body.to, text: body.message, idempotency, leaseMs: 30_000, answeredLater: true },
      now,
    );
    expect(logged.statements.length - before).toBe(1);
    expect(queued).toEqual({ id: expect.any(String), resumed: false });
    const id = 'id' in queued ? queued.id : '';
    // Held for the request (`/api/send` answers later), pointing at its message, which is queued.
    const key = await keyRow('first-use');
    expect(key).toMatchObject({ message_id: id, response_status: null, response_body: null });
    expect(Buffer.from(key?.request_hash ?? []).equals(Buffer.from(idempotency.hash))).toBe(true);
    expect(key?.locked_until?.getTime()).toBe(now.getTime() + 30_000);
    const row = await fx()
      .db.selectFrom('messages')
      .select(['text', 'status'])
      .where('session_id', '=', sender.sessionId)
      .where('id', '=', id)
      .executeTakeFirst();
    expect(row).toEqual({ text: 'keyed', status: 'queued' });

    // The same request again: the key is held, so it is refused, and nothing more is queued.
    const again = queueMessage(
      logged.db,
      sender,
      { to: body.to, text: body.message, idempotency, leaseMs: 30_000, answeredLater: true },
      new Date(),
    );
    await expect(again).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE' });
    const keyed = await fx()
      .db.selectFrom('messages')
      .select('id')
      .where('session_id', '=', sender.sessionId)
      .where('text', '=', 'keyed')
      .execute();
    expect(keyed).toHaveLength(1);
  });

  it('with its answer kept at once (the outbox route): a second use replays it', async () => {
    const body = { to: '6281234567890@s.whatsapp.net', text: 'answered' };
    const idempotency = await idempotentRequest('answered-at-once', 'POST /api/messages', body);
    const request = {
      to: body.to,
      text: body.text,
      idempotency,
      leaseMs: 30_000,
      answer: (id: string) => ({ status: 202, body: { id, status: 'queued' } }),
    };
    const first = await queueMessage(logged.db, sender, request, new Date());
    const id = 'id' in first ? first.id : '';
    expect(await keyRow('answered-at-once')).toMatchObject({
      message_id: id,
      response_status: 202,
      response_body: { id, status: 'queued' },
      locked_until: null,
    });
    expect(await queueMessage(logged.db, sender, request, new Date())).toEqual({
      replay: { status: 202, body: { id, status: 'queued' } },
    });
  });

  it('asked together, messages with keys and without go in one INSERT; a key asked twice queues once', async () => {
    const keyed = async (key: string, text: string) => ({
      ...request(text),
      idempotency: await idempotentRequest(key, 'POST /api/messages', { text }),
      answer: (id: string) => ({ status: 202, body: { id } }),
    });
    const asked = [
      await keyed('together-a', 'a'),
      request('plain'),
      await keyed('together-b', 'b'),
      await keyed('together-a', 'a'),
    ];
    const before = inserts();
    const queued = await Promise.all(asked.map((r) => queueMessage(logged.db, sender, r, new Date())));
    expect(inserts() - before).toBe(1);
    const [a, plain, b, again] = queued;
    for (const q of [a, plain, b]) expect(q).toEqual({ id: expect.any(String), resumed: false });
    // The second use of the key found the first's answer.
    expect(again).toEqual({ replay: { status: 202, body: { id: a && 'id' in a ? a.id : '' } } });
    const texts = await fx()
      .db.selectFrom('messages')
      .select('text')
      .where('session_id', '=', sender.sessionId)
      .where('text', 'in', ['a', 'plain', 'b'])
      .orderBy('outbox_seq')
      .execute();
    expect(texts.map((t) => t.text)).toEqual(['a', 'plain', 'b']);
  });

  it("`/api/send`'s answers kept together go in one UPDATE, each to its own key, and are replayed", async () => {
    const held = await Promise.all(
      ['kept-a', 'kept-b', 'kept-c'].map(async (key) => {
        const body = { to: '6281234567890@s.whatsapp.net', message: key };
        const idempotency = await idempotentRequest(key, 'POST /api/send', body);
        return {
          key,
          request: { to: body.to, text: key, idempotency, leaseMs: 30_000, answeredLater: true },
        };
      }),
    );
    const ids: string[] = [];
    for (const h of held) {
      const queued = await queueMessage(logged.db, sender, h.request, new Date());
      ids.push('id' in queued ? queued.id : '');
    }
    const updates = () => logged.statements.filter((s) => /^update "?idempotency_keys"?\s/i.test(s)).length;
    const before = updates();
    const answerOf = (i: number) => ({ status: 200, body: { success: true, result: { id: ids[i] ?? '' } } });
    // Kept in one turn of the event loop, as answers arriving together are.
    await Promise.all(held.map((h, i) => keepAnswer(logged.db, sender.sessionId, h.key, answerOf(i))));
    expect(updates() - before).toBe(1);
    for (const [i, h] of held.entries()) {
      expect(await keyRow(h.key)).toMatchObject({
        message_id: ids[i],
        response_status: 200,
        response_body: answerOf(i).body,
        locked_until: null,
      });
      expect(await queueMessage(logged.db, sender, h.request, new Date())).toEqual({ replay: answerOf(i) });
    }
  });
});
