// A pool at rest gives its connections back: idle ones close after the idle timeout, and a trickle of
// queries keeps one connection busy, not all of them in turn (patches/postgres+3.4.9.patch, fault 7:
// postgres.js lent its connections round-robin, so none was ever idle long enough to close).
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { closeDb, createDb } from '../../../node-runtime/db/connect.js';
import { useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();

it('a pool that served a burst shrinks to what a trickle of queries needs', async () => {
  const name = `pool-shrink-${process.pid}`;
  const db = createDb(database().url, { max: 8, applicationName: name, idleSeconds: 1 });
  const backends = async () =>
    Number(
      (
        await sql<{
          n: string;
        }>`select count(*) as n from pg_stat_activity where application_name = ${name}`.execute(database().db)
      ).rows[0]?.n,
    );
  try {
    // A burst opens every connection.
    await Promise.all(Array.from({ length: 8 }, () => sql`select pg_sleep(0.05)`.execute(db)));
    expect(await backends()).toBe(8);
    // Then one query every 50 ms for 2.5 s: each connection but one idles past the timeout.
    const end = Date.now() + 2_500;
    while (Date.now() < end) {
      await sql`select 1`.execute(db);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await backends()).toBeLessThanOrEqual(2);
  } finally {
    await closeDb(db);
  }
});
