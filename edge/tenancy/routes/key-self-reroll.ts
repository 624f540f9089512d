import { createRoute } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { RerollKeyBodySchema, RerollKeyResponseSchema } from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import { dbOf, type EdgeEnv } from '../../context.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { keyView } from '../admin-views.js';
import { rerollTenantKey } from '../key-lifecycle.js';

// A session key's holder (a backend) must be able to rotate it without an admin; an admin key may too.
// The operator key is not a tenant's key and is rotated through OPERATOR_KEY.
const requireTenantKey: MiddlewareHandler<EdgeEnv> = async (c, next) => {
  const scope = c.get('principal')?.scope;
  if (scope !== 'session' && scope !== 'admin') throw new ApiError('WRONG_SCOPE');
  await next();
};

export const keySelfRerollRoute = createRoute({
  operationId: 'keySelfReroll',
  method: 'post',
  path: '/api/keys/self/reroll',
  summary: 'Re-roll the calling key',
  description:
    'Needs a session key (or a tenant admin key): the key in `x-api-key` gets a successor with the same ' +
    'scope, label, session and expiry, returned once, and is itself accepted for `overlapSeconds` more.',
  tags: ['Keys'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireTenantKey, emptyJsonBodyAsObject()] as const,
  request: {
    body: { required: true, content: { 'application/json': { schema: RerollKeyBodySchema } } },
  },
  responses: {
    200: { description: 'Re-rolled', content: { 'application/json': { schema: RerollKeyResponseSchema } } },
    ...errorResponses(400, 401, 403, 409, 413, 415),
  },
});

/** POST /api/keys/self/reroll */
export function registerKeySelfReroll(app: EdgeApp, { logger, now }: EdgeServices): void {
  app.openapi(keySelfRerollRoute, async (c) => {
    const principal = c.get('principal');
    // Checked by the route's middleware; repeated so the types know the tenant is there.
    if (principal.scope === 'operator') throw new ApiError('WRONG_SCOPE');
    const { overlapSeconds } = c.req.valid('json');
    const at = now();
    const rolled = await rerollTenantKey(dbOf(c), principal, principal.keyId, { overlapSeconds, now: at });
    logger.info(
      { tenantId: principal.tenantId, keyId: principal.keyId, newKeyId: rolled.key.id, overlapSeconds },
      'api key re-rolled by itself',
    );
    return c.json(
      {
        success: true as const,
        apiKey: rolled.apiKey,
        key: keyView(rolled.key, at),
        replaced: keyView(rolled.replaced, at),
      },
      200,
    );
  });
}
