// Suspend and resume share everything but the status they set; each is still its own route.
import { createRoute } from '@hono/zod-openapi';
import { isUuid, TenantIdParamsSchema, TenantResponseSchema } from '../../../shared/admin-schemas.js';
import type { TenantStatus } from '../../../shared/db-schema.js';
import { ApiError } from '../../../shared/errors.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, type EdgeContext, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeServices } from '../../services.js';
import { tenantView } from '../admin-views.js';
import { recordAudit } from '../queries/audit.js';
import { lockTenant, setTenantStatus } from '../queries/tenants.js';

/** The suspend or the resume route (they differ only in the status they set). */
export function tenantStatusRoute(action: 'suspend' | 'resume') {
  return createRoute({
    method: 'post',
    path: `/api/operator/tenants/{id}/${action}`,
    operationId: action === 'suspend' ? 'operatorTenantSuspend' : 'operatorTenantResume',
    summary: action === 'suspend' ? 'Suspend a tenant' : 'Resume a suspended tenant',
    description:
      action === 'suspend'
        ? 'Needs the operator key. Every key of the tenant is refused from then on (403 INVALID_API_KEY), so its sessions stop sending; sessions, keys and WhatsApp links are kept. Suspending a suspended tenant changes nothing.'
        : 'Needs the operator key. Its keys work again, as they were. Resuming an active tenant changes nothing.',
    tags: ['Tenants'],
    security: [{ [API_KEY_SECURITY]: [] }],
    middleware: [requireScope('operator')] as const,
    request: { params: TenantIdParamsSchema },
    responses: {
      200: { description: 'The tenant', content: { 'application/json': { schema: TenantResponseSchema } } },
      ...errorResponses(400, 401, 403, 404),
    },
  });
}

/** Sets the tenant's status, with an audit entry in the tenant's log when it changes. */
export async function changeTenantStatus(
  c: EdgeContext,
  services: EdgeServices,
  tenantId: string,
  status: TenantStatus,
) {
  const operator = principalOf(c, 'operator');
  if (!isUuid(tenantId)) throw new ApiError('TENANT_NOT_FOUND');
  const tenant = await dbOf(c)
    .transaction()
    .execute(async (trx) => {
      const current = await lockTenant(trx, tenantId);
      if (!current) throw new ApiError('TENANT_NOT_FOUND');
      if (current.status === status) return current;
      const updated = await setTenantStatus(trx, tenantId, status);
      await recordAudit(trx, {
        tenantId,
        actor: operator.keyPrefix,
        action: status === 'suspended' ? 'tenant.suspend' : 'tenant.resume',
        target: tenantId,
        detail: { name: current.name },
      });
      return updated;
    });
  services.logger.info({ tenantId, status, key: operator.keyPrefix }, 'tenant status');
  return tenantView(tenant);
}
