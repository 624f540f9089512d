// The event log as backends pull it (GET /api/events): in the log's order, filtered by type, paged by
// the last event seen, long polling with `wait`; a session key sees its session only, an admin key the
// whole tenant; a cursor that is not the caller's is refused without saying why.
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GatewayEvent } from '../../shared/events.js';
import { read } from './admin-helpers.js';
import { addEvent, sessionWithKey, statusEvent, type TestSession } from './event-helpers.js';
import { useEdge } from './fixture.js';
import { call, expectError, type TestEdge } from './helpers.js';
import { type LoggedDb, loggedDb } from './query-log.js';

let logged: LoggedDb;
const fx = useEdge({
  hosts: [],
  tenants: ['tenant', 'neighbour', 'quiet'],
  edge: ({ database }) => {
    logged = loggedDb(database.url);
    return { db: logged.db };
  },
});
let edge: TestEdge;
let one: TestSession;
let two: TestSession;
let foreign: TestSession;
/** Tenant `tenant`'s event ids in the order they were written. */
const written: string[] = [];
let tenantEventId: string;
let foreignEventId: string;

type Page = { success: true; events: GatewayEvent[]; nextCursor: string | null };

const events = async (key: string, query = '') => {
  const { status, body } = await read<Page>(await call(edge.url, `/api/events${query}`, { key }));
  expect(status, JSON.stringify(body)).toBe(200);
  return body;
};

/** Every event the caller can see, following the cursor until nothing new comes. */
async function walk(key: string, query: string): Promise<GatewayEvent[]> {
  const out: GatewayEvent[] = [];
  let after: string | null = null;
  for (;;) {
    const page: Page = await events(key, `?${query}${after ? `&after=${after}` : ''}`);
    out.push(...page.events);
    if (page.events.length === 0) {
      expect(page.nextCursor).toBe(after);
      return out;
    }
    expect(page.nextCursor).toBe(page.events.at(-1)?.id);
    after = page.nextCursor;
  }
}

const ids = (list: GatewayEvent[]) => list.map((e) => e.id);
const sessionOf = (s: TestSession) => ({ tenantId: s.tenantId, id: s.id, name: s.name });

beforeAll(async () => {
  const { db, tenantId, tenant } = fx();
  edge = fx().edge;
  one = await sessionWithKey(db, tenantId, 'one');
  two = await sessionWithKey(db, tenantId, 'two');
  foreign = await sessionWithKey(db, tenant('neighbour').id, 'one');
  written.push(await statusEvent(db, sessionOf(one), 'connecting'));
  written.push(await statusEvent(db, sessionOf(two), 'connecting'));
  written.push(await addEvent(db, sessionOf(one), 'session.qr', { sessionId: 'one', qr: '2@abc' }));
  tenantEventId = await addEvent(db, { tenantId, id: null, name: null }, 'webhook.disabled', {
    webhookId: '00000000-0000-4000-8000-000000000000',
    url: 'https://example.com/hook',
    reason: 'the endpoint answered 410 Gone',
  });
  written.push(tenantEventId);
  written.push(
    await addEvent(db, sessionOf(one), 'message.status', {
      sessionId: 'one',
      id: '3EB0AAAA',
      chat: '6281111111111@s.whatsapp.net',
      status: 'delivered',
      failure: null,
      at: '2026-01-31T08:00:00.000Z',
    }),
  );
  // An event whose id sorts before all the others but which was written last: the log's order is the
  // order things were committed in, not the ids'.
  const early = 'evt_00000000000000000000000000';
  await db
    .insertInto('events')
    .values({
      id: early,
      tenant_id: tenantId,
      session_id: one.id,
      session_name: 'one',
      type: 'session.status',
      data: {
        sessionId: 'one',
        state: 'connected',
        previousState: 'connecting',
        connected: true,
        user: { id: '6281111111111@s.whatsapp.net', name: 'Satu' },
        reason: null,
      },
      created_at: sql<Date>`now() - interval '1 hour'`,
    })
    .execute();
  written.push(early);
  foreignEventId = await statusEvent(db, sessionOf(foreign), 'connecting');
});

const ofOne = () => written.filter((_, i) => [0, 2, 4, 5].includes(i));

