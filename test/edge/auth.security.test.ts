import { beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_LENGTH, digestApiKey, generateApiKey } from '../../shared/api-key.js';
import { useEdge } from './fixture.js';
import {
  call,
  createKey,
  createSessionRow,
  createTenant,
  expectError,
  expectNoDbChange,
  type TestEdge,
} from './helpers.js';
import type { StandInHost } from './stand-in-host.js';

const fx = useEdge({ hosts: ['host-auth'], tenants: ['A', 'B'] });
let edge: TestEdge;
let host: StandInHost;
let tenantA: string;
let tenantB: string;
let adminA: string;
let adminB: string;

beforeAll(() => {
  ({ edge, host } = fx());
  ({ id: tenantA, admin: adminA } = fx().tenant('A'));
  ({ id: tenantB, admin: adminB } = fx().tenant('B'));
});

/** Creates a session through the API and returns its session key and uuid. */
async function newSession(adminKey: string, sessionId: string) {
  const response = await call(edge.url, '/api/session/create', { key: adminKey, json: { sessionId } });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { apiKey: string };
  const row = await fx()
    .db.selectFrom('sessions')
    .innerJoin('api_keys', 'api_keys.session_id', 'sessions.id')
    .select(['sessions.id', 'sessions.tenant_id'])
    .where('api_keys.digest', '=', await digestApiKey(body.apiKey))
    .executeTakeFirstOrThrow();
  return { key: body.apiKey, uuid: row.id, tenantId: row.tenant_id };
}

describe('missing and bad keys', () => {
  it('answers 401 MISSING_API_KEY with the seed string when there is no key, on every API route', async () => {
    const { db } = fx();
    for (const [method, path] of [
      ['POST', '/api/session/create'],
      ['GET', '/api/session/qr'],
      ['GET', '/api/session/status'],
      ['POST', '/api/send'],
      ['POST', '/api/session/logout'],
    ] as const) {
      const response = await expectNoDbChange(db, () => call(edge.url, path, { method }));
      await expectError(response, 401, 'MISSING_API_KEY', 'API key diperlukan');
      expect(response.headers.get('www-authenticate')).toContain('x-api-key');
    }
    expect(host.calls).toHaveLength(0);
  });

  it('treats an empty header as no key', async () => {
    const response = await call(edge.url, '/api/session/status', { key: '' });
    await expectError(response, 401, 'MISSING_API_KEY', 'API key diperlukan');
  });

  const badKeys: [string, () => Promise<string>][] = [
    ['an unknown key of our format', async () => (await generateApiKey('session')).key],
    ['an unknown custom key', async () => 'some-custom-key-that-nobody-ever-registered-0001'],
    ['a short junk string', async () => 'abc'],
    ['the seed default', async () => 'default'],
    ['a key far too long', async () => 'x'.repeat(5000)],
    [
      'a key with a bad checksum',
      async () => {
        const { key } = await generateApiKey('session');
        const last = key.at(-1) === 'A' ? 'B' : 'A';
        return key.slice(0, -1) + last;
      },
    ],
    [
      'a stored key with one body character changed',
      async () => {
        const key = await createKey(fx().db, 'admin', { tenantId: tenantA });
        const i = 10;
        return key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);
      },
    ],
    [
      'a stored key with its prefix swapped to another scope',
      async () => {
        const key = await createKey(fx().db, 'admin', { tenantId: tenantA });
        return `wags_${key.slice(5)}`;
      },
    ],
  ];

  it.each(badKeys)('answers 403 INVALID_API_KEY for %s', async (_name, make) => {
    const { db } = fx();
    const key = await make();
    for (const path of ['/api/session/status', '/api/session/create']) {
      const response = await expectNoDbChange(db, () =>
        call(edge.url, path, { key, method: path.endsWith('create') ? 'POST' : 'GET' }),
      );
      await expectError(response, 403, 'INVALID_API_KEY', 'API key tidak valid');
    }
    expect(host.calls).toHaveLength(0);
  });

  it('never writes a presented key into its logs, not even one pasted into the path', async () => {
    const { key } = await generateApiKey('session');
    await call(edge.url, '/api/session/status', { key });
    await call(edge.url, `/api/session/${key}`, { key: adminA });
    await call(edge.url, `/nope/${key}`);
    const logged = JSON.stringify(edge.logger.lines);
    expect(logged).not.toContain(key);
    expect(logged).not.toContain(key.slice(0, API_KEY_LENGTH - 6));
    expect(logged).toContain('/api/session/[key]');
  });
});

