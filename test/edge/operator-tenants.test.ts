import { beforeAll, describe, expect, it } from 'vitest';
import type { CreateTenantResponse, Tenant } from '../../shared/admin-schemas.js';
import { bytesToHex, digestApiKey, parseApiKey } from '../../shared/api-key.js';
import { auditLog, expectBareError, newSession, newTenant, ok, read, TestClock } from './admin-helpers.js';
import { useEdge } from './fixture.js';
import { call, type TestEdge } from './helpers.js';
import type { StandInHost } from './stand-in-host.js';

const clock = new TestClock();
const fx = useEdge({ hosts: ['host-operator'], tenants: [], operator: true, edge: { now: clock.now } });
let edge: TestEdge;
let host: StandInHost;
let operator: string;

beforeAll(() => {
  ({ edge, host, operator } = fx());
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('POST /api/operator/tenants', () => {
  it('creates an active tenant and returns its first admin key once, storing only its digest', async () => {
    const response = await call(edge.url, '/api/operator/tenants', {
      key: operator,
      json: { name: ' Toko Budi ' },
    });
    const { status, body } = await read<CreateTenantResponse>(response);
    expect(status).toBe(201);
    expect(body).toEqual({
      success: true,
      tenant: {
        id: expect.stringMatching(UUID),
        name: 'Toko Budi',
        status: 'active',
        createdAt: expect.any(String),
      },
      apiKey: expect.stringMatching(/^waga_/),
      key: {
        id: expect.stringMatching(UUID),
        prefix: body.apiKey.slice(0, 12),
        scope: 'admin',
        label: 'first admin key',
        sessionId: null,
        status: 'active',
        createdAt: expect.any(String),
        lastUsedAt: null,
        expiresAt: null,
        revokedAt: null,
        overlapUntil: null,
        replacedBy: null,
      },
    });
    expect(parseApiKey(body.apiKey)).toEqual({ ok: true, scope: 'admin' });

    const row = await fx()
      .db.selectFrom('api_keys')
      .selectAll()
      .where('id', '=', body.key.id)
      .executeTakeFirstOrThrow();
    expect(row.tenant_id).toBe(body.tenant.id);
    expect(bytesToHex(row.digest)).toBe(bytesToHex(await digestApiKey(body.apiKey)));
    expect(JSON.stringify(row)).not.toContain(body.apiKey.slice(12));

    // The key works at once: the new tenant's admin can create a session.
    const created = await call(edge.url, '/api/session/create', {
      key: body.apiKey,
      json: { sessionId: 'first' },
    });
    expect(created.status).toBe(200);
  });

  it('lets two tenants have the same name: names are labels, ids tell tenants apart', async () => {
    const a = await newTenant(edge, operator, 'Same Name');
    const b = await newTenant(edge, operator, 'Same Name');
    expect(a.id).not.toBe(b.id);
  });
});

describe('GET /api/operator/tenants', () => {
  it('lists every tenant oldest first, page by page, with a cursor that ends with null', async () => {
    for (let i = 0; i < 5; i++) await newTenant(edge, operator, `paged-${i}`);
    const all = await ok<{ tenants: Tenant[]; nextCursor: string | null }>(
      edge,
      '/api/operator/tenants?limit=100',
      {
        key: operator,
      },
    );
    expect(all.nextCursor).toBeNull();
    expect(all.tenants.length).toBeGreaterThanOrEqual(5);
    const created = all.tenants.map((t) => t.createdAt);
    expect(created).toEqual([...created].sort());

    const seen: Tenant[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const page: { tenants: Tenant[]; nextCursor: string | null } = await ok(
        edge,
        `/api/operator/tenants${query}`,
        { key: operator },
      );
      expect(page.tenants.length).toBeLessThanOrEqual(2);
      seen.push(...page.tenants);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual(all.tenants);
    expect(pages).toBe(Math.ceil(all.tenants.length / 2));
  });

  it('pages with the default size of 50 when no limit is given', async () => {
    const page = await ok<{ tenants: Tenant[] }>(edge, '/api/operator/tenants', { key: operator });
    expect(page.tenants.length).toBeLessThanOrEqual(50);
  });
});

describe('suspend and resume', () => {
  it("refuses a suspended tenant's admin and session keys, so its sessions stop sending, until resumed", async () => {
    const tenant = await newTenant(edge, operator, 'to suspend');
    const sessionKey = await newSession(edge, tenant.adminKey, 'sender');
    const send = () =>
      call(edge.url, '/api/send', { key: sessionKey, json: { to: '6281234567890', message: 'hi' } });
    expect((await send()).status).toBe(200);
    host.reset();

    const suspended = await ok<{ tenant: Tenant }>(edge, `/api/operator/tenants/${tenant.id}/suspend`, {
      key: operator,
      method: 'POST',
    });
    expect(suspended.tenant).toMatchObject({ id: tenant.id, status: 'suspended' });

    await expectBareError(await send(), 403, 'INVALID_API_KEY');
    await expectBareError(
      await call(edge.url, '/api/admin/keys', { key: tenant.adminKey }),
      403,
      'INVALID_API_KEY',
    );
    await expectBareError(
      await call(edge.url, '/api/session/create', { key: tenant.adminKey, json: {} }),
      403,
      'INVALID_API_KEY',
    );
    expect(host.calls).toEqual([]);

    const resumed = await ok<{ tenant: Tenant }>(edge, `/api/operator/tenants/${tenant.id}/resume`, {
      key: operator,
      method: 'POST',
    });
    expect(resumed.tenant).toMatchObject({ id: tenant.id, status: 'active' });
    expect((await send()).status).toBe(200);
    expect((await call(edge.url, '/api/admin/keys', { key: tenant.adminKey })).status).toBe(200);
  });

  it('suspending a suspended tenant (or resuming an active one) changes nothing and adds no audit entry', async () => {
    const tenant = await newTenant(edge, operator, 'idempotent');
    for (const action of ['suspend', 'suspend', 'resume', 'resume']) {
      const response = await call(edge.url, `/api/operator/tenants/${tenant.id}/${action}`, {
        key: operator,
        method: 'POST',
      });
      expect(response.status).toBe(200);
    }
    const entries = await auditLog(edge, tenant.adminKey);
    expect(entries.map((e) => e.action)).toEqual(['tenant.create', 'tenant.suspend', 'tenant.resume']);
    const operatorPrefix = operator.slice(0, 12);
    expect(entries.map((e) => [e.actor, e.target])).toEqual([
      [operatorPrefix, tenant.id],
      [operatorPrefix, tenant.id],
      [operatorPrefix, tenant.id],
    ]);
    expect(entries[0]?.detail).toEqual({ name: 'idempotent', adminKey: tenant.adminKey.slice(0, 12) });
  });

  it("leaves other tenants' keys alone", async () => {
    const suspended = await newTenant(edge, operator, 'suspended one');
    const other = await newTenant(edge, operator, 'untouched');
    await ok(edge, `/api/operator/tenants/${suspended.id}/suspend`, { key: operator, method: 'POST' });
    expect((await call(edge.url, '/api/admin/keys', { key: other.adminKey })).status).toBe(200);
  });
});
