import { createRoute } from '@hono/zod-openapi';
import { KeyListResponseSchema, type PageQuery, PageQuerySchema } from '../../../shared/admin-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, type EdgeContext, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { keyView } from '../admin-views.js';
import { listTenantKeys } from '../queries/tenant-keys.js';

export const adminKeyListRoute = createRoute({
  operationId: 'adminKeyList',
  method: 'get',
  path: '/api/admin/keys',
  summary: "List the tenant's keys, oldest first",
  description:
    'Needs a tenant admin key. Shows each key’s display prefix, scope, label, session, times and status; ' +
    'never the key or its digest. Paginated: pass `nextCursor` back as `cursor`.',
  tags: ['Keys'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin')] as const,
  request: { query: PageQuerySchema },
  responses: {
    200: { description: 'Keys', content: { 'application/json': { schema: KeyListResponseSchema } } },
    ...errorResponses(400, 401, 403),
  },
});

/** The listing body, shared with the seed's `GET /api/keys`. */
export async function keyListing(c: EdgeContext, services: EdgeServices, query: PageQuery) {
  const admin = principalOf(c, 'admin');
  const page = await listTenantKeys(dbOf(c), admin.tenantId, query);
  const now = services.now();
  return {
    success: true as const,
    keys: page.items.map((k) => keyView(k, now)),
    nextCursor: page.nextCursor,
  };
}

/** GET /api/admin/keys */
export function registerAdminKeyList(app: EdgeApp, services: EdgeServices): void {
  app.openapi(adminKeyListRoute, async (c) =>
    c.json(await keyListing(c, services, c.req.valid('query')), 200),
  );
}
