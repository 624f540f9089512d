import { type KyselyPlugin, RawNode, ValueNode } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHost, startHost } from '../../../node-runtime/host/server.js';
import { type HostSessionAction, hostSessionPath } from '../../../shared/host-api.js';
import { signHostToken } from '../../../shared/jwt.js';
import { NO_PACING } from '../../../shared/outbox.js';
import { queueText } from '../../helpers/outbox.js';
import { useTestDatabase } from '../../helpers/postgres.js';
import { control, eventually } from '../../wa-sim/fixtures.js';
import { type SimServer, startSimulator } from '../../wa-sim/server.js';

const SECRET = 'test-secret-test-secret-test-secret-0123';
const HOST_ID = 'host-test';
const database = useTestDatabase();
let sim: SimServer;
let host: RunningHost;
let tenantId: string;
/**
 * Looks at the outbox by the host so far, per session: claimNext's statement names each session it looks
 * for (looks of several sessions go in one statement).
 */
const looks = new Map<string, number>();
const countClaims: KyselyPlugin = {
  transformQuery: ({ node }) => {
    if (RawNode.is(node) && node.sqlFragments.some((f) => f.includes('candidates as ('))) {
      for (const value of node.parameters) {
        if (!ValueNode.is(value) || typeof value.value !== 'string') continue;
        for (const match of value.value.matchAll(/"session_id":"([^"]+)"/g)) {
          const session = match[1] ?? '';
          looks.set(session, (looks.get(session) ?? 0) + 1);
        }
      }
    }
    return node;
  },
  transformResult: async ({ result }) => result,
};

const newSession = async (name: string) => {
  const { db } = database();
  const row = await db
    .insertInto('sessions')
    .values({ tenant_id: tenantId, name, host_id: HOST_ID })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
};

