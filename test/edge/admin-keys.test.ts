import { beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyInfo, CreateKeyResponse, RerollKeyResponse } from '../../shared/admin-schemas.js';
import { bytesToHex, digestApiKey, parseApiKey } from '../../shared/api-key.js';
import {
  allKeys,
  auditLog,
  expectBareError,
  expectUnchanged,
  newKey,
  newSession,
  newTenant,
  ok,
  read,
  reroll,
  TestClock,
} from './admin-helpers.js';
import { useEdge } from './fixture.js';
import { call, type TestEdge } from './helpers.js';
import type { StandInHost } from './stand-in-host.js';

const clock = new TestClock();
const fx = useEdge({ hosts: ['host-admin-keys'], tenants: [], operator: true, edge: { now: clock.now } });
let edge: TestEdge;
let host: StandInHost;
let operator: string;

const HOUR = 3_600_000;
const KEY_FIELDS = [
  'createdAt',
  'expiresAt',
  'id',
  'label',
  'lastUsedAt',
  'overlapUntil',
  'prefix',
  'replacedBy',
  'revokedAt',
  'scope',
  'sessionId',
  'status',
];

beforeAll(() => {
  ({ edge, host, operator } = fx());
});

let tenants = 0;
/** A tenant of its own for each test, so tests do not see each other's keys. */
async function tenant() {
  tenants += 1;
  return newTenant(edge, operator, `keys-${tenants}`);
}

/** Status of a call that only a live key passes: an admin listing, or a session's status. */
async function works(key: string): Promise<number> {
  const path = key.startsWith('wags_') ? '/api/session/status' : '/api/admin/keys?limit=1';
  return (await call(edge.url, path, { key })).status;
}

async function sessionUuidOf(key: string): Promise<string | null> {
  const row = await fx()
    .db.selectFrom('api_keys')
    .select('session_id')
    .where('digest', '=', await digestApiKey(key))
    .executeTakeFirstOrThrow();
  return row.session_id;
}

describe('POST /api/admin/keys', () => {
  it('issues a session key for one of the tenant’s sessions, shown once, acting on that session', async () => {
    const t = await tenant();
    await newSession(edge, t.adminKey, 'shop');
    const response = await call(edge.url, '/api/admin/keys', {
      key: t.adminKey,
      json: { scope: 'session', sessionId: 'shop', label: '  billing backend ' },
    });
    const { status, body } = await read<CreateKeyResponse>(response);
    expect(status).toBe(201);
    expect(parseApiKey(body.apiKey)).toEqual({ ok: true, scope: 'session' });
    expect(body.key).toEqual({
      id: expect.any(String),
      prefix: body.apiKey.slice(0, 12),
      scope: 'session',
      label: 'billing backend',
      sessionId: 'shop',
      status: 'active',
      createdAt: expect.any(String),
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
      overlapUntil: null,
      replacedBy: null,
    });

    host.reset();
    expect(await works(body.apiKey)).toBe(200);
    const sessionUuid = await sessionUuidOf(body.apiKey);
    expect(host.calls.map((c) => [c.action, c.claims.sessionId])).toEqual([['status', sessionUuid]]);
  });

  it('issues an admin key that can manage the tenant', async () => {
    const t = await tenant();
    const second = await newKey(edge, t.adminKey, { scope: 'admin', label: 'second admin' });
    expect(parseApiKey(second.key)).toEqual({ ok: true, scope: 'admin' });
    expect(second.info).toMatchObject({ scope: 'admin', sessionId: null, label: 'second admin' });
    expect(await works(second.key)).toBe(200);
    expect((await call(edge.url, '/api/session/create', { key: second.key, json: {} })).status).toBe(200);
  });

  it('issues a key with an expiry, refused once the clock passes it', async () => {
    const t = await tenant();
    const expiresAt = new Date(clock.now().getTime() + HOUR);
    const expiring = await newKey(edge, t.adminKey, {
      scope: 'admin',
      label: 'until the hour',
      expiresAt: expiresAt.toISOString(),
    });
    expect(expiring.info.expiresAt).toBe(expiresAt.toISOString());
    expect(await works(expiring.key)).toBe(200);
    clock.advance(HOUR);
    expect(await works(expiring.key)).toBe(403);
    const listed = (await allKeys(edge, t.adminKey)).find((k) => k.id === expiring.info.id);
    expect(listed?.status).toBe('expired');
  });

  it('takes an expiry with an offset and keeps the instant', async () => {
    const t = await tenant();
    const at = new Date(clock.now().getTime() + 2 * HOUR);
    const withOffset = `${new Date(at.getTime() + 7 * HOUR).toISOString().slice(0, 19)}+07:00`;
    const issued = await newKey(edge, t.adminKey, { scope: 'admin', label: 'offset', expiresAt: withOffset });
    expect(issued.info.expiresAt).toBe(`${at.toISOString().slice(0, 19)}.000Z`);
  });
});

