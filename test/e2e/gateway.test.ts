import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { gatewayClient } from '../../edge/client.js';
import type { RunningEdge } from '../../edge/entries/node.js';
import { useTestDatabase } from '../helpers/postgres.js';
import type { SimServer } from '../wa-sim/server.js';
import { startTestEdge, useBackend } from './backend.js';
import { api, linkByQr, pairingCodeFlow, seedFlow, until } from './flow.js';

const SECRET = 'e2e-secret-e2e-secret-e2e-secret-0123456';
const database = useTestDatabase();
const backend = useBackend(database, { hostId: 'host-e2e', secret: SECRET });
let edge: RunningEdge;
let sim: SimServer;
let adminKey: string;

beforeAll(async () => {
  ({ sim, adminKey } = backend());
  edge = await startTestEdge(database().db, SECRET);
});
afterAll(() => edge?.close());

describe("the edge in the host's process, as npm start runs them", () => {
  it('calls its host without the network, and a stopped host is a 503', async () => {
    const { host } = backend();
    let inProcess = 0;
    let stopped = false;
    const local = {
      url: host.url,
      fetch: (request: Request) => {
        inProcess++;
        return stopped ? Promise.reject(new TypeError('fetch failed')) : host.fetch(request);
      },
    };
    const together = await startTestEdge(database().db, SECRET, { localHost: local });
    try {
      await seedFlow(together.url, sim, adminKey, '2');
      // create, QR, status, send, logout, QR again: every host call of the flow went in-process.
      expect(inProcess).toBeGreaterThanOrEqual(6);
      stopped = true;
      const created = await api(together.url, 'POST', '/api/session/create', { key: adminKey, body: {} });
      const status = await api(together.url, 'GET', '/api/session/status', { key: created.body.apiKey });
      expect(status.status).toBe(503);
      expect(status.body).toMatchObject({ success: false, code: 'HOST_UNAVAILABLE' });
    } finally {
      await together.close();
    }
  });
});

describe('the seed API end to end, edge on Node', () => {
  it('create, QR, scan, status, send, logout, fresh QR', async () => {
    await seedFlow(edge.url, sim, adminKey, '1');
  });

  it('links by pairing code', async () => {
    await pairingCodeFlow(edge.url, sim, adminKey, '1');
  });

  it('a send while not linked is a 400 with the seed message, and changes nothing', async () => {
    const { db } = database();
    const created = await api(edge.url, 'POST', '/api/session/create', {
      key: adminKey,
      body: { sessionId: 'idle-one' },
    });
    const counts = async () => ({
      sessions: (await db.selectFrom('sessions').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow())
        .n,
      keys: (await db.selectFrom('api_keys').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n,
      creds: (await db.selectFrom('wa_creds').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n,
    });
    const before = await counts();
    const res = await api(edge.url, 'POST', '/api/send', {
      key: created.body.apiKey,
      body: { to: '6281200000099', message: 'too early' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      success: false,
      error: 'Sesi belum terautentikasi. Scan QR code terlebih dahulu.',
      code: 'SESSION_NOT_AUTHENTICATED',
    });
    expect(await counts()).toEqual(before);
  });

  it('sending to a number that is not on WhatsApp (999...) is a 422', async () => {
    const a = await api(edge.url, 'POST', '/api/session/create', { key: adminKey, body: {} });
    // No sessionId: a UUID is chosen.
    expect(a.body.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    await linkByQr(edge.url, sim, a.body.apiKey, '628120000002', 'Sari');
    await until(async () =>
      (await api(edge.url, 'GET', '/api/session/status', { key: a.body.apiKey })).body.connected
        ? true
        : undefined,
    );
    const res = await api(edge.url, 'POST', '/api/send', {
      key: a.body.apiKey,
      body: { to: '9991234567', message: 'nobody' },
    });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ success: false, code: 'RECIPIENT_NOT_ON_WHATSAPP' });

    // The longest message, in non-ASCII text written as \uXXXX escapes (6 bytes a character), fits the
    // one body limit at the edge and at the host, and arrives whole.
    const longest = 'é'.repeat(65_536);
    const escaped = JSON.stringify({ to: '628120000077', message: longest }).replaceAll('é', '\\u00e9');
    expect(new TextEncoder().encode(escaped).length).toBeGreaterThan(256 * 1024);
    const long = await api(edge.url, 'POST', '/api/send', { key: a.body.apiKey, body: escaped });
    expect(long.status).toBe(200);
    await until(async () => {
      const inbox = (await (await fetch(`${sim.url}/sim/contacts/628120000077/messages`)).json()) as {
        text: string;
      }[];
      return inbox.find((m) => m.text === longest);
    });
  });

  it('the typed client (edge/client.ts): create, link, status and send, with typed bodies and answers', async () => {
    const admin = gatewayClient(edge.url, adminKey);
    const created = await admin.api.session.create.$post({ json: { sessionId: 'typed' } });
    // The answer's type follows its status: only a 200 has the key.
    if (created.status !== 200) throw new Error(`create answered ${created.status}`);
    const { apiKey } = await created.json();
    expectTypeOf(apiKey).toEqualTypeOf<string>();
    const session = gatewayClient(edge.url, apiKey);
    await linkByQr(edge.url, sim, apiKey, '628100000777', 'Tipe');
    const status = await until(async () => {
      const body = await (await session.api.session.status.$get()).json();
      return 'connected' in body && body.connected ? body : undefined;
    });
    expect(status).toEqual({
      success: true,
      connected: true,
      user: { id: '628100000777@s.whatsapp.net', name: 'Tipe' },
    });
    const text = 'halo dari klien bertipe';
    const sent = await session.api.send.$post({ header: {}, json: { to: '628900000777', message: text } });
    if (sent.status !== 200) throw new Error(`send answered ${sent.status}`);
    const { result } = await sent.json();
    expect(result.key).toMatchObject({ remoteJid: '628900000777@s.whatsapp.net', fromMe: true });
    expect(result.message).toEqual({ extendedTextMessage: { text } });
    // @ts-expect-error: `to` is required by the route's schema, and the client's type says so.
    const refused = await session.api.send.$post({ header: {}, json: { message: 'no recipient' } });
    expect(refused.status).toBe(400);
  });
});
