import { createRoute } from '@hono/zod-openapi';
import { PageQuerySchema, SessionListResponseSchema } from '../../../shared/admin-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { sessionView } from '../admin-views.js';
import { listTenantSessions } from '../queries/sessions.js';

export const adminSessionListRoute = createRoute({
  operationId: 'adminSessionList',
  method: 'get',
  path: '/api/admin/sessions',
  summary: "List the tenant's sessions with their state, oldest first",
  description:
    'Needs a tenant admin key. `state` is what the owning host last recorded. Paginated: pass ' +
    '`nextCursor` back as `cursor`.',
  tags: ['Sessions'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { query: PageQuerySchema },
  responses: {
    200: { description: 'Sessions', content: { 'application/json': { schema: SessionListResponseSchema } } },
    ...errorResponses(400, 401, 403),
  },
});

/** GET /api/admin/sessions */
export function registerAdminSessionList(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(adminSessionListRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const page = await listTenantSessions(dbOf(c), admin.tenantId, c.req.valid('query'));
    return c.json(
      { success: true as const, sessions: page.items.map(sessionView), nextCursor: page.nextCursor },
      200,
    );
  });
}