describe('GET /api/admin/keys and the seed’s GET /api/keys', () => {
  it('list the tenant’s keys oldest first in the safe form: never a key, never a digest', async () => {
    const t = await tenant();
    const sessionKey = await newSession(edge, t.adminKey, 'listed');
    const extra = await newKey(edge, t.adminKey, { scope: 'session', sessionId: 'listed', label: 'extra' });
    const page = await ok<{ keys: ApiKeyInfo[]; nextCursor: string | null }>(edge, '/api/admin/keys', {
      key: t.adminKey,
    });
    expect(page.nextCursor).toBeNull();
    expect(page.keys.map((k) => [k.scope, k.label, k.sessionId, k.prefix])).toEqual([
      ['admin', 'first admin key', null, t.adminKey.slice(0, 12)],
      ['session', 'session key', 'listed', sessionKey.slice(0, 12)],
      ['session', 'extra', 'listed', extra.key.slice(0, 12)],
    ]);
    for (const key of page.keys) expect(Object.keys(key).sort()).toEqual(KEY_FIELDS);

    const text = JSON.stringify(page);
    for (const secret of [t.adminKey, sessionKey, extra.key]) {
      expect(text).not.toContain(secret.slice(12, 30));
      const digest = bytesToHex(await digestApiKey(secret));
      expect(text).not.toContain(digest.slice(0, 16));
    }

    const seed = await ok(edge, '/api/keys', { key: t.adminKey });
    expect(seed).toEqual(page);
  });

  it('page with a cursor, and the seed listing takes the same query', async () => {
    const t = await tenant();
    for (let i = 0; i < 4; i++) await newKey(edge, t.adminKey, { scope: 'admin', label: `k${i}` });
    const all = await allKeys(edge, t.adminKey);
    expect(all.map((k) => k.label)).toEqual(['first admin key', 'k0', 'k1', 'k2', 'k3']);

    const first = await ok<{ keys: ApiKeyInfo[]; nextCursor: string }>(edge, '/api/keys?limit=2', {
      key: t.adminKey,
    });
    expect(first.keys.map((k) => k.label)).toEqual(['first admin key', 'k0']);
    expect(first.nextCursor).toBe(first.keys[1]?.id);
    const second = await ok<{ keys: ApiKeyInfo[]; nextCursor: string }>(
      edge,
      `/api/keys?limit=2&cursor=${first.nextCursor}`,
      { key: t.adminKey },
    );
    expect(second.keys.map((k) => k.label)).toEqual(['k1', 'k2']);
    const last = await ok<{ keys: ApiKeyInfo[]; nextCursor: string | null }>(
      edge,
      `/api/admin/keys?limit=2&cursor=${second.nextCursor}`,
      { key: t.adminKey },
    );
    expect(last).toMatchObject({ nextCursor: null });
    expect(last.keys.map((k) => k.label)).toEqual(['k3']);
  });

  it('answers a session key on the seed listing with the seed’s own refusal', async () => {
    const t = await tenant();
    const sessionKey = await newSession(edge, t.adminKey, 'not-admin');
    const response = await call(edge.url, '/api/keys', { key: sessionKey });
    const body = await expectBareError(response, 403, 'WRONG_SCOPE');
    expect(body.error).toBe('Tidak diizinkan. Hanya admin yang dapat mengakses daftar API key.');
  });
});

describe('GET /api/admin/keys/:id', () => {
  it('shows one key', async () => {
    const t = await tenant();
    const issued = await newKey(edge, t.adminKey, { scope: 'admin', label: 'shown' });
    const body = await ok<{ key: ApiKeyInfo }>(edge, `/api/admin/keys/${issued.info.id}`, {
      key: t.adminKey,
    });
    expect(body).toEqual({ success: true, key: issued.info });
  });
});

