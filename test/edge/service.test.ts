import { beforeAll, describe, expect, it } from 'vitest';
import { createEdgeApp } from '../../edge/app.js';
import { silentLogger } from '../../edge/logger.js';
import { useEdge } from './fixture.js';
import {
  call,
  capturingLogger,
  createKey,
  createTenant,
  expectError,
  HOST_SECRET,
  killAllHosts,
  putHost,
  startTestEdge,
  type TestEdge,
  unreachableDb,
} from './helpers.js';

// Hosts nobody calls: these tests only read what the edge says about them.
const fx = useEdge({
  hosts: [],
  tenants: [],
  edge: async ({ database }) => {
    await putHost(database.db, { id: 'host-live', url: 'http://127.0.0.1:1' });
    await putHost(database.db, { id: 'host-dead', url: 'http://127.0.0.1:1', live: false });
    return { version: '9.9.9' };
  },
});
let edge: TestEdge;

beforeAll(() => {
  ({ edge } = fx());
});

describe('GET /', () => {
  it('describes the service, its routes and where the docs are', async () => {
    const response = await call(edge.url, '/');
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      name: string;
      version: string;
      docs: string;
      routes: { path: string }[];
    };
    expect(body.name).toBe('wa-gateway');
    expect(body.version).toBe('9.9.9');
    expect(body.docs).toBe('README.md');
    expect(body.routes.map((r) => r.path)).toEqual([
      '/api/session/create',
      '/api/session/qr',
      '/api/session/pairing-code',
      '/api/session/events',
      '/api/session/status',
      '/api/send',
      '/api/session/logout',
      '/api/keys/self/reroll',
      '/api/keys',
      '/api/admin/sessions',
      '/api/admin/sessions/{sessionId}',
      '/api/admin/sessions/{sessionId}',
      '/api/admin/keys',
      '/api/admin/keys',
      '/api/admin/keys/{id}',
      '/api/admin/keys/{id}/revoke',
      '/api/admin/keys/{id}/reroll',
      '/api/admin/audit',
      '/api/messages',
      '/api/messages/{id}',
      '/api/messages/{id}/media',
      '/api/messages',
      '/api/messages/{id}',
      '/api/chats/{chat}/read',
      '/api/chats/{chat}/presence',
      '/api/contacts/check',
      '/api/admin/sessions/{sessionId}/messages',
      '/api/admin/sessions/{sessionId}/messages/{id}',
      '/api/events',
      '/api/admin/webhooks',
      '/api/admin/webhooks',
      '/api/admin/webhooks/{id}',
      '/api/admin/webhooks/{id}',
      '/api/admin/webhooks/{id}',
      '/api/admin/webhooks/{id}/rotate-secret',
      '/api/admin/webhooks/{id}/test',
      '/api/admin/webhooks/{id}/deliveries',
      '/api/admin/webhooks/{id}/replay',
      '/api/operator/tenants',
      '/api/operator/tenants',
      '/api/operator/tenants/{id}/suspend',
      '/api/operator/tenants/{id}/resume',
      '/api/operator/hosts',
      '/api/operator/hosts/{id}/drain',
      '/api/operator/hosts/{id}/undrain',
      '/health',
    ]);
  });

  it('lists every route the app serves, with its method', async () => {
    const body = (await (await call(edge.url, '/')).json()) as { routes: { method: string; path: string }[] };
    const listed = body.routes.map((r) => `${r.method} ${r.path.replace(/\{(\w+)\}/g, ':$1')}`);
    const served = edge.app.routes
      .filter((r) => r.method !== 'ALL' && (r.path.startsWith('/api/') || r.path === '/health'))
      .map((r) => `${r.method} ${r.path}`);
    expect([...new Set(listed)].sort()).toEqual([...new Set(served)].sort());
  });
});

