import { createRoute } from '@hono/zod-openapi';
import { PageQuerySchema, TenantListResponseSchema } from '../../../shared/admin-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { tenantView } from '../admin-views.js';
import { listTenants } from '../queries/tenants.js';

export const operatorTenantListRoute = createRoute({
  operationId: 'operatorTenantList',
  method: 'get',
  path: '/api/operator/tenants',
  summary: 'List tenants, oldest first',
  description: 'Needs the operator key. Paginated: pass `nextCursor` back as `cursor`.',
  tags: ['Tenants'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('operator')] as const,
  request: { query: PageQuerySchema },
  responses: {
    200: { description: 'Tenants', content: { 'application/json': { schema: TenantListResponseSchema } } },
    ...errorResponses(400, 401, 403),
  },
});

/** GET /api/operator/tenants */
export function registerOperatorTenantList(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(operatorTenantListRoute, async (c) => {
    const page = await listTenants(dbOf(c), c.req.valid('query'));
    return c.json(
      { success: true as const, tenants: page.items.map(tenantView), nextCursor: page.nextCursor },
      200,
    );
  });
}