describe('POST /api/admin/keys/:id/revoke', () => {
  it('refuses the key at once, even one used a moment ago, and says so in the listing', async () => {
    const t = await tenant();
    const sessionKey = await newSession(edge, t.adminKey, 'revoked-session');
    expect(await works(sessionKey)).toBe(200);
    const id = (await allKeys(edge, t.adminKey)).find((k) => k.scope === 'session')?.id;
    const revoked = await ok<{ key: ApiKeyInfo }>(edge, `/api/admin/keys/${id}/revoke`, {
      key: t.adminKey,
      method: 'POST',
    });
    expect(revoked.key).toMatchObject({ id, status: 'revoked', revokedAt: clock.now().toISOString() });
    host.reset();
    await expectBareError(
      await call(edge.url, '/api/session/status', { key: sessionKey }),
      403,
      'INVALID_API_KEY',
    );
    expect(host.calls).toEqual([]);
  });

  it('changes nothing when the key is revoked already', async () => {
    const t = await tenant();
    const issued = await newKey(edge, t.adminKey, { scope: 'admin', label: 'twice' });
    const path = `/api/admin/keys/${issued.info.id}/revoke`;
    const first = await ok<{ key: ApiKeyInfo }>(edge, path, { key: t.adminKey, method: 'POST' });
    clock.advance(1000);
    const again = await expectUnchanged(fx().db, () =>
      call(edge.url, path, { key: t.adminKey, method: 'POST' }),
    );
    expect(await read(again)).toEqual({ status: 200, body: { success: true, key: first.key } });
  });

  it('refuses to revoke the tenant’s last live admin key (409 LAST_ADMIN_KEY), and allows it with another', async () => {
    const t = await tenant();
    const path = `/api/admin/keys/${t.adminKeyId}/revoke`;
    const refused = await expectUnchanged(fx().db, () =>
      call(edge.url, path, { key: t.adminKey, method: 'POST' }),
    );
    await expectBareError(refused, 409, 'LAST_ADMIN_KEY');

    // A key that is dead anyway does not count as another.
    const expired = await newKey(edge, t.adminKey, {
      scope: 'admin',
      label: 'expires',
      expiresAt: new Date(clock.now().getTime() + 1000).toISOString(),
    });
    clock.advance(1000);
    expect((await read(await call(edge.url, path, { key: t.adminKey, method: 'POST' }))).status).toBe(409);
    expect(expired.info.id).toBeDefined();

    const other = await newKey(edge, t.adminKey, { scope: 'admin', label: 'the other one' });
    // A key may revoke itself; the tenant keeps an admin.
    expect((await call(edge.url, path, { key: t.adminKey, method: 'POST' })).status).toBe(200);
    expect(await works(t.adminKey)).toBe(403);
    expect(await works(other.key)).toBe(200);
  });
});

describe('re-roll', () => {
  it('keeps both keys working during the overlap, then only the new one', async () => {
    const t = await tenant();
    await newSession(edge, t.adminKey, 'rolled');
    const expiresAt = new Date(clock.now().getTime() + 48 * HOUR).toISOString();
    const old = await newKey(edge, t.adminKey, {
      scope: 'session',
      sessionId: 'rolled',
      label: 'rolling',
      expiresAt,
    });
    expect(await works(old.key)).toBe(200);

    const rolled = await reroll(edge, t.adminKey, old.info.id, 3600);
    expect(parseApiKey(rolled.apiKey)).toEqual({ ok: true, scope: 'session' });
    expect(rolled.apiKey).not.toBe(old.key);
    // Same scope, label, session and expiry; a new id, prefix and secret.
    expect(rolled.key).toMatchObject({
      scope: 'session',
      label: 'rolling',
      sessionId: 'rolled',
      expiresAt,
      status: 'active',
      overlapUntil: null,
      replacedBy: null,
    });
    expect(rolled.key.id).not.toBe(old.info.id);
    const overlapUntil = new Date(clock.now().getTime() + HOUR).toISOString();
    expect(rolled.replaced).toMatchObject({
      id: old.info.id,
      status: 'rotating',
      overlapUntil,
      replacedBy: rolled.key.id,
      revokedAt: null,
    });
    expect(await sessionUuidOf(rolled.apiKey)).toBe(await sessionUuidOf(old.key));

    expect(await works(old.key)).toBe(200);
    expect(await works(rolled.apiKey)).toBe(200);
    clock.advance(HOUR - 1);
    expect(await works(old.key)).toBe(200);
    clock.advance(1);
    expect(await works(old.key)).toBe(403);
    expect(await works(rolled.apiKey)).toBe(200);
    const listed = await allKeys(edge, t.adminKey);
    expect(listed.find((k) => k.id === old.info.id)?.status).toBe('rotated-out');
  });

  it('with overlap 0 stops the old key at once, even one used a moment ago', async () => {
    const t = await tenant();
    const old = await newKey(edge, t.adminKey, { scope: 'admin', label: 'now' });
    expect(await works(old.key)).toBe(200);
    const rolled = await reroll(edge, t.adminKey, old.info.id, 0);
    expect(rolled.replaced.status).toBe('rotated-out');
    expect(await works(old.key)).toBe(403);
    expect(await works(rolled.apiKey)).toBe(200);
  });

  it('accepts the longest overlap, 7 days', async () => {
    const t = await tenant();
    const rolled = await reroll(edge, t.adminKey, t.adminKeyId, 7 * 24 * 3600);
    expect(rolled.replaced.overlapUntil).toBe(new Date(clock.now().getTime() + 7 * 24 * HOUR).toISOString());
    clock.advance(7 * 24 * HOUR - 1000);
    expect(await works(t.adminKey)).toBe(200);
    clock.advance(1000);
    expect(await works(t.adminKey)).toBe(403);
    expect(await works(rolled.apiKey)).toBe(200);
  });

  it('refuses to re-roll a revoked, an expired or an already re-rolled key (409), changing nothing', async () => {
    const t = await tenant();
    const revoked = await newKey(edge, t.adminKey, { scope: 'admin', label: 'revoked' });
    await ok(edge, `/api/admin/keys/${revoked.info.id}/revoke`, { key: t.adminKey, method: 'POST' });
    const expired = await newKey(edge, t.adminKey, {
      scope: 'admin',
      label: 'expired',
      expiresAt: new Date(clock.now().getTime() + 1000).toISOString(),
    });
    clock.advance(1000);
    const replaced = await newKey(edge, t.adminKey, { scope: 'admin', label: 'replaced' });
    const successor = await reroll(edge, t.adminKey, replaced.info.id, 600);

    for (const [id, code] of [
      [revoked.info.id, 'KEY_REVOKED'],
      [expired.info.id, 'KEY_EXPIRED'],
      [replaced.info.id, 'KEY_REPLACED'],
    ] as const) {
      const response = await expectUnchanged(fx().db, () =>
        call(edge.url, `/api/admin/keys/${id}/reroll`, { key: t.adminKey, json: { overlapSeconds: 60 } }),
      );
      await expectBareError(response, 409, code);
    }
    // The successor is the one to re-roll.
    expect((await reroll(edge, t.adminKey, successor.key.id, 0)).replaced.status).toBe('rotated-out');
  });
});

