import type { EdgeApp, EdgeServices } from '../../services.js';
import { changeTenantStatus, tenantStatusRoute } from './operator-tenant-status.js';

export const operatorTenantSuspendRoute = tenantStatusRoute('suspend');

/** POST /api/operator/tenants/:id/suspend */
export function registerOperatorTenantSuspend(app: EdgeApp, services: EdgeServices): void {
  app.openapi(operatorTenantSuspendRoute, async (c) => {
    const tenant = await changeTenantStatus(c, services, c.req.valid('param').id, 'suspended');
    return c.json({ success: true as const, tenant }, 200);
  });
}
