// The key look-up cache (edge/auth/key-cache.ts) through the edge, on the real database: a cached key costs
// no database round trip, and a key that stops being good is refused within 5 seconds however warm the
// cache. Time is the edge's injected clock, moved by hand: nothing here waits or measures real time.
import { beforeAll, describe, expect, it } from 'vitest';
import { KeyCache } from '../../edge/auth/key-cache.js';
import { findKeyByDigest, type KeyLookup } from '../../edge/auth/queries/api-keys.js';
import { MAX_KEY_CACHE_TTL_MS, parseEdgeConfig } from '../../edge/config.js';
import { digestApiKey, generateApiKey } from '../../shared/api-key.js';
import { useEdge } from './fixture.js';
import {
  call,
  createKey,
  createSessionRow,
  createTenant,
  expectError,
  HOST_SECRET,
  type TestEdge,
} from './helpers.js';
import { countingLookup, type LoggedDb, loggedDb, manualClock } from './query-log.js';
import type { StandInHost } from './stand-in-host.js';

const clock = manualClock();
const lookups = countingLookup();
let logged: LoggedDb;
const fx = useEdge({
  hosts: ['host-key-cache'],
  tenants: ['cached'],
  // The edge's own pool logs its SQL; its key look-ups go through a counter.
  edge: ({ database }) => {
    logged = loggedDb(database.url);
    return { db: logged.db, now: clock.now, keyLookup: lookups.lookup };
  },
});
let host: StandInHost;
let edge: TestEdge;
let tenant: string;
let sessions = 0;

const TTL = MAX_KEY_CACHE_TTL_MS;

beforeAll(() => {
  ({ host, edge, tenantId: tenant } = fx());
});

/** A session key of a fresh session of `tenantId`, owned by the stand-in host. */
async function sessionKey(options: { tenantId?: string; expiresAt?: Date; overlapUntil?: Date } = {}) {
  const { db } = fx();
  const tenantId = options.tenantId ?? tenant;
  const sessionId = await createSessionRow(db, { tenantId, name: `s${++sessions}`, hostId: host.id });
  const key = await createKey(db, 'session', { tenantId, sessionId, ...options });
  const { id } = await db
    .selectFrom('api_keys')
    .select('id')
    .where('digest', '=', await digestApiKey(key))
    .executeTakeFirstOrThrow();
  return { key, id, sessionId };
}

const status = (key: string) => call(edge.url, '/api/session/status', { key });

async function expectRefused(key: string) {
  await expectError(await status(key), 403, 'INVALID_API_KEY', 'API key tidak valid');
}

describe('a cached key', () => {
  it('costs no database round trip for TTL, then one', async () => {
    const { key } = await sessionKey();
    const [calls, reads] = [lookups.calls(), logged.keyReads()];
    expect((await status(key)).status).toBe(200);
    expect([lookups.calls() - calls, logged.keyReads() - reads]).toEqual([1, 1]);
    const warmedAt = clock.ms();

    for (const at of [0, 1, 1_000, 2_000, 3_000, TTL - 1]) {
      clock.set(warmedAt + at);
      expect((await status(key)).status).toBe(200);
    }
    // Six more requests within the TTL, and not one statement read api_keys.
    expect([lookups.calls() - calls, logged.keyReads() - reads]).toEqual([1, 1]);

    clock.set(warmedAt + TTL);
    expect((await status(key)).status).toBe(200);
    expect([lookups.calls() - calls, logged.keyReads() - reads]).toEqual([2, 2]);
  });

  it('cannot be configured to live longer than 4 s, so changes land within 5 s', () => {
    expect(() => parseEdgeConfig({ hostSecret: HOST_SECRET, keyCache: { ttlMs: TTL + 1 } })).toThrow(
      /keyCache\.ttlMs/,
    );
    expect(parseEdgeConfig({ hostSecret: HOST_SECRET }).keyCache.ttlMs).toBe(TTL);
    expect(TTL).toBeLessThan(5_000);
  });
});

