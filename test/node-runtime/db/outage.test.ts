// A database outage as one pool sees it (every connection dropped, new ones refused, then back): queries
// under way fail with the connection's own error, none throws out of a timer (that would kill the
// process), and the pool reaches the database again once it returns. patches/postgres+3.4.9.patch and
// patches/kysely+0.29.9.patch exist for these.
import { sql } from 'kysely';
import postgres from 'postgres';
import { expect, it } from 'vitest';
import { closeDb, createDb } from '../../../node-runtime/db/connect.js';
import { useTestDatabase } from '../../helpers/postgres.js';
import { startTcpProxy } from '../../helpers/tcp-proxy.js';

const database = useTestDatabase();

/** What a query came to: 'ok', or the error it failed with. */
const outcomeOf = (query: Promise<unknown>) =>
  query.then(
    () => 'ok' as const,
    (err: Error) => err,
  );

it('transactions cut off fail with the connection error; the pool connects again once the database is back', async () => {
  const proxy = await startTcpProxy(database().url);
  const db = createDb(proxy.url, { max: 4 });
  try {
    const select = () => sql<{ one: number }>`select 1 as one`.execute(db);
    await select();
    const slow = () =>
      db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await sql`select 2`.execute(trx);
      });
    const cutOff = [slow(), slow(), select()].map(outcomeOf);
    await new Promise((resolve) => setTimeout(resolve, 100));
    proxy.cut();
    for (const outcome of await Promise.all(cutOff.slice(0, 2))) {
      expect(outcome).toBeInstanceOf(Error);
      expect((outcome as Error).name).not.toBe('TypeError');
      expect((outcome as Error).message).toMatch(/ECONNRESET|CONNECTION_(CLOSED|DESTROYED)/);
    }
    // Small writes buffered while the sockets died must not throw from a timer (an uncaught error fails
    // this file): give them a few ticks.
    await new Promise((resolve) => setTimeout(resolve, 200));
    proxy.restore();
    // Back within the bounded reconnect delay, on every connection of the pool.
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 8 }, () => select()));
    expect(results.map((r) => r.rows[0]?.one)).toEqual(Array(8).fill(1));
    expect(Date.now() - started).toBeLessThan(5_000);
  } finally {
    await closeDb(db);
    await proxy.close();
  }
});

it('queries and transactions started while the database is away all end, once it is back', async () => {
  const proxy = await startTcpProxy(database().url);
  const db = createDb(proxy.url, { max: 4 });
  try {
    const select = () => sql`select 1 as one`.execute(db);
    const transaction = () =>
      db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        await sql`select 2`.execute(trx);
      });
    await Promise.all([select(), select(), select(), select()]);
    proxy.cut();
    const during: Promise<string>[] = [];
    for (let i = 0; i < 12; i++) {
      during.push(outcomeOf(i % 2 ? transaction() : select()).then((o) => (o === 'ok' ? o : o.message)));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    proxy.restore();
    // Each one ends (done, or failed with the connection's error): none waits forever for a connection.
    const ended = await Promise.all(
      during.map((p) =>
        Promise.race([p, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5_000))]),
      ),
    );
    expect(ended.filter((e) => e === 'still waiting')).toEqual([]);
    expect(ended.slice(-3)).toEqual(['ok', 'ok', 'ok']);
  } finally {
    await closeDb(db);
    await proxy.close();
  }
});

it('transactions cut off at any point all end: none waits forever on a connection that failed under it', async () => {
  const proxy = await startTcpProxy(database().url);
  const db = createDb(proxy.url, { max: 6 });
  try {
    const transaction = (i: number) =>
      db.transaction().execute(async (trx) => {
        await sql`select ${i}::int`.execute(trx);
        await new Promise((resolve) => setTimeout(resolve, i % 7));
        await sql`select pg_sleep(0.001 * ${i % 5})`.execute(trx);
        await sql`select ${i}::int`.execute(trx);
      });
    for (let round = 0; round < 25; round++) {
      const inFlight = Array.from({ length: 12 }, (_, i) =>
        outcomeOf(transaction(round * 12 + i)).then((o) => (o === 'ok' ? o : o.message)),
      );
      // Cut at a different point of their statements each round.
      await new Promise((resolve) => setTimeout(resolve, round % 9));
      proxy.cut();
      await new Promise((resolve) => setTimeout(resolve, 20));
      proxy.restore();
      const ended = await Promise.all(
        inFlight.map((p) =>
          Promise.race([p, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 10_000))]),
        ),
      );
      expect(
        ended.filter((e) => e === 'still waiting'),
        `round ${round}`,
      ).toEqual([]);
    }
    // And the pool works afterwards, once the last cut's connections have closed.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows).toEqual([{ one: 1 }]);
  } finally {
    await closeDb(db);
    await proxy.close();
  }
});

it('a pool whose queries were cut off closes at once: no connection waits on a query that already failed', async () => {
  const proxy = await startTcpProxy(database().url);
  const db = createDb(proxy.url, { max: 3 });
  try {
    const sleeps = Array.from({ length: 3 }, () => outcomeOf(sql`select pg_sleep(0.5)`.execute(db)));
    await new Promise((resolve) => setTimeout(resolve, 150));
    proxy.cut();
    for (const outcome of await Promise.all(sleeps)) expect(outcome).toBeInstanceOf(Error);
    proxy.restore();
    // db.destroy() itself, without closeDb's time bound: it waited forever for the failed queries.
    const ended = await Promise.race([
      db.destroy().then(() => 'ended'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 3_000)),
    ]);
    expect(ended).toBe('ended');
  } finally {
    await closeDb(db, 1_000);
    await proxy.close();
  }
});

it("a reservation's queries waiting behind one under way fail when the connection drops, instead of waiting forever", async () => {
  const proxy = await startTcpProxy(database().url);
  const pg = postgres(proxy.url, { max: 2, onnotice: () => {} });
  try {
    const reserved = await pg.reserve();
    // The first is under way (a statement not prepared yet takes the connection out of turn), so the
    // second waits in the reservation's own queue.
    const first = outcomeOf(reserved`select pg_sleep(${0.5})`);
    const second = outcomeOf(reserved`select ${1}::int as one`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    proxy.cut();
    expect(await first).toBeInstanceOf(Error);
    const outcome = await Promise.race([
      second,
      new Promise((r) => setTimeout(() => r('still waiting'), 3_000)),
    ]);
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/CONNECTION_CLOSED|ECONNRESET/);
    reserved.release();
    proxy.restore();
    // The pool still serves once the database is back.
    expect((await pg`select 2 as two`)[0]?.two).toBe(2);
  } finally {
    await Promise.race([pg.end({ timeout: 1 }), new Promise((r) => setTimeout(r, 2_000))]);
    await proxy.close();
  }
});
