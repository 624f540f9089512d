// The fenced group writes check the lease in the statement that writes: the sessions this host still
// holds are written, the others refused, and a claim under way makes the write wait for its outcome.
import { sql } from 'kysely';
import postgres from 'postgres';
import { beforeEach, describe, expect, it } from 'vitest';
import { type Fence, LeaseLostError } from '../../../node-runtime/db/lease-fence.js';
import { advanceStatusesWithEvents, insertMessagesWithEvents } from '../../../node-runtime/events/store.js';
import {
  createAuthStore,
  keyWriter,
  readCreds,
  readKeys,
  writeCreds,
  writeKeys,
} from '../../../node-runtime/wa/auth-store.js';
import { insertTenantSession, useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();

type Setup = { tenantId: string; kept: string; moved: string; fence: Fence; lost: string[] };
let setup: Setup;
let round = 0;

/** Two sessions this host ran at epoch 1; `moved` was then claimed by host-b (epoch 2). */
beforeEach(async () => {
  const { db } = database();
  round++;
  await db
    .insertInto('hosts')
    .values([
      { id: 'host-a', internal_url: 'http://a' },
      { id: 'host-b', internal_url: 'http://b' },
    ])
    .onConflict((oc) => oc.doNothing())
    .execute();
  const { tenantId, sessionId: kept } = await insertTenantSession(db, `fence-${round}`, 'kept');
  const moved = (
    await db
      .insertInto('sessions')
      .values({ tenant_id: tenantId, name: 'moved' })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
  await db
    .updateTable('sessions')
    .set({ host_id: 'host-a', lease_epoch: 1 })
    .where('tenant_id', '=', tenantId)
    .execute();
  const lost: string[] = [];
  const fence: Fence = { hostId: 'host-a', epochOf: () => '1', lost: (id) => lost.push(id) };
  setup = { tenantId, kept, moved, fence, lost };
});

const claim = (sessionId: string) =>
  database()
    .db.updateTable('sessions')
    .set({ host_id: 'host-b', lease_epoch: 2 })
    .where('id', '=', sessionId);

const keysOf = async (sessionId: string) =>
  (await database().db.selectFrom('wa_keys').select('id').where('session_id', '=', sessionId).execute()).map(
    (r) => r.id,
  );

const write = (sessionId: string, id: string) => ({
  sessionId,
  changes: [{ type: 'session', id, json: JSON.stringify({ id }) }],
});

describe('fenced writes', () => {
  it('key writes of a batch: the held session is written, the moved one refused and told', async () => {
    const { kept, moved, fence, lost } = setup;
    await claim(moved).execute();
    const results = await writeKeys(database().db, [write(kept, 'k1'), write(moved, 'm1')], fence);
    expect(results[0]).toBeUndefined();
    expect(results[1]).toBeInstanceOf(LeaseLostError);
    expect(await keysOf(kept)).toEqual(['k1']);
    expect(await keysOf(moved)).toEqual([]);
    expect(lost).toEqual([moved]);
  });

  it('a session this host stopped (no epoch) is refused without asking the database', async () => {
    const { kept, fence } = setup;
    const stopped: Fence = { ...fence, epochOf: () => undefined };
    const [result] = await writeKeys(database().db, [write(kept, 'k1')], stopped);
    expect(result).toBeInstanceOf(LeaseLostError);
    expect(await keysOf(kept)).toEqual([]);
  });

  it('creds, messages and statuses: written while held, refused once moved', async () => {
    const { db } = database();
    const { tenantId, kept, moved, fence, lost } = setup;
    await writeCreds(db, kept, '{"me":1}', fence);
    await claim(moved).execute();
    await expect(writeCreds(db, moved, '{"me":2}', fence)).rejects.toBeInstanceOf(LeaseLostError);
    const creds = await db
      .selectFrom('wa_creds')
      .select('session_id')
      .where('session_id', 'in', [kept, moved])
      .execute();
    expect(creds.map((c) => c.session_id)).toEqual([kept]);

    const message = (id: string) => ({
      id,
      direction: 'out' as const,
      chatJid: '628111@s.whatsapp.net',
      chatLid: null,
      senderJid: null,
      senderLid: null,
      kind: 'text' as const,
      text: 'hi',
      quoted: null,
      sentAt: new Date(),
      status: 'queued' as const,
      source: 'api' as const,
    });
    const ref = (id: string, name: string) => ({ id, tenantId, name });
    const inserted = await insertMessagesWithEvents(
      db,
      [
        { session: ref(kept, 'kept'), message: message('out-1'), type: 'message.sent' },
        { session: ref(moved, 'moved'), message: message('out-2'), type: 'message.sent' },
      ],
      fence,
    );
    expect(inserted[0]).toEqual({ hooked: false });
    expect(inserted[1]).toBeInstanceOf(LeaseLostError);
    const stored = await db
      .selectFrom('messages')
      .select('session_id')
      .where('tenant_id', '=', tenantId)
      .execute();
    expect(stored.map((m) => m.session_id)).toEqual([kept]);

    // A held session with nothing to move answers "nothing moved", not a refusal.
    const at = new Date();
    const [sent, none, refused] = await advanceStatusesWithEvents(
      db,
      [
        { session: ref(kept, 'kept'), changes: [{ id: 'out-1', status: 'sent', at, failure: null }] },
        { session: ref(kept, 'kept'), changes: [{ id: 'absent', status: 'sent', at, failure: null }] },
        { session: ref(moved, 'moved'), changes: [{ id: 'out-2', status: 'sent', at, failure: null }] },
      ],
      fence,
    );
    expect(sent).toMatchObject({ moved: [{ id: 'out-1', status: 'sent' }] });
    expect(none).toEqual({ moved: [], hooked: false });
    expect(refused).toBeInstanceOf(LeaseLostError);
    expect(lost).toEqual([moved, moved, moved]);
  });

  it('a late write of an earlier run of a session on this host is refused and stops nothing: the run after it keeps its keys', async () => {
    const { db } = database();
    const { kept, lost } = setup;
    // The host's leases as SessionHost keeps them: the session ran here under epoch 1.
    const epochs = new Map([[kept, '1']]);
    const fence: Fence = { hostId: 'host-a', epochOf: (id) => epochs.get(id), lost: (id) => lost.push(id) };
    const shared = keyWriter(db, fence);
    const first = await createAuthStore(db, kept, { fence, keyWriter: shared });
    await first.state.keys.set({ session: { 'contact.0': Buffer.from('first run') } });
    // It stopped and started again here (a new claim, a new epoch), with a store of its own.
    await db.updateTable('sessions').set({ lease_epoch: 2 }).where('id', '=', kept).execute();
    epochs.set(kept, '2');
    const second = await createAuthStore(db, kept, { fence, keyWriter: shared });
    await second.state.keys.set({ session: { 'contact.0': Buffer.from('second run') } });
    await second.saveCreds();
    const credsBefore = await readCreds(db, kept);
    // Baileys retries a refused commit for 30 s: the first run's retry must not land over the second's.
    await expect(
      first.state.keys.set({ session: { 'contact.0': Buffer.from('stale') } }),
    ).rejects.toBeInstanceOf(LeaseLostError);
    first.state.creds = { ...first.state.creds, registrationId: -1 };
    await expect(first.saveCreds()).rejects.toBeInstanceOf(LeaseLostError);
    // Both runs writing in one batch: only the current one's write goes in.
    const [stale, current] = await Promise.allSettled([
      first.state.keys.set({ session: { 'contact.1': Buffer.from('stale') } }),
      second.state.keys.set({ session: { 'contact.2': Buffer.from('second run') } }),
    ]);
    expect(stale).toMatchObject({ status: 'rejected', reason: expect.any(LeaseLostError) });
    expect(current).toMatchObject({ status: 'fulfilled' });
    const values = Object.fromEntries(
      [...(await readKeys(db, kept, 'session', ['contact.0', 'contact.1', 'contact.2']))].map(
        ([id, json]) => [id, Buffer.from(JSON.parse(json).data, 'base64').toString()],
      ),
    );
    expect(values).toEqual({ 'contact.0': 'second run', 'contact.2': 'second run' });
    expect(await readCreds(db, kept)).toEqual(credsBefore);
    // The refusals were of a run that had ended: the session running here now is not stopped for them.
    expect(lost).toEqual([]);
  });

  it('a write that meets a claim under way waits for it, and is refused once the claim commits', async () => {
    const { kept, lost } = setup;
    const [result] = await writeBehindClaim(kept, 'late', async (writing) => {
      expect(await Promise.race([writing.then(() => 'answered'), pause(100).then(() => 'waiting')])).toBe(
        'waiting',
      );
      return 'commit';
    });
    expect(result).toBeInstanceOf(LeaseLostError);
    expect(lost).toEqual([kept]);
    expect(await keysOf(kept)).toEqual([]);
  });

  it('a claim that is rolled back leaves the write to go ahead', async () => {
    const { kept, lost } = setup;
    expect(await writeBehindClaim(kept, 'kept-key', async () => 'rollback')).toEqual([undefined]);
    expect(lost).toEqual([]);
    expect(await keysOf(kept)).toEqual(['kept-key']);
  });
});

/**
 * Begins a claim of `sessionId` on a connection of its own, starts a fenced key write behind it and
 * waits until the write is blocked on the claim's row lock (pg_stat_activity says so); `decide` then
 * says how the claim ends. Answers what the write answered.
 */
async function writeBehindClaim(
  sessionId: string,
  keyId: string,
  decide: (writing: Promise<unknown>) => Promise<'commit' | 'rollback'>,
) {
  const pg = postgres(database().url, { max: 1, onnotice: () => {} });
  try {
    const claimer = await pg.reserve();
    await claimer`begin`;
    await claimer`update sessions set host_id = 'host-b', lease_epoch = 2 where id = ${sessionId}`;
    const writing = writeKeys(database().db, [write(sessionId, keyId)], setup.fence);
    await expect.poll(waitingOnLock, { timeout: 5_000 }).toBe(true);
    const end = await decide(writing);
    await (end === 'commit' ? claimer`commit` : claimer`rollback`);
    claimer.release();
    return await writing;
  } finally {
    await pg.end();
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether some backend of the test database waits on a row lock. */
async function waitingOnLock(): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock'`.execute(database().db);
  return (rows[0]?.n ?? 0) > 0;
}
