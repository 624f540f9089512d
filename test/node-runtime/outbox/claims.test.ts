// The looks at the queue of a host's sessions that come in one turn of the event loop, or while one is
// under way, go together in one statement: each session gets its own claim, with its own skip list and
// fenced by its own lease. (An outbox looks again only for what it does not hold: it skips what it
// claimed.)
import { type Kysely, RawNode, type RootOperationNode, sql } from 'kysely';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { claimNext } from '../../../node-runtime/outbox/queries.js';
import type { Database } from '../../../shared/db-schema.js';
import { MESSAGE_STATUS_RANK } from '../../../shared/events.js';
import { queueText } from '../../helpers/outbox.js';
import { countingStatements, useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();
const CHAT = '628500000077@s.whatsapp.net';
const ONE_AT_A_TIME = { unpaced: 1, defaultUnpaced: true };

const newSession = async (db: Kysely<Database>, name: string, hostId: string | null = null) => {
  const tenant = await db.insertInto('tenants').values({ name }).returning('id').executeTakeFirstOrThrow();
  const session = await db
    .insertInto('sessions')
    .values({ tenant_id: tenant.id, name, host_id: hostId })
    .returning('id')
    .executeTakeFirstOrThrow();
  return session.id;
};

/** Whether a statement is a look at the queue (a claim). */
const isLook = (node: RootOperationNode) =>
  RawNode.is(node) && node.sqlFragments.some((f) => f.includes('candidates as ('));

/** `db` counting its looks at the queue. */
const countingLooks = (db: Kysely<Database>) => {
  const { counted, count } = countingStatements(db, isLook);
  return { counted, looks: count };
};

describe('looks at the queue made together', () => {
  it('share statements, each claiming for its own session only', async () => {
    const { db } = database();
    const [a, b, c] = [await newSession(db, 'a'), await newSession(db, 'b'), await newSession(db, 'c')];
    const queued = new Map<string, string[]>();
    for (const session of [a, b, c]) {
      queued.set(session, [await queueText(db, session, CHAT, '1'), await queueText(db, session, CHAT, '2')]);
    }
    const { counted, looks } = countingLooks(db);
    const none = new Set<string>();
    // Asked in one turn, all five go together: a, b and c in one round, then b's and a's second looks
    // in another, so that each sees what its session's first claimed.
    const bFirst = new Set([queued.get(b)?.[0] ?? '']);
    const claims = await Promise.all([
      claimNext(counted, a, none, [], ONE_AT_A_TIME),
      claimNext(counted, b, none, [], ONE_AT_A_TIME),
      claimNext(counted, c, none, [], ONE_AT_A_TIME),
      claimNext(counted, b, bFirst, [], ONE_AT_A_TIME),
      claimNext(counted, a, new Set(queued.get(a)), [], ONE_AT_A_TIME),
    ]);
    expect(looks()).toBe(2);
    const ids = claims.map((claim) => claim.messages.map((m) => m.id));
    expect(ids).toEqual([
      [queued.get(a)?.[0]],
      [queued.get(b)?.[0]],
      [queued.get(c)?.[0]],
      [queued.get(b)?.[1]],
      [],
    ]);
    expect(claims.map((claim) => [claim.held, claim.more])).toEqual([
      [true, true],
      [true, true],
      [true, true],
      [true, false],
      [true, false],
    ]);
    // One attempt counted per claim, none twice.
    const attempts = await db.selectFrom('messages').select(['id', 'attempts']).execute();
    const claimed = new Set(ids.flat());
    for (const row of attempts) expect(row.attempts).toBe(claimed.has(row.id) ? 1 : 0);
  });

  it("are fenced each by its own session's lease", async () => {
    const { db } = database();
    await db.insertInto('hosts').values({ id: 'host-claims', internal_url: 'http://127.0.0.1:1' }).execute();
    const mine = await newSession(db, 'mine', 'host-claims');
    const theirs = await newSession(db, 'theirs', 'host-claims');
    await db.updateTable('sessions').set({ lease_epoch: '2' }).where('id', '=', theirs).execute();
    const mineQueued = await queueText(db, mine, CHAT, 'x');
    const held = await queueText(db, theirs, CHAT, 'y');
    const lease = { hostId: 'host-claims', epoch: '1' };
    await db.updateTable('sessions').set({ lease_epoch: '1' }).where('id', '=', mine).execute();
    const none = new Set<string>();
    const [first, ours, stale] = await Promise.all([
      claimNext(db, mine, none, [], ONE_AT_A_TIME, lease),
      claimNext(db, mine, new Set([mineQueued]), [], ONE_AT_A_TIME, lease),
      claimNext(db, theirs, none, [], ONE_AT_A_TIME, lease),
    ]);
    expect([first.held, first.messages.length, ours.held, ours.messages.length]).toEqual([true, 1, true, 0]);
    expect([stale.held, stale.messages]).toEqual([false, []]);
    const row = await db.selectFrom('messages').select('attempts').where('id', '=', held).executeTakeFirst();
    expect(row?.attempts).toBe(0);
  });

  it('claim past many in flight, in queue order, and tell which waiting chats still have messages', async () => {
    const { db } = database();
    const session = await newSession(db, 'busy');
    const other = '628500000088@s.whatsapp.net';
    const ids: string[] = [];
    for (let k = 0; k < 60; k++) ids.push(await queueText(db, session, CHAT, String(k)));
    const waitingOne = await queueText(db, session, other, 'waits');
    const unpaced = { unpaced: 8, defaultUnpaced: true };
    // Fifty handed over and not acknowledged yet: skipped, as a look on the same connection does.
    const inFlight = new Set(ids.slice(0, 50));
    const claim = await claimNext(db, session, inFlight, [other], unpaced);
    expect(claim.messages.map((m) => m.id)).toEqual(ids.slice(50, 58));
    expect([claim.held, claim.more, claim.waitingWithQueued]).toEqual([true, true, [other]]);
    // No chat waiting: nothing to tell, and the waiting chat's message is claimable again.
    const next = await claimNext(db, session, new Set([...inFlight, ...ids.slice(50, 58)]), [], unpaced);
    expect(next.messages.map((m) => m.id)).toEqual([...ids.slice(58), waitingOne]);
    expect([next.more, next.waitingWithQueued]).toEqual([false, []]);
    const attempts = await db
      .selectFrom('messages')
      .select(['id', 'attempts'])
      .where('session_id', '=', session)
      .execute();
    const claimed = new Set([...ids.slice(50), waitingOne]);
    for (const row of attempts) expect([row.id, row.attempts]).toEqual([row.id, claimed.has(row.id) ? 1 : 0]);
  });
});

describe('a look at the queue', () => {
  it('finds what it claims by key, not by reading the whole messages table', async () => {
    const { db, url } = database();
    const session = await newSession(db, 'history');
    // A session with history: thousands of messages that left the queue, and one queued.
    await sql`insert into messages (session_id, id, tenant_id, direction, chat_jid, kind, text, sent_at,
        status, status_rank, status_at, source, outbox_seq)
      select s.id, 'old-' || g, s.tenant_id, 'out', ${CHAT}, 'text', 'old', now(), 'read', ${MESSAGE_STATUS_RANK.read}, now(), 'api',
        nextval('messages_outbox_seq')
      from sessions s cross join generate_series(1, 5000) g where s.id = ${session}`.execute(db);
    const queued = await queueText(db, session, CHAT, 'new');
    await sql`analyze messages`.execute(db);

    // The claim's statement as the host sends it, planned as a prepared statement's generic plan.
    let statement: string | undefined;
    const capturing = db.withPlugin({
      transformQuery: ({ node, queryId }) => {
        if (isLook(node)) {
          statement = db.getExecutor().compileQuery(node, queryId).sql;
        }
        return node;
      },
      transformResult: async ({ result }) => result,
    });
    const claim = await claimNext(capturing, session, new Set(), [], ONE_AT_A_TIME);
    expect(claim.messages.map((m) => m.id)).toEqual([queued]);
    expect(statement).toBeDefined();
    const client = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const rows = await client.unsafe(`explain (generic_plan) ${statement}`).simple();
      const plan = rows.map((row) => String(Object.values(row)[0])).join('\n');
      expect(plan).toContain('Update on messages');
      expect(plan).not.toMatch(/Seq Scan on (messages|sessions)/);
    } finally {
      await client.end();
    }
  });
});