describe('changes made elsewhere (another edge instance, or straight in the database)', () => {
  it('a revoked key is served from the warm cache for less than the TTL, and refused from then on', async () => {
    const { db } = fx();
    const { key, id } = await sessionKey();
    expect((await status(key)).status).toBe(200);
    const warmedAt = clock.ms();
    await db.updateTable('api_keys').set({ revoked_at: clock.now() }).where('id', '=', id).execute();

    // The bound, both sides: still the cached record just before the TTL is up...
    clock.set(warmedAt + TTL - 1);
    expect((await status(key)).status).toBe(200);
    // ...and refused at the TTL, well inside 5 s of the revocation.
    clock.set(warmedAt + TTL);
    await expectRefused(key);
    expect(clock.ms() - warmedAt).toBeLessThan(5_000);
    // And it stays refused (a refusal is not cached as "fine").
    clock.advance(TTL * 3);
    await expectRefused(key);
  });

  it("a suspended tenant's keys are refused within the TTL", async () => {
    const { db } = fx();
    const other = await createTenant(db, { name: 'to-suspend' });
    const { key } = await sessionKey({ tenantId: other });
    expect((await status(key)).status).toBe(200);
    const warmedAt = clock.ms();
    await db.updateTable('tenants').set({ status: 'suspended' }).where('id', '=', other).execute();
    clock.set(warmedAt + TTL);
    await expectRefused(key);
  });

  it('a slow database read does not stretch the bound: an entry is as old as the moment its read began', async () => {
    const { db } = fx();
    const { key, id } = await sessionKey();
    // A cache of its own over a look-up that takes 3 s of the clock.
    const cache = new KeyCache({ ...parseEdgeConfig({ hostSecret: HOST_SECRET }).keyCache, now: clock.ms });
    const slow: KeyLookup = async (d, digest) => {
      const record = await findKeyByDigest(d, digest);
      clock.advance(3_000);
      return record;
    };
    const lookup = cache.wrap(slow);
    const digest = await digestApiKey(key);
    const readStartedAt = clock.ms();
    expect((await lookup(db, digest))?.id).toBe(id);
    // Fresh until TTL after the read *began*, although it was stored 3 s later.
    clock.set(readStartedAt + TTL - 1);
    expect(cache.size.found).toBe(1);
    const reads = countingLookup();
    const counted = cache.wrap(reads.lookup);
    await counted(db, digest);
    expect(reads.calls()).toBe(0);
    clock.set(readStartedAt + TTL);
    await counted(db, digest);
    expect(reads.calls()).toBe(1);
  });
});

describe('dates on the key are judged against the clock on every request, cached or not', () => {
  it('an expired key is refused at once, with its entry warm and no database read', async () => {
    const { key } = await sessionKey({ expiresAt: new Date(clock.ms() + 1_000) });
    expect((await status(key)).status).toBe(200);
    const calls = lookups.calls();
    clock.advance(1_000);
    await expectRefused(key);
    expect(lookups.calls()).toBe(calls);
  });

  it('a re-rolled key past its overlap is refused at once, with its entry warm and no database read', async () => {
    const { key } = await sessionKey({ overlapUntil: new Date(clock.ms() + 500) });
    expect((await status(key)).status).toBe(200);
    const calls = lookups.calls();
    clock.advance(500);
    await expectRefused(key);
    expect(lookups.calls()).toBe(calls);
  });
});

describe('changes made through this edge take effect at once', () => {
  it('revoking a warm key through the admin route refuses it on the very next request', async () => {
    const { db } = fx();
    const admin = await createKey(db, 'admin', { tenantId: tenant });
    const { key, id } = await sessionKey();
    expect((await status(key)).status).toBe(200);
    const revoked = await call(edge.url, `/api/admin/keys/${id}/revoke`, { key: admin, method: 'POST' });
    expect(revoked.status).toBe(200);
    // No clock movement at all: the route's write dropped the tenant's cached keys before answering.
    await expectRefused(key);
  });

  it('sends keep the sender’s key warm: queuing messages costs no key look-up', async () => {
    const { key } = await sessionKey();
    expect((await status(key)).status).toBe(200);
    const calls = lookups.calls();
    for (let i = 0; i < 3; i++) {
      const queued = await call(edge.url, '/api/messages', {
        key,
        json: { to: '628111000111', text: `warm ${i}` },
      });
      expect(queued.status).toBe(202);
    }
    expect((await status(key)).status).toBe(200);
    expect(lookups.calls()).toBe(calls);
  });

  it('any write by a tenant admin drops that tenant’s entries, and only that tenant’s', async () => {
    const { db } = fx();
    const admin = await createKey(db, 'admin', { tenantId: tenant });
    const otherTenant = await createTenant(db, { name: 'bystander' });
    const mine = await sessionKey();
    const theirs = await sessionKey({ tenantId: otherTenant });
    expect((await status(mine.key)).status).toBe(200);
    expect((await status(theirs.key)).status).toBe(200);
    // Revoked behind the edge's back; then the admin writes something unrelated through this edge.
    await db.updateTable('api_keys').set({ revoked_at: clock.now() }).where('id', '=', mine.id).execute();
    const created = await call(edge.url, '/api/session/create', { key: admin, json: {} });
    expect(created.status).toBe(200);
    await expectRefused(mine.key);
    const calls = lookups.calls();
    expect((await status(theirs.key)).status).toBe(200);
    expect(lookups.calls()).toBe(calls);
  });

  it('a look-up in flight during an invalidation does not put the old record back', async () => {
    const { db } = fx();
    const { key, id } = await sessionKey();
    const cache = new KeyCache({ ...parseEdgeConfig({ hostSecret: HOST_SECRET }).keyCache, now: clock.ms });
    const digest = await digestApiKey(key);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lookup = cache.wrap(async (d, dg) => {
      const record = await findKeyByDigest(d, dg);
      await gate;
      return record;
    });
    const inFlight = lookup(db, digest);
    // Revoked and invalidated while the read above still holds the old row.
    await db.updateTable('api_keys').set({ revoked_at: clock.now() }).where('id', '=', id).execute();
    cache.forgetTenant(tenant);
    release();
    expect((await inFlight)?.revokedAt).toBeNull();
    expect(cache.size.found).toBe(0);
    expect((await cache.wrap(findKeyByDigest)(db, digest))?.revokedAt).not.toBeNull();
  });
});

