import { createRoute } from '@hono/zod-openapi';
import { AuditListResponseSchema, AuditQuerySchema } from '../../../shared/admin-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { auditView } from '../admin-views.js';
import { listAuditEntries } from '../queries/audit.js';

export const adminAuditListRoute = createRoute({
  operationId: 'adminAuditList',
  method: 'get',
  path: '/api/admin/audit',
  summary: "The tenant's audit log",
  description:
    'Needs a tenant admin key. Every change made to the tenant, its sessions and keys, by its admins, ' +
    'its keys or the operator: who (key display prefix), what, when, on what. Newest first by default ' +
    '(`order=asc`: oldest first). Paginated: pass `nextCursor` back as `cursor`, with the same `order`.',
  tags: ['Audit'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { query: AuditQuerySchema },
  responses: {
    200: {
      description: 'Audit entries',
      content: { 'application/json': { schema: AuditListResponseSchema } },
    },
    ...errorResponses(400, 401, 403),
  },
});

/** GET /api/admin/audit */
export function registerAdminAuditList(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(adminAuditListRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const page = await listAuditEntries(dbOf(c), admin.tenantId, c.req.valid('query'));
    return c.json(
      { success: true as const, entries: page.items.map(auditView), nextCursor: page.nextCursor },
      200,
    );
  });
}
