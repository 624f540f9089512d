// The message store, read by a session key (GET /api/messages, /api/messages/:id) and by the tenant's
// admin per session: newest first, stable pages, a chat by its number, JID or LID, and nothing of
// another session or tenant.
import { beforeAll, describe, expect, it } from 'vitest';
import type { MessageRow } from '../../shared/db-schema.js';
import type { Message } from '../../shared/events.js';
import { messageView as hostMessageView } from '../../shared/message-view.js';
import { read } from './admin-helpers.js';
import { insertMessage, sessionWithKey, type TestSession } from './event-helpers.js';
import { useEdge } from './fixture.js';
import { call, expectError, type TestEdge } from './helpers.js';

const fx = useEdge({ hosts: [], tenants: ['tenant', 'neighbour'] });
let edge: TestEdge;
let mine: TestSession;
let sibling: TestSession;
let foreign: TestSession;
/** Every message of `mine`, as stored. */
const rows: MessageRow[] = [];

const CHAT_A = '6281111111111@s.whatsapp.net';
const LID_A = '111111111111111@lid';
const LID_B = '222222222222222@lid';
const CHAT_C = '6283333333333@s.whatsapp.net';

type Page = { success: true; messages: Message[]; nextCursor: string | null };

const list = async (key: string, query = '', path = '/api/messages') => {
  const { status, body } = await read<Page>(await call(edge.url, `${path}${query}`, { key }));
  expect(status, JSON.stringify(body)).toBe(200);
  return body;
};

/** Every message the listing gives, following the cursor to the end. */
async function walk(
  key: string,
  query: string,
  path = '/api/messages',
  from: string | null = null,
): Promise<Message[]> {
  const out: Message[] = [];
  let before: string | null = from;
  do {
    const page: Page = await list(key, `?${query}${before ? `&before=${before}` : ''}`, path);
    out.push(...page.messages);
    before = page.nextCursor;
  } while (before);
  return out;
}

