import { createRoute } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import {
  KeyListResponseSchema,
  PageQuerySchema,
  SEED_KEYS_FORBIDDEN_MESSAGE,
} from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import type { EdgeEnv } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { keyListing } from './admin-key-list.js';

// The seed refused non-admin callers with its own sentence; its clients keep getting it, with our code.
const requireSeedAdmin: MiddlewareHandler<EdgeEnv> = async (c, next) => {
  if (c.get('principal')?.scope !== 'admin') {
    throw new ApiError('WRONG_SCOPE', { message: SEED_KEYS_FORBIDDEN_MESSAGE });
  }
  await next();
};

export const seedKeyListRoute = createRoute({
  operationId: 'seedKeyList',
  method: 'get',
  path: '/api/keys',
  summary: "The seed's key listing: the tenant's keys, in the safe form",
  description:
    'Needs a tenant admin key. Same body and query as `GET /api/admin/keys`. The seed answered with the ' +
    'keys themselves; only their display prefixes exist here.',
  tags: ['Keys'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireSeedAdmin] as const,
  request: { query: PageQuerySchema },
  responses: {
    200: { description: 'Keys', content: { 'application/json': { schema: KeyListResponseSchema } } },
    ...errorResponses(400, 401, 403),
  },
});

/** GET /api/keys */
export function registerSeedKeyList(app: EdgeApp, services: EdgeServices): void {
  app.openapi(seedKeyListRoute, async (c) =>
    c.json(await keyListing(c, services, c.req.valid('query')), 200),
  );
}