const call = async (
  sessionId: string,
  action: HostSessionAction,
  init: { method?: string; body?: unknown; token?: string | null } = {},
) => {
  const token =
    init.token === undefined
      ? await signHostToken({
          secret: SECRET,
          hostId: HOST_ID,
          tenantId,
          sessionId,
          scope: 'session',
          ttlSeconds: 30,
        })
      : init.token;
  const res = await fetch(`${host.url}${hostSessionPath(sessionId, action)}`, {
    method: init.method ?? (action === 'status' || action === 'qr' ? 'GET' : 'POST'),
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  sim = await startSimulator();
  const { db } = database();
  tenantId = (await db.insertInto('tenants').values({ name: 't' }).returning('id').executeTakeFirstOrThrow())
    .id;
  host = await startHost({
    db: db.withPlugin(countClaims),
    hostId: HOST_ID,
    port: 0,
    secret: SECRET,
    wa: { wsUrl: sim.wsUrl, trustRoot: sim.trustRoot },
    logger: pino({ level: 'silent' }),
    pacing: NO_PACING,
  });
});
afterAll(async () => {
  await host?.close();
  await sim?.close();
});

describe('session host', () => {
  it('pairs by QR, sends, logs out, and mirrors each state to the sessions table', async () => {
    const id = await newSession('flow');
    expect((await call(id, 'start')).body.state).toMatch(/connecting|awaiting-qr/);
    const qr = await call(id, 'qr');
    expect(qr.body.qr).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#/);
    expect(qr.body.qrPng).toMatch(/^data:image\/png;base64,/);
    expect(
      (await control(sim, 'POST', '/sim/scan', { qr: qr.body.qr, phone: '628900000001', name: 'Dewi' }))
        .status,
    ).toBe(200);
    const status = await eventually(async () => {
      const s = await call(id, 'status');
      return s.body.connected ? s : undefined;
    });
    expect(status.body).toEqual({
      state: 'connected',
      connected: true,
      qr: null,
      user: { id: '628900000001@s.whatsapp.net', name: 'Dewi' },
    });
    const row = await eventually(async () => {
      const r = await database()
        .db.selectFrom('sessions')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return r?.state === 'connected' ? r : undefined;
    });
    expect(row.account_jid).toBe('628900000001@s.whatsapp.net');

    const messageId = await queueText(database().db, id, '628900000099@s.whatsapp.net', 'halo 👋');
    const sent = await call(id, 'send', { body: { messageId } });
    expect(sent.status).toBe(200);
    expect(sent.body).toEqual({ id: messageId, status: 'sent' });
    await eventually(async () => {
      const inbox = (await control(sim, 'GET', '/sim/contacts/628900000099/messages')).body as {
        text: string;
      }[];
      return inbox.some((m) => m.text === 'halo 👋') ? true : undefined;
    });

    const notOnWaId = await queueText(database().db, id, '9990001111@s.whatsapp.net', 'x');
    const notOnWa = await call(id, 'send', { body: { messageId: notOnWaId } });
    expect(notOnWa.status).toBe(422);
    expect(notOnWa.body.code).toBe('RECIPIENT_NOT_ON_WHATSAPP');

    const out = await call(id, 'logout');
    expect(out.body.state).toBe('logged-out');
    const devices = (await control(sim, 'GET', '/sim/accounts/628900000001')).body.devices;
    expect(devices).toEqual([]);
    const creds = await database()
      .db.selectFrom('wa_creds')
      .select('session_id')
      .where('session_id', '=', id)
      .execute();
    expect(creds).toEqual([]);
    const again = await call(id, 'qr');
    expect(again.body.qr).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#/);
    expect(again.body.qr).not.toBe(qr.body.qr);
  });

  it('looks at the outbox once per message sent one at a time', async () => {
    const id = await newSession('one-look');
    await call(id, 'start');
    const qr = await eventually(async () => (await call(id, 'qr')).body.qr as string | undefined);
    await control(sim, 'POST', '/sim/scan', { qr, phone: '628900000002', name: 'Sari' });
    await eventually(async () => ((await call(id, 'status')).body.connected ? true : undefined));
    const before = looks.get(id) ?? 0;
    for (let i = 0; i < 5; i++) {
      const messageId = await queueText(database().db, id, '628900000098@s.whatsapp.net', `one ${i}`);
      expect((await call(id, 'send', { body: { messageId } })).body).toEqual({
        id: messageId,
        status: 'sent',
      });
    }
    // One claim each; at most one more from the host's periodic look at idle outboxes. Before, every
    // message took a second, empty one. The look the connection started may still be on its way and take
    // the first message (it is counted before it runs, and may run after that message is queued).
    const made = (looks.get(id) ?? 0) - before;
    expect(made).toBeGreaterThanOrEqual(4);
    expect(made).toBeLessThanOrEqual(6);
  });

  it('answers a send while not linked with SESSION_NOT_AUTHENTICATED', async () => {
    const id = await newSession('unlinked');
    const messageId = await queueText(database().db, id, '628900000099@s.whatsapp.net', 'x');
    const res = await call(id, 'send', { body: { messageId } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SESSION_NOT_AUTHENTICATED');
    // Failed for good: it is never sent later, when the session is linked.
    const row = await database()
      .db.selectFrom('messages')
      .select(['status', 'failure'])
      .where('id', '=', messageId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'failed', failure: 'the session is not linked: scan its QR code first' });
  });

  it('refuses requests without a valid token for this host and session', async () => {
    const id = await newSession('tokens');
    const other = await newSession('tokens-other');
    expect((await call(id, 'status', { token: null })).status).toBe(401);
    expect((await call(id, 'status', { token: 'not.a.jwt' })).status).toBe(401);
    const otherHost = await signHostToken({
      secret: SECRET,
      hostId: 'host-else',
      tenantId,
      sessionId: id,
      scope: 'session',
    });
    expect((await call(id, 'status', { token: otherHost })).status).toBe(401);
    const forOther = await signHostToken({
      secret: SECRET,
      hostId: HOST_ID,
      tenantId,
      sessionId: other,
      scope: 'session',
    });
    expect((await call(id, 'status', { token: forOther })).status).toBe(401);
    const expired = await signHostToken({
      secret: SECRET,
      hostId: HOST_ID,
      tenantId,
      sessionId: id,
      scope: 'session',
      ttlSeconds: 10,
      now: new Date(Date.now() - 60_000),
    });
    expect((await call(id, 'status', { token: expired })).status).toBe(401);
    const valid = await signHostToken({
      secret: SECRET,
      hostId: HOST_ID,
      tenantId,
      sessionId: id,
      scope: 'session',
    });
    // The edge reuses a token for its session; the host keeps the ones it verified.
    expect((await call(id, 'status', { token: valid })).status).toBe(200);
    expect((await call(id, 'status', { token: valid })).status).toBe(200);
    // Remembered for its own session only.
    expect((await call(other, 'status', { token: valid })).status).toBe(401);
    const [header, payload, signature = ''] = valid.split('.');
    const altered = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    expect((await call(id, 'status', { token: altered })).status).toBe(401);
  });
});
