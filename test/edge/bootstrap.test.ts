import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  API_KEY_SETTING_LABEL,
  ApiKeySettingError,
  apiKeySettingProblem,
  ensureDefaultTenant,
} from '../../edge/tenancy/bootstrap.js';
import { bytesToHex, digestApiKey, generateApiKey, parseApiKey } from '../../shared/api-key.js';
import type { Database } from '../../shared/db-schema.js';
import { useFreshDatabases, withEdge } from './fixture.js';
import { call, HOST_SECRET, putHost, type TestEdge } from './helpers.js';
import { type StandInHost, startStandInHost } from './stand-in-host.js';

// A fresh database per case: first start is the thing under test.
const freshDb = useFreshDatabases();

let host: StandInHost;
beforeAll(async () => {
  host = await startStandInHost({ id: 'host-bootstrap', secret: HOST_SECRET });
});
afterAll(async () => {
  await host?.close();
});

async function withHostAndEdge<T>(db: Kysely<Database>, work: (edge: TestEdge) => Promise<T>) {
  await putHost(db, { id: host.id, url: host.url });
  return withEdge(db, {}, work);
}

const canCreate = (edge: TestEdge, key: string) =>
  call(edge.url, '/api/session/create', { key, json: {} }).then((r) => r.status);

describe('ensureDefaultTenant', () => {
  it('on first start creates the default tenant and an admin key, returned once, stored as a digest', async () => {
    const db = await freshDb();
    const first = await ensureDefaultTenant(db);
    expect(first.outcome).toBe('created');
    const adminKey = String(first.adminKey);
    expect(parseApiKey(adminKey)).toEqual({ ok: true, scope: 'admin' });

    const rows = await db.selectFrom('api_keys').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.tenant_id).toBe(first.tenantId);
    expect(bytesToHex(rows[0]?.digest ?? new Uint8Array())).toBe(bytesToHex(await digestApiKey(adminKey)));
    expect(JSON.stringify(rows)).not.toContain(adminKey.slice(12));

    const second = await ensureDefaultTenant(db);
    expect(second).toEqual({ tenantId: first.tenantId, outcome: 'unchanged' });
    expect(await db.selectFrom('api_keys').selectAll().execute()).toHaveLength(1);
    expect(await db.selectFrom('tenants').selectAll().execute()).toHaveLength(1);

    expect(await withHostAndEdge(db, (edge) => canCreate(edge, adminKey))).toBe(200);
  });

  it('creates one tenant when several processes start at once', async () => {
    const db = await freshDb();
    const results = await Promise.all(Array.from({ length: 5 }, () => ensureDefaultTenant(db)));
    expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
    expect(new Set(results.map((r) => r.tenantId)).size).toBe(1);
    expect(await db.selectFrom('api_keys').selectAll().execute()).toHaveLength(1);
  });

  it('takes API_KEY as the admin key instead, and returns no plaintext', async () => {
    const db = await freshDb();
    const apiKey = 'my-container-admin-key-0123456789-abcdef';
    const result = await ensureDefaultTenant(db, { apiKey });
    expect(result.outcome).toBe('created-with-api-key');
    expect(result.adminKey).toBeUndefined();
    const row = await db.selectFrom('api_keys').selectAll().executeTakeFirstOrThrow();
    expect(row.label).toBe(API_KEY_SETTING_LABEL);
    expect(row.prefix).toBe('my-c');
    expect(JSON.stringify(row)).not.toContain(apiKey);
    expect((await ensureDefaultTenant(db, { apiKey })).outcome).toBe('unchanged');
    expect(await withHostAndEdge(db, (edge) => canCreate(edge, apiKey))).toBe(200);
  });

  it('accepts one of our own tenant admin keys as API_KEY', async () => {
    const db = await freshDb();
    const { key } = await generateApiKey('admin');
    expect((await ensureDefaultTenant(db, { apiKey: key })).outcome).toBe('created-with-api-key');
    expect(await withHostAndEdge(db, (edge) => canCreate(edge, key))).toBe(200);
  });

  it('on a later start with a new API_KEY, makes it the admin key and retires the previous one', async () => {
    const db = await freshDb();
    const oldKey = 'the-first-api-key-setting-0123456789-xyz';
    const newKey = 'the-second-api-key-setting-0123456789-xyz';
    const first = await ensureDefaultTenant(db);
    await ensureDefaultTenant(db, { apiKey: oldKey });
    const replaced = await ensureDefaultTenant(db, { apiKey: newKey });
    expect(replaced).toEqual({ tenantId: first.tenantId, outcome: 'api-key-replaced' });
    await withHostAndEdge(db, async (edge) => {
      expect(await canCreate(edge, newKey)).toBe(200);
      expect(await canCreate(edge, oldKey)).toBe(403);
      // The generated first-start key was not from the setting and keeps working.
      expect(await canCreate(edge, String(first.adminKey))).toBe(200);
    });
    await expect(ensureDefaultTenant(db, { apiKey: oldKey })).rejects.toThrow(/revoked/);
  });

  it.each([
    ['the seed default', 'default'],
    ['too short', 'short-key'],
    ['31 characters', 'a'.repeat(31)],
    ['surrounded by spaces', `  ${'a'.repeat(40)}  `],
    ['non-ASCII', 'ä'.repeat(40)],
    ['our prefix with a bad checksum', `waga_${'A'.repeat(49)}`],
  ])('refuses an API_KEY that is %s, before touching the database', async (_name, apiKey) => {
    const db = await freshDb();
    await expect(ensureDefaultTenant(db, { apiKey })).rejects.toBeInstanceOf(ApiKeySettingError);
    expect(await db.selectFrom('tenants').selectAll().execute()).toEqual([]);
    expect(await db.selectFrom('api_keys').selectAll().execute()).toEqual([]);
  });

  it('refuses a session or operator key as API_KEY, and never repeats a key in its messages', async () => {
    for (const scope of ['session', 'operator'] as const) {
      const { key } = await generateApiKey(scope);
      const problem = apiKeySettingProblem(key);
      expect(problem).toMatch(/another scope/);
      expect(problem).not.toContain(key);
    }
    expect(apiKeySettingProblem('x'.repeat(32))).toBeNull();
  });
});
