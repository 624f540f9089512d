// The outbox end to end: the edge, a real host with Baileys, and the simulator's phones. Messages queued
// through the API reach the contact's phone once each, in order, paced as the admin set, and their
// statuses and events tell how far each got or why it failed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEdge } from '../../edge/entries/node.js';
import { useTestDatabase } from '../helpers/postgres.js';
import type { SimServer } from '../wa-sim/server.js';
import { startTestEdge, useBackend } from './backend.js';
import { api, linkByQr, until } from './flow.js';

const SECRET = 'outbox-e2e-secret-outbox-e2e-secret-0123';
const database = useTestDatabase();
const backend = useBackend(database, { hostId: 'host-outbox-e2e', secret: SECRET });
let edge: RunningEdge;
let sim: SimServer;
let adminKey: string;

type Received = { id: string; text: string; at: string; deliveries?: number; receipt?: string };
type Message = { id: string; status: string; failure: string | null };

const simCall = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
};
const inbox = async (contact: string) =>
  (await simCall('GET', `/sim/contacts/${contact}/messages`)).body as Received[];

let phones = 0;
/** A new session linked to a new phone; its key and phone. */
const linkedSession = async (name: string) => {
  phones += 1;
  const phone = `6283${String(phones).padStart(8, '0')}`;
  const created = await api(edge.url, 'POST', '/api/session/create', {
    key: adminKey,
    body: { sessionId: name },
  });
  const key = created.body.apiKey as string;
  await linkByQr(edge.url, sim, key, phone, name);
  await until(async () =>
    (await api(edge.url, 'GET', '/api/session/status', { key })).body.connected ? true : undefined,
  );
  return { key, phone, name };
};

const queue = async (key: string, to: string, text: string, extra: Record<string, unknown> = {}) => {
  const res = await api(edge.url, 'POST', '/api/messages', { key, body: { to, text, ...extra } });
  expect(res.status).toBe(202);
  return res.body.id as string;
};
const messageOf = async (key: string, id: string) =>
  (await api(edge.url, 'GET', `/api/messages/${id}`, { key })).body.message as Message;
const statusIs = (key: string, id: string, ...statuses: string[]) =>
  until(async () => {
    const message = await messageOf(key, id);
    return statuses.includes(message.status) ? message : undefined;
  }, 30_000);
const setPacing = async (name: string, pacing: Record<string, number> | null) => {
  const res = await api(edge.url, 'PATCH', `/api/admin/sessions/${name}`, {
    key: adminKey,
    body: { pacing },
  });
  expect(res.status).toBe(200);
  return res.body.session;
};
const attemptsOf = async (id: string) =>
  (
    await database()
      .db.selectFrom('messages')
      .select('attempts')
      .where('id', '=', id)
      .executeTakeFirstOrThrow()
  ).attempts;
const statusEvents = async (key: string, id: string) =>
  (
    (await api(edge.url, 'GET', '/api/events?types=message.status,message.sent', { key })).body.events as {
      type: string;
      data: { id?: string; status?: string; message?: { id: string } };
    }[]
  ).filter((e) => e.data.id === id || e.data.message?.id === id);

beforeAll(async () => {
  ({ sim, adminKey } = backend());
  edge = await startTestEdge(database().db, SECRET);
});
afterAll(async () => {
  await edge?.close();
});

