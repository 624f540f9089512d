import { createRoute } from '@hono/zod-openapi';
import { ApiError } from '../../../shared/errors.js';
import { WebhookIdParamsSchema, WebhookResponseSchema } from '../../../shared/webhook-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { findEndpoint } from '../queries/endpoints.js';
import { webhookView } from '../views.js';
import { webhookIdOf } from './common.js';

export const webhookGetRoute = createRoute({
  operationId: 'webhookGet',
  method: 'get',
  path: '/api/admin/webhooks/{id}',
  summary: 'One of the tenant’s webhook endpoints',
  description: "Needs a tenant admin key. Another tenant's endpoint is 404, like one that does not exist.",
  tags: ['Webhooks'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { params: WebhookIdParamsSchema },
  responses: {
    200: { description: 'The endpoint', content: { 'application/json': { schema: WebhookResponseSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

/** GET /api/admin/webhooks/:id */
export function registerWebhookGet(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(webhookGetRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const id = webhookIdOf(c.req.valid('param').id);
    const endpoint = await findEndpoint(dbOf(c), admin.tenantId, id);
    if (!endpoint) throw new ApiError('WEBHOOK_NOT_FOUND');
    return c.json({ success: true as const, webhook: webhookView(endpoint) }, 200);
  });
}
