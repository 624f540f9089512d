// Last-used times (edge/auth/last-used.ts) on the real database: many requests, at most one UPDATE per
// interval, and the latest time of each key lands in api_keys.last_used_at. The edge's clock is moved by
// hand; the only waiting is for the background flush a request started to reach the database.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LastUsedBuffer } from '../../edge/auth/last-used.js';
import { recordKeyUses } from '../../edge/auth/queries/key-usage.js';
import { digestApiKey } from '../../shared/api-key.js';
import { useEdge } from './fixture.js';
import { call, createKey, createSessionRow, startTestEdge, type TestEdge } from './helpers.js';
import { type LoggedDb, loggedDb, manualClock } from './query-log.js';
import type { StandInHost } from './stand-in-host.js';

const FLUSH_SECONDS = 30;
// Each group starts (and restarts) its own edge over a pool that logs its SQL.
const fx = useEdge({ hosts: ['host-last-used'], tenants: ['last-used'], edge: false });
let host: StandInHost;
let tenant: string;

beforeAll(() => {
  ({ host, tenantId: tenant } = fx());
});

let sessions = 0;
async function sessionKey() {
  const { db } = fx();
  const sessionId = await createSessionRow(db, {
    tenantId: tenant,
    name: `lu${++sessions}`,
    hostId: host.id,
  });
  const key = await createKey(db, 'session', { tenantId: tenant, sessionId });
  const { id } = await db
    .selectFrom('api_keys')
    .select('id')
    .where('digest', '=', await digestApiKey(key))
    .executeTakeFirstOrThrow();
  return { key, id };
}

async function lastUsed(id: string): Promise<number | null> {
  const row = await fx()
    .db.selectFrom('api_keys')
    .select('last_used_at')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return row.last_used_at?.getTime() ?? null;
}

describe('last-used times', () => {
  let logged: LoggedDb;
  let edge: TestEdge;
  const clock = manualClock();

  beforeAll(async () => {
    logged = loggedDb(fx().database.url);
    edge = await startTestEdge(logged.db, { now: clock.now, lastUsed: { flushSeconds: FLUSH_SECONDS } });
  });

  afterAll(async () => {
    await edge?.close();
    await logged?.db.destroy();
  });

  it('writes nothing per request, then one UPDATE per interval with each key’s latest time', async () => {
    const a = await sessionKey();
    const b = await sessionKey();
    const start = clock.ms();
    // 58 requests over 29 s of the clock: not one write.
    for (let s = 0; s < FLUSH_SECONDS - 1; s++) {
      clock.set(start + s * 1000);
      expect((await call(edge.url, '/api/session/status', { key: a.key })).status).toBe(200);
      expect((await call(edge.url, '/api/session/status', { key: b.key })).status).toBe(200);
    }
    const bLastAt = clock.ms();
    expect(logged.lastUsedWrites()).toBe(0);
    expect([await lastUsed(a.id), await lastUsed(b.id)]).toEqual([null, null]);

    // The first request once the interval is up starts one flush, after its response.
    clock.set(start + FLUSH_SECONDS * 1000);
    const aLastAt = clock.ms();
    expect((await call(edge.url, '/api/session/status', { key: a.key })).status).toBe(200);
    await vi.waitFor(async () => expect(await lastUsed(a.id)).toBe(aLastAt));
    expect(await lastUsed(b.id)).toBe(bLastAt);
    expect(logged.lastUsedWrites()).toBe(1);

    // Another 29 s of traffic: still that one write.
    for (let s = 1; s < FLUSH_SECONDS; s++) {
      clock.set(aLastAt + s * 1000);
      expect((await call(edge.url, '/api/session/status', { key: b.key })).status).toBe(200);
    }
    expect(logged.lastUsedWrites()).toBe(1);
    clock.set(aLastAt + FLUSH_SECONDS * 1000);
    expect((await call(edge.url, '/api/session/status', { key: b.key })).status).toBe(200);
    await vi.waitFor(async () => expect(await lastUsed(b.id)).toBe(clock.ms()));
    expect(logged.lastUsedWrites()).toBe(2);
    expect(await lastUsed(a.id)).toBe(aLastAt);
  });

  it('records a request refused for its scope too: the key was used', async () => {
    const a = await sessionKey();
    // A session key on the admin route: authenticated, then 403 WRONG_SCOPE.
    const response = await call(edge.url, '/api/session/create', { key: a.key, json: {} });
    expect(response.status).toBe(403);
    await edge.close();
    expect(await lastUsed(a.id)).toBe(clock.ms());
    edge = await startTestEdge(logged.db, { now: clock.now, lastUsed: { flushSeconds: FLUSH_SECONDS } });
  });

  it('writes what is buffered when the edge shuts down', async () => {
    const a = await sessionKey();
    clock.advance(1_000);
    const writes = logged.lastUsedWrites();
    expect((await call(edge.url, '/api/session/status', { key: a.key })).status).toBe(200);
    expect(logged.lastUsedWrites()).toBe(writes);
    await edge.close();
    expect(logged.lastUsedWrites()).toBe(writes + 1);
    expect(await lastUsed(a.id)).toBe(clock.ms());
    edge = await startTestEdge(logged.db, { now: clock.now, lastUsed: { flushSeconds: FLUSH_SECONDS } });
  });
});