describe('GET /health', () => {
  it('200 ok when the database answers and a live host reaches WhatsApp; no host ids or counts', async () => {
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

  it('503 degraded, saying why, when no live host can reach WhatsApp (no internet)', async () => {
    const { db } = fx();
    await putHost(db, { id: 'host-live', url: 'http://127.0.0.1:1', whatsapp: 'unreachable' });
    try {
      const response = await call(edge.url, '/health');
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        ok: false,
        status: 'degraded',
        database: 'ok',
        sessionHosts: 'ok',
        whatsapp: 'unreachable',
        problems: ['no session host can reach WhatsApp'],
      });
      await putHost(db, { id: 'host-live', url: 'http://127.0.0.1:1', whatsapp: 'unknown' });
      expect(await (await call(edge.url, '/health')).json()).toMatchObject({
        status: 'degraded',
        whatsapp: 'unknown',
        problems: ['no session host has checked WhatsApp yet'],
      });
    } finally {
      await putHost(db, { id: 'host-live', url: 'http://127.0.0.1:1' });
    }
  });

  it('503 down when no host is alive', async () => {
    const restore = await killAllHosts(fx().db);
    try {
      const response = await call(edge.url, '/health');
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({
        ok: false,
        status: 'down',
        database: 'ok',
        sessionHosts: 'none',
        problems: ['no session host is alive'],
      });
    } finally {
      await restore();
    }
  });

  it('503 down with database "error" when the database does not answer', async () => {
    const down = await startTestEdge(unreachableDb());
    try {
      const response = await call(down.url, '/health');
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        ok: false,
        status: 'down',
        database: 'error',
        sessionHosts: 'none',
        whatsapp: 'unknown',
        problems: ['the database does not answer'],
      });
    } finally {
      await down.close();
    }
  });
});

describe('GET /api/operator/hosts', () => {
  it('lists every host with liveness, load and WhatsApp reachability, for the operator only', async () => {
    const { db } = fx();
    const operator = await createKey(db, 'operator');
    await putHost(db, { id: 'host-offline', url: 'http://127.0.0.1:2', whatsapp: 'unreachable' });
    try {
      const response = await call(edge.url, '/api/operator/hosts', { key: operator });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { hosts: unknown[] };
      expect(body.hosts).toEqual([
        expect.objectContaining({ id: 'host-dead', live: false, sessions: 0 }),
        expect.objectContaining({
          id: 'host-live',
          live: true,
          draining: false,
          whatsapp: expect.objectContaining({ status: 'reachable', error: null }),
        }),
        expect.objectContaining({
          id: 'host-offline',
          url: 'http://127.0.0.1:2',
          whatsapp: expect.objectContaining({
            status: 'unreachable',
            error: 'getaddrinfo ENOTFOUND web.whatsapp.com',
          }),
        }),
      ]);
      const admin = await createKey(db, 'admin', { tenantId: await createTenant(db) });
      await expectError(await call(edge.url, '/api/operator/hosts', { key: admin }), 403, 'WRONG_SCOPE');
      await expectError(await call(edge.url, '/api/operator/hosts'), 401, 'MISSING_API_KEY');
    } finally {
      await db.deleteFrom('hosts').where('id', '=', 'host-offline').execute();
    }
  });
});

describe('errors', () => {
  it('404 NOT_FOUND as JSON for an unknown path', async () => {
    await expectError(await call(edge.url, '/nope'), 404, 'NOT_FOUND');
    // Under /api/ the key is checked first, as for every API path.
    await expectError(await call(edge.url, '/api/nope'), 401, 'MISSING_API_KEY');
    const admin = await createKey(fx().db, 'admin', { tenantId: await createTenant(fx().db) });
    await expectError(await call(edge.url, '/api/session/create/', { key: admin }), 404, 'NOT_FOUND');
  });

  it('a generic 500 that says nothing of the cause, which only the log hears', async () => {
    const logger = capturingLogger();
    const app = createEdgeApp({
      hostSecret: HOST_SECRET,
      logger,
      db: {
        open() {
          throw new Error('secret connection string postgres://u:p@db/x');
        },
      },
    });
    const admin = await createKey(fx().db, 'admin', { tenantId: await createTenant(fx().db) });
    const response = await app.request('/api/session/create', {
      method: 'POST',
      headers: { 'x-api-key': admin },
    });
    const body = await expectError(response, 500, 'INTERNAL_ERROR', 'Terjadi kesalahan internal');
    expect(JSON.stringify(body)).not.toContain('postgres://');
    const logged = logger.lines.find((l) => l.level === 'error');
    expect(JSON.stringify(logged?.fields)).toContain('secret connection string');
    expect(JSON.stringify(logger.lines)).not.toContain(admin);
  });

  it('405 for a wrong method on a known route, naming the right one', async () => {
    const response = await call(edge.url, '/api/session/status', { method: 'POST' });
    await expectError(response, 405, 'METHOD_NOT_ALLOWED');
    expect(response.headers.get('allow')).toBe('GET');
  });
});

