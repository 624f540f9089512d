import { createRoute } from '@hono/zod-openapi';
import { LOGGED_OUT_MESSAGE, type LogoutResponse, LogoutResponseSchema } from '../../shared/schemas.js';
import { requireScope } from '../auth/authenticate.js';
import { dbOf, principalOf } from '../context.js';
import { HostLogoutReply, hostResult } from '../hosts/replies.js';
import { API_KEY_SECURITY, errorResponses } from '../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../services.js';
import { recordAudit } from '../tenancy/queries/audit.js';

export const sessionLogoutRoute = createRoute({
  operationId: 'sessionLogout',
  method: 'post',
  path: '/api/session/logout',
  summary: 'Unlink the WhatsApp account from the session',
  description:
    'Needs the session key. The session and its keys stay; asking for its QR starts a new pairing.',
  tags: ['Sessions'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session')] as const,
  responses: {
    200: { description: 'Logged out', content: { 'application/json': { schema: LogoutResponseSchema } } },
    ...errorResponses(400, 401, 403, 503),
  },
});

/** POST /api/session/logout: unlinks the phone and wipes the credentials, so it is audited. */
export function registerSessionLogout(app: EdgeApp, { forwarder }: EdgeServices): void {
  app.openapi(sessionLogoutRoute, async (c) => {
    const session = principalOf(c, 'session');
    const reply = hostResult(
      await forwarder.toSessionHost(c, { action: 'logout' }),
      HostLogoutReply,
      'logout',
    );
    await recordAudit(dbOf(c), {
      tenantId: session.tenantId,
      actor: session.keyPrefix,
      action: 'session.logout',
      target: session.sessionId,
      detail: { name: session.sessionName, state: reply.state },
    });
    const body: LogoutResponse = { success: true, message: LOGGED_OUT_MESSAGE };
    return c.json(body, 200);
  });
}
