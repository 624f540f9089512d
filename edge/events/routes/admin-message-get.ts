import { createRoute } from '@hono/zod-openapi';
import { isSessionName } from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import { MessageResponseSchema, SessionMessageIdParamsSchema } from '../../../shared/events.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { findTenantSession } from '../../tenancy/queries/sessions.js';
import { oneMessage } from '../message-listing.js';

export const adminMessageGetRoute = createRoute({
  operationId: 'adminMessageGet',
  method: 'get',
  path: '/api/admin/sessions/{sessionId}/messages/{id}',
  summary: "One message of one of the tenant's sessions",
  description:
    "Needs a tenant admin key. Another tenant's session is 404 SESSION_NOT_FOUND; a message the session " +
    'does not have is 404 MESSAGE_NOT_FOUND.',
  tags: ['Messages'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { params: SessionMessageIdParamsSchema },
  responses: {
    200: { description: 'The message', content: { 'application/json': { schema: MessageResponseSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

/** GET /api/admin/sessions/:sessionId/messages/:id */
export function registerAdminMessageGet(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(adminMessageGetRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const { sessionId, id } = c.req.valid('param');
    const db = dbOf(c);
    const session = isSessionName(sessionId)
      ? await findTenantSession(db, admin.tenantId, sessionId)
      : undefined;
    if (!session) throw new ApiError('SESSION_NOT_FOUND');
    return c.json(await oneMessage(db, session, id), 200);
  });
}
