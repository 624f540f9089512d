import { createRoute, z } from '@hono/zod-openapi';
import type { EdgeApp, EdgeServices } from '../services.js';

const ROUTES = [
  { method: 'POST', path: '/api/session/create', key: 'admin', description: 'Create a session and its key' },
  { method: 'GET', path: '/api/session/qr', key: 'session', description: 'QR code to link WhatsApp' },
  { method: 'GET', path: '/api/session/status', key: 'session', description: 'Connected, and as whom' },
  { method: 'POST', path: '/api/send', key: 'session', description: 'Send a text message' },
  { method: 'POST', path: '/api/session/logout', key: 'session', description: 'Unlink the account' },
  { method: 'GET', path: '/health', key: null, description: 'Database and session hosts' },
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
        key: z.enum(['admin', 'session']).nullable(),
        description: z.string(),
      }),
    ),
  })
  .openapi('Index');

export const indexRoute = createRoute({
  method: 'get',
  path: '/',
  summary: 'What this service is and where to go next',
  tags: ['Service'],
  responses: {
    200: { description: 'Index', content: { 'application/json': { schema: IndexResponseSchema } } },
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
