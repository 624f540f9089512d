// The isolation matrix: every API route against every kind of key that must not get through, and the
// keys of another tenant or session, which must reach nothing of this one. A refusal has the right
// status and code, carries no data, writes nothing and reaches no session host. The edge fronts three
// hosts, the sessions spread over them, as a deployment on many machines runs.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyScope } from '../../shared/api-key.js';
import {
  expectBareError,
  expectUnchanged,
  fullSnapshot,
  newKey,
  newSession,
  newTenant,
  ok,
  reroll,
  TestClock,
} from './admin-helpers.js';
import { addEvent, insertMessage, PUBLIC_ADDRESS, statusEvent, webhookConfig } from './event-helpers.js';
import { useEdge } from './fixture.js';
import { call, createKey, type TestEdge } from './helpers.js';
import type { StandInHost } from './stand-in-host.js';

const clock = new TestClock();
const setup = useEdge({
  hosts: ['host-isolation-1', 'host-isolation-2', 'host-isolation-3'],
  tenants: [],
  operator: true,
  edge: { now: clock.now, webhooks: webhookConfig(), resolveHost: async () => [PUBLIC_ADDRESS] },
});
let edge: TestEdge;
let hosts: StandInHost[];
/** What every host was asked, in the order each host got it. */
const hostCalls = () => hosts.flatMap((h) => h.calls);

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** What the matrix needs: tenant A (the target), tenant B (the neighbour), suspended tenant S. */
interface Fixture {
  operator: string;
  tenantA: string;
  adminA: string;
  /** A key of A that id routes name. */
  targetKeyA: string;
  sessionA1: string;
  sessionA2: string;
  sessionA1Uuid: string;
  sessionA2Uuid: string;
  tenantB: string;
  adminB: string;
  sessionB1: string;
  sessionB1Uuid: string;
  targetKeyB: string;
  /** A message of session a-one, and events of a-one, a-two, of tenant A itself and of B's a-one. */
  messageA1: string;
  eventA1: string;
  eventA2: string;
  eventOfA: string;
  eventB1: string;
  webhookA: string;
  webhookB: string;
  tenantS: string;
  /** Keys that were good once, or never were, by scope. */
  revoked: Record<ApiKeyScope, string>;
  expired: Record<ApiKeyScope, string>;
  rotatedOut: Record<ApiKeyScope, string>;
  suspended: Partial<Record<ApiKeyScope, string>>;
  badChecksum: Record<ApiKeyScope, string>;
  good: Record<ApiKeyScope, string>;
}

let fx: Fixture;

const flipLast = (key: string) => key.slice(0, -1) + (key.at(-1) === 'A' ? 'B' : 'A');

async function sessionUuid(tenantId: string, name: string): Promise<string> {
  const row = await setup()
    .db.selectFrom('sessions')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  return row.id;
}

