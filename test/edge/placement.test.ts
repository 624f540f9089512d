// Where new sessions go: the least-loaded live host that has room (HOST_MAX_SESSIONS), in PostgreSQL.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { chooseHostForNewSession } from '../../edge/hosts/placement.js';
import { listHostLoads } from '../../edge/hosts/queries/hosts.js';
import { registerHost } from '../../node-runtime/host/registry.js';
import { insertTenantSession, useTestDatabase } from '../helpers/postgres.js';

const database = useTestDatabase();
const silent = pino({ level: 'silent' });

describe('placing a new session', () => {
  it('goes to the least-loaded live host with room; none with room is 503 HOST_UNAVAILABLE', async () => {
    const { db } = database();
    const small = await registerHost(
      db,
      { id: 'small', internalUrl: 'http://small', maxSessions: 1 },
      silent,
    );
    const big = await registerHost(db, { id: 'big', internalUrl: 'http://big', maxSessions: 2 }, silent);
    const place = async (name: string) => {
      const host = await chooseHostForNewSession(db);
      const { sessionId } = await insertTenantSession(db, `t-${name}`, name);
      await db.updateTable('sessions').set({ host_id: host.id }).where('id', '=', sessionId).execute();
      return host.id;
    };
    // Ties go to the lowest id: `big` first, then `small` (1 against 1: again `big`), then only `big` has room.
    expect(await place('s1')).toBe('big');
    expect(await place('s2')).toBe('small');
    expect(await place('s3')).toBe('big');
    await expect(chooseHostForNewSession(db)).rejects.toMatchObject({ code: 'HOST_UNAVAILABLE' });
    const loads = await listHostLoads(db);
    expect(loads.map((h) => [h.id, h.sessions, h.maxSessions])).toEqual([
      ['big', 2, 2],
      ['small', 1, 1],
    ]);
    // A host without a limit takes what the others cannot; registering again changes the limit.
    const open = await registerHost(db, { id: 'open', internalUrl: 'http://open' }, silent);
    expect(await place('s4')).toBe('open');
    await small.release(); // a restart: the process gives its lease up, the next one takes the id
    const larger = await registerHost(
      db,
      { id: 'small', internalUrl: 'http://small', maxSessions: 3 },
      silent,
    );
    // `open` and `small` hold one each (the tie goes to `open`); then `small`, which has room again.
    expect(await place('s5')).toBe('open');
    expect(await place('s6')).toBe('small');
    for (const h of [larger, big, open]) await h.stop();
  });
});
