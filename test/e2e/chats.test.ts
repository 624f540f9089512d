// Read marks, presence and number checks end to end: the edge, a real host with Baileys, and the
// simulated contacts, who see the blue ticks and the "typing…".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEdge } from '../../edge/entries/node.js';
import { useTestDatabase } from '../helpers/postgres.js';
import type { SimServer } from '../wa-sim/server.js';
import { startTestEdge, useBackend } from './backend.js';
import { api, linkByQr, until } from './flow.js';

const SECRET = 'chats-e2e-secret-chats-e2e-secret-chats-01';
const database = useTestDatabase();
const backend = useBackend(database, { hostId: 'host-chats-e2e', secret: SECRET });
let edge: RunningEdge;
let sim: SimServer;
let key: string;
const PHONE = '6285600000001';

const simCall = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as Record<string, unknown> & unknown[];
};
/** The contact writes to the linked account; resolves once the gateway stored it. */
const contactWrites = async (contact: string, text: string) => {
  const { id } = (await simCall('POST', `/sim/contacts/${contact}/messages`, {
    to: PHONE,
    text,
  })) as unknown as {
    id: string;
  };
  await until(async () =>
    (await api(edge.url, 'GET', `/api/messages/${id}`, { key })).status === 200 ? true : undefined,
  );
  return id;
};
const readOnPhone = async (contact: string) =>
  ((await simCall('GET', `/sim/contacts/${contact}/sent`)) as unknown as { id: string; read?: boolean }[])
    .filter((m) => m.read)
    .map((m) => m.id);

const newSession = async (name: string, phone?: string) => {
  const created = await api(edge.url, 'POST', '/api/session/create', {
    key: backend().adminKey,
    body: { sessionId: name },
  });
  const sessionKey = created.body.apiKey as string;
  if (phone) {
    await linkByQr(edge.url, sim, sessionKey, phone, name);
    await until(async () =>
      (await api(edge.url, 'GET', '/api/session/status', { key: sessionKey })).body.connected
        ? true
        : undefined,
    );
  }
  return sessionKey;
};

beforeAll(async () => {
  ({ sim } = backend());
  edge = await startTestEdge(database().db, SECRET);
  key = await newSession('chats', PHONE);
});
afterAll(async () => {
  await edge?.close();
});

describe('read marks', () => {
  it('mark the named messages read, or the chat’s latest; the contact’s phone shows them read', async () => {
    const contact = '6285610000001';
    const first = await contactWrites(contact, 'are you there?');
    const second = await contactWrites(contact, 'hello?');
    const named = await api(edge.url, 'POST', `/api/chats/${contact}/read`, {
      key,
      body: { messageIds: [first] },
    });
    expect(named.body).toEqual({ success: true, read: [first] });
    expect(
      await until(async () => ((await readOnPhone(contact)).length === 1 ? readOnPhone(contact) : undefined)),
    ).toEqual([first]);
    const latest = await api(edge.url, 'POST', `/api/chats/${contact}@s.whatsapp.net/read`, { key });
    expect(latest.status).toBe(200);
    expect([...latest.body.read].sort()).toEqual([first, second].sort());
    expect(
      await until(async () => ((await readOnPhone(contact)).length === 2 ? readOnPhone(contact) : undefined)),
    ).toEqual([first, second]);
  });

  it('refuses an id that is not a received message of that chat, and a chat that is no number', async () => {
    const contact = '6285610000002';
    const theirs = await contactWrites(contact, 'hi');
    const wrongChat = await api(edge.url, 'POST', '/api/chats/6285610000003/read', {
      key,
      body: { messageIds: [theirs] },
    });
    expect(wrongChat.status).toBe(404);
    expect(wrongChat.body).toMatchObject({ code: 'MESSAGE_NOT_FOUND', details: { unknown: [theirs] } });
    const badChat = await api(edge.url, 'POST', '/api/chats/not-a-number/read', { key });
    expect(badChat.body).toMatchObject({ code: 'INVALID_RECIPIENT' });
    expect(await readOnPhone(contact)).toEqual([]);
  });

  it('a session that is not linked cannot mark anything read', async () => {
    const unlinked = await newSession('chats-unlinked');
    const res = await api(edge.url, 'POST', '/api/chats/6285610000001/presence', {
      key: unlinked,
      body: { state: 'typing' },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('SESSION_NOT_AUTHENTICATED');
  });
});

describe('presence', () => {
  it('typing, recording and paused reach the contact', async () => {
    const contact = '6285620000001';
    for (const state of ['typing', 'recording', 'paused']) {
      const res = await api(edge.url, 'POST', `/api/chats/${contact}/presence`, { key, body: { state } });
      expect(res.body).toEqual({ success: true, state });
    }
    const shown = await until(async () => {
      const states = (await simCall('GET', `/sim/contacts/${contact}/chatstates`)) as unknown as {
        state: string;
      }[];
      return states.length === 3 ? states.map((s) => s.state) : undefined;
    });
    expect(shown).toEqual(['composing', 'recording', 'paused']);
    const bad = await api(edge.url, 'POST', `/api/chats/${contact}/presence`, {
      key,
      body: { state: 'dancing' },
    });
    expect(bad.body.code).toBe('VALIDATION_ERROR');
  });
});

describe('number checks', () => {
  it('answer which numbers are on WhatsApp, in order, and remember the answers', async () => {
    const res = await api(edge.url, 'POST', '/api/contacts/check', {
      key,
      body: { numbers: ['+62 856-3000-0001', '9990000001', 6285630000002] },
    });
    expect(res.body).toEqual({
      success: true,
      results: [
        { number: '+62 856-3000-0001', exists: true, jid: '6285630000001@s.whatsapp.net' },
        { number: '9990000001', exists: false, jid: null },
        { number: '6285630000002', exists: true, jid: '6285630000002@s.whatsapp.net' },
      ],
    });
    const queries = sim.sim.usyncQueries;
    const again = await api(edge.url, 'POST', '/api/contacts/check', {
      key,
      body: { numbers: ['6285630000001'] },
    });
    expect(again.body.results).toEqual([
      { number: '6285630000001', exists: true, jid: '6285630000001@s.whatsapp.net' },
    ]);
    expect(sim.sim.usyncQueries).toBe(queries);
  });

  it('refuses more than 50 numbers, a malformed one, and checks beyond the per-session limit', async () => {
    const many = Array.from({ length: 51 }, (_, i) => `62856400${String(i).padStart(5, '0')}`);
    expect(
      (await api(edge.url, 'POST', '/api/contacts/check', { key, body: { numbers: many } })).body.code,
    ).toBe('VALIDATION_ERROR');
    const bad = await api(edge.url, 'POST', '/api/contacts/check', { key, body: { numbers: ['12ab'] } });
    expect(bad.body).toMatchObject({ code: 'INVALID_RECIPIENT', details: { numbers: ['12ab'] } });
    const limited = await newSession('chats-limit', '6285600000002');
    const fifty = many.slice(0, 50);
    expect(
      (await api(edge.url, 'POST', '/api/contacts/check', { key: limited, body: { numbers: fifty } })).status,
    ).toBe(200);
    const over = await api(edge.url, 'POST', '/api/contacts/check', {
      key: limited,
      body: { numbers: ['6285649999999'] },
    });
    expect(over.status).toBe(429);
    expect(over.body.code).toBe('RATE_LIMITED');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
