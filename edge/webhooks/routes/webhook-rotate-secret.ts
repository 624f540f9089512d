import { createRoute } from '@hono/zod-openapi';
import {
  DEFAULT_SECRET_OVERLAP_SECONDS,
  RotateWebhookSecretBodySchema,
  WebhookIdParamsSchema,
  WebhookSecretResponseSchema,
} from '../../../shared/webhook-schemas.js';
import { generateWebhookSecret } from '../../../shared/webhook-secrets.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { rotateWebhookSecret } from '../lifecycle.js';
import { secretBoxOf } from '../secrets.js';
import { webhookView } from '../views.js';
import { actorOf, webhookIdOf } from './common.js';

export const webhookRotateSecretRoute = createRoute({
  operationId: 'webhookRotateSecret',
  method: 'post',
  path: '/api/admin/webhooks/{id}/rotate-secret',
  summary: "Rotate a webhook endpoint's signing secret",
  description:
    'Needs a tenant admin key. A new secret, returned once. For `overlapSeconds` (default a day) every ' +
    'delivery carries a signature with the old secret too (Standard Webhooks allows several), so the ' +
    'receiver can switch whenever it likes within that time. The body may be left out.',
  tags: ['Webhooks'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin'), emptyJsonBodyAsObject()] as const,
  request: {
    params: WebhookIdParamsSchema,
    body: { required: false, content: { 'application/json': { schema: RotateWebhookSecretBodySchema } } },
  },
  responses: {
    200: {
      description: 'Rotated; the new secret is shown this once',
      content: { 'application/json': { schema: WebhookSecretResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
});

/** POST /api/admin/webhooks/:id/rotate-secret */
export function registerWebhookRotateSecret(app: EdgeApp, services: EdgeServices): void {
  const { logger, now } = services;
  app.openapi(webhookRotateSecretRoute, async (c) => {
    const actor = actorOf(c);
    const id = webhookIdOf(c.req.valid('param').id);
    // Without a body the validator hands over {} unparsed, so the default is applied here too.
    const overlapSeconds = c.req.valid('json').overlapSeconds ?? DEFAULT_SECRET_OVERLAP_SECONDS;
    const box = secretBoxOf(services);
    const secret = generateWebhookSecret();
    const endpoint = await rotateWebhookSecret(dbOf(c), actor, id, {
      sealedSecret: await box.seal(secret),
      overlapSeconds,
      now: now(),
    });
    logger.info({ tenantId: actor.tenantId, webhookId: id, overlapSeconds }, 'webhook secret rotated');
    return c.json({ success: true as const, webhook: webhookView(endpoint), secret }, 200);
  });
}
