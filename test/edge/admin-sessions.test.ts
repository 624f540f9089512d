import { beforeAll, describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../shared/admin-schemas.js';
import { newSession, newTenant, ok, TestClock } from './admin-helpers.js';
import { useEdge } from './fixture.js';
import type { TestEdge } from './helpers.js';

const fx = useEdge({
  hosts: ['host-admin-sessions'],
  tenants: [],
  operator: true,
  edge: { now: new TestClock().now },
});
let edge: TestEdge;
let admin: string;
let tenantId: string;

type SessionPage = { sessions: SessionInfo[]; nextCursor: string | null };

beforeAll(async () => {
  const { db, operator } = fx();
  ({ edge } = fx());
  const tenant = await newTenant(edge, operator, 'sessions');
  admin = tenant.adminKey;
  tenantId = tenant.id;
  for (const name of ['linked', 'pairing', 'unnamed', 'out', 'fifth']) await newSession(edge, admin, name);
  // What hosts write as the sessions' actors move (node-runtime/host/sessions.ts mirrors them).
  const set = (name: string, row: { state: string; account_jid?: string; account_name?: string | null }) =>
    db.updateTable('sessions').set(row).where('tenant_id', '=', tenantId).where('name', '=', name).execute();
  await set('linked', {
    state: 'connected',
    account_jid: '6281234567890@s.whatsapp.net',
    account_name: 'Budi',
  });
  await set('pairing', { state: 'awaiting-qr' });
  await set('unnamed', {
    state: 'connected',
    account_jid: '6289876543210@s.whatsapp.net',
    account_name: null,
  });
  await set('out', { state: 'logged-out' });
});

describe('GET /api/admin/sessions', () => {
  it("lists the tenant's sessions oldest first, with their state and account", async () => {
    const page = await ok<SessionPage>(edge, '/api/admin/sessions', { key: admin });
    expect(page.nextCursor).toBeNull();
    expect(page.sessions.map((s) => [s.sessionId, s.state, s.user])).toEqual([
      ['linked', 'connected', { id: '6281234567890@s.whatsapp.net', name: 'Budi' }],
      ['pairing', 'awaiting-qr', null],
      // Like the seed's `user`, the push name is left out while WhatsApp has not sent it.
      ['unnamed', 'connected', { id: '6289876543210@s.whatsapp.net' }],
      ['out', 'logged-out', null],
      ['fifth', 'idle', null],
    ]);
    const [first] = page.sessions;
    expect(Object.keys(first ?? {}).sort()).toEqual([
      'createdAt',
      'description',
      'id',
      'sessionId',
      'state',
      'updatedAt',
      'user',
    ]);
    // Nothing about hosts or leases: where a session runs is the platform's business.
    expect(JSON.stringify(page)).not.toContain(fx().host.id);
  });

  it('pages with a cursor', async () => {
    const one = await ok<SessionPage>(edge, '/api/admin/sessions?limit=2', { key: admin });
    const two = await ok<SessionPage>(edge, `/api/admin/sessions?limit=2&cursor=${one.nextCursor}`, {
      key: admin,
    });
    const three = await ok<SessionPage>(edge, `/api/admin/sessions?limit=2&cursor=${two.nextCursor}`, {
      key: admin,
    });
    expect([one, two, three].map((p) => p.sessions.map((s) => s.sessionId))).toEqual([
      ['linked', 'pairing'],
      ['unnamed', 'out'],
      ['fifth'],
    ]);
    expect(one.nextCursor).toBe(one.sessions[1]?.id);
    expect(three.nextCursor).toBeNull();
  });
});

describe('GET /api/admin/sessions/:sessionId', () => {
  it('shows one session by the name clients know it by', async () => {
    const page = await ok<SessionPage>(edge, '/api/admin/sessions', { key: admin });
    const body = await ok<{ session: SessionInfo }>(edge, '/api/admin/sessions/linked', { key: admin });
    expect(body).toEqual({ success: true, session: page.sessions[0] });
  });
});
