// The edge app in the runtimes it ships for, not just Node: workerd (wrangler dev, Postgres through the
// Hyperdrive binding) and Deno. Each gets its own database and a stand-in session host, and must do the
// work that needs each piece of the runtime: Postgres over its sockets, WebCrypto for key digests and the
// host JWT, fetch to the host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../shared/api-key.js';
import { call, createKey, createTenant, expectError, HOST_SECRET, putHost } from '../edge/helpers.js';
import { type StandInHost, startStandInHost } from '../edge/stand-in-host.js';
import {
  type EdgeRuntimeOptions,
  type RunningEdgeRuntime,
  startEdgeInDeno,
  startEdgeInWorkerd,
} from '../helpers/edge-runtimes.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const RUNTIMES: [string, (options: EdgeRuntimeOptions) => Promise<RunningEdgeRuntime>][] = [
  ['workerd', startEdgeInWorkerd],
  ['deno', startEdgeInDeno],
];

describe.each(RUNTIMES)('the edge on %s', (name, start) => {
  let database: TestDatabase;
  let host: StandInHost;
  let edge: RunningEdgeRuntime;
  let admin: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    host = await startStandInHost({ id: `host-${name}`, secret: HOST_SECRET });
    await putHost(database.db, { id: host.id, url: host.url });
    admin = await createKey(database.db, 'admin', { tenantId: await createTenant(database.db) });
    edge = await start({ databaseUrl: database.url, hostSecret: HOST_SECRET });
    console.info(`edge on ${name}: answered after ${edge.startupMs} ms`);
  });

  afterAll(async () => {
    await edge?.stop();
    await host?.close();
    await database?.drop();
  });

  it('answers GET /', async () => {
    const response = await call(edge.url, '/');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ name: 'wa-gateway' });
  });

  it('refuses a request without a key', async () => {
    await expectError(
      await call(edge.url, '/api/session/status'),
      401,
      'MISSING_API_KEY',
      'API key diperlukan',
    );
  });

  it('refuses a well-formed key that the database does not know', async () => {
    // A valid checksum gets past the shape check, so only the look-up in Postgres can refuse it.
    const { key } = await generateApiKey('session');
    await expectError(
      await call(edge.url, '/api/session/status', { key }),
      403,
      'INVALID_API_KEY',
      'API key tidak valid',
    );
  });

  it('reports the database and the live host on /health', async () => {
    const response = await call(edge.url, '/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      ok: true,
      database: 'ok',
      hosts: [{ id: host.id, live: true, draining: false, sessions: 0 }],
    });
  });

  it('creates a session and forwards its key holder to the host with a valid JWT', async () => {
    const created = await call(edge.url, '/api/session/create', {
      key: admin,
      json: { sessionId: `smoke-${name}` },
    });
    expect(created.status).toBe(200);
    const { apiKey, sessionId } = (await created.json()) as { apiKey: string; sessionId: string };
    expect(sessionId).toBe(`smoke-${name}`);

    const status = await call(edge.url, '/api/session/status', { key: apiKey });
    expect(status.status).toBe(200);
    expect(await status.json()).toEqual({ success: true, connected: false });
    // The stand-in checks each token with the hosts' own verifier; none was refused.
    expect(host.refused).toEqual([]);
    expect(host.calls.map((c) => c.action)).toContain('status');
    const row = await database.db
      .selectFrom('sessions')
      .select(['id', 'host_id'])
      .where('name', '=', `smoke-${name}`)
      .executeTakeFirstOrThrow();
    expect(row.host_id).toBe(host.id);
    expect(host.calls.every((c) => c.claims.sessionId === row.id)).toBe(true);
  });
});
