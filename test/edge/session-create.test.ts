import { beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, digestApiKey, parseApiKey } from '../../shared/api-key.js';
import { SESSION_CREATED_MESSAGE } from '../../shared/schemas.js';
import { useEdge } from './fixture.js';
import { call, createKey, createSessionRow, createTenant, putHost, type TestEdge } from './helpers.js';
import type { StandInHost } from './stand-in-host.js';

const fx = useEdge({ hosts: ['host-a', 'host-b'], edge: { hostStartTimeoutMs: 500 } });
let edge: TestEdge;
let hostA: StandInHost;
let hostB: StandInHost;
let tenantId: string;
let admin: string;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

beforeAll(() => {
  ({ edge, tenantId, admin } = fx());
  hostA = fx().hostById('host-a');
  hostB = fx().hostById('host-b');
});

async function create(json?: unknown) {
  const response = await call(edge.url, '/api/session/create', { key: admin, method: 'POST', json });
  return { response, body: (await response.json()) as Record<string, unknown> };
}

describe('POST /api/session/create', () => {
  it('creates a session named by a UUID by default, with the seed body, and a session key shown once', async () => {
    const { db } = fx();
    const { response, body } = await create();
    expect(response.status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['apiKey', 'message', 'sessionId', 'success']);
    expect(body.success).toBe(true);
    expect(body.message).toBe(SESSION_CREATED_MESSAGE);
    expect(body.sessionId).toMatch(UUID);
    const apiKey = String(body.apiKey);
    expect(parseApiKey(apiKey)).toEqual({ ok: true, scope: 'session' });

    const session = await db
      .selectFrom('sessions')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('name', '=', String(body.sessionId))
      .executeTakeFirstOrThrow();
    expect(session.state).toBe('idle');
    expect(session.lease_epoch).toBe('1');
    expect([hostA.id, hostB.id]).toContain(session.host_id);

    // Only the digest and a display prefix are stored; the plaintext is nowhere in the row.
    const key = await db
      .selectFrom('api_keys')
      .selectAll()
      .where('session_id', '=', session.id)
      .executeTakeFirstOrThrow();
    expect(key.scope).toBe('session');
    expect(key.tenant_id).toBe(tenantId);
    expect(bytesToHex(key.digest)).toBe(bytesToHex(await digestApiKey(apiKey)));
    expect(key.prefix).toBe(apiKey.slice(0, 12));
    expect(JSON.stringify(key)).not.toContain(apiKey.slice(12));

    const audit = await db.selectFrom('audit_log').selectAll().where('target', '=', session.id).execute();
    expect(audit.map((a) => a.action)).toEqual(['session.create']);
    expect(JSON.stringify(audit)).not.toContain(apiKey.slice(12));
  });

  it('takes a custom sessionId and description, and the returned key works on the new session', async () => {
    const { db } = fx();
    const { response, body } = await create({ sessionId: 'sesi_custom', description: 'Deskripsi sesi' });
    expect(response.status).toBe(200);
    expect(body.sessionId).toBe('sesi_custom');
    const session = await db
      .selectFrom('sessions')
      .select(['id', 'description', 'host_id'])
      .where('name', '=', 'sesi_custom')
      .executeTakeFirstOrThrow();
    expect(session.description).toBe('Deskripsi sesi');

    const status = await call(edge.url, '/api/session/status', { key: String(body.apiKey) });
    expect(status.status).toBe(200);
    const owner = session.host_id === hostA.id ? hostA : hostB;
    expect(owner.calls.at(-1)?.claims.sessionId).toBe(session.id);
  });

  it('asks the owning host to start the session, with a token for that host naming the session', async () => {
    const { db } = fx();
    const { body } = await create({ sessionId: 'started' });
    const session = await db
      .selectFrom('sessions')
      .select(['id', 'host_id'])
      .where('name', '=', 'started')
      .executeTakeFirstOrThrow();
    const owner = session.host_id === hostA.id ? hostA : hostB;
    const other = owner === hostA ? hostB : hostA;
    expect(owner.calls.map((c) => c.action)).toEqual(['start']);
    const [start] = owner.calls;
    expect(start?.claims).toMatchObject({
      sessionId: session.id,
      tenantId,
      scope: 'admin',
      hostId: owner.id,
    });
    expect(other.calls).toHaveLength(0);
    expect(JSON.stringify(owner.calls)).not.toContain(String(body.apiKey));
  });

  it('still creates the session when the host cannot start it; the QR call starts it later', async () => {
    const { db } = fx();
    hostA.answer('start', () => ({ status: 500, text: 'boom' }));
    hostB.answer('start', () => ({ delayMs: 5_000, body: {} }));
    const { response, body } = await create({ sessionId: 'start-failed' });
    expect(response.status).toBe(200);
    expect(body.success).toBe(true);
    const session = await db
      .selectFrom('sessions')
      .select(['state'])
      .where('name', '=', 'start-failed')
      .executeTakeFirstOrThrow();
    expect(session.state).toBe('idle');
    expect(edge.logger.lines.some((l) => l.message === 'host did not start the new session')).toBe(true);
  });

  it('places a new session on the live, non-draining host with the fewest sessions', async () => {
    const { db } = fx();
    const tenant = await createTenant(db, { name: 'placement' });
    const key = await createKey(db, 'admin', { tenantId: tenant });
    const countOn = async (id: string) =>
      Number(
        (
          await db
            .selectFrom('sessions')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .where('host_id', '=', id)
            .executeTakeFirstOrThrow()
        ).n,
      );
    // Load host-a with five more sessions than host-b.
    const gap = (await countOn(hostB.id)) - (await countOn(hostA.id)) + 5;
    for (let i = 0; i < gap; i++)
      await createSessionRow(db, { tenantId: tenant, name: `load-${i}`, hostId: hostA.id });
    // An idle draining host and a dead host never get new sessions, however empty.
    await putHost(db, { id: 'host-draining', url: hostA.url, draining: true });
    await putHost(db, { id: 'host-dead', url: hostA.url, live: false });

    const response = await call(edge.url, '/api/session/create', { key, json: { sessionId: 'placed' } });
    expect(response.status).toBe(200);
    const placed = await db
      .selectFrom('sessions')
      .select('host_id')
      .where('tenant_id', '=', tenant)
      .where('name', '=', 'placed')
      .executeTakeFirstOrThrow();
    expect(placed.host_id).toBe(hostB.id);
    await db.deleteFrom('hosts').where('id', 'in', ['host-draining', 'host-dead']).execute();
  });

  it('treats no body, and an empty body labelled JSON, as {} (as the seed did)', async () => {
    for (const init of [
      {},
      { body: '', headers: { 'content-type': 'application/json' } },
      { body: '  \n', headers: { 'content-type': 'application/json; charset=utf-8' } },
    ]) {
      const response = await call(edge.url, '/api/session/create', { key: admin, method: 'POST', ...init });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { sessionId: string }).sessionId).toMatch(UUID);
    }
  });

  it('accepts the longest sessionId and every allowed character', async () => {
    const id = `${'A-z_0'.repeat(12)}abcd`;
    expect(id).toHaveLength(64);
    const { response, body } = await create({ sessionId: id });
    expect(response.status).toBe(200);
    expect(body.sessionId).toBe(id);
  });
});

// Keeps the import list honest for helpers only some files use.
