import { createRoute } from '@hono/zod-openapi';
import { HostListResponseSchema } from '../../../shared/admin-schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { listHostLoads } from '../../hosts/queries/hosts.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp } from '../../services.js';
import { hostView } from '../admin-views.js';

export const operatorHostListRoute = createRoute({
  operationId: 'operatorHostList',
  method: 'get',
  path: '/api/operator/hosts',
  summary: 'List session hosts: liveness, load and whether each reaches WhatsApp',
  description:
    'Needs the operator key. The detail behind `GET /health`: every registered host, live or not, ' +
    'with the error it met when it could not reach WhatsApp.',
  tags: ['Service'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('operator')] as const,
  responses: {
    200: { description: 'Hosts', content: { 'application/json': { schema: HostListResponseSchema } } },
    ...errorResponses(400, 401, 403),
  },
});

/** GET /api/operator/hosts */
export function registerOperatorHostList(app: EdgeApp): void {
  app.openapi(operatorHostListRoute, async (c) => {
    const hosts = await listHostLoads(dbOf(c));
    return c.json({ success: true as const, hosts: hosts.map(hostView) }, 200);
  });
}
