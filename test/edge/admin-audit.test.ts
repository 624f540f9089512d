import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntryInfo, RerollKeyResponse } from '../../shared/admin-schemas.js';
import { auditLog, newKey, newSession, newTenant, ok, reroll, TestClock } from './admin-helpers.js';
import { useEdge } from './fixture.js';
import { call, type TestEdge } from './helpers.js';

const clock = new TestClock();
const fx = useEdge({ hosts: ['host-audit'], tenants: [], operator: true, edge: { now: clock.now } });
let edge: TestEdge;
let operator: string;

type AuditPage = { entries: AuditEntryInfo[]; nextCursor: string | null };
const prefix = (key: string) => key.slice(0, 12);

beforeAll(() => {
  ({ edge, operator } = fx());
});

describe('GET /api/admin/audit', () => {
  let admin: string;
  let tenantId: string;
  /** Every key the scenario saw in plaintext: none may appear in the log. */
  const secrets: string[] = [];
  /** What the log must say, in order: [actor, action, target]. */
  const expected: [string | null, string, string | null][] = [];

  beforeAll(async () => {
    const tenant = await newTenant(edge, operator, 'audited');
    admin = tenant.adminKey;
    tenantId = tenant.id;
    secrets.push(admin);
    expected.push([prefix(operator), 'tenant.create', tenantId]);

    const sessionKey = await newSession(edge, admin, 'audited-session');
    secrets.push(sessionKey);
    const sessionUuid = (
      await fx()
        .db.selectFrom('sessions')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .executeTakeFirstOrThrow()
    ).id;
    expected.push([prefix(admin), 'session.create', sessionUuid]);

    const backend = await newKey(edge, admin, {
      scope: 'session',
      sessionId: 'audited-session',
      label: 'backend',
    });
    secrets.push(backend.key);
    expected.push([prefix(admin), 'api_key.create', backend.info.id]);

    const expiring = await newKey(edge, admin, {
      scope: 'admin',
      label: 'temporary admin',
      expiresAt: new Date(clock.now().getTime() + 86_400_000).toISOString(),
    });
    secrets.push(expiring.key);
    expected.push([prefix(admin), 'api_key.create', expiring.info.id]);

    const rolled = await reroll(edge, admin, backend.info.id, 60);
    secrets.push(rolled.apiKey);
    expected.push([prefix(admin), 'api_key.reroll', backend.info.id]);

    const self = await ok<RerollKeyResponse>(edge, '/api/keys/self/reroll', {
      key: rolled.apiKey,
      json: { overlapSeconds: 0 },
    });
    secrets.push(self.apiKey);
    expected.push([prefix(rolled.apiKey), 'api_key.reroll', rolled.key.id]);

    await ok(edge, `/api/admin/keys/${expiring.info.id}/revoke`, { key: admin, method: 'POST' });
    expected.push([prefix(admin), 'api_key.revoke', expiring.info.id]);

    await ok(edge, `/api/operator/tenants/${tenantId}/suspend`, { key: operator, method: 'POST' });
    expected.push([prefix(operator), 'tenant.suspend', tenantId]);
    await ok(edge, `/api/operator/tenants/${tenantId}/resume`, { key: operator, method: 'POST' });
    expected.push([prefix(operator), 'tenant.resume', tenantId]);

    // Refused and read-only requests leave no entry.
    const refused = [
      await call(edge.url, `/api/admin/keys/${expiring.info.id}/revoke`, { key: admin, method: 'POST' }),
      await call(edge.url, `/api/admin/keys/${backend.info.id}/reroll`, {
        key: admin,
        json: { overlapSeconds: 1 },
      }),
      await call(edge.url, '/api/admin/keys', {
        key: admin,
        json: { scope: 'session', sessionId: 'nope', label: 'x' },
      }),
      await call(edge.url, '/api/admin/keys', { key: admin, json: { scope: 'bogus' } }),
      await call(edge.url, '/api/session/create', { key: admin, json: { sessionId: 'audited-session' } }),
      await call(edge.url, '/api/admin/keys', { key: admin }),
      await call(edge.url, '/api/admin/sessions', { key: admin }),
    ];
    // Revoking a revoked key is a no-op 200; the rest are refusals or reads.
    expect(refused.map((r) => r.status)).toEqual([200, 409, 404, 400, 409, 200, 200]);

    // Another tenant's actions go to its own log.
    const other = await newTenant(edge, operator, 'someone else');
    await newKey(edge, other.adminKey, { scope: 'admin', label: 'not yours' });
  });

  it('lists every action, in the order it happened, with who, what, when and on what', async () => {
    const entries = await auditLog(edge, admin);
    expect(entries.map((e) => [e.actor, e.action, e.target])).toEqual(expected);
    const ids = entries.map((e) => BigInt(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    const times = entries.map((e) => e.at);
    expect(times).toEqual([...times].sort());
    for (const entry of entries) expect(entry.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('says what changed, by display prefix only: no key and no digest anywhere', async () => {
    const entries = await auditLog(edge, admin);
    const byAction = (action: string) => entries.filter((e) => e.action === action);
    expect(byAction('api_key.create')[0]?.detail).toEqual({
      prefix: expect.stringMatching(/^wags_/),
      scope: 'session',
      label: 'backend',
      sessionId: 'audited-session',
      expiresAt: null,
    });
    expect(byAction('api_key.reroll')[0]?.detail).toMatchObject({
      prefix: expect.stringMatching(/^wags_/),
      newPrefix: expect.stringMatching(/^wags_/),
      newKeyId: expect.any(String),
      overlapSeconds: 60,
      overlapUntil: new Date(clock.now().getTime() + 60_000).toISOString(),
    });
    expect(byAction('api_key.revoke')[0]?.detail).toMatchObject({
      scope: 'admin',
      prefix: expect.any(String),
    });
    expect(byAction('tenant.suspend')[0]?.detail).toEqual({ name: 'audited' });

    const text = JSON.stringify(entries);
    for (const secret of secrets) expect(text).not.toContain(secret.slice(12));
  });

  it('is newest first by default, and pages by cursor in either order', async () => {
    const asc = await auditLog(edge, admin);
    const desc = await ok<AuditPage>(edge, '/api/admin/audit', { key: admin });
    expect(desc.entries).toEqual([...asc].reverse());
    expect(desc.nextCursor).toBeNull();

    expect(await auditLog(edge, admin, 2)).toEqual(asc);

    const seen: AuditEntryInfo[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=4&cursor=${cursor}` : '?limit=4';
      const page: AuditPage = await ok(edge, `/api/admin/audit${query}`, { key: admin });
      expect(page.entries.length).toBeLessThanOrEqual(4);
      seen.push(...page.entries);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(desc.entries);
  });

  it("shows nothing of other tenants, nor the operator's own start-up", async () => {
    const entries = await auditLog(edge, admin);
    expect(entries.some((e) => e.action.startsWith('operator_key.'))).toBe(false);
    expect(JSON.stringify(entries)).not.toContain('not yours');
  });
});
