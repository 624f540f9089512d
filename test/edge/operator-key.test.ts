import { beforeAll, describe, expect, it } from 'vitest';
import {
  ApiKeySettingError,
  ensureDefaultTenant,
  ensureOperatorKey,
  OPERATOR_KEY_SETTING_LABEL,
  operatorKeySettingProblem,
} from '../../edge/tenancy/bootstrap.js';
import { banner } from '../../scripts/stack.js';
import { bytesToHex, digestApiKey, generateApiKey, parseApiKey } from '../../shared/api-key.js';
import { TestClock } from './admin-helpers.js';
import { useFreshDatabases, withEdge } from './fixture.js';
import { call, type TestEdge } from './helpers.js';

// A fresh database per case: first start is the thing under test.
const freshDb = useFreshDatabases();
// Each edge on a clock of its own, started now and still.
const onFreshClock = () => ({ now: new TestClock().now });

const listTenants = (edge: TestEdge, key: string) =>
  call(edge.url, '/api/operator/tenants', { key }).then((r) => r.status);

describe('ensureOperatorKey', () => {
  let db: Awaited<ReturnType<typeof freshDb>>;
  beforeAll(async () => {
    db = await freshDb();
  });

  it('on the first start generates an operator key, returned once, stored as a digest', async () => {
    const first = await ensureOperatorKey(db);
    expect(first.outcome).toBe('created');
    const key = String(first.operatorKey);
    expect(parseApiKey(key)).toEqual({ ok: true, scope: 'operator' });
    const rows = await db.selectFrom('api_keys').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ scope: 'operator', tenant_id: null, session_id: null });
    expect(bytesToHex(rows[0]?.digest ?? new Uint8Array())).toBe(bytesToHex(await digestApiKey(key)));
    expect(JSON.stringify(rows)).not.toContain(key.slice(12));

    expect(await ensureOperatorKey(db)).toEqual({ outcome: 'unchanged' });
    expect(await db.selectFrom('api_keys').selectAll().execute()).toHaveLength(1);
    expect(await withEdge(db, onFreshClock(), (edge) => listTenants(edge, key))).toBe(200);

    // Recorded, without the key, in the log of no tenant.
    const audit = await db.selectFrom('audit_log').selectAll().execute();
    expect(audit).toMatchObject([{ tenant_id: null, action: 'operator_key.bootstrap', actor: null }]);
    expect(JSON.stringify(audit)).not.toContain(key.slice(12));
  });
});

it('creates one operator key when several processes start at once', async () => {
  const db = await freshDb();
  const results = await Promise.all(Array.from({ length: 5 }, () => ensureOperatorKey(db)));
  expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
  expect(await db.selectFrom('api_keys').selectAll().execute()).toHaveLength(1);
});

it('is independent of the default tenant: both first-start keys are made, and neither acts as the other', async () => {
  const db = await freshDb();
  const tenant = await ensureDefaultTenant(db);
  const operator = await ensureOperatorKey(db);
  const adminKey = String(tenant.adminKey);
  const operatorKey = String(operator.operatorKey);
  await withEdge(db, onFreshClock(), async (edge) => {
    expect(await listTenants(edge, operatorKey)).toBe(200);
    expect(await listTenants(edge, adminKey)).toBe(403);
    expect((await call(edge.url, '/api/admin/keys', { key: operatorKey })).status).toBe(403);
  });
});