const ids = (messages: Message[]) => messages.map((m) => m.id);
/** `rows` as the listing must show them: newest first, then by id (descending) at equal times. */
const newestFirst = (subset: MessageRow[]) =>
  [...subset]
    .sort((a, b) => b.sent_at.getTime() - a.sent_at.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    .map((r) => r.id);

beforeAll(async () => {
  const { db, tenantId, tenant } = fx();
  edge = fx().edge;
  mine = await sessionWithKey(db, tenantId, 'mine');
  sibling = await sessionWithKey(db, tenantId, 'sibling');
  foreign = await sessionWithKey(db, tenant('neighbour').id, 'mine');
  const at = (s: number) => new Date(Date.UTC(2026, 0, 31, 8, 0, s));
  // Chat A by its phone JID with its LID; chat B known by its LID only; an outbound one with a status
  // and a quote; three at the very same time (the id decides); one chat with many messages.
  rows.push(
    await insertMessage(db, mine, { sent_at: at(1), chat_jid: CHAT_A, chat_lid: LID_A, sender_lid: LID_A }),
    await insertMessage(db, mine, { sent_at: at(2), chat_jid: LID_B, chat_lid: LID_B }),
    await insertMessage(db, mine, {
      sent_at: at(3),
      chat_jid: CHAT_A,
      chat_lid: LID_A,
      direction: 'out',
      status: 'read',
      status_at: at(9),
      source: 'api',
      content: { quoted: { id: 'QUOTED1', from: CHAT_A, text: 'the question' } },
      text: 'the answer',
    }),
    await insertMessage(db, mine, { id: 'SAME-B', sent_at: at(4), chat_jid: CHAT_C }),
    await insertMessage(db, mine, { id: 'SAME-A', sent_at: at(4), chat_jid: CHAT_C }),
    await insertMessage(db, mine, { id: 'SAME-C', sent_at: at(4), chat_jid: CHAT_C }),
    await insertMessage(db, mine, {
      direction: 'out',
      status: 'failed',
      failure: 'not on WhatsApp',
      source: 'phone',
      sent_at: at(5),
      chat_jid: CHAT_C,
    }),
  );
  for (let i = 0; i < 5; i++) {
    rows.push(await insertMessage(db, mine, { sent_at: at(10 + i), chat_jid: CHAT_C }));
  }
  // Microseconds apart: a page boundary between them must not lose one.
  rows.push(
    await insertMessage(db, mine, {
      id: 'MICRO-1',
      sent_at: '2026-01-31T08:00:20.000001Z',
      chat_jid: CHAT_C,
    }),
    await insertMessage(db, mine, {
      id: 'MICRO-2',
      sent_at: '2026-01-31T08:00:20.000002Z',
      chat_jid: CHAT_C,
    }),
  );
  // The same ids in the other session and the other tenant, and messages of their own.
  await insertMessage(db, sibling, { id: rows[0]?.id, sent_at: at(1), chat_jid: CHAT_A, text: 'sibling' });
  await insertMessage(db, sibling, { id: 'SIBLING-ONLY', sent_at: at(30), chat_jid: CHAT_A });
  await insertMessage(db, foreign, { id: rows[0]?.id, sent_at: at(1), chat_jid: CHAT_A, text: 'foreign' });
  await insertMessage(db, foreign, { id: 'FOREIGN-ONLY', sent_at: at(30), chat_jid: CHAT_A });
});

describe('GET /api/messages', () => {
  it("lists the session's messages newest first, each as the hosts' events show it", async () => {
    const page = await list(mine.key, '?limit=100');
    expect(ids(page.messages)).toEqual(newestFirst(rows));
    expect(page.nextCursor).toBeNull();
    for (const message of page.messages) {
      const row = rows.find((r) => r.id === message.id);
      if (!row) throw new Error(`unexpected message ${message.id}`);
      expect(message).toEqual(hostMessageView(row, 'mine'));
    }
    const answer = page.messages.find((m) => m.text === 'the answer');
    expect(answer).toEqual({
      id: rows[2]?.id,
      sessionId: 'mine',
      direction: 'out',
      chat: CHAT_A,
      chatLid: LID_A,
      from: null,
      fromLid: null,
      kind: 'text',
      text: 'the answer',
      quoted: { id: 'QUOTED1', from: CHAT_A, text: 'the question' },
      timestamp: '2026-01-31T08:00:03.000Z',
      status: 'read',
      statusAt: '2026-01-31T08:00:09.000Z',
      failure: null,
      source: 'api',
    });
  });

  it('pages through everything exactly once, however small the pages, equal times and microseconds included', async () => {
    for (const limit of [1, 2, 3, 5]) {
      expect(ids(await walk(mine.key, `limit=${limit}`)), `limit=${limit}`).toEqual(newestFirst(rows));
    }
  });

  it('defaults to 50 a page and says when there is no next page', async () => {
    const page = await list(mine.key);
    expect(page.messages).toHaveLength(rows.length);
    expect(page.nextCursor).toBeNull();
    const first = await list(mine.key, '?limit=3');
    expect(first.messages).toHaveLength(3);
    expect(first.nextCursor).toEqual(expect.any(String));
  });

  it('keeps its place when newer messages arrive between pages', async () => {
    const first = await list(mine.key, '?limit=4');
    const newer = await insertMessage(fx().db, mine, { sent_at: new Date(), chat_jid: CHAT_C });
    try {
      const rest = await walk(mine.key, 'limit=4', '/api/messages', first.nextCursor);
      expect([...ids(first.messages), ...ids(rest)]).toEqual(newestFirst(rows));
    } finally {
      await fx().db.deleteFrom('messages').where('id', '=', newer.id).execute();
    }
  });

  it.each([
    ['a number with + and spaces', '+62 811-1111-1111', [CHAT_A]],
    ['a number with dashes', '62-811-1111-1111', [CHAT_A]],
    ['a phone JID', CHAT_A, [CHAT_A]],
    ["the chat's LID, which matches its phone JID's messages", LID_A, [CHAT_A]],
    ['a LID-only chat', LID_B, [LID_B]],
    ['a chat with no messages', '6289999999999', []],
  ])('filters by chat: %s', async (_name, chat, chats) => {
    const expected = rows.filter((r) => chats.includes(r.chat_jid));
    const got = await walk(mine.key, `limit=2&chat=${encodeURIComponent(chat)}`);
    expect(ids(got)).toEqual(newestFirst(expected));
    expect(got.every((m) => chats.includes(m.chat))).toBe(true);
  });

  it('shows nothing of another session or tenant', async () => {
    const all = await walk(mine.key, 'limit=100');
    expect(all.some((m) => m.text === 'sibling' || m.text === 'foreign')).toBe(false);
    expect(ids(all)).not.toContain('SIBLING-ONLY');
    expect(ids(all)).not.toContain('FOREIGN-ONLY');
    expect(ids(await walk(sibling.key, 'limit=100'))).toEqual(['SIBLING-ONLY', rows[0]?.id]);
  });

  it.each([
    ['garbage', 'not-a-cursor'],
    ['base64 of something else', btoa('hello').replace(/=+$/, '')],
    ['a JSON object', btoa(JSON.stringify({ sentAt: '2026-01-31T08:00:00.000000Z', id: 'x' }))],
    ['a time that is no time', btoa(JSON.stringify(['2026-13-45T99:00:00.000000Z', 'x'])).replace(/=+$/, '')],
    ['an empty id', btoa(JSON.stringify(['2026-01-31T08:00:00.000000Z', ''])).replace(/=+$/, '')],
    ['very long', 'A'.repeat(1000)],
  ])('400 INVALID_CURSOR for a `before` that is %s', async (_name, before) => {
    const response = await call(edge.url, `/api/messages?before=${before}`, { key: mine.key });
    await expectError(response, 400, 'INVALID_CURSOR');
  });

  it.each([
    ['limit 0', 'limit=0'],
    ['limit 101', 'limit=101'],
    ['a limit that is no number', 'limit=many'],
    ['a fractional limit', 'limit=2.5'],
    ['a chat that is a word', 'chat=budi'],
    ['a chat too short to be a number', 'chat=12345'],
    ['a group JID', 'chat=120363000000000000%40g.us'],
    ['a LID with letters', 'chat=abc%40lid'],
    ['an empty chat', 'chat='],
  ])('400 VALIDATION_ERROR for %s', async (_name, query) => {
    const body = await expectError(
      await call(edge.url, `/api/messages?${query}`, { key: mine.key }),
      400,
      'VALIDATION_ERROR',
    );
    expect(body.details).toEqual(expect.any(Array));
  });
});

describe('GET /api/messages/:id', () => {
  it('gives one message of the session', async () => {
    const row = rows[2] as MessageRow;
    const { status, body } = await read(await call(edge.url, `/api/messages/${row.id}`, { key: mine.key }));
    expect(status).toBe(200);
    expect(body).toEqual({ success: true, message: hostMessageView(row, 'mine') });
  });

  it("answers another session's or tenant's message exactly like an unknown one", async () => {
    const answer = async (key: string, id: string) => {
      const response = await call(edge.url, `/api/messages/${encodeURIComponent(id)}`, { key });
      return { status: response.status, body: await response.text() };
    };
    const unknown = await answer(mine.key, 'NEVER-WAS');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
    expect(await answer(mine.key, 'SIBLING-ONLY')).toEqual(unknown);
    expect(await answer(mine.key, 'FOREIGN-ONLY')).toEqual(unknown);
    expect(await answer(mine.key, 'x'.repeat(129))).toEqual(unknown);
    // The id both have is each one's own.
    const shared = rows[0]?.id ?? '';
    const { body } = await read<{ message: Message }>(
      await call(edge.url, `/api/messages/${shared}`, { key: sibling.key }),
    );
    expect(body.message).toMatchObject({ sessionId: 'sibling', text: 'sibling' });
  });
});

describe('the admin’s per-session routes', () => {
  it('list and get a session’s messages as its session key sees them', async () => {
    const { admin } = fx();
    const path = '/api/admin/sessions/mine/messages';
    expect(await walk(admin, 'limit=4', path)).toEqual(await walk(mine.key, 'limit=100'));
    expect(ids(await walk(admin, `limit=1&chat=${encodeURIComponent(LID_B)}`, path))).toEqual([rows[1]?.id]);
    const row = rows[3] as MessageRow;
    const { status, body } = await read(await call(edge.url, `${path}/${row.id}`, { key: admin }));
    expect(status).toBe(200);
    expect(body).toEqual({ success: true, message: hostMessageView(row, 'mine') });
  });

  it("answer another tenant's session exactly like an unknown one, and another session's message as unknown", async () => {
    const { admin, tenant } = fx();
    const answer = async (key: string, path: string) => {
      const response = await call(edge.url, path, { key });
      return { status: response.status, body: await response.text() };
    };
    // The neighbour's session is called `mine` too: by name, the neighbour's admin reaches its own.
    const neighbour = tenant('neighbour').admin;
    expect(ids((await list(neighbour, '', '/api/admin/sessions/mine/messages')).messages)).toEqual([
      'FOREIGN-ONLY',
      rows[0]?.id,
    ]);
    const unknown = await answer(admin, '/api/admin/sessions/never-was/messages');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ code: 'SESSION_NOT_FOUND' });
    expect(await answer(admin, '/api/admin/sessions/not%20a%20name/messages')).toEqual(unknown);
    expect(await answer(admin, '/api/admin/sessions/never-was/messages/SAME-A')).toEqual(unknown);
    const missing = await answer(admin, '/api/admin/sessions/mine/messages/NEVER-WAS');
    expect(JSON.parse(missing.body)).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
    expect(await answer(admin, '/api/admin/sessions/mine/messages/SIBLING-ONLY')).toEqual(missing);
    expect(await answer(admin, '/api/admin/sessions/mine/messages/FOREIGN-ONLY')).toEqual(missing);
  });

  it('check the query as the session key’s listing does', async () => {
    const { admin } = fx();
    await expectError(
      await call(edge.url, '/api/admin/sessions/mine/messages?before=nope', { key: admin }),
      400,
      'INVALID_CURSOR',
    );
    await expectError(
      await call(edge.url, '/api/admin/sessions/mine/messages?limit=0', { key: admin }),
      400,
      'VALIDATION_ERROR',
    );
  });
});