describe('the batched UPDATE', () => {
  it('never moves a time backwards (a late batch from another edge instance)', async () => {
    const { db } = fx();
    const a = await sessionKey();
    const later = new Date(Date.now() + 3_600_000);
    const earlier = new Date(Date.now() - 3_600_000);
    expect(await recordKeyUses(db, [{ keyId: a.id, at: later }])).toBe(1);
    expect(await recordKeyUses(db, [{ keyId: a.id, at: earlier }])).toBe(1);
    expect(await lastUsed(a.id)).toBe(later.getTime());
  });

  it('updates many keys in one statement and skips ids that are gone', async () => {
    const { url } = fx().database;
    const keys = await Promise.all(Array.from({ length: 20 }, () => sessionKey()));
    const at = new Date(Date.now() - 5_000);
    const logged = loggedDb(url);
    try {
      const uses = [...keys.map((k) => ({ keyId: k.id, at })), { keyId: crypto.randomUUID(), at }];
      expect(await recordKeyUses(logged.db, uses)).toBe(20);
      expect(logged.statements).toHaveLength(1);
    } finally {
      await logged.db.destroy();
    }
    for (const k of keys) expect(await lastUsed(k.id)).toBe(at.getTime());
  });

  it('keeps the uses of a failed flush for the next one, and waits an interval before retrying', async () => {
    const { db } = fx();
    const a = await sessionKey();
    const clock = manualClock();
    const buffer = new LastUsedBuffer({ intervalMs: 30_000, maxPending: 10, now: clock.ms });
    const usedAt = clock.ms();
    buffer.record(a.id, usedAt);
    clock.advance(30_000);
    expect(buffer.due()).toBe(true);
    await expect(buffer.flush(() => Promise.reject(new Error('database down')))).rejects.toThrow(/down/);
    expect(buffer.pending).toBe(1);
    expect(buffer.due()).toBe(false);
    clock.advance(30_000);
    expect(buffer.due()).toBe(true);
    await buffer.flush((uses) => recordKeyUses(db, uses));
    expect(buffer.pending).toBe(0);
    expect(await lastUsed(a.id)).toBe(usedAt);
  });

  it('holds a bounded number of keys between flushes; a full buffer makes a flush due at once', () => {
    const clock = manualClock();
    const buffer = new LastUsedBuffer({ intervalMs: 30_000, maxPending: 3, now: clock.ms });
    for (const id of ['a', 'b']) buffer.record(id, clock.ms());
    expect(buffer.due()).toBe(false);
    buffer.record('c', clock.ms());
    expect(buffer.due()).toBe(true);
    buffer.record('d', clock.ms());
    expect(buffer.pending).toBe(3);
  });
});