describe('configuration', () => {
  it('refuses a short host secret at start, without repeating it', () => {
    const make = () =>
      createEdgeApp({ hostSecret: 'short-secret', db: { open: () => fx().db }, logger: silentLogger });
    expect(make).toThrow(/hostSecret: must be at least 32 bytes/);
    try {
      make();
    } catch (err) {
      expect(String(err)).not.toContain('short-secret');
    }
  });

  it('serves its OpenAPI document at /openapi.json, without a key', async () => {
    const app = createEdgeApp({
      hostSecret: HOST_SECRET,
      db: { open: () => fx().db },
      logger: silentLogger,
    });
    const res = await app.request('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/send', '/api/session/create', '/api/admin/keys']),
    );
  });

  it('describes every route for an OpenAPI document, from the shared schemas', () => {
    const app = createEdgeApp({
      hostSecret: HOST_SECRET,
      db: { open: () => fx().db },
      logger: silentLogger,
    });
    const doc = app.getOpenAPIDocument({ openapi: '3.0.0', info: { title: 'wa-gateway', version: '0' } });
    expect(Object.keys(doc.paths ?? {}).sort()).toEqual([
      '/',
      '/api/admin/audit',
      '/api/admin/keys',
      '/api/admin/keys/{id}',
      '/api/admin/keys/{id}/reroll',
      '/api/admin/keys/{id}/revoke',
      '/api/admin/sessions',
      '/api/admin/sessions/{sessionId}',
      '/api/admin/sessions/{sessionId}/messages',
      '/api/admin/sessions/{sessionId}/messages/{id}',
      '/api/admin/webhooks',
      '/api/admin/webhooks/{id}',
      '/api/admin/webhooks/{id}/deliveries',
      '/api/admin/webhooks/{id}/replay',
      '/api/admin/webhooks/{id}/rotate-secret',
      '/api/admin/webhooks/{id}/test',
      '/api/chats/{chat}/presence',
      '/api/chats/{chat}/read',
      '/api/contacts/check',
      '/api/events',
      '/api/keys',
      '/api/keys/self/reroll',
      '/api/messages',
      '/api/messages/{id}',
      '/api/messages/{id}/media',
      '/api/operator/hosts',
      '/api/operator/hosts/{id}/drain',
      '/api/operator/hosts/{id}/undrain',
      '/api/operator/tenants',
      '/api/operator/tenants/{id}/resume',
      '/api/operator/tenants/{id}/suspend',
      '/api/send',
      '/api/session/create',
      '/api/session/events',
      '/api/session/logout',
      '/api/session/pairing-code',
      '/api/session/qr',
      '/api/session/status',
      '/health',
    ]);
    expect(doc.components?.securitySchemes?.ApiKey).toEqual({
      type: 'apiKey',
      in: 'header',
      name: 'x-api-key',
    });
    expect(Object.keys(doc.components?.schemas ?? {})).toEqual(
      expect.arrayContaining([
        'CreateSessionBody',
        'SendMessageBody',
        'QrResponse',
        'ErrorResponse',
        'ApiKeyInfo',
        'CreateKeyBody',
        'RerollKeyBody',
        'Tenant',
        'SessionInfo',
        'AuditEntry',
        'Message',
        'MessageListResponse',
        'Event',
        'EventType',
        'MessageEventData',
        'SessionStatusEventData',
        'WebhookPayload',
        'Webhook',
        'CreateWebhookBody',
        'DeliveryAttempt',
      ]),
    );
  });

  it('documents the webhook delivery itself, and every error code the routes use', async () => {
    const app = createEdgeApp({
      hostSecret: HOST_SECRET,
      db: { open: () => fx().db },
      logger: silentLogger,
    });
    const doc = (await (await app.request('/openapi.json')).json()) as {
      webhooks?: Record<
        string,
        { post?: { requestBody?: { content?: Record<string, { schema?: unknown }> } } }
      >;
      components: { schemas: Record<string, { enum?: string[] }> };
    };
    expect(doc.webhooks?.event?.post?.requestBody?.content?.['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/WebhookPayload',
    });
    expect(doc.components.schemas.ErrorCode?.enum).toEqual(
      expect.arrayContaining([
        'INVALID_CURSOR',
        'MESSAGE_NOT_FOUND',
        'EVENT_NOT_FOUND',
        'WEBHOOK_NOT_FOUND',
        'WEBHOOK_EXISTS',
        'WEBHOOK_URL_INVALID',
        'WEBHOOK_URL_NOT_HTTPS',
        'WEBHOOK_URL_PRIVATE',
      ]),
    );
  });
});
