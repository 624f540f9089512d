import { createRoute, z } from '@hono/zod-openapi';
import { errorResponses } from '../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../services.js';

const ROUTES = [
  { method: 'POST', path: '/api/session/create', key: 'admin', description: 'Create a session and its key' },
  { method: 'GET', path: '/api/session/qr', key: 'session', description: 'QR code to link WhatsApp' },
  {
    method: 'POST',
    path: '/api/session/pairing-code',
    key: 'session',
    description: 'Pairing code to link WhatsApp by phone number',
  },
  {
    method: 'GET',
    path: '/api/session/events',
    key: 'session',
    description: 'Linking, live: new QRs and state changes (Server-Sent Events)',
  },
  { method: 'GET', path: '/api/session/status', key: 'session', description: 'Connected, and as whom' },
  {
    method: 'POST',
    path: '/api/send',
    key: 'session',
    description: 'Send a text message and wait for WhatsApp',
  },
  { method: 'POST', path: '/api/session/logout', key: 'session', description: 'Unlink the account' },
  { method: 'POST', path: '/api/keys/self/reroll', key: 'session', description: 'Re-roll the calling key' },
  { method: 'GET', path: '/api/keys', key: 'admin', description: "The tenant's keys (the seed's listing)" },
  { method: 'GET', path: '/api/admin/sessions', key: 'admin', description: 'Sessions and their state' },
  { method: 'GET', path: '/api/admin/sessions/{sessionId}', key: 'admin', description: 'One session' },
  {
    method: 'PATCH',
    path: '/api/admin/sessions/{sessionId}',
    key: 'admin',
    description: "Change a session's pacing",
  },
  { method: 'GET', path: '/api/admin/keys', key: 'admin', description: "The tenant's keys" },
  { method: 'POST', path: '/api/admin/keys', key: 'admin', description: 'Issue a session or admin key' },
  { method: 'GET', path: '/api/admin/keys/{id}', key: 'admin', description: 'One key' },
  { method: 'POST', path: '/api/admin/keys/{id}/revoke', key: 'admin', description: 'Revoke a key' },
  { method: 'POST', path: '/api/admin/keys/{id}/reroll', key: 'admin', description: 'Re-roll a key' },
  { method: 'GET', path: '/api/admin/audit', key: 'admin', description: 'Audit log' },
  { method: 'GET', path: '/api/messages', key: 'session', description: "The session's messages" },
  { method: 'GET', path: '/api/messages/{id}', key: 'session', description: 'One message' },
  { method: 'GET', path: '/api/messages/{id}/media', key: 'session', description: 'A received file' },
  { method: 'POST', path: '/api/messages', key: 'session', description: 'Queue a message in the outbox' },
  { method: 'DELETE', path: '/api/messages/{id}', key: 'session', description: 'Cancel a queued message' },
  { method: 'POST', path: '/api/chats/{chat}/read', key: 'session', description: 'Mark messages read' },
  {
    method: 'POST',
    path: '/api/chats/{chat}/presence',
    key: 'session',
    description: 'Show typing… in a chat',
  },
  {
    method: 'POST',
    path: '/api/contacts/check',
    key: 'session',
    description: 'Which numbers are on WhatsApp',
  },
  {
    method: 'GET',
    path: '/api/admin/sessions/{sessionId}/messages',
    key: 'admin',
    description: "A session's messages",
  },
  {
    method: 'GET',
    path: '/api/admin/sessions/{sessionId}/messages/{id}',
    key: 'admin',
    description: 'One message of a session',
  },
  {
    method: 'GET',
    path: '/api/events',
    key: 'session',
    description: "Events, oldest first (a session's; an admin key: the tenant's)",
  },
  { method: 'GET', path: '/api/admin/webhooks', key: 'admin', description: 'Webhook endpoints' },
  { method: 'POST', path: '/api/admin/webhooks', key: 'admin', description: 'Register a webhook endpoint' },
  { method: 'GET', path: '/api/admin/webhooks/{id}', key: 'admin', description: 'One webhook endpoint' },
  { method: 'PATCH', path: '/api/admin/webhooks/{id}', key: 'admin', description: 'Change an endpoint' },
  { method: 'DELETE', path: '/api/admin/webhooks/{id}', key: 'admin', description: 'Delete an endpoint' },
  {
    method: 'POST',
    path: '/api/admin/webhooks/{id}/rotate-secret',
    key: 'admin',
    description: "Rotate an endpoint's signing secret",
  },
  { method: 'POST', path: '/api/admin/webhooks/{id}/test', key: 'admin', description: 'Send a test event' },
  {
    method: 'GET',
    path: '/api/admin/webhooks/{id}/deliveries',
    key: 'admin',
    description: "An endpoint's delivery log",
  },
  {
    method: 'POST',
    path: '/api/admin/webhooks/{id}/replay',
    key: 'admin',
    description: 'Deliver events again',
  },
  { method: 'POST', path: '/api/operator/tenants', key: 'operator', description: 'Create a tenant' },
  { method: 'GET', path: '/api/operator/tenants', key: 'operator', description: 'List tenants' },
  {
    method: 'POST',
    path: '/api/operator/tenants/{id}/suspend',
    key: 'operator',
    description: 'Suspend a tenant',
  },
  {
    method: 'POST',
    path: '/api/operator/tenants/{id}/resume',
    key: 'operator',
    description: 'Resume a tenant',
  },
  { method: 'GET', path: '/api/operator/hosts', key: 'operator', description: 'Session hosts in detail' },
  {
    method: 'POST',
    path: '/api/operator/hosts/{id}/drain',
    key: 'operator',
    description: "Hand a host's sessions to the other hosts",
  },
  {
    method: 'POST',
    path: '/api/operator/hosts/{id}/undrain',
    key: 'operator',
    description: 'Take a drained host back into rotation',
  },
  { method: 'GET', path: '/health', key: null, description: 'Database, session hosts and WhatsApp' },
] as const;

const IndexResponseSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    description: z.string(),
    docs: z.string(),
    authentication: z.string(),
    routes: z.array(
      z.object({
        method: z.string(),
        path: z.string(),
        key: z.enum(['operator', 'admin', 'session']).nullable(),
        description: z.string(),
      }),
    ),
  })
  .openapi('Index');

export const indexRoute = createRoute({
  operationId: 'index',
  method: 'get',
  path: '/',
  summary: 'What this service is and where to go next',
  tags: ['Service'],
  security: [],
  responses: {
    200: { description: 'Index', content: { 'application/json': { schema: IndexResponseSchema } } },
    ...errorResponses(400),
  },
});

/** GET / */
export function registerIndex(app: EdgeApp, { config }: EdgeServices): void {
  const body = {
    name: 'wa-gateway',
    version: config.version,
    description: 'Multi-tenant WhatsApp gateway: link accounts by QR code, send messages over HTTP',
    docs: config.docsUrl,
    authentication: 'Send your API key in the x-api-key header (never in the query string)',
    routes: ROUTES.map((r) => ({ ...r })),
  };
  app.openapi(indexRoute, (c) => c.json(body, 200));
}
