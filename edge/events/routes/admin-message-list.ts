import { createRoute } from '@hono/zod-openapi';
import { isSessionName } from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import {
  MessageListQuerySchema,
  MessageListResponseSchema,
  SessionMessageParamsSchema,
} from '../../../shared/events.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { findTenantSession } from '../../tenancy/queries/sessions.js';
import { messageListing } from '../message-listing.js';

export const adminMessageListRoute = createRoute({
  operationId: 'adminMessageList',
  method: 'get',
  path: '/api/admin/sessions/{sessionId}/messages',
  summary: "One session's messages, newest first",
  description:
    "Needs a tenant admin key. The same listing as `GET /api/messages` for the tenant's session " +
    "`sessionId`; another tenant's session is 404, like one that does not exist.",
  tags: ['Messages'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { params: SessionMessageParamsSchema, query: MessageListQuerySchema },
  responses: {
    200: { description: 'Messages', content: { 'application/json': { schema: MessageListResponseSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

/** GET /api/admin/sessions/:sessionId/messages */
export function registerAdminMessageList(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(adminMessageListRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const { sessionId } = c.req.valid('param');
    const db = dbOf(c);
    const session = isSessionName(sessionId)
      ? await findTenantSession(db, admin.tenantId, sessionId)
      : undefined;
    if (!session) throw new ApiError('SESSION_NOT_FOUND');
    return c.json(await messageListing(db, session, c.req.valid('query')), 200);
  });
}
