// Which writes commit without waiting for the WAL to reach disk (shared/async-commit.ts), seen from
// PostgreSQL: a backend that commits synchronously writes the WAL itself before its commit returns; an
// asynchronous commit leaves that to the WAL writer. Counted per backend (pg_stat_get_backend_io) on a
// one-connection pool that commits synchronously, whatever the test server's own setting.
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueMessage } from '../../edge/outbox/queries.js';
import { createDb } from '../../node-runtime/db/connect.js';
import { advanceStatusesWithEvents, type SessionRef } from '../../node-runtime/events/store.js';
import { claimNext } from '../../node-runtime/outbox/queries.js';
import { writeKeys } from '../../node-runtime/wa/auth-store.js';
import { asyncCommitIf } from '../../shared/async-commit.js';
import type { Database } from '../../shared/db-schema.js';
import { queueText } from '../helpers/outbox.js';
import { insertTenantSession, useTestDatabase } from '../helpers/postgres.js';

const database = useTestDatabase();
const CHAT = '628500000088@s.whatsapp.net';
let one: Kysely<Database>;
let session: SessionRef;

beforeAll(async () => {
  one = createDb(database().url, { max: 1 });
  await sql`set synchronous_commit = on`.execute(one);
  await sql`create table commit_probe (n int)`.execute(one);
  const { tenantId, sessionId } = await insertTenantSession(database().db, 't', 's');
  session = { id: sessionId, tenantId, name: 's' };
});

afterAll(async () => {
  await one.destroy();
});

/** The WAL writes the pool's one backend made itself so far. */
const walWrites = async () => {
  // Its statistics are published at the end of the next transaction, not within a second of it.
  await sql`select pg_stat_force_next_flush()`.execute(one);
  const { rows } = await sql<{ writes: number }>`
    select coalesce(sum(writes), 0)::int as writes
    from pg_stat_get_backend_io(pg_backend_pid()) where object = 'wal'`.execute(one);
  return rows[0]?.writes ?? 0;
};

/** Whether `work` (on the one connection) waited for the WAL at its commits. */
const waitsForDisk = async (work: () => Promise<unknown>) => {
  const before = await walWrites();
  await work();
  return (await walWrites()) > before;
};

const queued = () => queueText(database().db, session.id, CHAT, 'hello');
const sender = () => ({ tenantId: session.tenantId, sessionId: session.id, sessionName: session.name });
const status = (id: string, to: 'sent' | 'delivered') => ({ id, status: to, at: new Date(), failure: null });

describe('asynchronous commit', () => {
  it('applies to the statement that asks for it, not to the next one on its connection', async () => {
    const relaxed = () =>
      sql`insert into commit_probe values (1) returning ${asyncCommitIf(one, true)}`.execute(one);
    const plain = () =>
      sql`insert into commit_probe values (2) returning ${asyncCommitIf(one, false)}`.execute(one);
    expect(await waitsForDisk(relaxed)).toBe(false);
    expect(await waitsForDisk(plain)).toBe(true);
    const { rows } = await sql<{
      mode: string;
    }>`select current_setting('synchronous_commit') as mode`.execute(one);
    expect(rows[0]?.mode).toBe('on');
  });

  it('is never asked for inside a transaction, whose other writes it would reach', async () => {
    const inside = () =>
      one.transaction().execute(async (trx) => {
        const { rows } = await sql<{ mode: string | null }>`
          insert into commit_probe values (3) returning ${asyncCommitIf(trx, true)} as mode`.execute(trx);
        expect(rows[0]?.mode).toBeNull();
      });
    expect(await waitsForDisk(inside)).toBe(true);
  });

  it("is what an outbox claim does: the message's keys are committed, synchronously, before it leaves", async () => {
    const id = await queued();
    let claimed: string[] = [];
    const claim = async () => {
      const found = await claimNext(one, session.id, new Set(), [], { unpaced: 8, defaultUnpaced: true });
      claimed = found.messages.map((m) => m.id);
    };
    expect(await waitsForDisk(claim)).toBe(false);
    expect(claimed).toEqual([id]);
    const keys = () =>
      writeKeys(one, [{ sessionId: session.id, changes: [{ type: 'session', id: 'a.0', json: '{"k":1}' }] }]);
    expect(await waitsForDisk(keys)).toBe(true);
  });

  it("is what WhatsApp's acks do (a lost one is sent again under the same id), not its receipts", async () => {
    const [acked, delivered] = [await queued(), await queued()];
    const ack = () => advanceStatusesWithEvents(one, [{ session, changes: [status(acked, 'sent')] }]);
    expect(await waitsForDisk(ack)).toBe(false);
    const mixed = () =>
      advanceStatusesWithEvents(one, [
        { session, changes: [status(delivered, 'sent'), status(acked, 'delivered')] },
      ]);
    expect(await waitsForDisk(mixed)).toBe(true);
    const { db } = database();
    const rows = await db
      .selectFrom('messages')
      .select(['id', 'status'])
      .where('id', 'in', [acked, delivered])
      .execute();
    expect(new Map(rows.map((r) => [r.id, r.status]))).toEqual(
      new Map([
        [acked, 'delivered'],
        [delivered, 'sent'],
      ]),
    );
  });

  it('is what `/api/send` queueing does (answered after a later commit), not the outbox route (202)', async () => {
    const request = { to: CHAT, text: 'hi', leaseMs: 30_000 };
    const now = new Date();
    const send = () => queueMessage(one, sender(), { ...request, answeredLater: true }, now);
    expect(await waitsForDisk(send)).toBe(false);
    const outbox = () => queueMessage(one, sender(), request, now);
    expect(await waitsForDisk(outbox)).toBe(true);
  });
});