describe('the outbox end to end', () => {
  it('a queued message is sent under the id it was given, delivered, read; each step an event', async () => {
    const { key } = await linkedSession('statuses');
    const contact = '628399000001';
    const id = await queue(key, contact, 'Pesanan Anda dikirim');
    expect(await statusIs(key, id, 'delivered')).toMatchObject({ id, status: 'delivered', failure: null });
    expect(await inbox(contact)).toEqual([expect.objectContaining({ id, text: 'Pesanan Anda dikirim' })]);
    // The contact's phone reads it.
    const phone = (
      await database()
        .db.selectFrom('sessions')
        .select('account_jid')
        .where('name', '=', 'statuses')
        .executeTakeFirstOrThrow()
    ).account_jid?.split('@')[0];
    expect((await simCall('POST', `/sim/contacts/${contact}/read`, { to: phone, ids: [id] })).status).toBe(
      200,
    );
    await statusIs(key, id, 'read');
    const events = await until(async () => {
      const found = await statusEvents(key, id);
      return found.length >= 3 ? found : undefined;
    });
    expect(events.map((e) => e.data.status ?? e.type)).toEqual(['message.sent', 'delivered', 'read']);
    expect(await attemptsOf(id)).toBe(1);
  });

  it('keeps the order of each chat', async () => {
    const { key } = await linkedSession('order');
    const contact = '628399000002';
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await queue(key, contact, `pesan ${i}`));
    const received = await until(async () => {
      const got = await inbox(contact);
      return got.length === 10 ? got : undefined;
    });
    expect(received.map((m) => m.id)).toEqual(ids);
    expect(received.every((m) => m.deliveries === undefined)).toBe(true);
  });

  it('unpaced, messages go several per look at the queue, still in the order of each chat', async () => {
    const { key, name } = await linkedSession('unpaced');
    await setPacing(name, { minIntervalMs: 0, jitterMs: 0, typingMs: 0, perChatMinIntervalMs: 0 });
    const contacts = ['628399000031', '628399000032'];
    // Queued all at once, so the outbox finds many waiting and claims them in batches.
    const ids = await Promise.all(
      Array.from({ length: 30 }, (_, i) => queue(key, contacts[i % 2] as string, `cepat ${i}`)),
    );
    const seqOf = new Map(
      (
        await database()
          .db.selectFrom('messages')
          .select(['id', 'outbox_seq'])
          .where('id', 'in', ids)
          .execute()
      ).map((m) => [m.id, Number(m.outbox_seq)]),
    );
    for (const contact of contacts) {
      const got = await until(async () => {
        const inboxNow = await inbox(contact);
        return inboxNow.length === 15 ? inboxNow : undefined;
      });
      const seqs = got.map((m) => seqOf.get(m.id) as number);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    for (const id of ids) await statusIs(key, id, 'delivered', 'read');
  });

  it('POST /api/send goes through the same outbox: stored, sent, and the contact shows it once', async () => {
    const { key } = await linkedSession('seed-send');
    const contact = '628399000003';
    const sent = await api(edge.url, 'POST', '/api/send', {
      key,
      body: { to: contact, message: 'lewat /api/send' },
      headers: { 'Idempotency-Key': 'seed-send-1' },
    });
    expect(sent.status).toBe(200);
    const id = sent.body.result.key.id as string;
    expect(id).toMatch(/^3EB0[0-9A-F]{18}$/);
    // A client that timed out retries: same answer, not sent again.
    const retried = await api(edge.url, 'POST', '/api/send', {
      key,
      body: { to: contact, message: 'lewat /api/send' },
      headers: { 'Idempotency-Key': 'seed-send-1' },
    });
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual(sent.body);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    await statusIs(key, id, 'delivered');
    expect((await inbox(contact)).map((m) => [m.id, m.deliveries])).toEqual([[id, undefined]]);
    expect(await attemptsOf(id)).toBe(1);
  });

  it('a number not on WhatsApp: failed with the reason, tried once, never again', async () => {
    const { key } = await linkedSession('nowhere');
    const id = await queue(key, '9990001234', 'tidak ada');
    expect(await statusIs(key, id, 'failed')).toMatchObject({ failure: 'the number is not on WhatsApp' });
    // Past a few of the host's looks for queued messages: nothing retried it.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect(await attemptsOf(id)).toBe(1);
    expect((await statusEvents(key, id)).map((e) => e.data.status)).toEqual(['failed']);
    // The session sends on as before.
    const next = await queue(key, '628399000004', 'berikutnya');
    await statusIs(key, next, 'delivered');
  });

  it('a session logged out with messages queued: they fail with the reason, none is sent after', async () => {
    const { key, phone, name } = await linkedSession('unlinked');
    const contact = '628399000005';
    await setPacing(name, { minIntervalMs: 60_000, jitterMs: 0, typingMs: 0, perChatMinIntervalMs: 0 });
    const first = await queue(key, contact, 'satu');
    await statusIs(key, first, 'delivered');
    const waiting = [await queue(key, contact, 'dua'), await queue(key, contact, 'tiga')];
    expect((await simCall('POST', `/sim/accounts/${phone}/unlink`)).status).toBe(200);
    for (const id of waiting) {
      expect(await statusIs(key, id, 'failed')).toMatchObject({ failure: 'the session was logged out' });
    }
    // A message queued while logged out fails too, and nothing ever reached the contact after the first.
    const late = await queue(key, contact, 'empat');
    expect(await statusIs(key, late, 'failed')).toMatchObject({ failure: 'the session was logged out' });
    expect((await inbox(contact)).map((m) => m.text)).toEqual(['satu']);
  });

  it('cancel: a queued message never goes; a sent one is 409', async () => {
    const { key, name } = await linkedSession('cancel');
    const contact = '628399000006';
    await setPacing(name, { minIntervalMs: 60_000, jitterMs: 0, typingMs: 0, perChatMinIntervalMs: 0 });
    const sent = await queue(key, contact, 'terkirim');
    await statusIs(key, sent, 'delivered');
    const waiting = await queue(key, contact, 'dibatalkan');
    const cancelled = await api(edge.url, 'DELETE', `/api/messages/${waiting}`, { key });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.message).toMatchObject({ status: 'cancelled', failure: 'cancelled by the client' });
    const tooLate = await api(edge.url, 'DELETE', `/api/messages/${sent}`, { key });
    expect([tooLate.status, tooLate.body.code]).toEqual([409, 'MESSAGE_NOT_QUEUED']);
    // No more waiting: the next message goes at once, and the cancelled one never did.
    await setPacing(name, { minIntervalMs: 0, jitterMs: 0, typingMs: 0, perChatMinIntervalMs: 0 });
    const after = await queue(key, contact, 'sesudahnya');
    await statusIs(key, after, 'delivered');
    expect((await inbox(contact)).map((m) => m.text)).toEqual(['terkirim', 'sesudahnya']);
    expect((await messageOf(key, waiting)).status).toBe('cancelled');
  });

  it('a message not sent within its ttl fails as expired, even while the session is away', async () => {
    const { key, phone } = await linkedSession('ttl');
    const contact = '628399000007';
    // The phone cannot log in for a while: the session waits, reconnecting.
    await simCall('POST', '/sim/faults', { kind: 'unavailable', phone, ms: 3_000 });
    const id = await queue(key, contact, 'kedaluwarsa', { ttlSeconds: 1 });
    expect(await statusIs(key, id, 'failed')).toMatchObject({ failure: 'expired: not sent within its ttl' });
    const kept = await queue(key, contact, 'menunggu');
    await statusIs(key, kept, 'delivered');
    expect((await inbox(contact)).map((m) => m.text)).toEqual(['menunggu']);
  });

  it('pacing: with minIntervalMs 500, 20 queued messages reach the simulator no faster than that', async () => {
    const { key, name } = await linkedSession('paced');
    const pacing = { minIntervalMs: 500, jitterMs: 0, typingMs: 0, perChatMinIntervalMs: 0 };
    expect((await setPacing(name, pacing)).pacing).toEqual(pacing);
    // Four chats, so the per-chat gap (none here) cannot be what spaces them.
    const contacts = ['628399000011', '628399000012', '628399000013', '628399000014'];
    const ids = [];
    for (let i = 0; i < 20; i++) ids.push(await queue(key, contacts[i % 4] as string, `berirama ${i}`));
    // The admin sees the queue drain.
    const seen = await api(edge.url, 'GET', `/api/admin/sessions/${name}`, { key: adminKey });
    expect(seen.body.session.outbox.queued).toBeGreaterThan(0);
    for (const id of ids) await statusIs(key, id, 'delivered', 'read');
    const times = (await Promise.all(contacts.map(inbox)))
      .flat()
      .map((m) => Date.parse(m.at))
      .sort((a, b) => a - b);
    expect(times).toHaveLength(20);
    // The simulator stamps each message when it reaches the phone; the host's gap is measured from its
    // previous send. A stanza can take a little longer on one trip than the next: 25 ms of tolerance.
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(475);
    expect((times.at(-1) as number) - (times[0] as number)).toBeGreaterThanOrEqual(19 * 500 - 25);
    const drained = await api(edge.url, 'GET', `/api/admin/sessions/${name}`, { key: adminKey });
    expect(drained.body.session.outbox).toEqual({ queued: 0, nextSendAt: null });
  });

  it('typing: the contact sees "typing…" for typingMs before each message, and its end after', async () => {
    const { key, name } = await linkedSession('typing');
    const contact = '628399000021';
    await setPacing(name, { minIntervalMs: 0, jitterMs: 0, typingMs: 400, perChatMinIntervalMs: 0 });
    const id = await queue(key, contact, 'sedang mengetik');
    await statusIs(key, id, 'delivered');
    const [message] = await inbox(contact);
    const shown = await until(async () => {
      const states = (await simCall('GET', `/sim/contacts/${contact}/chatstates`)).body as {
        state: string;
        at: string;
      }[];
      return states.length >= 2 ? states : undefined;
    });
    expect(shown.map((s) => s.state)).toEqual(['composing', 'paused']);
    const typedFor = Date.parse(message?.at ?? '') - Date.parse(shown[0]?.at ?? '');
    expect(typedFor).toBeGreaterThanOrEqual(400 - 25);
  });
});
