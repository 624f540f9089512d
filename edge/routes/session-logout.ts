import { createRoute } from '@hono/zod-openapi';
import { LOGGED_OUT_MESSAGE, type LogoutResponse, LogoutResponseSchema } from '../../shared/schemas.js';
import { requireScope } from '../auth/authenticate.js';
import { HostLogoutReply, hostResult } from '../hosts/replies.js';
import { API_KEY_SECURITY, errorResponses } from '../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../services.js';

export const sessionLogoutRoute = createRoute({
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
    ...errorResponses(401, 403, 503),
  },
});

/** POST /api/session/logout */
export function registerSessionLogout(app: EdgeApp, { forwarder }: EdgeServices): void {
  app.openapi(sessionLogoutRoute, async (c) => {
    hostResult(await forwarder.toSessionHost(c, { action: 'logout' }), HostLogoutReply, 'logout');
    const body: LogoutResponse = { success: true, message: LOGGED_OUT_MESSAGE };
    return c.json(body, 200);
  });
}
