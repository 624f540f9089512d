import { createRoute } from '@hono/zod-openapi';
import { CreateTenantBodySchema, CreateTenantResponseSchema } from '../../../shared/admin-schemas.js';
import { generateApiKey } from '../../../shared/api-key.js';
import { requireScope } from '../../auth/authenticate.js';
import { insertApiKey } from '../../auth/queries/api-keys.js';
import { dbOf, principalOf } from '../../context.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { keyView, tenantView } from '../admin-views.js';
import { recordAudit } from '../queries/audit.js';
import { findTenantKey } from '../queries/tenant-keys.js';
import { insertTenant } from '../queries/tenants.js';

/** Label of the admin key a tenant is created with. */
export const FIRST_ADMIN_KEY_LABEL = 'first admin key';

export const operatorTenantCreateRoute = createRoute({
  operationId: 'operatorTenantCreate',
  method: 'post',
  path: '/api/operator/tenants',
  summary: 'Create a tenant and its first admin key',
  description:
    'Needs the operator key. The admin key is returned once; only its digest is stored. The tenant ' +
    'admin then creates sessions and further keys with it.',
  tags: ['Tenants'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('operator'), emptyJsonBodyAsObject()] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: CreateTenantBodySchema } } },
  },
  responses: {
    201: {
      description: 'Tenant created',
      content: { 'application/json': { schema: CreateTenantResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 413, 415),
  },
});

/** POST /api/operator/tenants */
export function registerOperatorTenantCreate(app: EdgeApp, { logger, now }: EdgeServices): void {
  app.openapi(operatorTenantCreateRoute, async (c) => {
    const operator = principalOf(c, 'operator');
    const { name } = c.req.valid('json');
    const generated = await generateApiKey('admin');
    // Tenant, key and audit entry together or not at all: a tenant without an admin key is unreachable.
    const created = await dbOf(c)
      .transaction()
      .execute(async (trx) => {
        const tenant = await insertTenant(trx, name);
        const keyId = await insertApiKey(trx, {
          digest: generated.digest,
          prefix: generated.displayPrefix,
          scope: 'admin',
          tenantId: tenant.id,
          label: FIRST_ADMIN_KEY_LABEL,
        });
        await recordAudit(trx, {
          tenantId: tenant.id,
          actor: operator.keyPrefix,
          action: 'tenant.create',
          target: tenant.id,
          detail: { name, adminKey: generated.displayPrefix },
        });
        const key = await findTenantKey(trx, tenant.id, keyId);
        if (!key) throw new Error('the new admin key vanished inside its own transaction');
        return { tenant, key };
      });
    logger.info({ tenantId: created.tenant.id, key: operator.keyPrefix }, 'tenant created');
    return c.json(
      {
        success: true as const,
        tenant: tenantView(created.tenant),
        apiKey: generated.key,
        key: keyView(created.key, now()),
      },
      201,
    );
  });
}
