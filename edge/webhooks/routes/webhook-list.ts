import { createRoute } from '@hono/zod-openapi';
import { PageQuerySchema } from '../../../shared/admin-schemas.js';
import { WebhookListResponseSchema } from '../../../shared/webhook-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { listEndpoints } from '../queries/endpoints.js';
import { webhookView } from '../views.js';

export const webhookListRoute = createRoute({
  operationId: 'webhookList',
  method: 'get',
  path: '/api/admin/webhooks',
  summary: "List the tenant's webhook endpoints, oldest first",
  description:
    'Needs a tenant admin key. Each endpoint with its filters, whether it is enabled, how its deliveries ' +
    'stand and how many wait; never its secret. Paginated: pass `nextCursor` back as `cursor`.',
  tags: ['Webhooks'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { query: PageQuerySchema },
  responses: {
    200: { description: 'Endpoints', content: { 'application/json': { schema: WebhookListResponseSchema } } },
    ...errorResponses(400, 401, 403),
  },
});

/** GET /api/admin/webhooks */
export function registerWebhookList(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(webhookListRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const page = await listEndpoints(dbOf(c), admin.tenantId, c.req.valid('query'));
    return c.json(
      { success: true as const, webhooks: page.items.map(webhookView), nextCursor: page.nextCursor },
      200,
    );
  });
}