beforeAll(async () => {
  const { db, operator } = setup();
  ({ edge, hosts } = setup());

  const a = await newTenant(edge, operator, 'tenant A');
  const sessionA1 = await newSession(edge, a.adminKey, 'a-one');
  const sessionA2 = await newSession(edge, a.adminKey, 'a-two');
  const targetKeyA = (await newKey(edge, a.adminKey, { scope: 'admin', label: 'target' })).info.id;

  const b = await newTenant(edge, operator, 'tenant B');
  // Same session name as in A: names are per tenant.
  const sessionB1 = await newSession(edge, b.adminKey, 'a-one');
  const targetKeyB = (await newKey(edge, b.adminKey, { scope: 'admin', label: 'target of B' })).info.id;

  const s = await newTenant(edge, operator, 'tenant S');
  const sessionS = await newSession(edge, s.adminKey, 's-one');
  await ok(edge, `/api/operator/tenants/${s.id}/suspend`, { key: operator, method: 'POST' });

  const a1Uuid = await sessionUuid(a.id, 'a-one');
  const past = new Date(clock.now().getTime() - 60_000);

  // Revoked and re-rolled through the API, as an admin would; the operator's straight in the database,
  // since no route revokes or re-rolls the operator key.
  const revokedAdmin = await newKey(edge, a.adminKey, { scope: 'admin', label: 'revoked' });
  await ok(edge, `/api/admin/keys/${revokedAdmin.info.id}/revoke`, { key: a.adminKey, method: 'POST' });
  const revokedSession = await newKey(edge, a.adminKey, {
    scope: 'session',
    sessionId: 'a-one',
    label: 'revoked',
  });
  await ok(edge, `/api/admin/keys/${revokedSession.info.id}/revoke`, { key: a.adminKey, method: 'POST' });
  const rolledAdmin = await newKey(edge, a.adminKey, { scope: 'admin', label: 'rolled' });
  await reroll(edge, a.adminKey, rolledAdmin.info.id, 0);
  const rolledSession = await newKey(edge, a.adminKey, {
    scope: 'session',
    sessionId: 'a-one',
    label: 'rolled',
  });
  await reroll(edge, a.adminKey, rolledSession.info.id, 0);

  // What the hosts would have written: messages and events of A's and B's sessions.
  const b1Uuid = await sessionUuid(b.id, 'a-one');
  const a2Uuid = await sessionUuid(a.id, 'a-two');
  const message = await insertMessage(db, { id: a1Uuid, tenantId: a.id }, { sent_at: new Date() });
  await insertMessage(db, { id: b1Uuid, tenantId: b.id }, { id: 'ONLY-IN-B', sent_at: new Date() });
  const eventA1 = await statusEvent(db, { tenantId: a.id, id: a1Uuid, name: 'a-one' });
  const eventA2 = await statusEvent(db, { tenantId: a.id, id: a2Uuid, name: 'a-two' });
  const eventOfA = await addEvent(db, { tenantId: a.id, id: null, name: null }, 'webhook.disabled', {
    webhookId: UNKNOWN_ID,
    url: 'https://hooks.example.com/gone',
    reason: 'the endpoint answered 410 Gone',
  });
  const eventB1 = await statusEvent(db, { tenantId: b.id, id: b1Uuid, name: 'a-one' });
  const webhookOf = async (adminKey: string, url: string) =>
    (
      await ok<{ webhook: { id: string } }>(
        edge,
        '/api/admin/webhooks',
        { key: adminKey, json: { url } },
        201,
      )
    ).webhook.id;
  const webhookA = await webhookOf(a.adminKey, 'https://hooks.example.com/a');
  const webhookB = await webhookOf(b.adminKey, 'https://hooks.example.com/b');

  fx = {
    messageA1: message.id,
    eventA1,
    eventA2,
    eventOfA,
    eventB1,
    webhookA,
    webhookB,
    operator,
    tenantA: a.id,
    adminA: a.adminKey,
    targetKeyA,
    sessionA1,
    sessionA2,
    sessionA1Uuid: a1Uuid,
    sessionA2Uuid: a2Uuid,
    tenantB: b.id,
    adminB: b.adminKey,
    sessionB1,
    sessionB1Uuid: b1Uuid,
    targetKeyB,
    tenantS: s.id,
    revoked: {
      operator: await createKey(db, 'operator', { revokedAt: past }),
      admin: revokedAdmin.key,
      session: revokedSession.key,
    },
    expired: {
      operator: await createKey(db, 'operator', { expiresAt: past }),
      admin: await createKey(db, 'admin', { tenantId: a.id, expiresAt: past }),
      session: await createKey(db, 'session', { tenantId: a.id, sessionId: a1Uuid, expiresAt: past }),
    },
    rotatedOut: {
      operator: await createKey(db, 'operator', { overlapUntil: past }),
      admin: rolledAdmin.key,
      session: rolledSession.key,
    },
    suspended: { admin: s.adminKey, session: sessionS },
    badChecksum: { operator: flipLast(operator), admin: flipLast(a.adminKey), session: flipLast(sessionA1) },
    good: { operator, admin: a.adminKey, session: sessionA1 },
  };
  for (const h of hosts) h.reset();
});

