import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEdge } from '../../edge/entries/node.js';
import { useTestDatabase } from '../helpers/postgres.js';
import type { SimServer } from '../wa-sim/server.js';
import { startTestEdge, useBackend } from './backend.js';
import { api, linkByQr, seedFlow, until } from './flow.js';

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

describe('the seed API end to end, edge on Node', () => {
  it('create, QR, scan, status, send, logout, fresh QR', async () => {
    await seedFlow(edge.url, sim, adminKey, '1');
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
});
