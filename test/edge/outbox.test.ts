// The outbox and Idempotency-Key at the edge, against real PostgreSQL and a stand-in host (the real host,
// Baileys and the simulator: test/e2e/outbox.test.ts). What is under test here is the edge's part: what is
// queued, what a key keeps and replays, and what a retry after each kind of failure does.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createListener, type Listener } from '../../node-runtime/db/connect.js';
import { OUTBOX_CHANNEL } from '../../node-runtime/outbox/queries.js';
import { digestApiKey } from '../../shared/api-key.js';
import { until } from '../e2e/flow.js';
import { useEdge } from './fixture.js';
import { call, expectError, expectNoDbChange, type TestEdge } from './helpers.js';
import type { StandInHost } from './stand-in-host.js';

const fx = useEdge({ hosts: ['host-outbox'] });
let edge: TestEdge;
let host: StandInHost;

// What the session hosts hear from PostgreSQL: the sessions messages were queued for, on commit.
let listener: Listener;
const heard: string[] = [];
/** What each notification for the session found committed: its queued messages then. */
const found = new Map<string, number[]>();

beforeAll(async () => {
  ({ edge, host } = fx());
  listener = createListener(fx().database.url);
  await listener.listen(OUTBOX_CHANNEL, (sessionId) => {
    heard.push(sessionId);
    void messagesOf(sessionId).then((rows) => {
      found.set(sessionId, [...(found.get(sessionId) ?? []), rows.length]);
    });
  });
});
afterAll(() => listener.close());

/** Waits until the session's notifications have been looked at `n` times in all; their findings. */
const notified = (uuid: string, n: number) =>
  until(async () => {
    const seen = found.get(uuid) ?? [];
    return seen.length >= n ? seen : undefined;
  });

let counter = 0;
/** A new session with its key and uuid. */
async function newSession() {
  counter += 1;
  const response = await call(edge.url, '/api/session/create', {
    key: fx().admin,
    json: { sessionId: `outbox-${counter}` },
  });
  const { apiKey } = (await response.json()) as { apiKey: string };
  const row = await fx()
    .db.selectFrom('api_keys')
    .select('session_id')
    .where('digest', '=', await digestApiKey(apiKey))
    .executeTakeFirstOrThrow();
  host.reset();
  return { key: apiKey, uuid: row.session_id ?? '' };
}

type Answer = { status: number; replayed: boolean; body: Record<string, unknown> };
async function post(path: string, key: string, json: unknown, idempotencyKey?: string): Promise<Answer> {
  const response = await call(edge.url, path, {
    key,
    json,
    headers: idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey },
  });
  return {
    status: response.status,
    replayed: response.headers.get('idempotent-replayed') === 'true',
    body: (await response.json()) as Record<string, unknown>,
  };
}

const messagesOf = (uuid: string) =>
  fx()
    .db.selectFrom('messages')
    .select(['id', 'status', 'failure', 'chat_jid', 'text', 'attempts', 'expires_at', 'sent_at'])
    .where('session_id', '=', uuid)
    .orderBy('outbox_seq')
    .execute();

const sendCalls = () => host.calls.filter((c) => c.action === 'send').map((c) => c.body);

