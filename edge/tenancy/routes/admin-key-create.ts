import { createRoute } from '@hono/zod-openapi';
import { CreateKeyBodySchema, CreateKeyResponseSchema } from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { keyView } from '../admin-views.js';
import { issueTenantKey } from '../key-lifecycle.js';

export const adminKeyCreateRoute = createRoute({
  operationId: 'adminKeyCreate',
  method: 'post',
  path: '/api/admin/keys',
  summary: 'Issue a key of the tenant',
  description:
    'Needs a tenant admin key. A session key acts on the one session it names; an admin key manages the ' +
    'tenant. The key is returned once; only its digest is stored.',
  tags: ['Keys'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin'), emptyJsonBodyAsObject()] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: CreateKeyBodySchema } } },
  },
  responses: {
    201: { description: 'Key issued', content: { 'application/json': { schema: CreateKeyResponseSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
});

/** POST /api/admin/keys */
export function registerAdminKeyCreate(app: EdgeApp, { logger, now }: EdgeServices): void {
  app.openapi(adminKeyCreateRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const body = c.req.valid('json');
    const at = now();
    const expiresAt = body.expiresAt === undefined ? undefined : new Date(body.expiresAt);
    // Judged by the same clock as authentication, so a key is never born expired.
    if (expiresAt && expiresAt <= at) {
      throw new ApiError('VALIDATION_ERROR', {
        details: [{ path: 'expiresAt', message: 'must be in the future' }],
      });
    }
    const issued = await issueTenantKey(dbOf(c), admin, {
      scope: body.scope,
      sessionName: body.sessionId,
      label: body.label,
      expiresAt,
    });
    logger.info({ tenantId: admin.tenantId, keyId: issued.key.id, scope: body.scope }, 'api key issued');
    return c.json({ success: true as const, apiKey: issued.apiKey, key: keyView(issued.key, at) }, 201);
  });
}