describe('GET /api/events', () => {
  it('gives an admin every event of the tenant in the order they were written, the tenant’s own included', async () => {
    const page = await events(fx().admin);
    expect(ids(page.events)).toEqual(written);
    expect(page.nextCursor).toBe(written.at(-1));
    expect(page.events[3]).toEqual({
      id: tenantEventId,
      type: 'webhook.disabled',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      sessionId: null,
      data: {
        webhookId: '00000000-0000-4000-8000-000000000000',
        url: 'https://example.com/hook',
        reason: 'the endpoint answered 410 Gone',
      },
    });
    expect(page.events[2]).toMatchObject({ type: 'session.qr', sessionId: 'one', data: { qr: '2@abc' } });
  });

  it("gives a session key its own session's events only, never the tenant's own or another session's", async () => {
    expect(ids((await events(one.key)).events)).toEqual(ofOne());
    expect(ids((await events(two.key)).events)).toEqual([written[1]]);
    expect(ids((await events(foreign.key)).events)).toEqual([foreignEventId]);
    expect(ids((await events(fx().tenant('neighbour').admin)).events)).toEqual([foreignEventId]);
  });

  it('pages by `after`, each page going on where the last ended, the cursor kept when nothing is new', async () => {
    expect(ids(await walk(fx().admin, 'limit=1'))).toEqual(written);
    expect(ids(await walk(fx().admin, 'limit=4'))).toEqual(written);
    expect(ids(await walk(one.key, 'limit=2'))).toEqual(ofOne());
    const first = await events(fx().admin, '?limit=2');
    expect(ids(first.events)).toEqual(written.slice(0, 2));
    expect(ids((await events(fx().admin, `?after=${first.nextCursor}&limit=2`)).events)).toEqual(
      written.slice(2, 4),
    );
  });

  it('has a null cursor only when there is no event at all', async () => {
    expect(await events(fx().tenant('quiet').admin)).toEqual({ success: true, events: [], nextCursor: null });
    expect(await events(fx().tenant('quiet').admin, '?types=message.received')).toEqual({
      success: true,
      events: [],
      nextCursor: null,
    });
  });

  it('filters by type, one or several', async () => {
    const statuses = await events(fx().admin, '?types=session.status');
    expect(ids(statuses.events)).toEqual([written[0], written[1], written[5]]);
    expect(statuses.events.every((e) => e.type === 'session.status')).toBe(true);
    const two = await events(fx().admin, '?types=session.qr,%20webhook.disabled,session.qr');
    expect(ids(two.events)).toEqual([written[2], written[3]]);
    expect(ids((await events(one.key, '?types=webhook.disabled')).events)).toEqual([]);
    expect(ids(await walk(fx().admin, 'types=session.status,message.status&limit=1'))).toEqual([
      written[0],
      written[1],
      written[4],
      written[5],
    ]);
  });

  it('400 VALIDATION_ERROR naming an unknown type', async () => {
    const body = await expectError(
      await call(edge.url, '/api/events?types=session.status,message.nope', { key: fx().admin }),
      400,
      'VALIDATION_ERROR',
    );
    expect(body.details).toEqual([
      { path: 'types', message: expect.stringContaining('unknown event type "message.nope"') },
    ]);
    await expectError(
      await call(edge.url, '/api/events?types=', { key: fx().admin }),
      400,
      'VALIDATION_ERROR',
    );
    await expectError(
      await call(edge.url, '/api/events?types=,', { key: fx().admin }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it.each([
    ['limit 0', 'limit=0'],
    ['limit 501', 'limit=501'],
    ['a limit that is no number', 'limit=all'],
    ['a negative wait', 'wait=-1'],
    ['a wait over 30 seconds', 'wait=31'],
    ['a wait that is no number', 'wait=forever'],
  ])('400 VALIDATION_ERROR for %s', async (_name, query) => {
    await expectError(
      await call(edge.url, `/api/events?${query}`, { key: fx().admin }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('takes up to 500 a page', async () => {
    expect(ids((await events(fx().admin, '?limit=500')).events)).toEqual(written);
  });

  it('answers a cursor that is malformed, unknown, another tenant’s or another session’s with one 400', async () => {
    const answer = async (key: string, after: string) => {
      const response = await call(edge.url, `/api/events?after=${encodeURIComponent(after)}`, { key });
      return { status: response.status, body: await response.text() };
    };
    const malformed = await answer(fx().admin, 'not-an-event');
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toEqual({
      success: false,
      error: expect.any(String),
      code: 'INVALID_CURSOR',
    });
    const cases: [string, string, string][] = [
      ['unknown', fx().admin, 'evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ'],
      ['lower case', fx().admin, (written[0] ?? '').toLowerCase()],
      ["another tenant's, to an admin", fx().admin, foreignEventId],
      ["another tenant's, to a session key", one.key, foreignEventId],
      ["another session's", one.key, written[1] ?? ''],
      ["the tenant's own, to a session key", one.key, tenantEventId],
      ['empty', one.key, ''],
      ['very long', one.key, `evt_${'A'.repeat(500)}`],
    ];
    for (const [name, key, after] of cases) {
      expect(await answer(key, after), name).toEqual(malformed);
    }
  });

  describe('wait', () => {
    it('answers as soon as an event arrives during the wait', async () => {
      const { db, tenant } = fx();
      const quiet = await sessionWithKey(db, tenant('quiet').id, 'waiting');
      const before = await statusEvent(db, sessionOf(quiet), 'connecting');
      const pending = call(edge.url, `/api/events?after=${before}&wait=20`, { key: quiet.key });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const arrived = await statusEvent(db, sessionOf(quiet), 'awaiting-qr');
      const { status, body } = await read<Page>(await pending);
      expect(status).toBe(200);
      expect(ids(body.events)).toEqual([arrived]);
      expect(body.events[0]).toMatchObject({ type: 'session.status', data: { state: 'awaiting-qr' } });
      expect(body.nextCursor).toBe(arrived);
    });

    it('answers with nothing, and the same cursor, when the wait runs out', async () => {
      const last = written.at(-1) ?? '';
      const page = await events(one.key, `?after=${last}&wait=0.4`);
      expect(page).toEqual({ success: true, events: [], nextCursor: last });
      // An event of another session arriving meanwhile does not end this session's wait.
      const pending = events(one.key, `?after=${last}&wait=0.8`);
      await statusEvent(fx().db, sessionOf(two), 'reconnecting');
      expect(await pending).toEqual({ success: true, events: [], nextCursor: last });
    });

    it('stops looking once the client has gone away', async () => {
      const last = written.at(-1) ?? '';
      const eventReads = () => logged.statements.filter((s) => /from "events"/.test(s)).length;
      const controller = new AbortController();
      const request = fetch(`${edge.url}/api/events?after=${last}&wait=30`, {
        headers: { 'x-api-key': one.key },
        signal: controller.signal,
      }).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 700));
      const whileWaiting = eventReads();
      controller.abort();
      await request;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const afterAbort = eventReads();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      // It was looking (every 250 ms), and has stopped.
      expect(whileWaiting).toBeGreaterThanOrEqual(2);
      expect(eventReads()).toBe(afterAbort);
    });
  });
});
