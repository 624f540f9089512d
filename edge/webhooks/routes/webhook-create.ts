import { createRoute } from '@hono/zod-openapi';
import { CreateWebhookBodySchema, WebhookSecretResponseSchema } from '../../../shared/webhook-schemas.js';
import { generateWebhookSecret } from '../../../shared/webhook-secrets.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { createWebhook } from '../lifecycle.js';
import { secretBoxOf } from '../secrets.js';
import { checkEndpointUrl } from '../url-check.js';
import { webhookView } from '../views.js';
import { actorOf } from './common.js';

export const webhookCreateRoute = createRoute({
  operationId: 'webhookCreate',
  method: 'post',
  path: '/api/admin/webhooks',
  summary: 'Register a webhook endpoint',
  description:
    'Needs a tenant admin key. Events of the tenant (or of one session, `sessionId`), of the types in ' +
    '`events` (default: all), are POSTed to `url`, signed as Standard Webhooks specifies. The signing ' +
    '`secret` is returned once; only an encrypted copy is kept. The URL must be `https` and its host ' +
    'must resolve to public addresses only. The same URL twice for the same sessions is 409.',
  tags: ['Webhooks'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin'), emptyJsonBodyAsObject()] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: CreateWebhookBodySchema } } },
  },
  responses: {
    201: {
      description: 'Registered; the secret is shown this once',
      content: { 'application/json': { schema: WebhookSecretResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

/** POST /api/admin/webhooks */
export function registerWebhookCreate(app: EdgeApp, services: EdgeServices): void {
  const { config, logger } = services;
  app.openapi(webhookCreateRoute, async (c) => {
    const actor = actorOf(c);
    const body = c.req.valid('json');
    const box = secretBoxOf(services);
    const url = await checkEndpointUrl(body.url, {
      allowPrivate: config.webhooks.allowPrivate,
      resolveHost: services.resolveHost,
    });
    const secret = generateWebhookSecret();
    const endpoint = await createWebhook(dbOf(c), actor, {
      url,
      events: body.events,
      sessionName: body.sessionId ?? null,
      description: body.description,
      sealedSecret: await box.seal(secret),
    });
    logger.info({ tenantId: actor.tenantId, webhookId: endpoint.id }, 'webhook registered');
    return c.json({ success: true as const, webhook: webhookView(endpoint), secret }, 201);
  });
}
