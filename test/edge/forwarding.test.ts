import { beforeAll, describe, expect, it, vi } from 'vitest';
import { digestApiKey } from '../../shared/api-key.js';
import { ALREADY_AUTHENTICATED_MESSAGE, LOGGED_OUT_MESSAGE } from '../../shared/schemas.js';
import { useEdge } from './fixture.js';
import { call, expectError, expectNoDbChange, putHost, startTestEdge, type TestEdge } from './helpers.js';
import { closedPortUrl, DEFAULT_QR_PNG, type StandInHost } from './stand-in-host.js';

// `host-spare` is registered only by the tests that need a second host.
const fx = useEdge({
  hosts: ['host-main', { id: 'host-spare', register: false }],
  edge: { hostTimeoutMs: 1_000, hostStartTimeoutMs: 500 },
});
let edge: TestEdge;
let host: StandInHost;
let spare: StandInHost;
let admin: string;
let tenantId: string;

beforeAll(() => {
  ({ edge, host, admin, tenantId } = fx());
  spare = fx().hostById('host-spare');
});

const USER = { id: '62812345678@s.whatsapp.net', name: 'Nama Pengguna' };

/** The session's messages, as their status stands. */
const messagesOf = (sessionUuid: string) =>
  fx()
    .db.selectFrom('messages')
    .select(['status', 'failure'])
    .where('session_id', '=', sessionUuid)
    .orderBy('outbox_seq')
    .execute();

let counter = 0;
/** A new session on `host` (the only live host unless a test adds one), with its key and uuid. */
async function newSession() {
  counter += 1;
  const response = await call(edge.url, '/api/session/create', {
    key: admin,
    json: { sessionId: `fwd-${counter}` },
  });
  expect(response.status).toBe(200);
  const { apiKey } = (await response.json()) as { apiKey: string };
  const row = await fx()
    .db.selectFrom('api_keys')
    .select('session_id')
    .where('digest', '=', await digestApiKey(apiKey))
    .executeTakeFirstOrThrow();
  host.reset();
  return { key: apiKey, uuid: String(row.session_id) };
}

const json = async (response: Response) => ({ status: response.status, body: await response.json() });

describe('GET /api/session/qr', () => {
  it('gives the PNG data URL while not linked', async () => {
    const { key, uuid } = await newSession();
    expect(await json(await call(edge.url, '/api/session/qr', { key }))).toEqual({
      status: 200,
      body: { success: true, connected: false, qr: DEFAULT_QR_PNG },
    });
    expect(host.calls.map((c) => [c.action, c.pathSessionId])).toEqual([['qr', uuid]]);
  });

  it('gives the account and the seed message once linked', async () => {
    const { key } = await newSession();
    host.answer('qr', () => ({
      body: { state: 'connected', connected: true, qr: null, qrPng: null, user: USER },
    }));
    expect(await json(await call(edge.url, '/api/session/qr', { key }))).toEqual({
      status: 200,
      body: { success: true, connected: true, user: USER, message: ALREADY_AUTHENTICATED_MESSAGE },
    });
  });

  it('leaves out a push name the host does not know yet', async () => {
    const { key } = await newSession();
    host.answer('qr', () => ({
      body: { state: 'connected', connected: true, qr: null, qrPng: null, user: { id: USER.id, name: null } },
    }));
    const { body } = await json(await call(edge.url, '/api/session/qr', { key }));
    expect(body.user).toEqual({ id: USER.id });
  });

  it('404 QR_NOT_READY with the seed string when there is no QR yet', async () => {
    const { key } = await newSession();
    host.answer('qr', () => ({ body: { state: 'connecting', connected: false, qr: null, qrPng: null } }));
    const response = await call(edge.url, '/api/session/qr', { key });
    await expectError(response, 404, 'QR_NOT_READY', 'QR code belum tersedia. Coba lagi nanti.');
  });
});

describe('GET /api/session/status', () => {
  it('leaves `user` out when there is none', async () => {
    const { key } = await newSession();
    expect(await json(await call(edge.url, '/api/session/status', { key }))).toEqual({
      status: 200,
      body: { success: true, connected: false },
    });
  });

  it('includes the account when connected', async () => {
    const { key } = await newSession();
    host.answer('status', () => ({ body: { state: 'connected', connected: true, user: USER } }));
    expect(await json(await call(edge.url, '/api/session/status', { key }))).toEqual({
      status: 200,
      body: { success: true, connected: true, user: USER },
    });
  });

  it('tolerates a state this edge does not know yet', async () => {
    const { key } = await newSession();
    host.answer('status', () => ({ body: { state: 'some-future-state', connected: false } }));
    expect((await call(edge.url, '/api/session/status', { key })).status).toBe(200);
  });
});