describe('look-ups that miss together', () => {
  /** A cache in front of the real look-up, held at the gate until `release()`; `calls()` counts reads. */
  const gatedCache = () => {
    const cache = new KeyCache({ ...parseEdgeConfig({ hostSecret: HOST_SECRET }).keyCache, now: clock.ms });
    let calls = 0;
    let release: () => void = () => {};
    let gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lookup = cache.wrap(async (d, dg) => {
      calls++;
      const record = await findKeyByDigest(d, dg);
      await gate;
      return record;
    });
    return {
      cache,
      lookup,
      calls: () => calls,
      release: () => {
        release();
        gate = Promise.resolve();
      },
    };
  };

  it('share one database read (a burst of requests with a key whose entry aged out)', async () => {
    const { db } = fx();
    const { key, id } = await sessionKey();
    const digest = await digestApiKey(key);
    const { lookup, calls, release } = gatedCache();
    const burst = [lookup(db, digest), lookup(db, digest), lookup(db, digest)];
    release();
    expect((await Promise.all(burst)).map((record) => record?.id)).toEqual([id, id, id]);
    expect(calls()).toBe(1);
  });

  it('but one that starts after an invalidation reads again, and sees the change', async () => {
    const { db } = fx();
    const { key, id } = await sessionKey();
    const digest = await digestApiKey(key);
    const { cache, lookup, calls, release } = gatedCache();
    const before = lookup(db, digest);
    await db.updateTable('api_keys').set({ revoked_at: clock.now() }).where('id', '=', id).execute();
    cache.forgetKey(id);
    const after = lookup(db, digest);
    release();
    expect((await before)?.revokedAt).toBeNull();
    expect((await after)?.revokedAt).not.toBeNull();
    expect(calls()).toBe(2);
  });
});

describe('unknown keys and bounds', () => {
  it('remembers an unknown key for the negative TTL only', async () => {
    const { key } = await generateApiKey('session');
    const negativeTtl = parseEdgeConfig({ hostSecret: HOST_SECRET }).keyCache.negativeTtlMs;
    const calls = lookups.calls();
    await expectRefused(key);
    clock.advance(negativeTtl - 1);
    await expectRefused(key);
    expect(lookups.calls()).toBe(calls + 1);
    clock.advance(1);
    await expectRefused(key);
    expect(lookups.calls()).toBe(calls + 2);
  });

  it('holds at most maxEntries keys, dropping the least recently used', async () => {
    const { db } = fx();
    const cache = new KeyCache({
      ...parseEdgeConfig({ hostSecret: HOST_SECRET }).keyCache,
      maxEntries: 2,
      maxNegativeEntries: 2,
      now: clock.ms,
    });
    const reads = countingLookup();
    const lookup = cache.wrap(reads.lookup);
    const [a, b, c] = await Promise.all([sessionKey(), sessionKey(), sessionKey()]);
    const [da, db_, dc] = await Promise.all([a, b, c].map((k) => digestApiKey(k.key)));
    if (!da || !db_ || !dc) throw new Error('no digests');
    await lookup(db, da);
    await lookup(db, db_);
    await lookup(db, da); // a is now the most recently used
    await lookup(db, dc); // evicts b
    expect(cache.size.found).toBe(2);
    expect(reads.calls()).toBe(3);
    await lookup(db, da);
    expect(reads.calls()).toBe(3);
    await lookup(db, db_);
    expect(reads.calls()).toBe(4);
    // A flood of unknown digests fills only the small negative map; the real keys stay.
    for (let i = 0; i < 5; i++) await lookup(db, (await generateApiKey('session')).digest);
    expect(cache.size).toEqual({ found: 2, unknown: 2 });
  });
});
