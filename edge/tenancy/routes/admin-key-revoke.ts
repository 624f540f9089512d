import { createRoute } from '@hono/zod-openapi';
import { isUuid, KeyIdParamsSchema, KeyResponseSchema } from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { keyView } from '../admin-views.js';
import { revokeTenantKey } from '../key-lifecycle.js';

export const adminKeyRevokeRoute = createRoute({
  operationId: 'adminKeyRevoke',
  method: 'post',
  path: '/api/admin/keys/{id}/revoke',
  summary: 'Revoke a key of the tenant',
  description:
    'Needs a tenant admin key. The key is refused from then on. Revoking a revoked key changes nothing. ' +
    "The tenant's last live admin key cannot be revoked (409 LAST_ADMIN_KEY).",
  tags: ['Keys'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { params: KeyIdParamsSchema },
  responses: {
    200: { description: 'The revoked key', content: { 'application/json': { schema: KeyResponseSchema } } },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

/** POST /api/admin/keys/:id/revoke */
export function registerAdminKeyRevoke(app: EdgeApp, { logger, now }: EdgeServices): void {
  app.openapi(adminKeyRevokeRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const { id } = c.req.valid('param');
    if (!isUuid(id)) throw new ApiError('KEY_NOT_FOUND');
    const at = now();
    const key = await revokeTenantKey(dbOf(c), admin, id, at);
    logger.info({ tenantId: admin.tenantId, keyId: key.id }, 'api key revoked');
    return c.json({ success: true as const, key: keyView(key, at) }, 200);
  });
}