describe('POST /api/messages', () => {
  it('queues the message under a WhatsApp id, answers 202 at once; the hosts hear of it from PostgreSQL', async () => {
    const { key, uuid } = await newSession();
    const before = Date.now();
    const answer = await post('/api/messages', key, { to: '+62 812-3456-7890', text: 'Pesanan dikirim' });
    expect(answer).toEqual({
      status: 202,
      replayed: false,
      body: { success: true, id: expect.stringMatching(/^3EB0[0-9A-F]{18}$/), status: 'queued' },
    });
    const [row] = await messagesOf(uuid);
    expect(row).toMatchObject({
      id: answer.body.id,
      status: 'queued',
      chat_jid: '6281234567890@s.whatsapp.net',
      text: 'Pesanan dikirim',
      attempts: 0,
    });
    // Expires a day after it was queued unless `ttlSeconds` says otherwise.
    const ttl = (row?.expires_at?.getTime() ?? 0) - (row?.sent_at.getTime() ?? 0);
    expect(ttl).toBe(86_400_000);
    expect(row?.sent_at.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    // No call to the host: the notification, sent on commit, finds the message there.
    expect(host.calls).toEqual([]);
    expect(await notified(uuid, 1)).toEqual([1]);
  });

  it('is announced once per statement and session, only once committed, and never for inbound messages', async () => {
    const { key, uuid } = await newSession();
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => post('/api/messages', key, { to: '6281234567890', text: `b${i}` })),
    );
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202, 202]);
    // Queued together or not, each notification came after its messages were committed.
    const seen = await until(async () => {
      const all = found.get(uuid) ?? [];
      return all.at(-1) === 6 ? all : undefined;
    });
    expect(seen.length).toBeLessThanOrEqual(6);
    expect(seen.every((n) => n >= 1)).toBe(true);
    // Inside a transaction: nothing until it commits, then one for its two messages. (Another session:
    // a notification of the posts above may still be on its way.)
    const { uuid: other } = await newSession();
    const heardOf = () => heard.filter((sessionId) => sessionId === other);
    const { db } = fx();
    const tenant = await db
      .selectFrom('sessions')
      .select('tenant_id')
      .where('id', '=', other)
      .executeTakeFirstOrThrow();
    const row = (id: string, direction: 'in' | 'out') => ({
      session_id: other,
      id,
      tenant_id: tenant.tenant_id,
      direction,
      chat_jid: '6281234567890@s.whatsapp.net',
      kind: 'text',
      text: id,
      sent_at: new Date(),
      status: direction === 'out' ? ('queued' as const) : null,
      outbox_seq: direction === 'out' ? '9000000' : null,
    });
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('messages')
        .values([row('T1', 'out'), row('T2', 'out')])
        .execute();
      await sleep(300);
      expect(heardOf()).toEqual([]);
    });
    await until(async () => (heardOf().length > 0 ? true : undefined));
    await db.insertInto('messages').values(row('IN1', 'in')).execute();
    await sleep(300);
    expect(heardOf()).toEqual([other]);
  });

  it('takes a ttl', async () => {
    const { key, uuid } = await newSession();
    const answer = await post('/api/messages', key, { to: '6281234567890', text: 'x', ttlSeconds: 60 });
    expect(answer.status).toBe(202);
    const [row] = await messagesOf(uuid);
    expect((row?.expires_at?.getTime() ?? 0) - (row?.sent_at.getTime() ?? 0)).toBe(60_000);
  });

  it('keeps each chat’s queue order across chats and requests', async () => {
    const { key, uuid } = await newSession();
    const ids: unknown[] = [];
    for (const to of ['6281111111111', '6282222222222', '6281111111111']) {
      ids.push((await post('/api/messages', key, { to, text: to })).body.id);
    }
    expect((await messagesOf(uuid)).map((m) => m.id)).toEqual(ids);
  });

  it.each([
    ['no body', undefined, 'VALIDATION_ERROR'],
    ['no text', { to: '6281234567890' }, 'VALIDATION_ERROR'],
    ['an empty text', { to: '6281234567890', text: '' }, 'VALIDATION_ERROR'],
    ['a text over 65,536 characters', { to: '6281234567890', text: 'x'.repeat(65_537) }, 'VALIDATION_ERROR'],
    ['the seed’s `message` instead of `text`', { to: '6281234567890', message: 'x' }, 'VALIDATION_ERROR'],
    ['no recipient', { text: 'x' }, 'VALIDATION_ERROR'],
    ['a recipient that is no number', { to: 'budi', text: 'x' }, 'INVALID_RECIPIENT'],
    ['a group JID', { to: '123456789-123@g.us', text: 'x' }, 'INVALID_RECIPIENT'],
    ['a ttl of 0', { to: '6281234567890', text: 'x', ttlSeconds: 0 }, 'VALIDATION_ERROR'],
    ['a ttl in fractions', { to: '6281234567890', text: 'x', ttlSeconds: 1.5 }, 'VALIDATION_ERROR'],
    ['a ttl over 7 days', { to: '6281234567890', text: 'x', ttlSeconds: 604_801 }, 'VALIDATION_ERROR'],
  ])('400 for %s: nothing queued, no host call', async (_what, json, code) => {
    const { key } = await newSession();
    const response = await expectNoDbChange(fx().db, () =>
      call(edge.url, '/api/messages', { key, json: json ?? undefined, method: 'POST' }),
    );
    await expectError(response, 400, code);
    expect(host.calls).toEqual([]);
  });

  it('a file inline in base64: malformed base64 is 400 MEDIA_DATA_INVALID with nothing queued; wrapped lines, padding and a data: URL are fine', async () => {
    const { key, uuid } = await newSession();
    const db = fx().db;
    const image = (data: string) => ({
      to: '6281234567890',
      type: 'image',
      media: { data, mimetype: 'image/png' },
    });
    for (const data of [
      'QU=DQUJD', // padding before the end
      'QUJDQQ', // unpadded: not a multiple of four
      'QUJDQ===', // three padding characters
      'QUJ!QUJD', // not base64 at all
      'QUJD-_JD', // base64url's alphabet, not base64's
      '====',
      'data:image/png;base64,',
    ]) {
      const response = await expectNoDbChange(db, () =>
        call(edge.url, '/api/messages', { key, json: image(data) }),
      );
      await expectError(response, 400, 'MEDIA_DATA_INVALID');
    }
    const bytes = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37) % 256));
    const encoded = bytes.toString('base64');
    const wrapped = encoded.replace(/.{20}/g, '$&\r\n');
    for (const data of [encoded, wrapped, `data:image/png;base64,${encoded}`]) {
      expect((await post('/api/messages', key, image(data))).status).toBe(202);
    }
    const stored = await db
      .selectFrom('outbox_media')
      .select('data')
      .where('session_id', '=', uuid)
      .execute();
    expect(stored.map((row) => Buffer.from(row.data).equals(bytes))).toEqual([true, true, true]);
  });

  it('400 INVALID_JSON for a body that is not JSON, 415 for a form', async () => {
    const { key } = await newSession();
    const db = fx().db;
    const broken = await expectNoDbChange(db, () =>
      call(edge.url, '/api/messages', {
        key,
        method: 'POST',
        body: '{"to":',
        headers: { 'content-type': 'application/json' },
      }),
    );
    await expectError(broken, 400, 'INVALID_JSON');
    const form = await expectNoDbChange(db, () =>
      call(edge.url, '/api/messages', {
        key,
        method: 'POST',
        body: 'to=6281234567890&text=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
    );
    await expectError(form, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('Idempotency-Key on POST /api/messages', () => {
  it('the same key and body replay the first answer: one message, announced once', async () => {
    const { key, uuid } = await newSession();
    const first = await post('/api/messages', key, { to: '6281234567890', text: 'sekali' }, 'order-1');
    // The same request written differently: the number in another form, fields in another order.
    const again = await post(
      '/api/messages',
      key,
      { text: 'sekali', to: '6281234567890@s.whatsapp.net' },
      'order-1',
    );
    expect(first).toMatchObject({ status: 202, replayed: false });
    expect(again).toEqual({ ...first, replayed: true });
    expect((await messagesOf(uuid)).map((m) => m.id)).toEqual([first.body.id]);
    await sleep(200);
    expect(heard.filter((id) => id === uuid)).toHaveLength(1);
  });

  it('the same key with another body is 422 IDEMPOTENCY_KEY_REUSED; nothing queued', async () => {
    const { key } = await newSession();
    await post('/api/messages', key, { to: '6281234567890', text: 'pertama' }, 'order-2');
    for (const body of [
      { to: '6281234567890', text: 'kedua' },
      { to: '6289999999999', text: 'pertama' },
      { to: '6281234567890', text: 'pertama', ttlSeconds: 60 },
    ]) {
      const response = await expectNoDbChange(fx().db, () =>
        call(edge.url, '/api/messages', { key, json: body, headers: { 'Idempotency-Key': 'order-2' } }),
      );
      await expectError(response, 422, 'IDEMPOTENCY_KEY_REUSED');
    }
  });

  it('keys are the session’s own: the same key from two sessions makes two messages', async () => {
    const a = await newSession();
    const b = await newSession();
    const json = { to: '6281234567890', text: 'sama' };
    const fromA = await post('/api/messages', a.key, json, 'shared-key');
    const fromB = await post('/api/messages', b.key, json, 'shared-key');
    expect([fromA.status, fromB.status, fromB.replayed]).toEqual([202, 202, false]);
    expect(fromA.body.id).not.toBe(fromB.body.id);
    expect((await messagesOf(a.uuid)).map((m) => m.id)).toEqual([fromA.body.id]);
    expect((await messagesOf(b.uuid)).map((m) => m.id)).toEqual([fromB.body.id]);
  });

  it('a key is for one route: the same key on /api/send is 422', async () => {
    const { key } = await newSession();
    await post('/api/messages', key, { to: '6281234567890', text: 'x' }, 'route-key');
    const send = await post('/api/send', key, { to: '6281234567890', message: 'x' }, 'route-key');
    expect([send.status, send.body.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    expect(sendCalls()).toEqual([]);
  });

  it('concurrent first uses of a key queue one message and both get its answer', async () => {
    const { key, uuid } = await newSession();
    const json = { to: '6281234567890', text: 'bersamaan' };
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => post('/api/messages', key, json, 'racing')),
    );
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
    expect(await messagesOf(uuid)).toHaveLength(1);
  });

  it('a key is kept 24 hours: after that it is a new request', async () => {
    const { key, uuid } = await newSession();
    const first = await post('/api/messages', key, { to: '6281234567890', text: 'kemarin' }, 'daily');
    await fx()
      .db.updateTable('idempotency_keys')
      .set({ created_at: new Date(Date.now() - 25 * 3_600_000) })
      .where('session_id', '=', uuid)
      .execute();
    const later = await post('/api/messages', key, { to: '6281234567890', text: 'hari ini' }, 'daily');
    expect(later).toMatchObject({ status: 202, replayed: false });
    expect(later.body.id).not.toBe(first.body.id);
  });

  it.each([
    ['empty', ''],
    ['longer than 255 characters', 'k'.repeat(256)],
    ['with a space', 'order 1'],
    ['with a tab', 'order\t1'],
    ['with a character outside ASCII', 'pesanan-é'],
  ])(
    '400 IDEMPOTENCY_KEY_INVALID for a key %s, on both routes; nothing queued or sent',
    async (_what, bad) => {
      const { key } = await newSession();
      for (const [path, json] of [
        ['/api/messages', { to: '6281234567890', text: 'x' }],
        ['/api/send', { to: '6281234567890', message: 'x' }],
      ] as const) {
        const response = await expectNoDbChange(fx().db, () =>
          call(edge.url, path, { key, json, headers: { 'Idempotency-Key': bad } }),
        );
        const body = await expectError(response, 400, 'IDEMPOTENCY_KEY_INVALID');
        expect(body.details).toEqual([
          { path: 'Idempotency-Key', message: expect.stringMatching(/^The header /) },
        ]);
      }
      expect(host.calls).toEqual([]);
    },
  );

  it('the longest key, 255 printable characters, is fine', async () => {
    const { key } = await newSession();
    const longest = `${'~'.repeat(127)}${'!'.repeat(128)}`;
    const answer = await post('/api/messages', key, { to: '6281234567890', text: 'x' }, longest);
    expect(answer.status).toBe(202);
  });
});

describe('Idempotency-Key on POST /api/send', () => {
  const json = { to: '6281234567890', message: 'Halo' };

  it('a retry gets the first 200 again, and the host is asked to send once', async () => {
    const { key, uuid } = await newSession();
    const first = await post('/api/send', key, json, 'send-1');
    const again = await post('/api/send', key, json, 'send-1');
    expect(first).toMatchObject({ status: 200, replayed: false });
    expect(again).toEqual({ ...first, replayed: true });
    const [message] = await messagesOf(uuid);
    expect(sendCalls()).toEqual([{ messageId: message?.id, fresh: true }]);
  });

  it('a request while the first is still running is 409 IDEMPOTENCY_KEY_IN_USE with Retry-After', async () => {
    const { key } = await newSession();
    host.answerOnce('send', (c) => ({
      delayMs: 800,
      body: { id: (c.body as { messageId: string }).messageId, status: 'sent' },
    }));
    const first = post('/api/send', key, json, 'slow');
    await sleep(200);
    const during = await call(edge.url, '/api/send', { key, json, headers: { 'Idempotency-Key': 'slow' } });
    await expectError(during, 409, 'IDEMPOTENCY_KEY_IN_USE');
    expect(during.headers.get('retry-after')).toBe('1');
    const done = await first;
    expect(done.status).toBe(200);
    expect(await post('/api/send', key, json, 'slow')).toEqual({ ...done, replayed: true });
    expect(sendCalls()).toHaveLength(1);
  });

  it('a refusal for good (not on WhatsApp) is kept and replayed; the host is not asked again', async () => {
    const { key } = await newSession();
    const refusal = {
      success: false,
      error: 'Nomor tujuan tidak terdaftar di WhatsApp',
      code: 'RECIPIENT_NOT_ON_WHATSAPP',
    };
    host.answerOnce('send', () => ({ status: 422, body: refusal }));
    const first = await post('/api/send', key, json, 'nowhere');
    const again = await post('/api/send', key, json, 'nowhere');
    expect(first).toEqual({ status: 422, replayed: false, body: refusal });
    expect(again).toEqual({ status: 422, replayed: true, body: refusal });
    expect(sendCalls()).toHaveLength(1);
  });

  it('after a retryable 503 whose message never left, a retry sends afresh under a new id', async () => {
    const { key, uuid } = await newSession();
    host.answerOnce('send', () => ({
      status: 503,
      headers: { 'Retry-After': '2' },
      body: {
        success: false,
        error: 'Sesi sedang menyambung ulang ke WhatsApp. Coba lagi sebentar lagi.',
        code: 'SESSION_RECONNECTING',
      },
    }));
    const first = await post('/api/send', key, json, 'flaky');
    expect([first.status, first.body.code]).toEqual([503, 'SESSION_RECONNECTING']);
    const retry = await post('/api/send', key, json, 'flaky');
    expect(retry).toMatchObject({ status: 200, replayed: false });
    const [gaveUp, sent] = await messagesOf(uuid);
    // The first never left (the edge made sure: it is cancelled, so it can never go later).
    expect(gaveUp).toMatchObject({ status: 'cancelled', failure: 'the session host could not be reached' });
    expect((retry.body.result as { key: { id: string } }).key.id).toBe(sent?.id);
    expect(sendCalls()).toEqual([
      { messageId: gaveUp?.id, fresh: true },
      { messageId: sent?.id, fresh: true },
    ]);
  });

  it('after a 503 whose message may have left, a retry waits for that same message', async () => {
    const { key, uuid } = await newSession();
    // The host took the message and died before its ack came back.
    host.answerOnce('send', async (c) => {
      await fx()
        .db.updateTable('messages')
        .set({ attempts: 1 })
        .where('id', '=', (c.body as { messageId: string }).messageId)
        .execute();
      return { reset: true };
    });
    const first = await post('/api/send', key, json, 'in-flight');
    expect([first.status, first.body.code]).toEqual([503, 'HOST_UNAVAILABLE']);
    const [inFlight] = await messagesOf(uuid);
    expect(inFlight).toMatchObject({ status: 'queued', attempts: 1 });
    const retry = await post('/api/send', key, json, 'in-flight');
    expect(retry.status).toBe(200);
    expect((retry.body.result as { key: { id: string } }).key.id).toBe(inFlight?.id);
    expect(await messagesOf(uuid)).toHaveLength(1);
    // The retry is not fresh: the host reads where the message stands before it waits for it.
    expect(sendCalls()).toEqual([
      { messageId: inFlight?.id, fresh: true },
      { messageId: inFlight?.id, fresh: false },
    ]);
  });

  it('a key whose request died takes over once its lease ends, and answers from where the message stands', async () => {
    const { key, uuid } = await newSession();
    await post('/api/send', key, json, 'orphan');
    const [message] = await messagesOf(uuid);
    // As if the first request had died after the host sent the message: no answer kept, lease over.
    await fx()
      .db.updateTable('idempotency_keys')
      .set({ response_status: null, response_body: null, locked_until: new Date(Date.now() - 1_000) })
      .where('session_id', '=', uuid)
      .execute();
    await fx()
      .db.updateTable('messages')
      .set({ status: 'delivered' })
      .where('session_id', '=', uuid)
      .execute();
    host.reset();
    const retry = await post('/api/send', key, json, 'orphan');
    expect(retry).toMatchObject({ status: 200, replayed: false });
    expect((retry.body.result as { key: { id: string } }).key.id).toBe(message?.id);
    expect(sendCalls()).toEqual([]);
  });
});

describe('DELETE /api/messages/:id', () => {
  const cancel = (key: string, id: string) =>
    call(edge.url, `/api/messages/${id}`, { key, method: 'DELETE' });

  it('cancels a queued message, with a message.status event; cancelling again is fine', async () => {
    const { key, uuid } = await newSession();
    const { body } = await post('/api/messages', key, { to: '6281234567890', text: 'batal' });
    const response = await cancel(key, String(body.id));
    expect(response.status).toBe(200);
    const cancelled = (await response.json()) as { message: Record<string, unknown> };
    expect(cancelled.message).toMatchObject({
      id: body.id,
      status: 'cancelled',
      failure: 'cancelled by the client',
    });
    const again = await cancel(key, String(body.id));
    expect(again.status).toBe(200);
    const events = await fx()
      .db.selectFrom('events')
      .select(['type', 'data'])
      .where('session_id', '=', uuid)
      .execute();
    expect(events).toEqual([
      {
        type: 'message.status',
        data: {
          sessionId: expect.any(String),
          id: body.id,
          chat: '6281234567890@s.whatsapp.net',
          status: 'cancelled',
          failure: 'cancelled by the client',
          at: expect.any(String),
        },
      },
    ]);
  });

  it('409 MESSAGE_NOT_QUEUED once it was handed to WhatsApp, sent or failed; nothing changes', async () => {
    const { key, uuid } = await newSession();
    for (const set of [{ attempts: 1 }, { status: 'sent' as const }, { status: 'failed' as const }]) {
      const { body } = await post('/api/messages', key, { to: '6281234567890', text: 'terlambat' });
      await fx().db.updateTable('messages').set(set).where('id', '=', String(body.id)).execute();
      const response = await expectNoDbChange(fx().db, () => cancel(key, String(body.id)));
      await expectError(response, 409, 'MESSAGE_NOT_QUEUED');
    }
    expect((await messagesOf(uuid)).map((m) => m.status)).toEqual(['queued', 'sent', 'failed']);
  });

  it('404 MESSAGE_NOT_FOUND for an id the session does not have', async () => {
    const { key } = await newSession();
    await expectError(await cancel(key, '3EB0000000000000000000'), 404, 'MESSAGE_NOT_FOUND');
  });
});
