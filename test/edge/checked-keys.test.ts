// Keys the edge authenticated lately (edge/auth/checked-keys.ts): their shape check and SHA-256 are not
// worked out again on every request, and nothing but a key that passed is kept. Seen from the key
// look-up behind the cache, on the real database: the digest it is handed is the very object worked out
// for the key's first request, or a new one. The edge's clock is moved by hand past the cache's TTL, so
// each request below reaches the look-up.
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckedKeys } from '../../edge/auth/checked-keys.js';
import { findKeyByDigest } from '../../edge/auth/queries/api-keys.js';
import { MAX_KEY_CACHE_TTL_MS } from '../../edge/config.js';
import { digestApiKey, generateApiKey } from '../../shared/api-key.js';
import { useEdge } from './fixture.js';
import { call, createKey, createSessionRow, expectError, type TestEdge } from './helpers.js';
import { manualClock } from './query-log.js';

const clock = manualClock();
/** The digest each look-up behind the key cache was handed, in order. */
const handed: Uint8Array[] = [];
const fx = useEdge({
  hosts: ['host-checked-keys'],
  tenants: ['checked'],
  edge: {
    now: clock.now,
    keyLookup: (db, digest) => {
      handed.push(digest);
      return findKeyByDigest(db, digest);
    },
  },
});
let edge: TestEdge;
let sessions = 0;

beforeAll(() => {
  ({ edge } = fx());
});

async function sessionKey() {
  const { db, tenantId, host } = fx();
  const sessionId = await createSessionRow(db, { tenantId, name: `s${++sessions}`, hostId: host.id });
  const key = await createKey(db, 'session', { tenantId, sessionId });
  return { key, digest: digestApiKey(key) };
}

/** A status call once the key's cache entry (and any "unknown" entry) has aged out. */
async function statusAfterTtl(key: string) {
  clock.advance(MAX_KEY_CACHE_TTL_MS);
  const before = handed.length;
  const response = await call(edge.url, '/api/session/status', { key });
  expect(handed.length).toBe(before + 1);
  return { response, digest: handed.at(-1) as Uint8Array };
}

describe('a key that passed', () => {
  it('is not hashed again: every later look-up is handed the digest of its first request', async () => {
    const { key, digest } = await sessionKey();
    const first = await statusAfterTtl(key);
    expect(first.response.status).toBe(200);
    expect(first.digest).toEqual(digest);
    for (let i = 0; i < 3; i++) {
      const later = await statusAfterTtl(key);
      expect(later.response.status).toBe(200);
      expect(later.digest).toBe(first.digest);
    }
    // Another key has its own.
    const other = await statusAfterTtl((await sessionKey()).key);
    expect(other.digest).not.toBe(first.digest);
  });

  it('is forgotten once refused: revoked, then restored, it is hashed afresh', async () => {
    const { db } = fx();
    const { key } = await sessionKey();
    const first = await statusAfterTtl(key);
    expect(first.response.status).toBe(200);
    await db
      .updateTable('api_keys')
      .set({ revoked_at: clock.now() })
      .where('digest', '=', first.digest)
      .execute();
    const refused = await statusAfterTtl(key);
    await expectError(refused.response, 403, 'INVALID_API_KEY');
    // Refused on the digest it was remembered with; from then on it is not remembered.
    expect(refused.digest).toBe(first.digest);
    await db.updateTable('api_keys').set({ revoked_at: null }).where('digest', '=', first.digest).execute();
    const again = await statusAfterTtl(key);
    expect(again.response.status).toBe(200);
    expect(again.digest).toEqual(first.digest);
    expect(again.digest).not.toBe(first.digest);
  });
});

describe('a key that never passed', () => {
  it('is never kept: a well-formed key no one issued is hashed on each request', async () => {
    const { key } = await generateApiKey('session');
    const first = await statusAfterTtl(key);
    await expectError(first.response, 403, 'INVALID_API_KEY');
    const second = await statusAfterTtl(key);
    await expectError(second.response, 403, 'INVALID_API_KEY');
    expect(second.digest).toEqual(first.digest);
    expect(second.digest).not.toBe(first.digest);
  });
});

describe('CheckedKeys', () => {
  const entry = (n: number) => ({
    shape: { ok: true as const, kind: 'custom' as const, scope: 'admin' as const },
    digest: new Uint8Array([n]),
  });

  it('holds at most its bound, the oldest out first', () => {
    const keys = new CheckedKeys(2);
    keys.remember('a', entry(1));
    keys.remember('b', entry(2));
    keys.remember('c', entry(3));
    expect(keys.size).toBe(2);
    expect(keys.get('a')).toBeUndefined();
    expect(keys.get('b')?.digest).toEqual(new Uint8Array([2]));
    keys.forget('b');
    expect(keys.get('b')).toBeUndefined();
    expect(keys.size).toBe(1);
  });

  it('keeps nothing with a bound of 0 (the key cache switched off)', () => {
    const keys = new CheckedKeys(0);
    keys.remember('a', entry(1));
    expect(keys.size).toBe(0);
    expect(keys.get('a')).toBeUndefined();
  });
});