describe('POST /api/keys/self/reroll', () => {
  it('lets a session key re-roll itself, with an overlap, and only once', async () => {
    const t = await tenant();
    const sessionKey = await newSession(edge, t.adminKey, 'self');
    const response = await call(edge.url, '/api/keys/self/reroll', {
      key: sessionKey,
      json: { overlapSeconds: 60 },
    });
    const { status, body } = await read<RerollKeyResponse>(response);
    expect(status).toBe(200);
    expect(body.key).toMatchObject({
      scope: 'session',
      sessionId: 'self',
      label: 'session key',
      status: 'active',
    });
    expect(body.replaced).toMatchObject({
      prefix: sessionKey.slice(0, 12),
      status: 'rotating',
      replacedBy: body.key.id,
    });
    expect(await sessionUuidOf(body.apiKey)).toBe(await sessionUuidOf(sessionKey));

    expect(await works(sessionKey)).toBe(200);
    expect(await works(body.apiKey)).toBe(200);
    // The old key, still accepted, cannot make a second successor.
    const again = await expectUnchanged(fx().db, () =>
      call(edge.url, '/api/keys/self/reroll', { key: sessionKey, json: { overlapSeconds: 60 } }),
    );
    await expectBareError(again, 409, 'KEY_REPLACED');
    clock.advance(60_000);
    expect(await works(sessionKey)).toBe(403);
    expect(await works(body.apiKey)).toBe(200);
  });

  it('with overlap 0 stops the calling key before its next request', async () => {
    const t = await tenant();
    const sessionKey = await newSession(edge, t.adminKey, 'self-now');
    const body = await ok<RerollKeyResponse>(edge, '/api/keys/self/reroll', {
      key: sessionKey,
      json: { overlapSeconds: 0 },
    });
    expect(await works(sessionKey)).toBe(403);
    expect(await works(body.apiKey)).toBe(200);
  });

  it('works for an admin key too', async () => {
    const t = await tenant();
    const body = await ok<RerollKeyResponse>(edge, '/api/keys/self/reroll', {
      key: t.adminKey,
      json: { overlapSeconds: 0 },
    });
    expect(body.key).toMatchObject({ scope: 'admin', label: 'first admin key' });
    expect(await works(t.adminKey)).toBe(403);
    expect(await works(body.apiKey)).toBe(200);
    const actions = (await auditLog(edge, body.apiKey)).map((e) => [e.action, e.actor]);
    expect(actions.at(-1)).toEqual(['api_key.reroll', t.adminKey.slice(0, 12)]);
  });
});
