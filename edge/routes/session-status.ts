import { createRoute } from '@hono/zod-openapi';
import { StatusResponseSchema } from '../../shared/schemas.js';
import { requireScope } from '../auth/authenticate.js';
import { HostStatusReply, hostResult } from '../hosts/replies.js';
import { API_KEY_SECURITY, errorResponses } from '../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../services.js';

export const sessionStatusRoute = createRoute({
  operationId: 'sessionStatus',
  method: 'get',
  path: '/api/session/status',
  summary: 'Whether the session is connected, and as whom',
  description: 'Needs the session key. `connected` means the socket is open now.',
  tags: ['Sessions'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session')] as const,
  responses: {
    200: { description: 'Session status', content: { 'application/json': { schema: StatusResponseSchema } } },
    ...errorResponses(400, 401, 403, 503),
  },
});

/** GET /api/session/status */
export function registerSessionStatus(app: EdgeApp, { forwarder }: EdgeServices): void {
  app.openapi(sessionStatusRoute, async (c) => {
    const host = hostResult(
      await forwarder.toSessionHost(c, { action: 'status' }),
      HostStatusReply,
      'status',
    );
    // The seed left `user` out when there was none; so do we.
    const user = host.user ? { user: host.user } : {};
    return c.json({ success: true as const, connected: host.connected, ...user }, 200);
  });
}
