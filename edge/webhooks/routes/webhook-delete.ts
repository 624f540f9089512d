import { createRoute } from '@hono/zod-openapi';
import { WebhookDeleteResponseSchema, WebhookIdParamsSchema } from '../../../shared/webhook-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { deleteWebhook } from '../lifecycle.js';
import { actorOf, webhookIdOf } from './common.js';

export const webhookDeleteRoute = createRoute({
  operationId: 'webhookDelete',
  method: 'delete',
  path: '/api/admin/webhooks/{id}',
  summary: 'Delete a webhook endpoint',
  description:
    'Needs a tenant admin key. Nothing more is delivered to it; its pending deliveries and its delivery ' +
    'log go with it.',
  tags: ['Webhooks'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { params: WebhookIdParamsSchema },
  responses: {
    200: { description: 'Deleted', content: { 'application/json': { schema: WebhookDeleteResponseSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

/** DELETE /api/admin/webhooks/:id */
export function registerWebhookDelete(app: EdgeApp, { logger }: EdgeServices): void {
  app.openapi(webhookDeleteRoute, async (c) => {
    const actor = actorOf(c);
    const id = webhookIdOf(c.req.valid('param').id);
    await deleteWebhook(dbOf(c), actor, id);
    logger.info({ tenantId: actor.tenantId, webhookId: id }, 'webhook deleted');
    return c.json({ success: true as const }, 200);
  });
}
