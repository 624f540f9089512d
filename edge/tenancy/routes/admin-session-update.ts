import { createRoute } from '@hono/zod-openapi';
import {
  isSessionName,
  SessionNameParamsSchema,
  SessionResponseSchema,
  SessionUpdateBodySchema,
} from '../../../shared/admin-schemas.js';
import { ApiError } from '../../../shared/errors.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { sessionView } from '../admin-views.js';
import { recordAudit } from '../queries/audit.js';
import { findTenantSession, setSessionPacing } from '../queries/sessions.js';

export const adminSessionUpdateRoute = createRoute({
  operationId: 'adminSessionUpdate',
  method: 'patch',
  path: '/api/admin/sessions/{sessionId}',
  summary: 'Change how a session sends (its pacing)',
  description:
    'Needs a tenant admin key. `pacing` sets the least gap between two sends (`minIntervalMs`, plus up ' +
    'to `jitterMs` at random), "typing…" before each message (`typingMs`) and the least gap between two ' +
    'messages to the same chat (`perChatMinIntervalMs`); it applies from the next message on. null goes ' +
    "back to the deployment's defaults.",
  tags: ['Sessions'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('admin'), emptyJsonBodyAsObject()] as const,
  request: {
    params: SessionNameParamsSchema,
    body: { required: true, content: { 'application/json': { schema: SessionUpdateBodySchema } } },
  },
  responses: {
    200: { description: 'The session', content: { 'application/json': { schema: SessionResponseSchema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
});

/** PATCH /api/admin/sessions/:sessionId */
export function registerAdminSessionUpdate(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(adminSessionUpdateRoute, async (c) => {
    const admin = principalOf(c, 'admin');
    const { sessionId } = c.req.valid('param');
    const { pacing } = c.req.valid('json');
    const db = dbOf(c);
    const updated = isSessionName(sessionId)
      ? await db.transaction().execute(async (trx) => {
          const changed = await setSessionPacing(trx, admin.tenantId, sessionId, pacing);
          if (changed) {
            await recordAudit(trx, {
              tenantId: admin.tenantId,
              actor: admin.keyPrefix,
              action: 'session.pacing',
              target: changed.id,
              detail: { pacing },
            });
          }
          return changed;
        })
      : undefined;
    if (!updated) throw new ApiError('SESSION_NOT_FOUND');
    const session = await findTenantSession(db, admin.tenantId, sessionId);
    if (!session) throw new ApiError('SESSION_NOT_FOUND');
    return c.json({ success: true as const, session: sessionView(session) }, 200);
  });
}