interface RouteCase {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The path as the app registers it. */
  route: string;
  /** The path requested, naming tenant A's resources. */
  path: (f: Fixture) => string;
  scopes: ApiKeyScope[];
  json?: unknown;
}

const ROUTES: RouteCase[] = [
  {
    method: 'POST',
    route: '/api/session/create',
    path: () => '/api/session/create',
    scopes: ['admin'],
    json: { sessionId: 'never-made' },
  },
  { method: 'GET', route: '/api/session/qr', path: () => '/api/session/qr', scopes: ['session'] },
  {
    method: 'POST',
    route: '/api/session/pairing-code',
    path: () => '/api/session/pairing-code',
    scopes: ['session'],
    json: { phoneNumber: '6281234567890' },
  },
  { method: 'GET', route: '/api/session/events', path: () => '/api/session/events', scopes: ['session'] },
  { method: 'GET', route: '/api/session/status', path: () => '/api/session/status', scopes: ['session'] },
  {
    method: 'POST',
    route: '/api/send',
    path: () => '/api/send',
    scopes: ['session'],
    json: { to: '6281234567890', message: 'must not be sent' },
  },
  { method: 'POST', route: '/api/session/logout', path: () => '/api/session/logout', scopes: ['session'] },
  {
    method: 'POST',
    route: '/api/keys/self/reroll',
    path: () => '/api/keys/self/reroll',
    scopes: ['session', 'admin'],
    json: { overlapSeconds: 0 },
  },
  { method: 'GET', route: '/api/keys', path: () => '/api/keys', scopes: ['admin'] },
  { method: 'GET', route: '/api/admin/sessions', path: () => '/api/admin/sessions', scopes: ['admin'] },
  {
    method: 'GET',
    route: '/api/admin/sessions/:sessionId',
    path: () => '/api/admin/sessions/a-one',
    scopes: ['admin'],
  },
  { method: 'GET', route: '/api/admin/keys', path: () => '/api/admin/keys', scopes: ['admin'] },
  {
    method: 'POST',
    route: '/api/admin/keys',
    path: () => '/api/admin/keys',
    scopes: ['admin'],
    json: { scope: 'session', sessionId: 'a-one', label: 'must not exist' },
  },
  {
    method: 'GET',
    route: '/api/admin/keys/:id',
    path: (f) => `/api/admin/keys/${f.targetKeyA}`,
    scopes: ['admin'],
  },
  {
    method: 'POST',
    route: '/api/admin/keys/:id/revoke',
    path: (f) => `/api/admin/keys/${f.targetKeyA}/revoke`,
    scopes: ['admin'],
  },
  {
    method: 'POST',
    route: '/api/admin/keys/:id/reroll',
    path: (f) => `/api/admin/keys/${f.targetKeyA}/reroll`,
    scopes: ['admin'],
    json: { overlapSeconds: 0 },
  },
  { method: 'GET', route: '/api/admin/audit', path: () => '/api/admin/audit', scopes: ['admin'] },
  {
    method: 'POST',
    route: '/api/operator/tenants',
    path: () => '/api/operator/tenants',
    scopes: ['operator'],
    json: { name: 'must not exist' },
  },
  {
    method: 'GET',
    route: '/api/operator/tenants',
    path: () => '/api/operator/tenants',
    scopes: ['operator'],
  },
  {
    method: 'POST',
    route: '/api/operator/tenants/:id/suspend',
    path: (f) => `/api/operator/tenants/${f.tenantA}/suspend`,
    scopes: ['operator'],
  },
  {
    method: 'POST',
    route: '/api/operator/tenants/:id/resume',
    path: (f) => `/api/operator/tenants/${f.tenantS}/resume`,
    scopes: ['operator'],
  },
  { method: 'GET', route: '/api/operator/hosts', path: () => '/api/operator/hosts', scopes: ['operator'] },
  {
    method: 'POST',
    route: '/api/operator/hosts/:id/drain',
    path: () => '/api/operator/hosts/host-1/drain',
    scopes: ['operator'],
  },
  {
    method: 'POST',
    route: '/api/operator/hosts/:id/undrain',
    path: () => '/api/operator/hosts/host-1/undrain',
    scopes: ['operator'],
  },
  { method: 'GET', route: '/api/messages', path: () => '/api/messages', scopes: ['session'] },
  {
    method: 'POST',
    route: '/api/messages',
    path: () => '/api/messages',
    scopes: ['session'],
    json: { to: '6281234567890', text: 'must not be queued' },
  },
  {
    method: 'DELETE',
    route: '/api/messages/:id',
    path: (f) => `/api/messages/${f.messageA1}`,
    scopes: ['session'],
  },
  {
    method: 'PATCH',
    route: '/api/admin/sessions/:sessionId',
    path: () => '/api/admin/sessions/a-one',
    scopes: ['admin'],
    json: { pacing: null },
  },
  {
    method: 'GET',
    route: '/api/messages/:id',
    path: (f) => `/api/messages/${f.messageA1}`,
    scopes: ['session'],
  },
  {
    method: 'POST',
    route: '/api/chats/:chat/read',
    path: () => '/api/chats/6281234567890/read',
    scopes: ['session'],
  },
  {
    method: 'POST',
    route: '/api/chats/:chat/presence',
    path: () => '/api/chats/6281234567890/presence',
    scopes: ['session'],
    json: { state: 'typing' },
  },
  {
    method: 'POST',
    route: '/api/contacts/check',
    path: () => '/api/contacts/check',
    scopes: ['session'],
    json: { numbers: ['6281234567890'] },
  },
  {
    method: 'GET',
    route: '/api/messages/:id/media',
    path: (f) => `/api/messages/${f.messageA1}/media`,
    scopes: ['session'],
  },
  {
    method: 'GET',
    route: '/api/admin/sessions/:sessionId/messages',
    path: () => '/api/admin/sessions/a-one/messages',
    scopes: ['admin'],
  },
  {
    method: 'GET',
    route: '/api/admin/sessions/:sessionId/messages/:id',
    path: (f) => `/api/admin/sessions/a-one/messages/${f.messageA1}`,
    scopes: ['admin'],
  },
  { method: 'GET', route: '/api/events', path: () => '/api/events', scopes: ['session', 'admin'] },
  { method: 'GET', route: '/api/admin/webhooks', path: () => '/api/admin/webhooks', scopes: ['admin'] },
  {
    method: 'POST',
    route: '/api/admin/webhooks',
    path: () => '/api/admin/webhooks',
    scopes: ['admin'],
    json: { url: 'https://hooks.example.com/never' },
  },
  {
    method: 'GET',
    route: '/api/admin/webhooks/:id',
    path: (f) => `/api/admin/webhooks/${f.webhookA}`,
    scopes: ['admin'],
  },
  {
    method: 'PATCH',
    route: '/api/admin/webhooks/:id',
    path: (f) => `/api/admin/webhooks/${f.webhookA}`,
    scopes: ['admin'],
    json: { description: 'must not change' },
  },
  {
    method: 'DELETE',
    route: '/api/admin/webhooks/:id',
    path: (f) => `/api/admin/webhooks/${f.webhookA}`,
    scopes: ['admin'],
  },
  {
    method: 'POST',
    route: '/api/admin/webhooks/:id/rotate-secret',
    path: (f) => `/api/admin/webhooks/${f.webhookA}/rotate-secret`,
    scopes: ['admin'],
    json: { overlapSeconds: 0 },
  },
  {
    method: 'POST',
    route: '/api/admin/webhooks/:id/test',
    path: (f) => `/api/admin/webhooks/${f.webhookA}/test`,
    scopes: ['admin'],
  },
  {
    method: 'GET',
    route: '/api/admin/webhooks/:id/deliveries',
    path: (f) => `/api/admin/webhooks/${f.webhookA}/deliveries`,
    scopes: ['admin'],
  },
  {
    method: 'POST',
    route: '/api/admin/webhooks/:id/replay',
    path: (f) => `/api/admin/webhooks/${f.webhookA}/replay`,
    scopes: ['admin'],
    json: { since: '2000-01-01T00:00:00Z' },
  },
];

