import type { EdgeApp, EdgeServices } from '../../services.js';
import { changeTenantStatus, tenantStatusRoute } from './operator-tenant-status.js';

export const operatorTenantResumeRoute = tenantStatusRoute('resume');

/** POST /api/operator/tenants/:id/resume */
export function registerOperatorTenantResume(app: EdgeApp, services: EdgeServices): void {
  app.openapi(operatorTenantResumeRoute, async (c) => {
    const tenant = await changeTenantStatus(c, services, c.req.valid('param').id, 'active');
    return c.json({ success: true as const, tenant }, 200);
  });
}