describe('keys that were good once', () => {
  const past = () => new Date(Date.now() - 60_000);
  const future = () => new Date(Date.now() + 3_600_000);

  it('refuses a revoked key, an expired key and a rotated key past its overlap with 403', async () => {
    const { db } = fx();
    const keys = [
      await createKey(db, 'admin', { tenantId: tenantA, revokedAt: past() }),
      await createKey(db, 'admin', { tenantId: tenantA, expiresAt: past() }),
      await createKey(db, 'admin', { tenantId: tenantA, overlapUntil: past() }),
    ];
    for (const key of keys) {
      const response = await expectNoDbChange(db, () =>
        call(edge.url, '/api/session/create', { key, json: { sessionId: 'never-made' } }),
      );
      await expectError(response, 403, 'INVALID_API_KEY', 'API key tidak valid');
    }
    const reasons = edge.logger.lines
      .filter((l) => l.message === 'api key refused')
      .map((l) => l.fields.reason);
    expect(reasons).toEqual(expect.arrayContaining(['revoked', 'expired', 'rotated_out']));
  });

  it('accepts a key that expires later or is still inside its rotation overlap', async () => {
    const { db } = fx();
    for (const options of [{ expiresAt: future() }, { overlapUntil: future() }]) {
      const key = await createKey(db, 'admin', { tenantId: tenantA, ...options });
      const response = await call(edge.url, '/api/session/create', { key, json: {} });
      expect(response.status).toBe(200);
    }
  });

  it('refuses every key of a suspended tenant, and its session keys, with 403', async () => {
    const { db } = fx();
    const suspended = await createTenant(db, { name: 'suspended' });
    const admin = await createKey(db, 'admin', { tenantId: suspended });
    const session = await newSession(admin, 'before-suspension');
    await db.updateTable('tenants').set({ status: 'suspended' }).where('id', '=', suspended).execute();
    // Suspended behind the edge's back, where its warm key cache would take up to its TTL to notice
    // (key-cache.test.ts); the operator route drops the entries itself, as this does.
    edge.keyCache.forgetTenant(suspended);
    host.reset();
    const refusedAdmin = await expectNoDbChange(db, () =>
      call(edge.url, '/api/session/create', { key: admin, json: {} }),
    );
    await expectError(refusedAdmin, 403, 'INVALID_API_KEY');
    const refusedSession = await call(edge.url, '/api/session/status', { key: session.key });
    await expectError(refusedSession, 403, 'INVALID_API_KEY');
    expect(host.calls).toHaveLength(0);
  });

  it('accepts a custom admin key (the API_KEY setting) by its digest', async () => {
    const { db } = fx();
    const custom = 'a-custom-admin-key-chosen-by-an-operator-42';
    await db
      .insertInto('api_keys')
      .values({
        digest: await digestApiKey(custom),
        prefix: custom.slice(0, 4),
        scope: 'admin',
        tenant_id: tenantA,
      })
      .execute();
    const response = await call(edge.url, '/api/session/create', { key: custom, json: {} });
    expect(response.status).toBe(200);
  });
});

describe('keys in the query string', () => {
  it.each(['apiKey', 'api_key', 'key', 'x-api-key', 'token', 'APIKEY', 'Api-Key'])(
    'answers 400 API_KEY_IN_QUERY for ?%s=..., even with a good header key',
    async (name) => {
      const { db } = fx();
      const response = await expectNoDbChange(db, () =>
        call(edge.url, `/api/session/create?${encodeURIComponent(name)}=${encodeURIComponent(adminA)}`, {
          key: adminA,
          json: {},
        }),
      );
      await expectError(response, 400, 'API_KEY_IN_QUERY');
    },
  );

  it('spots one of our keys under any parameter name, and on routes without auth', async () => {
    const { db } = fx();
    const { key } = await generateApiKey('session');
    for (const path of [
      `/api/session/status?foo=${key}`,
      `/health?x=${key}`,
      `/?q=${key}`,
      `/api/send?${key}`,
    ]) {
      const response = await expectNoDbChange(db, () => call(edge.url, path, { key: adminA }));
      await expectError(response, 400, 'API_KEY_IN_QUERY');
    }
    expect(host.calls).toHaveLength(0);
  });

  it('lets harmless query parameters through', async () => {
    const response = await call(edge.url, '/health?verbose=1');
    expect(response.status).toBe(200);
  });
});

