import { createRoute } from '@hono/zod-openapi';
import { isUuid, KeyIdParamsSchema, KeyResponseSchema } from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { keyView } from '../admin-views.js';
import { findTenantKey } from '../queries/tenant-keys.js';

export const adminKeyGetRoute = createRoute({
  operationId: 'adminKeyGet',
  method: 'get',
  path: '/api/admin/keys/{id}',
  summary: 'One of the tenant’s keys',
  description: "Needs a tenant admin key. Another tenant's key is 404, like one that does not exist.",
  tags: ['Keys'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { params: KeyIdParamsSchema },
  responses: {
    200: { description: 'The key', content: { 'application/json': { schema: KeyResponseSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

/** GET /api/admin/keys/:id */
export function registerAdminKeyGet(app: EdgeApp, { now }: EdgeServices): void {
  app.openapi(adminKeyGetRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const { id } = c.req.valid('param');
    const key = isUuid(id) ? await findTenantKey(dbOf(c), admin.tenantId, id) : undefined;
    if (!key) throw new ApiError('KEY_NOT_FOUND');
    return c.json({ success: true as const, key: keyView(key, now()) }, 200);
  });
}
