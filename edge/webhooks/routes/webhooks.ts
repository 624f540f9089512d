import { WebhookPayloadSchema } from '../../../shared/events.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { registerWebhookCreate } from './webhook-create.js';
import { registerWebhookDelete } from './webhook-delete.js';
import { registerWebhookDeliveries } from './webhook-deliveries.js';
import { registerWebhookGet } from './webhook-get.js';
import { registerWebhookList } from './webhook-list.js';
import { registerWebhookReplay } from './webhook-replay.js';
import { registerWebhookRotateSecret } from './webhook-rotate-secret.js';
import { registerWebhookTest } from './webhook-test.js';
import { registerWebhookUpdate } from './webhook-update.js';

/** The tenant admin's webhook routes, and the delivery itself in the OpenAPI document. */
export function registerWebhookRoutes(app: EdgeApp, services: EdgeServices): void {
  registerWebhookList(app, services);
  registerWebhookCreate(app, services);
  registerWebhookGet(app, services);
  registerWebhookUpdate(app, services);
  registerWebhookDelete(app, services);
  registerWebhookRotateSecret(app, services);
  registerWebhookTest(app, services);
  registerWebhookDeliveries(app, services);
  registerWebhookReplay(app, services);
  // What the hosts POST to an endpoint: described as an OpenAPI 3.1 webhook, so its body is documented
  // beside the routes (and the schema registered by name, for documents without a webhooks section).
  app.openAPIRegistry.register('WebhookPayload', WebhookPayloadSchema);
  app.openAPIRegistry.registerWebhook({
    method: 'post',
    path: 'event',
    operationId: 'webhookEvent',
    security: [],
    summary: 'An event, delivered to a registered endpoint',
    description:
      'Signed as Standard Webhooks specifies: `webhook-id` is the event id (the same event may arrive ' +
      'more than once: deduplicate on it), `webhook-timestamp` the time of sending in Unix seconds, ' +
      '`webhook-signature` one `v1,<base64>` HMAC-SHA256 of `id.timestamp.body` per secret (two during ' +
      'a rotation). Answer 2xx within 10 seconds; anything else is retried, for up to 3 days; 410 Gone ' +
      'disables the endpoint.',
    tags: ['Webhooks'],
    request: { body: { content: { 'application/json': { schema: WebhookPayloadSchema } } } },
    responses: { 200: { description: 'Received (any 2xx)' } },
  });
}
