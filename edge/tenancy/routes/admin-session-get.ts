import { createRoute } from '@hono/zod-openapi';
import {
  isSessionName,
  SessionNameParamsSchema,
  SessionResponseSchema,
} from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { sessionView } from '../admin-views.js';
import { findTenantSession } from '../queries/sessions.js';

export const adminSessionGetRoute = createRoute({
  operationId: 'adminSessionGet',
  method: 'get',
  path: '/api/admin/sessions/{sessionId}',
  summary: 'One of the tenant’s sessions, by its sessionId',
  description: "Needs a tenant admin key. Another tenant's session is 404, like one that does not exist.",
  tags: ['Sessions'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { params: SessionNameParamsSchema },
  responses: {
    200: { description: 'The session', content: { 'application/json': { schema: SessionResponseSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

/** GET /api/admin/sessions/:sessionId */
export function registerAdminSessionGet(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(adminSessionGetRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const { sessionId } = c.req.valid('param');
    const session = isSessionName(sessionId)
      ? await findTenantSession(dbOf(c), admin.tenantId, sessionId)
      : undefined;
    if (!session) throw new ApiError('SESSION_NOT_FOUND');
    return c.json({ success: true as const, session: sessionView(session) }, 200);
  });
}
