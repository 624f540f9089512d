import { createRoute } from '@hono/zod-openapi';
import { WebhookIdParamsSchema, WebhookTestResponseSchema } from '../../../shared/webhook-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { sendTestEvent } from '../lifecycle.js';
import { actorOf, webhookIdOf } from './common.js';

export const webhookTestRoute = createRoute({
  operationId: 'webhookTest',
  method: 'post',
  path: '/api/admin/webhooks/{id}/test',
  summary: 'Send a test event to a webhook endpoint',
  description:
    'Needs a tenant admin key. A `webhook.test` event is made and queued for this endpoint only, behind ' +
    'whatever it has pending; its outcome shows in the delivery log.',
  tags: ['Webhooks'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { params: WebhookIdParamsSchema },
  responses: {
    202: { description: 'Queued', content: { 'application/json': { schema: WebhookTestResponseSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

/** POST /api/admin/webhooks/:id/test */
export function registerWebhookTest(app: EdgeApp, { logger }: EdgeServices): void {
  app.openapi(webhookTestRoute, async (c) => {
    const actor = actorOf(c);
    const id = webhookIdOf(c.req.valid('param').id);
    const eventId = await sendTestEvent(dbOf(c), actor, id);
    logger.info({ tenantId: actor.tenantId, webhookId: id, eventId }, 'webhook test event queued');
    return c.json({ success: true as const, eventId }, 202);
  });
}
