// Failover placement: live hosts claim the sessions of a host whose lease lapsed, each up to its fair
// share of the load, whichever claims first, within HOST_MAX_SESSIONS; no session is claimed twice.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { claimOrphans } from '../../../node-runtime/host/handover.js';
import { openTransaction, useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();
let tenantId: string;

const host = async (id: string, { live = true, max = null as number | null, draining = false } = {}) => {
  await database()
    .db.insertInto('hosts')
    .values({
      id,
      internal_url: `http://${id}.invalid`,
      max_sessions: max,
      draining,
      instance: randomUUID(),
      lease_until: live ? sql`now() + interval '1 minute'` : sql`now() - interval '1 second'`,
    })
    .execute();
};

const sessions = async (hostId: string, count: number) => {
  await database()
    .db.insertInto('sessions')
    .values(
      Array.from({ length: count }, (_, i) => ({
        tenant_id: tenantId,
        name: `${hostId}-${i}`,
        host_id: hostId,
      })),
    )
    .execute();
};

const load = async () => {
  const rows = await database()
    .db.selectFrom('sessions')
    .select(['host_id', sql<string>`count(*)`.as('n')])
    .groupBy('host_id')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.host_id, Number(r.n)]));
};

beforeEach(async () => {
  const { db } = database();
  await db.deleteFrom('sessions').execute();
  await db.deleteFrom('hosts').execute();
  tenantId = (await db.insertInto('tenants').values({ name: 't' }).returning('id').executeTakeFirstOrThrow())
    .id;
});

describe('claiming the sessions of a lapsed host', () => {
  it('the live hosts split them evenly even when they claim one after the other', async () => {
    await host('dead', { live: false });
    await sessions('dead', 60);
    await host('b');
    await host('c');
    expect(await claimOrphans(database().db, 'b')).toHaveLength(30);
    expect(await claimOrphans(database().db, 'c')).toHaveLength(30);
    expect(await load()).toEqual({ b: 30, c: 30 });
  });

  it('a host that already carries more takes fewer, so the load evens out', async () => {
    await host('dead', { live: false });
    await sessions('dead', 30);
    await host('b');
    await sessions('b', 20);
    await host('c');
    expect(await claimOrphans(database().db, 'b')).toHaveLength(5); // (30 + 20) / 2 - 20
    expect(await claimOrphans(database().db, 'c')).toHaveLength(25);
    expect(await load()).toEqual({ b: 25, c: 25 });
  });

  it('takes more than its share when the other hosts have no room, but never past its own limit', async () => {
    await host('dead', { live: false });
    await sessions('dead', 40);
    await host('b', { max: 25 });
    await host('c', { max: 5 });
    await host('d', { draining: true }); // a draining host takes nothing and counts for nothing
    expect(await claimOrphans(database().db, 'b')).toHaveLength(25); // 20 is its share; c has room for 5
    expect(await claimOrphans(database().db, 'c')).toHaveLength(5);
    expect(await claimOrphans(database().db, 'd')).toHaveLength(0);
    expect(await load()).toEqual({ b: 25, c: 5, dead: 10 });
  });

  it('the only live host takes them all; nothing is claimed twice', async () => {
    await host('dead', { live: false });
    await sessions('dead', 12);
    await host('b');
    const [first, second] = await Promise.all([
      claimOrphans(database().db, 'b'),
      claimOrphans(database().db, 'b'),
    ]);
    expect(new Set([...(first ?? []), ...(second ?? [])]).size).toBe(12);
    expect((first?.length ?? 0) + (second?.length ?? 0)).toBe(12);
    expect(await load()).toEqual({ b: 12 });
  });

  it('takes a session a client is writing to meanwhile (a message queued for it holds its row for a moment)', async () => {
    await host('dead', { live: false });
    await sessions('dead', 12);
    await host('b');
    const { db } = database();
    const busy = await db
      .selectFrom('sessions')
      .select('id')
      .where('host_id', '=', 'dead')
      .executeTakeFirstOrThrow();
    // A client has queued a message for it and not committed yet: the message's foreign key holds the
    // session's row against a change of its key, not against a move to another host.
    const writing = await openTransaction(db, (trx) =>
      trx
        .insertInto('messages')
        .values({
          session_id: busy.id,
          id: 'QUEUED-MEANWHILE',
          tenant_id: tenantId,
          direction: 'out',
          chat_jid: '628100000001@s.whatsapp.net',
          kind: 'text',
          text: 'hi',
          sent_at: new Date(),
          status: 'queued',
        })
        .execute(),
    );
    try {
      expect(await claimOrphans(db, 'b')).toContain(busy.id);
    } finally {
      await writing.commit();
    }
    expect(await load()).toEqual({ b: 12 });
  });
});