const SCOPES: ApiKeyScope[] = ['operator', 'admin', 'session'];

interface Refusal {
  kind: string;
  key?: string;
  query?: string;
  status: number;
  code: string;
}

/** Every key a route must refuse, with the answer it must give. */
function refusalsFor(route: RouteCase, f: Fixture): Refusal[] {
  const out: Refusal[] = [
    { kind: 'no key', status: 401, code: 'MISSING_API_KEY' },
    { kind: 'malformed', key: 'not-a-key', status: 403, code: 'INVALID_API_KEY' },
    { kind: 'malformed with our prefix', key: 'wags_tooShort', status: 403, code: 'INVALID_API_KEY' },
  ];
  for (const scope of route.scopes) {
    const good = f.good[scope];
    out.push(
      { kind: `${scope}: bad checksum`, key: f.badChecksum[scope], status: 403, code: 'INVALID_API_KEY' },
      { kind: `${scope}: revoked`, key: f.revoked[scope], status: 403, code: 'INVALID_API_KEY' },
      { kind: `${scope}: expired`, key: f.expired[scope], status: 403, code: 'INVALID_API_KEY' },
      { kind: `${scope}: past its overlap`, key: f.rotatedOut[scope], status: 403, code: 'INVALID_API_KEY' },
      {
        kind: `${scope}: in the query string`,
        key: good,
        query: `?apiKey=${good}`,
        status: 400,
        code: 'API_KEY_IN_QUERY',
      },
      {
        kind: `${scope}: in the query string only`,
        query: `?key=${good}`,
        status: 400,
        code: 'API_KEY_IN_QUERY',
      },
    );
  }
  // A suspended tenant's keys are refused before their scope is looked at, on every route.
  for (const [scope, key] of Object.entries(f.suspended)) {
    out.push({ kind: `${scope}: suspended tenant`, key, status: 403, code: 'INVALID_API_KEY' });
  }
  for (const scope of SCOPES.filter((s) => !route.scopes.includes(s))) {
    out.push({ kind: `${scope}: wrong scope`, key: f.good[scope], status: 403, code: 'WRONG_SCOPE' });
  }
  return out;
}