describe('the OPERATOR_KEY setting', () => {
  it('takes one of our operator keys as the operator key, and returns no plaintext', async () => {
    const db = await freshDb();
    const { key } = await generateApiKey('operator');
    const result = await ensureOperatorKey(db, { operatorKey: key });
    expect(result).toEqual({ outcome: 'created-from-setting' });
    const row = await db.selectFrom('api_keys').selectAll().executeTakeFirstOrThrow();
    expect(row.label).toBe(OPERATOR_KEY_SETTING_LABEL);
    expect(row.prefix).toBe(key.slice(0, 12));
    expect(await ensureOperatorKey(db, { operatorKey: key })).toEqual({ outcome: 'unchanged' });
    expect(await withEdge(db, onFreshClock(), (edge) => listTenants(edge, key))).toBe(200);
  });

  it('stores a custom OPERATOR_KEY as a digest with a 4-character prefix', async () => {
    const db = await freshDb();
    const custom = 'my-container-operator-key-0123456789-abcdef';
    expect(await ensureOperatorKey(db, { operatorKey: custom })).toEqual({ outcome: 'created-from-setting' });
    const row = await db.selectFrom('api_keys').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ scope: 'operator', prefix: 'my-c', label: OPERATOR_KEY_SETTING_LABEL });
    expect(bytesToHex(row.digest)).toBe(bytesToHex(await digestApiKey(custom)));
    expect(JSON.stringify(row)).not.toContain(custom);
  });

  it('accepts a custom OPERATOR_KEY on the operator routes', async () => {
    const db = await freshDb();
    const custom = 'my-container-operator-key-0123456789-abcdef';
    await ensureOperatorKey(db, { operatorKey: custom });
    expect(await withEdge(db, onFreshClock(), (edge) => listTenants(edge, custom))).toBe(200);
  });

  it('on a later start with a new OPERATOR_KEY, retires the previous setting but not a generated key', async () => {
    const db = await freshDb();
    const generated = String((await ensureOperatorKey(db)).operatorKey);
    const first = (await generateApiKey('operator')).key;
    const second = (await generateApiKey('operator')).key;
    expect((await ensureOperatorKey(db, { operatorKey: first })).outcome).toBe('created-from-setting');
    expect((await ensureOperatorKey(db, { operatorKey: second })).outcome).toBe('replaced');
    await withEdge(db, onFreshClock(), async (edge) => {
      expect(await listTenants(edge, second)).toBe(200);
      expect(await listTenants(edge, first)).toBe(403);
      expect(await listTenants(edge, generated)).toBe(200);
    });
    await expect(ensureOperatorKey(db, { operatorKey: first })).rejects.toThrow(/revoked/);
  });

  it('refuses a key already in use as another key, such as the API_KEY', async () => {
    const db = await freshDb();
    const shared = 'the-same-string-for-both-settings-0123456789';
    await ensureDefaultTenant(db, { apiKey: shared });
    await expect(ensureOperatorKey(db, { operatorKey: shared })).rejects.toThrow(/already in use/);
  });

  it.each([
    ['the seed default', 'default'],
    ['too short', 'short-key'],
    ['31 characters', 'o'.repeat(31)],
    ['surrounded by spaces', `  ${'o'.repeat(40)}  `],
    ['our prefix with a bad checksum', `wago_${'A'.repeat(49)}`],
  ])('refuses an OPERATOR_KEY that is %s, before touching the database', async (_name, operatorKey) => {
    const db = await freshDb();
    const error = await ensureOperatorKey(db, { operatorKey }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiKeySettingError);
    expect(String((error as Error).message)).toMatch(/^OPERATOR_KEY /);
    expect(await db.selectFrom('api_keys').selectAll().execute()).toEqual([]);
  });

  it('refuses a tenant admin or session key as OPERATOR_KEY, and never repeats a key in its messages', async () => {
    for (const scope of ['admin', 'session'] as const) {
      const { key } = await generateApiKey(scope);
      const problem = operatorKeySettingProblem(key);
      expect(problem).toMatch(/another scope; use an operator key/);
      expect(problem).not.toContain(key);
    }
    expect(operatorKeySettingProblem('x'.repeat(32))).toBeNull();
  });
});

describe('the start banner', () => {
  const stack = { url: 'http://localhost:3000', hostUrl: 'http://127.0.0.1:3001', close: async () => {} };

  it('prints the operator key beside the admin key on the start that made them', () => {
    const text = banner({ ...stack, adminKey: 'waga_ADMIN', operatorKey: 'wago_OPERATOR' });
    expect(text).toContain(
      'Admin key of the default tenant (shown this once; store it safely):\n  waga_ADMIN',
    );
    expect(text).toContain(
      'Operator key, to create and suspend tenants (shown this once; store it safely):\n  wago_OPERATOR',
    );
  });

  it('only points at them on later starts', () => {
    const text = banner(stack);
    expect(text).not.toMatch(/wag[ao]_/);
    expect(text).toContain('Operator key: the one printed at first start (or OPERATOR_KEY).');
  });
});