describe('POST /api/send', () => {
  it('queues the normalized JID and the text, asks the host to send it, and answers the seed body', async () => {
    const { key } = await newSession();
    const response = await call(edge.url, '/api/send', {
      key,
      json: { to: '+62 812-3456-7890', message: 'Halo, ini pesan dari API!' },
    });
    const [forwarded] = host.calls.map((c) => c.body as { messageId: string });
    const id = forwarded?.messageId ?? '';
    expect(id).toMatch(/^3EB0[0-9A-F]{18}$/);
    expect(await json(response)).toEqual({
      status: 200,
      body: {
        success: true,
        result: {
          key: { remoteJid: '6281234567890@s.whatsapp.net', id, fromMe: true },
          message: { extendedTextMessage: { text: 'Halo, ini pesan dari API!' } },
        },
      },
    });
    const queued = await fx()
      .db.selectFrom('messages')
      .select(['chat_jid', 'text', 'direction', 'source', 'status'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    // The stand-in does not move statuses: the row stays as the edge queued it.
    expect(queued).toEqual({
      chat_jid: '6281234567890@s.whatsapp.net',
      text: 'Halo, ini pesan dari API!',
      direction: 'out',
      source: 'api',
      status: 'queued',
    });
  });

  it('accepts `to` as a JSON number and as a full JID, as the seed did', async () => {
    const { key } = await newSession();
    for (const to of [6281234567890, '6281234567890@s.whatsapp.net']) {
      const response = await call(edge.url, '/api/send', { key, json: { to, message: 'x' } });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { result: { key: { remoteJid: string } } };
      expect(body.result.key.remoteJid).toBe('6281234567890@s.whatsapp.net');
    }
  });

  it.each([
    [400, 'SESSION_NOT_AUTHENTICATED', 'Sesi belum terautentikasi. Scan QR code terlebih dahulu.'],
    [422, 'RECIPIENT_NOT_ON_WHATSAPP', 'Nomor tujuan tidak terdaftar di WhatsApp'],
  ])('relays the host error %i %s unchanged', async (status, code, error) => {
    const { key, uuid } = await newSession();
    host.answer('send', () => ({ status, body: { success: false, error, code } }));
    const response = await call(edge.url, '/api/send', { key, json: { to: '9991234567', message: 'x' } });
    expect(await json(response)).toEqual({ status, body: { success: false, error, code } });
    // Refused for good: the queued message can never go later (the real host fails it itself).
    const [message] = await messagesOf(uuid);
    expect(message?.status).toBe('cancelled');
    expect(message?.failure).toBe(
      code === 'RECIPIENT_NOT_ON_WHATSAPP'
        ? 'the number is not on WhatsApp'
        : 'the session is not linked: scan its QR code first',
    );
  });
});

describe('POST /api/session/logout', () => {
  it('answers the seed message', async () => {
    const { key, uuid } = await newSession();
    expect(await json(await call(edge.url, '/api/session/logout', { key, method: 'POST' }))).toEqual({
      status: 200,
      body: { success: true, message: LOGGED_OUT_MESSAGE },
    });
    expect(host.calls.map((c) => [c.action, c.pathSessionId])).toEqual([['logout', uuid]]);
  });
});

describe('the token on every forwarded call', () => {
  it('names the edge, this host, the session, its tenant and the session scope, for 30 s at most', async () => {
    const { key, uuid } = await newSession();
    await call(edge.url, '/api/session/status', { key });
    await call(edge.url, '/api/session/status', { key });
    const [first, second] = host.calls;
    for (const c of [first, second]) {
      expect(c?.claims).toMatchObject({ hostId: host.id, sessionId: uuid, tenantId, scope: 'session' });
      expect((c?.expiresAt ?? 0) - (c?.issuedAt ?? 0)).toBe(30);
    }
    // One token for the session's calls, reused for the first half of its life.
    expect(first?.claims.jti).toBe(second?.claims.jti);
    expect(host.refused).toEqual([]);
  });

  it("is renewed after half its life, and is the session's own", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const one = await newSession();
      const two = await newSession();
      await call(edge.url, '/api/session/status', { key: one.key });
      await call(edge.url, '/api/session/status', { key: two.key });
      vi.setSystemTime(Date.now() + 16_000);
      await call(edge.url, '/api/session/status', { key: one.key });
      const [first, other, renewed] = host.calls;
      expect(other?.claims.sessionId).toBe(two.uuid);
      expect(other?.claims.jti).not.toBe(first?.claims.jti);
      expect(renewed?.claims.sessionId).toBe(one.uuid);
      expect(renewed?.claims.jti).not.toBe(first?.claims.jti);
      expect(host.refused).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('never shows a client that the host refused the token (a secret mismatch is ours to fix)', async () => {
    const { db } = fx();
    const { key } = await newSession();
    const wrong = await startTestEdge(db, { hostSecret: 'a-different-secret-that-the-host-does-not-know' });
    try {
      const response = await call(wrong.url, '/api/session/status', { key });
      const body = await expectError(response, 503, 'HOST_UNAVAILABLE');
      expect(JSON.stringify(body)).not.toMatch(/token|INVALID_HOST_TOKEN/i);
      expect(host.refused).toHaveLength(1);
      expect(
        wrong.logger.lines.some((l) => l.level === 'error' && JSON.stringify(l.fields).includes('refused')),
      ).toBe(true);
    } finally {
      await wrong.close();
    }
  });
});

describe('hosts that are down, dead or gone', () => {
  it('503 HOST_UNAVAILABLE with Retry-After when the live owner refuses connections', async () => {
    const { db } = fx();
    const { key, uuid } = await newSession();
    await putHost(db, { id: 'host-refusing', url: await closedPortUrl() });
    await db.updateTable('sessions').set({ host_id: 'host-refusing' }).where('id', '=', uuid).execute();
    try {
      for (const [path, init] of [
        ['/api/session/status', {}],
        ['/api/session/qr', {}],
        ['/api/send', { json: { to: '6281234567890', message: 'x' } }],
        ['/api/session/logout', { method: 'POST' }],
      ] as const) {
        const send = path === '/api/send';
        const response = send
          ? await call(edge.url, path, { key, ...init })
          : await expectNoDbChange(db, () => call(edge.url, path, { key, ...init }));
        await expectError(response, 503, 'HOST_UNAVAILABLE');
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      // The send was queued, and cancelled when the host could not be reached: it never goes later.
      expect(await messagesOf(uuid)).toEqual([
        { status: 'cancelled', failure: 'the session host could not be reached' },
      ]);
    } finally {
      await db.updateTable('sessions').set({ host_id: host.id }).where('id', '=', uuid).execute();
      await db.deleteFrom('hosts').where('id', '=', 'host-refusing').execute();
    }
  });

  it('503 HOST_UNAVAILABLE when the owner does not answer in time', async () => {
    const { key } = await newSession();
    host.answer('status', () => ({ delayMs: 3_000, body: { state: 'idle', connected: false } }));
    const started = Date.now();
    const response = await call(edge.url, '/api/session/status', { key });
    await expectError(response, 503, 'HOST_UNAVAILABLE');
    expect(response.headers.get('retry-after')).not.toBeNull();
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('503 HOST_UNAVAILABLE when the answer stops halfway through its body', async () => {
    const { key } = await newSession();
    host.answer('status', () => ({ stall: true }));
    const started = Date.now();
    const response = await call(edge.url, '/api/session/status', { key });
    await expectError(response, 503, 'HOST_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('503 when the host answers 5xx without an error body, and a generic 500 for its own 500', async () => {
    const { key } = await newSession();
    host.answer('status', () => ({ status: 502, text: '<html>bad gateway</html>' }));
    await expectError(await call(edge.url, '/api/session/status', { key }), 503, 'HOST_UNAVAILABLE');
    host.answer('status', () => ({
      status: 500,
      body: { success: false, error: 'Terjadi kesalahan internal', code: 'INTERNAL_ERROR' },
    }));
    await expectError(
      await call(edge.url, '/api/session/status', { key }),
      500,
      'INTERNAL_ERROR',
      'Terjadi kesalahan internal',
    );
  });

  it("logs what the host said behind the client's generic error", async () => {
    const { key, uuid } = await newSession();
    const failedLine = () => {
      const line = edge.logger.lines.findLast((l) => l.message === 'request failed');
      return { fields: line?.fields, text: JSON.stringify(line?.fields) };
    };

    host.answer('status', () => ({
      status: 500,
      body: { success: false, error: 'auth store unreachable (host side)', code: 'INTERNAL_ERROR' },
    }));
    const generic = await call(edge.url, '/api/session/status', { key });
    const body = await expectError(generic, 500, 'INTERNAL_ERROR', 'Terjadi kesalahan internal');
    expect(JSON.stringify(body)).not.toContain('auth store');
    expect(failedLine().fields).toMatchObject({
      code: 'INTERNAL_ERROR',
      sessionId: uuid,
      err: { name: 'HostReplyError', status: 500, code: 'INTERNAL_ERROR' },
    });
    expect(failedLine().text).toContain('auth store unreachable (host side)');

    host.answer('status', () => ({
      status: 503,
      body: { success: false, error: 'host is draining', code: 'HOST_UNAVAILABLE' },
      headers: { 'retry-after': '7' },
    }));
    const relayed = await call(edge.url, '/api/session/status', { key });
    await expectError(relayed, 503, 'HOST_UNAVAILABLE', 'host is draining');
    expect(relayed.headers.get('retry-after')).toBe('7');
    expect(failedLine().fields).toMatchObject({ err: { status: 503, code: 'HOST_UNAVAILABLE' } });

    host.answer('status', () => ({ status: 502, text: '<html>bad gateway</html>' }));
    await expectError(await call(edge.url, '/api/session/status', { key }), 503, 'HOST_UNAVAILABLE');
    expect(failedLine().fields).toMatchObject({ err: { status: 502 } });
    expect(failedLine().text).toContain('<html>bad gateway</html>');
  });

  it('a generic 500 when a host answers success with a body of the wrong shape', async () => {
    const { key } = await newSession();
    host.answer('status', () => ({ body: { nonsense: true } }));
    await expectError(
      await call(edge.url, '/api/session/status', { key }),
      500,
      'INTERNAL_ERROR',
      'Terjadi kesalahan internal',
    );
  });

  it('moves a session off a dead owner to a live host under a new lease epoch, then forwards', async () => {
    const { db } = fx();
    const { key, uuid } = await newSession();
    await putHost(db, { id: 'host-dead', url: await closedPortUrl(), live: false });
    await db
      .updateTable('sessions')
      .set({ host_id: 'host-dead', lease_epoch: 7 })
      .where('id', '=', uuid)
      .execute();

    const response = await call(edge.url, '/api/session/status', { key });
    expect(response.status).toBe(200);
    const row = await db
      .selectFrom('sessions')
      .select(['host_id', 'lease_epoch'])
      .where('id', '=', uuid)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ host_id: host.id, lease_epoch: '8' });
    // The new owner is asked to resume the session first.
    expect(host.calls.map((c) => c.action)).toEqual(['start', 'status']);

    // Once moved, it stays: no second move, no second bump.
    host.reset();
    await call(edge.url, '/api/session/status', { key });
    expect(host.calls.map((c) => c.action)).toEqual(['status']);
    const again = await db
      .selectFrom('sessions')
      .select('lease_epoch')
      .where('id', '=', uuid)
      .executeTakeFirstOrThrow();
    expect(again.lease_epoch).toBe('8');
    await db.deleteFrom('hosts').where('id', '=', 'host-dead').execute();
  });

  it('places a session whose owner row is gone (host_id null)', async () => {
    const { db } = fx();
    const { key, uuid } = await newSession();
    await db.updateTable('sessions').set({ host_id: null }).where('id', '=', uuid).execute();
    const response = await call(edge.url, '/api/session/qr', { key });
    expect(response.status).toBe(200);
    const row = await db
      .selectFrom('sessions')
      .select('host_id')
      .where('id', '=', uuid)
      .executeTakeFirstOrThrow();
    expect(row.host_id).toBe(host.id);
  });

  it('keeps forwarding to a draining owner while it is alive', async () => {
    const { db } = fx();
    await putHost(db, { id: spare.id, url: spare.url });
    const { key, uuid } = await newSession();
    await db.updateTable('sessions').set({ host_id: spare.id }).where('id', '=', uuid).execute();
    await putHost(db, { id: spare.id, url: spare.url, draining: true });
    spare.reset();
    try {
      expect((await call(edge.url, '/api/session/status', { key })).status).toBe(200);
      expect(spare.calls.map((c) => c.action)).toEqual(['status']);
      expect(host.calls).toHaveLength(0);
    } finally {
      await db.updateTable('sessions').set({ host_id: host.id }).where('host_id', '=', spare.id).execute();
      await db.deleteFrom('hosts').where('id', '=', spare.id).execute();
    }
  });

  it('503 and no change at all when the owner is dead and no other host is alive', async () => {
    const { db } = fx();
    const { key, uuid } = await newSession();
    await putHost(db, { id: host.id, url: host.url, live: false });
    try {
      const response = await expectNoDbChange(db, () => call(edge.url, '/api/session/status', { key }));
      await expectError(response, 503, 'HOST_UNAVAILABLE');
      expect(host.calls).toHaveLength(0);
      const row = await db
        .selectFrom('sessions')
        .select('host_id')
        .where('id', '=', uuid)
        .executeTakeFirstOrThrow();
      expect(row.host_id).toBe(host.id);
    } finally {
      await putHost(db, { id: host.id, url: host.url });
    }
  });
});
