import { createRoute } from '@hono/zod-openapi';
import { LOGGED_OUT_MESSAGE, LogoutResponseSchema } from '../../shared/schemas.js';
import { requireScope } from '../auth/authenticate.js';
import { hostResult } from '../hosts/client.js';
import { HostLogoutReply } from '../hosts/replies.js';
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
    hostResult(await forwarder.toSessionHost(c, 'logout'), HostLogoutReply, 'logout');
    return c.json({ success: true as const, message: LOGGED_OUT_MESSAGE }, 200);
  });
}
