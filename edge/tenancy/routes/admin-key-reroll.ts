import { createRoute } from '@hono/zod-openapi';
import {
  isUuid,
  KeyIdParamsSchema,
  RerollKeyBodySchema,
  RerollKeyResponseSchema,
} from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { keyView } from '../admin-views.js';
import { rerollTenantKey } from '../key-lifecycle.js';

export const adminKeyRerollRoute = createRoute({
  operationId: 'adminKeyReroll',
  method: 'post',
  path: '/api/admin/keys/{id}/reroll',
  summary: 'Re-roll a key of the tenant: a new secret, the old one accepted for an overlap',
  description:
    'Needs a tenant admin key. The new key has the same scope, label, session and expiry and is returned ' +
    'once. The old key is accepted for `overlapSeconds` more (0: it stops at once), then refused. A ' +
    'revoked, expired or already re-rolled key cannot be re-rolled (409).',
  tags: ['Keys'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin'), emptyJsonBodyAsObject()] as const,
  request: {
    params: KeyIdParamsSchema,
    body: { required: true, content: { 'application/json': { schema: RerollKeyBodySchema } } },
  },
  responses: {
    200: { description: 'Re-rolled', content: { 'application/json': { schema: RerollKeyResponseSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415),
  },
});

/** POST /api/admin/keys/:id/reroll */
export function registerAdminKeyReroll(app: EdgeApp, { logger, now }: EdgeServices): void {
  app.openapi(adminKeyRerollRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const { id } = c.req.valid('param');
    const { overlapSeconds } = c.req.valid('json');
    if (!isUuid(id)) throw new ApiError('KEY_NOT_FOUND');
    const at = now();
    const rolled = await rerollTenantKey(dbOf(c), admin, id, { overlapSeconds, now: at });
    logger.info(
      { tenantId: admin.tenantId, keyId: id, newKeyId: rolled.key.id, overlapSeconds },
      'api key re-rolled',
    );
    return c.json(
      {
        success: true as const,
        apiKey: rolled.apiKey,
        key: keyView(rolled.key, at),
        replaced: keyView(rolled.replaced, at),
      },
      200,
    );
  });
}
