import { beforeAll, describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../shared/admin-schemas.js';
import { queueText } from '../helpers/outbox.js';
import { newSession, newTenant, ok, TestClock } from './admin-helpers.js';
import { useEdge } from './fixture.js';
import { call, expectError, expectNoDbChange, type TestEdge } from './helpers.js';

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
      'outbox',
      'pacing',
      'sessionId',
      'state',
      'updatedAt',
      'user',
    ]);
    expect(first?.pacing).toBeNull();
    expect(first?.outbox).toEqual({ queued: 0, nextSendAt: null });
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

describe('the outbox, as the admin sees it', () => {
  it('shows how many messages wait and when the host plans the next send', async () => {
    const { db } = fx();
    const { id } = await db
      .selectFrom('sessions')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('name', '=', 'pairing')
      .executeTakeFirstOrThrow();
    for (const text of ['satu', 'dua', 'tiga']) await queueText(db, id, '6281111111111@s.whatsapp.net', text);
    const next = new Date(Date.now() + 5_000);
    // What the owning host writes while it waits out the session's pacing.
    await db.updateTable('sessions').set({ outbox_next_at: next }).where('id', '=', id).execute();
    const body = await ok<{ session: SessionInfo }>(edge, '/api/admin/sessions/pairing', { key: admin });
    expect(body.session.outbox).toEqual({ queued: 3, nextSendAt: next.toISOString() });
  });
});

describe('PATCH /api/admin/sessions/:sessionId', () => {
  const pacing = { minIntervalMs: 500, jitterMs: 250, typingMs: 1_000, perChatMinIntervalMs: 2_000 };
  const patch = (name: string, json: unknown, key = admin) =>
    call(edge.url, `/api/admin/sessions/${name}`, { method: 'PATCH', key, json });

  it('sets the pacing, shows it, audits it, and null goes back to the defaults', async () => {
    const set = await ok<{ session: SessionInfo }>(edge, '/api/admin/sessions/fifth', {
      method: 'PATCH',
      key: admin,
      json: { pacing },
    });
    expect(set.session.pacing).toEqual(pacing);
    const got = await ok<{ session: SessionInfo }>(edge, '/api/admin/sessions/fifth', { key: admin });
    expect(got.session.pacing).toEqual(pacing);
    const audit = await ok<{ entries: { action: string; target: string; detail: unknown }[] }>(
      edge,
      '/api/admin/audit',
      { key: admin },
    );
    expect(audit.entries[0]).toMatchObject({
      action: 'session.pacing',
      target: got.session.id,
      detail: { pacing },
    });

    const reset = await ok<{ session: SessionInfo }>(edge, '/api/admin/sessions/fifth', {
      method: 'PATCH',
      key: admin,
      json: { pacing: null },
    });
    expect(reset.session.pacing).toBeNull();
  });

  it.each([
    ['no body at all', undefined],
    ['no pacing', {}],
    ['a pacing missing a value', { pacing: { minIntervalMs: 500 } }],
    ['a negative gap', { pacing: { ...pacing, minIntervalMs: -1 } }],
    ['a fraction', { pacing: { ...pacing, jitterMs: 0.5 } }],
    ['a string', { pacing: { ...pacing, typingMs: '1000' } }],
    ['typing over a minute', { pacing: { ...pacing, typingMs: 60_001 } }],
    ['an unknown field', { pacing, name: 'renamed' }],
    ['an unknown pacing field', { pacing: { ...pacing, burst: 3 } }],
  ])('400 VALIDATION_ERROR for %s, and nothing changes', async (_what, json) => {
    const { db } = fx();
    const response = await expectNoDbChange(db, () => patch('fifth', json));
    await expectError(response, 400, 'VALIDATION_ERROR');
  });

  it('404 SESSION_NOT_FOUND for a session the tenant does not have', async () => {
    const { db } = fx();
    for (const name of ['never-was', 'Not A Name!']) {
      await expectError(await expectNoDbChange(db, () => patch(name, { pacing })), 404, 'SESSION_NOT_FOUND');
    }
  });
});
