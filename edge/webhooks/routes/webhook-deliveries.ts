import { createRoute } from '@hono/zod-openapi';
import { ApiError } from '../../../shared/errors.js';
import {
  DeliveryListResponseSchema,
  DeliveryQuerySchema,
  WebhookIdParamsSchema,
} from '../../../shared/webhook-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { listAttempts } from '../queries/deliveries.js';
import { findEndpoint } from '../queries/endpoints.js';
import { attemptView } from '../views.js';
import { webhookIdOf } from './common.js';

export const webhookDeliveriesRoute = createRoute({
  operationId: 'webhookDeliveries',
  method: 'get',
  path: '/api/admin/webhooks/{id}/deliveries',
  summary: "A webhook endpoint's delivery log, newest first",
  description:
    'Needs a tenant admin key. Every attempt to deliver an event: when, the HTTP status and time taken, ' +
    'what went wrong, and when it is tried again. Paginated: pass `nextCursor` back as `cursor`.',
  tags: ['Webhooks'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { params: WebhookIdParamsSchema, query: DeliveryQuerySchema },
  responses: {
    200: {
      description: 'Delivery attempts',
      content: { 'application/json': { schema: DeliveryListResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

/** GET /api/admin/webhooks/:id/deliveries */
export function registerWebhookDeliveries(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(webhookDeliveriesRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const id = webhookIdOf(c.req.valid('param').id);
    const db = dbOf(c);
    if (!(await findEndpoint(db, admin.tenantId, id))) throw new ApiError('WEBHOOK_NOT_FOUND');
    const page = await listAttempts(db, id, c.req.valid('query'));
    return c.json(
      { success: true as const, attempts: page.items.map(attemptView), nextCursor: page.nextCursor },
      200,
    );
  });
}
