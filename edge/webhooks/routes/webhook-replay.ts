import { createRoute } from '@hono/zod-openapi';
import {
  ReplayWebhookBodySchema,
  WebhookIdParamsSchema,
  WebhookReplayResponseSchema,
} from '../../../shared/webhook-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { replayWebhook } from '../lifecycle.js';
import { actorOf, webhookIdOf } from './common.js';

export const webhookReplayRoute = createRoute({
  operationId: 'webhookReplay',
  method: 'post',
  path: '/api/admin/webhooks/{id}/replay',
  summary: 'Deliver events to a webhook endpoint again',
  description:
    'Needs a tenant admin key. `eventId`: that one event (404 EVENT_NOT_FOUND unless it is yours and one ' +
    'this endpoint would get by its session). `since`: every event since then that the endpoint’s ' +
    'session and types take. They are queued again, delivered or not, and sent in the order they ' +
    'happened, starting at once; nothing else is sent again.',
  tags: ['Webhooks'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin'), emptyJsonBodyAsObject()] as const,
  request: {
    params: WebhookIdParamsSchema,
    body: { required: true, content: { 'application/json': { schema: ReplayWebhookBodySchema } } },
  },
  responses: {
    202: { description: 'Queued', content: { 'application/json': { schema: WebhookReplayResponseSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
});

/** POST /api/admin/webhooks/:id/replay */
export function registerWebhookReplay(app: EdgeApp, { logger }: EdgeServices): void {
  app.openapi(webhookReplayRoute, async (c) => {
    const actor = actorOf(c);
    const id = webhookIdOf(c.req.valid('param').id);
    const { eventId, since } = c.req.valid('json');
    // The schema lets exactly one of the two through.
    const what = eventId !== undefined ? { eventId } : { since: new Date(since ?? '') };
    const replayed = await replayWebhook(dbOf(c), actor, id, what);
    logger.info({ tenantId: actor.tenantId, webhookId: id, replayed }, 'webhook replay queued');
    return c.json({ success: true as const, replayed }, 202);
  });
}
