// What a session host writes as things happen: every message in and out in the message store, and an
// event for each change, in one transaction with it: QR codes, state changes (with the reason), messages
// received and sent, and the statuses of what was sent.

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createListener, type Listener } from '../../../node-runtime/db/connect.js';
import { type RunningHost, startHost } from '../../../node-runtime/host/server.js';
import { readCreds } from '../../../node-runtime/wa/auth-store.js';
import { applyTrustRoot } from '../../../node-runtime/wa/socket-actor.js';
import { NO_PACING } from '../../../shared/outbox.js';
import { queueText } from '../../helpers/outbox.js';
import { useTestDatabase } from '../../helpers/postgres.js';
import { connect, memoryAuthState } from '../../wa-sim/baileys-client.js';
import { control, eventually } from '../../wa-sim/fixtures.js';
import { type SimServer, startSimulator } from '../../wa-sim/server.js';

const SECRET = 'events-secret-events-secret-events-01234';
const HOST_ID = 'host-events';
const database = useTestDatabase();
const silent = pino({ level: 'silent' });
let sim: SimServer;
let host: RunningHost;
let listener: Listener;
let tenantId: string;
let keyWrites = 0;

type EventRow = { type: string; session_name: string | null; data: Record<string, unknown> };

const newSession = async (name: string) =>
  (
    await database()
      .db.insertInto('sessions')
      .values({ tenant_id: tenantId, name, host_id: HOST_ID })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;

const eventsOf = async (sessionId: string): Promise<EventRow[]> =>
  (await database()
    .db.selectFrom('events')
    .select(['type', 'session_name', 'data'])
    .where('session_id', '=', sessionId)
    .orderBy('seq')
    .execute()) as EventRow[];

const messagesOf = (sessionId: string) =>
  database()
    .db.selectFrom('messages')
    .selectAll()
    .where('session_id', '=', sessionId)
    .orderBy('created_at')
    .execute();

const link = async (id: string, phone: string, name: string) => {
  const view = await host.sessions.qr(id);
  expect((await control(sim, 'POST', '/sim/scan', { qr: view.qr, phone, name })).status).toBe(200);
  await eventually(async () => ((await host.sessions.view(id)).connected ? true : undefined));
  return view.qr;
};

beforeAll(async () => {
  sim = await startSimulator();
  applyTrustRoot(sim.trustRoot);
  tenantId = (
    await database().db.insertInto('tenants').values({ name: 't' }).returning('id').executeTakeFirstOrThrow()
  ).id;
  listener = createListener(database().url);
  host = await startHost({
    // Counts the statements that write Signal keys.
    db: database().db.withPlugin({
      transformQuery: ({ node }) => {
        if (node.kind === 'RawNode' && node.sqlFragments.join('').includes('insert into wa_keys'))
          keyWrites++;
        return node;
      },
      transformResult: async ({ result }) => result,
    }),
    hostId: HOST_ID,
    port: 0,
    secret: SECRET,
    wa: { wsUrl: sim.wsUrl, trustRoot: sim.trustRoot },
    logger: silent,
    pacing: NO_PACING,
    listener,
    // No regular look at the outboxes: a queued message goes only if PostgreSQL's notification wakes it.
    outboxPollMs: 3_600_000,
  });
});
afterAll(async () => {
  await host?.close();
  await listener?.close();
  await sim?.close();
});

describe('events of a session', () => {
  it('linking: each QR and each state change, in order, with the account once connected', async () => {
    const id = await newSession('linking');
    const qr = await link(id, '628500000001', 'Ani');
    const events = await eventually(async () => {
      const found = await eventsOf(id);
      return found.some((e) => e.type === 'session.status' && e.data.state === 'connected')
        ? found
        : undefined;
    });
    expect(events[0]).toEqual({
      type: 'session.status',
      session_name: 'linking',
      data: expect.objectContaining({ sessionId: 'linking', state: 'connecting', previousState: 'idle' }),
    });
    expect(events).toContainEqual({
      type: 'session.qr',
      session_name: 'linking',
      data: { sessionId: 'linking', qr },
    });
    const states = events.filter((e) => e.type === 'session.status').map((e) => e.data.state);
    expect(states).toEqual(['connecting', 'awaiting-qr', 'connecting', 'connected']);
    expect(events.at(-1)?.data).toEqual({
      sessionId: 'linking',
      state: 'connected',
      previousState: 'connecting',
      connected: true,
      user: { id: '628500000001@s.whatsapp.net', name: 'Ani' },
      reason: null,
    });
  });

  it('a message in, a message out and its statuses: stored once, each change an event', async () => {
    const id = await newSession('talking');
    await link(id, '628500000002', 'Budi');
    const contact = '628500000099';
    const incoming = await control(sim, 'POST', `/sim/contacts/${contact}/messages`, {
      to: '628500000002',
      text: 'halo dari kontak',
    });
    const stored = await eventually(async () =>
      (await messagesOf(id)).find((m) => m.id === incoming.body.id),
    );
    expect(stored).toMatchObject({
      direction: 'in',
      chat_jid: `${contact}@s.whatsapp.net`,
      sender_jid: `${contact}@s.whatsapp.net`,
      kind: 'text',
      text: 'halo dari kontak',
      status: null,
    });

    const sentId = await queueText(database().db, id, `${contact}@s.whatsapp.net`, 'balasan');
    expect((await host.sessions.sendQueued(id, sentId)).ok).toBe(true);
    const delivered = await eventually(async () => {
      const row = (await messagesOf(id)).find((m) => m.id === sentId);
      return row?.status === 'delivered' ? row : undefined;
    });
    expect(delivered).toMatchObject({
      direction: 'out',
      source: 'api',
      text: 'balasan',
      chat_jid: `${contact}@s.whatsapp.net`,
    });

    const events = (await eventsOf(id)).filter((e) => e.type.startsWith('message.'));
    expect(events.map((e) => e.type)).toEqual(['message.received', 'message.sent', 'message.status']);
    expect(events[0]?.data).toMatchObject({
      sessionId: 'talking',
      message: {
        id: incoming.body.id,
        direction: 'in',
        text: 'halo dari kontak',
        chat: `${contact}@s.whatsapp.net`,
      },
    });
    expect(events[1]?.data).toMatchObject({ message: { id: sentId, direction: 'out', status: 'sent' } });
    expect(events[2]?.data).toMatchObject({
      id: sentId,
      status: 'delivered',
      chat: `${contact}@s.whatsapp.net`,
    });
  });

  it('a message queued by anyone goes at once: PostgreSQL tells the host on commit, no call to it', async () => {
    const id = await newSession('told');
    await link(id, '628500000004', 'Dedi');
    const contact = '628500000097';
    // Straight into the table, as the edge does (on a Worker, with no way to reach the host).
    const ids = [
      await queueText(database().db, id, `${contact}@s.whatsapp.net`, 'satu'),
      await queueText(database().db, id, `${contact}@s.whatsapp.net`, 'dua'),
    ];
    const inbox = await eventually(async () => {
      const got = (await control(sim, 'GET', `/sim/contacts/${contact}/messages`)).body as { id: string }[];
      return got.length >= 2 ? got : undefined;
    });
    expect(inbox.map((m) => m.id)).toEqual(ids);
  });

  it('messages queued together go in order with one commit of their Signal keys, not one each', async () => {
    const id = await newSession('together');
    await link(id, '628500000005', 'Eka');
    const contact = '628500000096';
    const jid = `${contact}@s.whatsapp.net`;
    const inbox = async () =>
      ((await control(sim, 'GET', `/sim/contacts/${contact}/messages`)).body as { id: string }[]).map(
        (m) => m.id,
      );
    // The first message opens the Signal session with the contact (and issues its privacy token).
    const first = await queueText(database().db, id, jid, 'pertama');
    await eventually(async () => ((await inbox()).length === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    keyWrites = 0;
    // Committed together: the outbox wakes to all eight and claims them in one look.
    const ids = await database()
      .db.transaction()
      .execute(async (trx) => {
        const queued: string[] = [];
        for (let i = 0; i < 8; i++) queued.push(await queueText(trx, id, jid, `pesan ${i}`));
        return queued;
      });
    const got = await eventually(async () => {
      const all = await inbox();
      return all.length === 9 ? all : undefined;
    });
    expect(got).toEqual([first, ...ids]);
    expect(keyWrites).toBe(1);
  });

  it('/api/send asking after a busy outbox already sent its message is answered at once, not after the wait', async () => {
    const id = await newSession('raced');
    await link(id, '628500000003', 'Cici');
    const contact = '628500000098';
    const sentId = await queueText(database().db, id, `${contact}@s.whatsapp.net`, 'sudah terkirim');
    // The outbox finds it (woken as by another message) and WhatsApp acks it before the edge's ask lands.
    host.sessions.outboxQueued(id);
    const acked = await eventually(async () => {
      const status = (await messagesOf(id)).find((m) => m.id === sentId)?.status;
      return status === 'sent' || status === 'delivered' ? status : undefined;
    });
    // The edge says it queued it just now; without the outcome kept, this would wait the whole minute.
    const answer = await host.sessions.sendQueued(id, sentId, { fresh: true, waitMs: 60_000 });
    expect(answer).toMatchObject({ ok: true, message: { id: sentId } });
    expect(['sent', 'delivered']).toContain(answer.ok && answer.message.status);
    expect(acked).toBeDefined();
  }, 20_000);

  it('LID-addressed messages are stored under the phone number, with the LID beside it; reads and plays are statuses', async () => {
    const id = await newSession('lids');
    await link(id, '628500000005', 'Eka');
    const contact = '628500000098';
    const incoming = await control(sim, 'POST', `/sim/contacts/${contact}/messages`, {
      to: '628500000005',
      text: 'lewat LID',
      addressing: 'lid',
    });
    expect(incoming.status).toBe(200);
    const lid = ((await control(sim, 'GET', `/sim/accounts/${contact}`)).body as unknown as { lid: string })
      .lid;
    const stored = await eventually(async () =>
      (await messagesOf(id)).find((m) => m.id === incoming.body.id),
    );
    expect(stored).toMatchObject({
      chat_jid: `${contact}@s.whatsapp.net`,
      chat_lid: lid,
      sender_jid: `${contact}@s.whatsapp.net`,
      sender_lid: lid,
      text: 'lewat LID',
    });

    // A reply quoting it, and our message read, then played, by the contact.
    const quoted = await control(sim, 'POST', `/sim/contacts/${contact}/messages`, {
      to: '628500000005',
      text: 'membalas',
      quoted: incoming.body.id,
    });
    const reply = await eventually(async () => (await messagesOf(id)).find((m) => m.id === quoted.body.id));
    expect(reply.content).toEqual({
      quoted: { id: incoming.body.id, from: `${contact}@s.whatsapp.net`, text: 'lewat LID' },
    });
    const sentId = await queueText(database().db, id, `${contact}@s.whatsapp.net`, 'dibaca?');
    expect((await host.sessions.sendQueued(id, sentId)).ok).toBe(true);
    await eventually(async () =>
      (await messagesOf(id)).find((m) => m.id === sentId)?.status === 'delivered' ? true : undefined,
    );
    expect(
      (await control(sim, 'POST', `/sim/contacts/${contact}/read`, { to: '628500000005', ids: [sentId] }))
        .status,
    ).toBe(200);
    await eventually(async () =>
      (await messagesOf(id)).find((m) => m.id === sentId)?.status === 'read' ? true : undefined,
    );
    await control(sim, 'POST', `/sim/contacts/${contact}/played`, { to: '628500000005', ids: [sentId] });
    await eventually(async () =>
      (await messagesOf(id)).find((m) => m.id === sentId)?.status === 'played' ? true : undefined,
    );
    const statuses = (await eventsOf(id))
      .filter((e) => e.type === 'message.status' && e.data.id === sentId)
      .map((e) => e.data.status);
    expect(statuses).toEqual(['delivered', 'read', 'played']);
  });

  it('a logout from the phone and a 440 replacement each give a session.status with the reason', async () => {
    const unlinked = await newSession('unlinked');
    await link(unlinked, '628500000003', 'Citra');
    await control(sim, 'POST', '/sim/accounts/628500000003/unlink');
    const loggedOut = await eventually(async () =>
      (await eventsOf(unlinked)).find((e) => e.type === 'session.status' && e.data.state === 'logged-out'),
    );
    expect(loggedOut.data).toMatchObject({ previousState: 'logging-out', reason: 'logged-out', user: null });

    const replaced = await newSession('replaced');
    await link(replaced, '628500000004', 'Dedi');
    // Another client with the same credentials (someone running a copy of them elsewhere).
    const creds = await readCreds(database().db, replaced);
    if (!creds) throw new Error('linked session without creds');
    const other = connect(sim.wsUrl, { ...memoryAuthState(), creds });
    try {
      const event = await eventually(async () =>
        (await eventsOf(replaced)).find((e) => e.type === 'session.status' && e.data.state === 'replaced'),
      );
      expect(event.data).toMatchObject({ reason: 'replaced', connected: false });
    } finally {
      other.end(undefined);
    }
  });
});
