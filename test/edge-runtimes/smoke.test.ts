// The edge app in the runtimes it ships for, not just Node: workerd (wrangler dev, Postgres through the
// Hyperdrive binding) and Deno. Each gets its own database and a stand-in session host, and must do the
// work that needs each piece of the runtime: Postgres over its sockets, WebCrypto for key digests and the
// host JWT, fetch to the host.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateApiKey } from '../../shared/api-key.js';
import { generateSecretKey, parseSecretKey, SecretBox } from '../../shared/webhook-secrets.js';
import { useEdge } from '../edge/fixture.js';
import {
  call,
  createKey,
  createSessionRow,
  createTenant,
  expectError,
  HOST_SECRET,
} from '../edge/helpers.js';
import type { StandInHost } from '../edge/stand-in-host.js';
import {
  type EdgeRuntimeOptions,
  type RunningEdgeRuntime,
  startEdgeInDeno,
  startEdgeInWorkerd,
} from '../helpers/edge-runtimes.js';
import type { TestDatabase } from '../helpers/postgres.js';

const FAILED_AUTH_LIMIT = 3;

const RUNTIMES: [string, (options: EdgeRuntimeOptions) => Promise<RunningEdgeRuntime>][] = [
  ['workerd', startEdgeInWorkerd],
  ['deno', startEdgeInDeno],
];

describe.each(RUNTIMES)('the edge on %s', (name, start) => {
  // The database, stand-in host and admin key as for the Node edge's tests; the edge is this runtime's.
  const fx = useEdge({ hosts: [`host-${name}`], edge: false });
  let database: TestDatabase;
  let host: StandInHost;
  let edge: RunningEdgeRuntime;
  let admin: string;
  const webhookKey = generateSecretKey();

  beforeAll(async () => {
    ({ database, host, admin } = fx());
    edge = await start({
      databaseUrl: database.url,
      hostSecret: HOST_SECRET,
      // Small enough to reach here; a flush after every request, to see one land from this runtime.
      env: {
        EDGE_FAILED_AUTH_LIMIT: String(FAILED_AUTH_LIMIT),
        EDGE_LAST_USED_FLUSH_SECONDS: '0',
        WEBHOOK_SECRET_KEY: webhookKey,
        // Workers cannot resolve names, and this test has no DNS to ask: the URL is a private one.
        WEBHOOK_ALLOW_PRIVATE: 'true',
      },
    });
    console.info(`edge on ${name}: answered after ${edge.startupMs} ms`);
  });

  afterAll(async () => {
    await edge?.stop();
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

  it('reports the database, a live host and WhatsApp on /health', async () => {
    const response = await call(edge.url, '/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      ok: true,
      status: 'ok',
      database: 'ok',
      sessionHosts: 'ok',
      whatsapp: 'ok',
      problems: [],
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

  it('records last-used times from this runtime (a flush after the response, under waitUntil on Workers)', async () => {
    const sessionId = await createSessionRow(database.db, {
      tenantId: await createTenant(database.db, { name: `last-used-${name}` }),
      name: 'last-used',
      hostId: host.id,
    });
    const tenantId = (
      await database.db
        .selectFrom('sessions')
        .select('tenant_id')
        .where('id', '=', sessionId)
        .executeTakeFirstOrThrow()
    ).tenant_id;
    const key = await createKey(database.db, 'session', { tenantId, sessionId });
    expect((await call(edge.url, '/api/session/status', { key })).status).toBe(200);
    await vi.waitFor(
      async () => {
        const row = await database.db
          .selectFrom('api_keys')
          .select('last_used_at')
          .where('session_id', '=', sessionId)
          .executeTakeFirstOrThrow();
        expect(row.last_used_at).not.toBeNull();
      },
      { timeout: 10_000 },
    );
  });

  it('queues a message under an Idempotency-Key once: the same request again replays its answer', async () => {
    const tenantId = await createTenant(database.db, { name: `keyed-${name}` });
    const sessionId = await createSessionRow(database.db, { tenantId, name: 'keyed', hostId: host.id });
    const key = await createKey(database.db, 'session', { tenantId, sessionId });
    const send = () =>
      call(edge.url, '/api/messages', {
        key,
        json: { to: '6281234567890', text: `keyed on ${name}` },
        headers: { 'Idempotency-Key': `smoke-${name}` },
      });
    const first = await send();
    expect(first.status).toBe(202);
    const queued = (await first.json()) as { id: string };
    const again = await send();
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(queued);
    const rows = await database.db
      .selectFrom('messages')
      .select(['id', 'status'])
      .where('session_id', '=', sessionId)
      .execute();
    expect(rows).toEqual([{ id: queued.id, status: 'queued' }]);
  });

  it('registers a webhook (its secret sealed with WebCrypto), queues a test event, and serves the event log', async () => {
    const created = await call(edge.url, '/api/admin/webhooks', {
      key: admin,
      json: { url: `http://127.0.0.1:9/hooks/${name}` },
    });
    expect(created.status).toBe(201);
    const { webhook, secret } = (await created.json()) as { webhook: { id: string }; secret: string };
    expect(secret).toMatch(/^whsec_/);
    const row = await database.db
      .selectFrom('webhook_endpoints')
      .select('secret')
      .where('id', '=', webhook.id)
      .executeTakeFirstOrThrow();
    expect(await new SecretBox(parseSecretKey(webhookKey)).open(row.secret)).toBe(secret);

    const test = await call(edge.url, `/api/admin/webhooks/${webhook.id}/test`, {
      key: admin,
      method: 'POST',
    });
    expect(test.status).toBe(202);
    const { eventId } = (await test.json()) as { eventId: string };
    expect(eventId).toMatch(/^evt_[0-9A-Z]{26}$/);
    const page = await call(edge.url, '/api/events?types=webhook.test&wait=1', { key: admin });
    expect(page.status).toBe(200);
    expect(await page.json()).toMatchObject({
      success: true,
      events: [{ id: eventId, type: 'webhook.test', sessionId: null, data: { webhookId: webhook.id } }],
      nextCursor: eventId,
    });
  });

  // Last: it blocks this runtime's test client for the rest of the file.
  it("throttles failed authentication by the runtime's client address, without locking out a key in use", async () => {
    // Workers: the address is CF-Connecting-IP. Deno: the socket's peer (the header is ignored).
    const client = { 'cf-connecting-ip': '198.51.100.77' };
    const inUse = admin;
    expect(
      (await call(edge.url, '/api/session/create', { key: inUse, json: {}, headers: client })).status,
    ).toBe(200);
    let attempts = 0;
    let response: Response;
    do {
      attempts++;
      const { key } = await generateApiKey('session');
      response = await call(edge.url, '/api/session/status', { key, headers: client });
    } while (response.status === 403 && attempts <= FAILED_AUTH_LIMIT + 1);
    await expectError(response, 429, 'RATE_LIMITED');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(attempts).toBeLessThanOrEqual(FAILED_AUTH_LIMIT + 1);
    expect(
      (await call(edge.url, '/api/session/create', { key: inUse, json: {}, headers: client })).status,
    ).toBe(200);
    if (name === 'workerd') {
      // Another address is another client.
      const { key } = await generateApiKey('session');
      const other = await call(edge.url, '/api/session/status', {
        key,
        headers: { 'cf-connecting-ip': '203.0.113.5' },
      });
      await expectError(other, 403, 'INVALID_API_KEY');
    }
  });
});