describe('the matrix covers every API route', () => {
  it('has a row for each route the app serves under /api', () => {
    const served = new Set(
      edge.app.routes
        .filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/'))
        .map((r) => `${r.method} ${r.path}`),
    );
    expect([...served].sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.route}`).sort());
  });
});

it('the edge fronts three hosts, and the sessions are spread over them', async () => {
  const rows = await setup().db.selectFrom('sessions').select('host_id').distinct().execute();
  expect(rows.map((r) => r.host_id).sort()).toEqual(hosts.map((h) => h.id).sort());
});

describe.each(ROUTES.map((r) => [`${r.method} ${r.route}`, r] as const))('%s', (_name, route) => {
  it('refuses every key that must not pass, with no data, no write and no host call', async () => {
    const { db } = setup();
    const problems: string[] = [];
    for (const refusal of refusalsFor(route, fx)) {
      const response = await expectUnchanged(db, () =>
        call(edge.url, route.path(fx) + (refusal.query ?? ''), {
          method: route.method,
          key: refusal.key,
          json: route.json,
        }),
      );
      const body = (await response.json()) as Record<string, unknown>;
      const got = { status: response.status, code: body.code, fields: Object.keys(body).sort().join(',') };
      const want = { status: refusal.status, code: refusal.code, fields: 'code,error,success' };
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        problems.push(`${refusal.kind}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      }
    }
    expect(problems).toEqual([]);
    expect(hostCalls()).toEqual([]);
  });

  if (route.json !== undefined) {
    it('checks the scope before the body: a wrong-scope caller learns nothing from validation', async () => {
      for (const scope of SCOPES.filter((s) => !route.scopes.includes(s))) {
        const response = await expectUnchanged(setup().db, () =>
          call(edge.url, route.path(fx), {
            method: route.method,
            key: fx.good[scope],
            body: '{not json',
            headers: { 'content-type': 'application/json' },
          }),
        );
        await expectBareError(response, 403, 'WRONG_SCOPE');
      }
    });
  }
});

