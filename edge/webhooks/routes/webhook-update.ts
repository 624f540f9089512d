import { createRoute } from '@hono/zod-openapi';
import {
  UpdateWebhookBodySchema,
  WebhookIdParamsSchema,
  WebhookResponseSchema,
} from '../../../shared/webhook-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { updateWebhook } from '../lifecycle.js';
import { checkEndpointUrl } from '../url-check.js';
import { webhookView } from '../views.js';
import { actorOf, webhookIdOf } from './common.js';

export const webhookUpdateRoute = createRoute({
  operationId: 'webhookUpdate',
  method: 'patch',
  path: '/api/admin/webhooks/{id}',
  summary: 'Change a webhook endpoint',
  description:
    'Needs a tenant admin key. Only the fields given change: `events` or `sessionId` null means all; ' +
    '`enabled: true` turns a disabled endpoint on again and its deliveries resume at once (so does a new ' +
    '`url`, checked as at creation); `enabled: false` holds them until it is enabled again.',
  tags: ['Webhooks'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin'), emptyJsonBodyAsObject()] as const,
  request: {
    params: WebhookIdParamsSchema,
    body: { required: true, content: { 'application/json': { schema: UpdateWebhookBodySchema } } },
  },
  responses: {
    200: { description: 'The endpoint', content: { 'application/json': { schema: WebhookResponseSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

/** PATCH /api/admin/webhooks/:id */
export function registerWebhookUpdate(app: EdgeApp, services: EdgeServices): void {
  const { config, logger } = services;
  app.openapi(webhookUpdateRoute, async (c) => {
    const actor = actorOf(c);
    const id = webhookIdOf(c.req.valid('param').id);
    const body = c.req.valid('json');
    const url =
      body.url === undefined
        ? undefined
        : await checkEndpointUrl(body.url, {
            allowPrivate: config.webhooks.allowPrivate,
            resolveHost: services.resolveHost,
          });
    const endpoint = await updateWebhook(dbOf(c), actor, id, {
      url,
      events: body.events,
      sessionName: body.sessionId,
      description: body.description,
      enabled: body.enabled,
    });
    logger.info({ tenantId: actor.tenantId, webhookId: id }, 'webhook updated');
    return c.json({ success: true as const, webhook: webhookView(endpoint) }, 200);
  });
}