describe('scopes', () => {
  it('refuses an admin key on session routes with 403 WRONG_SCOPE', async () => {
    const { db } = fx();
    for (const [method, path, json] of [
      ['GET', '/api/session/qr', undefined],
      ['GET', '/api/session/status', undefined],
      ['POST', '/api/send', { to: '6281234567890', message: 'hi' }],
      ['POST', '/api/session/logout', undefined],
    ] as const) {
      const response = await expectNoDbChange(db, () => call(edge.url, path, { method, key: adminA, json }));
      await expectError(response, 403, 'WRONG_SCOPE');
    }
    expect(host.calls).toHaveLength(0);
  });

  it('refuses a session key and an operator key on session creation with 403 WRONG_SCOPE', async () => {
    const { db } = fx();
    const session = await newSession(adminA, 'scope-check');
    const operator = await createKey(db, 'operator');
    for (const key of [session.key, operator]) {
      const response = await expectNoDbChange(db, () =>
        call(edge.url, '/api/session/create', { key, json: { sessionId: 'should-not-exist' } }),
      );
      await expectError(response, 403, 'WRONG_SCOPE');
    }
  });

  it('checks the scope before the body: a wrong-scope caller learns nothing about validation', async () => {
    const session = await newSession(adminA, 'scope-before-body');
    const response = await call(edge.url, '/api/session/create', {
      key: session.key,
      body: '{not json',
      headers: { 'content-type': 'application/json' },
    });
    await expectError(response, 403, 'WRONG_SCOPE');
  });
});

describe('tenant and session isolation', () => {
  it('lets two tenants use the same sessionId, each reaching only its own session', async () => {
    const a = await newSession(adminA, 'same-name');
    const b = await newSession(adminB, 'same-name');
    expect(a.uuid).not.toBe(b.uuid);
    expect(a.tenantId).toBe(tenantA);
    expect(b.tenantId).toBe(tenantB);
    host.reset();

    for (const { key, uuid, tenantId } of [a, b]) {
      // Nothing in the request can name another session: query, body and headers are all ignored.
      const status = await call(edge.url, '/api/session/status?sessionId=same-name', {
        key,
        headers: { 'x-session-id': a.uuid === uuid ? b.uuid : a.uuid },
      });
      expect(status.status).toBe(200);
      const send = await call(edge.url, '/api/send', {
        key,
        json: { to: '6281234567890', message: 'hi', sessionId: a.uuid === uuid ? b.uuid : a.uuid },
      });
      expect(send.status).toBe(200);
      const calls = host.calls.splice(0);
      expect(calls.map((c) => c.action)).toEqual(['status', 'send']);
      for (const c of calls) {
        expect(c.pathSessionId).toBe(uuid);
        expect(c.claims.sessionId).toBe(uuid);
        expect(c.claims.tenantId).toBe(tenantId);
        expect(c.claims.scope).toBe('session');
        expect(c.claims.hostId).toBe(host.id);
      }
    }
  });

  it("makes one session's key reach that session only, even in the same tenant", async () => {
    const first = await newSession(adminA, 'first');
    const second = await newSession(adminA, 'second');
    host.reset();
    await call(edge.url, '/api/session/logout', { key: first.key, method: 'POST' });
    await call(edge.url, '/api/session/qr', { key: second.key });
    expect(host.calls.map((c) => [c.action, c.claims.sessionId])).toEqual([
      ['logout', first.uuid],
      ['qr', second.uuid],
    ]);
  });

  it('cannot even store a session key of tenant A that names a session of tenant B', async () => {
    const { db } = fx();
    const sessionOfB = await createSessionRow(db, { tenantId: tenantB, name: 'b-only', hostId: host.id });
    const key = await generateApiKey('session');
    await expect(
      db
        .insertInto('api_keys')
        .values({
          digest: key.digest,
          prefix: key.displayPrefix,
          scope: 'session',
          tenant_id: tenantA,
          session_id: sessionOfB,
        })
        .execute(),
    ).rejects.toThrow(/foreign key/);
  });
});