describe("another tenant's resources look exactly like ones that do not exist", () => {
  /** The answer to `path(id)` for tenant B's admin, for A's resource and for one that does not exist. */
  async function compare(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    pathOf: (id: string) => string,
    ofA: string,
    missing: string,
    json?: unknown,
  ) {
    const { db } = setup();
    const answer = async (id: string) => {
      const response = await expectUnchanged(db, () =>
        call(edge.url, pathOf(id), { method, key: fx.adminB, json }),
      );
      return {
        status: response.status,
        type: response.headers.get('content-type'),
        body: await response.text(),
      };
    };
    const a = await answer(ofA);
    expect(a).toEqual(await answer(missing));
    return a;
  }

  it.each([
    ['GET', (id: string) => `/api/admin/keys/${id}`, undefined],
    ['POST', (id: string) => `/api/admin/keys/${id}/revoke`, undefined],
    ['POST', (id: string) => `/api/admin/keys/${id}/reroll`, { overlapSeconds: 0 }],
  ] as const)('a key of A, to B’s admin on %s %s', async (method, pathOf, json) => {
    const answer = await compare(method, pathOf, fx.targetKeyA, UNKNOWN_ID, json);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'KEY_NOT_FOUND' });
  });

  it('a session of A, to B’s admin, read by name', async () => {
    await ok(edge, '/api/admin/sessions/a-two', { key: fx.adminA });
    const answer = await compare('GET', (name) => `/api/admin/sessions/${name}`, 'a-two', 'never-was');
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it('a session of A, to B’s admin issuing a key for it', async () => {
    const { db } = setup();
    const issue = async (sessionId: string) => {
      const response = await expectUnchanged(db, () =>
        call(edge.url, '/api/admin/keys', {
          key: fx.adminB,
          json: { scope: 'session', sessionId, label: 'reach into A' },
        }),
      );
      return { status: response.status, body: await response.text() };
    };
    const ofA = await issue('a-two');
    expect(ofA).toEqual(await issue('never-was'));
    expect(JSON.parse(ofA.body)).toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it.each([
    ['GET', (id: string) => `/api/admin/webhooks/${id}`, undefined],
    ['PATCH', (id: string) => `/api/admin/webhooks/${id}`, { enabled: false }],
    ['DELETE', (id: string) => `/api/admin/webhooks/${id}`, undefined],
    ['POST', (id: string) => `/api/admin/webhooks/${id}/rotate-secret`, { overlapSeconds: 0 }],
    ['POST', (id: string) => `/api/admin/webhooks/${id}/test`, undefined],
    ['GET', (id: string) => `/api/admin/webhooks/${id}/deliveries`, undefined],
    ['POST', (id: string) => `/api/admin/webhooks/${id}/replay`, { since: '2000-01-01T00:00:00Z' }],
  ] as const)('a webhook of A, to B’s admin on %s %s', async (method, pathOf, json) => {
    const answer = await compare(method, pathOf, fx.webhookA, UNKNOWN_ID, json);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'WEBHOOK_NOT_FOUND' });
  });

  it('a message of A, to the key of another session of A and of a session of B', async () => {
    for (const key of [fx.sessionA2, fx.sessionB1]) {
      const { db } = setup();
      for (const method of ['GET', 'DELETE']) {
        const answer = async (id: string) => {
          const response = await expectUnchanged(db, () =>
            call(edge.url, `/api/messages/${id}`, { key, method }),
          );
          return { status: response.status, body: await response.text() };
        };
        const ofA = await answer(fx.messageA1);
        expect(ofA).toEqual(await answer('NEVER-WAS'));
        expect(JSON.parse(ofA.body)).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
      }
    }
    // B's admin, through its own session of the same name, and through A's other session's name.
    const viaSameName = await compare(
      'GET',
      (id) => `/api/admin/sessions/a-one/messages/${id}`,
      fx.messageA1,
      'NEVER-WAS',
    );
    expect(JSON.parse(viaSameName.body)).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
    const viaName = await compare(
      'GET',
      (name) => `/api/admin/sessions/${name}/messages`,
      'a-two',
      'never-was',
    );
    expect(JSON.parse(viaName.body)).toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it('an event of A, as the cursor of B’s admin, of A’s other session, or of B’s session: like a malformed one', async () => {
    const { db } = setup();
    const answer = async (key: string, after: string) => {
      const response = await expectUnchanged(db, () => call(edge.url, `/api/events?after=${after}`, { key }));
      return { status: response.status, body: await response.text() };
    };
    const malformed = await answer(fx.adminB, 'nonsense');
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toMatchObject({ code: 'INVALID_CURSOR' });
    for (const [key, after] of [
      [fx.adminB, fx.eventA1],
      [fx.adminB, fx.eventOfA],
      [fx.sessionB1, fx.eventA1],
      [fx.sessionA2, fx.eventA1],
      [fx.sessionA1, fx.eventOfA],
      [fx.sessionA1, fx.eventB1],
    ] as const) {
      expect(await answer(key, after)).toEqual(malformed);
    }
  });

  it('an event or a session of A, named to a webhook of B, like one that does not exist', async () => {
    const replay = await compare('POST', () => `/api/admin/webhooks/${fx.webhookB}/replay`, '', '', {
      eventId: fx.eventA1,
    });
    const unknown = await compare('POST', () => `/api/admin/webhooks/${fx.webhookB}/replay`, '', '', {
      eventId: 'evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ',
    });
    expect(replay).toEqual(unknown);
    expect(JSON.parse(replay.body)).toMatchObject({ code: 'EVENT_NOT_FOUND' });
    const { db } = setup();
    const create = async (sessionId: string) => {
      const response = await expectUnchanged(db, () =>
        call(edge.url, '/api/admin/webhooks', {
          key: fx.adminB,
          json: { url: 'https://hooks.example.com/reach-into-a', sessionId },
        }),
      );
      return { status: response.status, body: await response.text() };
    };
    const ofA = await create('a-two');
    expect(ofA).toEqual(await create('never-was'));
    expect(JSON.parse(ofA.body)).toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it("a webhook of A, as a listing cursor for B's admin, is an empty page like an unknown id", async () => {
    const page = async (cursor: string) =>
      ok<{ webhooks: unknown[]; nextCursor: string | null }>(edge, `/api/admin/webhooks?cursor=${cursor}`, {
        key: fx.adminB,
      });
    expect(await page(fx.webhookA)).toEqual(await page(UNKNOWN_ID));
    expect((await page(UNKNOWN_ID)).webhooks).toEqual([]);
  });

  it("a key of B, as a listing cursor for A's admin, is an empty page like an unknown id", async () => {
    const page = async (cursor: string) =>
      ok<{ keys: unknown[]; nextCursor: string | null }>(edge, `/api/admin/keys?cursor=${cursor}`, {
        key: fx.adminA,
      });
    expect(await page(fx.targetKeyB)).toEqual(await page(UNKNOWN_ID));
    expect((await page(UNKNOWN_ID)).keys).toEqual([]);
  });
});

describe("listings show the caller's own tenant only", () => {
  it.each(['/api/admin/keys', '/api/keys', '/api/admin/sessions', '/api/admin/audit'])(
    '%s for B’s admin holds nothing of A',
    async (path) => {
      const text = JSON.stringify(await ok(edge, `${path}?limit=100`, { key: fx.adminB }));
      for (const secret of [
        fx.tenantA,
        fx.targetKeyA,
        fx.sessionA1Uuid,
        fx.sessionA2Uuid,
        'a-two',
        'tenant A',
      ]) {
        expect(text).not.toContain(secret);
      }
      for (const key of [fx.adminA, fx.sessionA1, fx.sessionA2]) expect(text).not.toContain(key.slice(0, 12));
      // And B's own things are there.
      if (path !== '/api/admin/audit')
        expect(text).toMatch(path.includes('sessions') ? fx.sessionB1Uuid : fx.targetKeyB);
    },
  );
});

describe('messages, events and webhooks: each key sees its own only', () => {
  it("B's admin lists B's webhooks and events, and nothing of A", async () => {
    for (const path of ['/api/admin/webhooks?limit=100', '/api/events?limit=500']) {
      const text = JSON.stringify(await ok(edge, path, { key: fx.adminB }));
      for (const secret of [fx.webhookA, fx.eventA1, fx.eventA2, fx.eventOfA, 'hooks.example.com/a"']) {
        expect(text).not.toContain(secret);
      }
      expect(text).toContain(path.includes('webhooks') ? fx.webhookB : fx.eventB1);
    }
  });

  it("a session key lists its own session's messages and events only", async () => {
    const events = JSON.stringify(await ok(edge, '/api/events', { key: fx.sessionA1 }));
    expect(events).toContain(fx.eventA1);
    for (const other of [fx.eventA2, fx.eventOfA, fx.eventB1]) expect(events).not.toContain(other);
    const messages = JSON.stringify(await ok(edge, '/api/messages', { key: fx.sessionA1 }));
    expect(messages).toContain(fx.messageA1);
    expect(messages).not.toContain('ONLY-IN-B');
    expect(JSON.stringify(await ok(edge, '/api/messages', { key: fx.sessionA2 }))).not.toContain(
      fx.messageA1,
    );
    expect(JSON.stringify(await ok(edge, '/api/messages', { key: fx.sessionB1 }))).not.toContain(
      fx.messageA1,
    );
  });
});

describe('the keys of another session, or of another tenant, reach their own session only', () => {
  const SESSION_ROUTES = [
    ['GET', '/api/session/qr', undefined],
    ['POST', '/api/session/pairing-code', { phoneNumber: '6281234567890' }],
    ['GET', '/api/session/status', undefined],
    ['POST', '/api/send', { to: '6281234567890', message: 'hi' }],
    ['POST', '/api/session/logout', undefined],
  ] as const;

  it.each([
    ['another session of the same tenant', () => fx.sessionA2, () => fx.sessionA2Uuid, () => fx.tenantA],
    [
      'a session of another tenant, of the same name',
      () => fx.sessionB1,
      () => fx.sessionB1Uuid,
      () => fx.tenantB,
    ],
  ])('%s', async (_name, key, uuid, tenant) => {
    for (const [method, path, json] of SESSION_ROUTES) {
      // Nothing in the request names a session: query, body and headers that try are ignored.
      const response = await call(edge.url, `${path}?sessionId=a-one`, {
        method,
        key: key(),
        json: json ? { ...json, sessionId: fx.sessionA1Uuid } : undefined,
        headers: { 'x-session-id': fx.sessionA1Uuid },
      });
      expect(response.status).toBe(200);
    }
    expect(hostCalls().map((c) => c.action)).toEqual(['qr', 'pairing-code', 'status', 'send', 'logout']);
    for (const c of hostCalls()) {
      expect([c.pathSessionId, c.claims.sessionId, c.claims.tenantId]).toEqual([uuid(), uuid(), tenant()]);
    }
  });

  it("a session key's self re-roll changes its own key and nothing of another session or tenant", async () => {
    const { db } = setup();
    const before = (await fullSnapshot(db)) as { keys: { id: string; session_id: string | null }[] };
    const body = await ok<{ replaced: { id: string }; key: { id: string; sessionId: string } }>(
      edge,
      '/api/keys/self/reroll',
      { key: fx.sessionA2, json: { overlapSeconds: 60 } },
    );
    expect(body.key.sessionId).toBe('a-two');
    const after = (await fullSnapshot(db)) as typeof before;
    const changed = after.keys.filter(
      (k) => JSON.stringify(k) !== JSON.stringify(before.keys.find((old) => old.id === k.id)),
    );
    expect(changed.map((k) => k.id).sort()).toEqual([body.replaced.id, body.key.id].sort());
    expect(changed.every((k) => k.session_id === fx.sessionA2Uuid)).toBe(true);
  });
});
