import { createRoute } from '@hono/zod-openapi';
import { ApiError } from '../../shared/errors.js';
import { ALREADY_AUTHENTICATED_MESSAGE, type QrResponse, QrResponseSchema } from '../../shared/schemas.js';
import { requireScope } from '../auth/authenticate.js';
import { HostQrReply, hostResult } from '../hosts/replies.js';
import { API_KEY_SECURITY, errorResponses } from '../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../services.js';

export const sessionQrRoute = createRoute({
  method: 'get',
  path: '/api/session/qr',
  summary: "The session's QR code, or its account when linked",
  description: 'Needs the session key. Starts a new pairing when the session is not linked.',
  tags: ['Sessions'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session')] as const,
  responses: {
    200: {
      description: 'A QR code to scan, or the linked account',
      content: { 'application/json': { schema: QrResponseSchema } },
    },
    ...errorResponses(401, 403, 404, 503),
  },
});

/** GET /api/session/qr */
export function registerSessionQr(app: EdgeApp, { forwarder }: EdgeServices): void {
  app.openapi(sessionQrRoute, async (c) => {
    const host = hostResult(await forwarder.toSessionHost(c, { action: 'qr' }), HostQrReply, 'qr');
    let body: QrResponse;
    if (host.connected && host.user) {
      body = { success: true, connected: true, user: host.user, message: ALREADY_AUTHENTICATED_MESSAGE };
    } else if (host.qrPng) {
      body = { success: true, connected: false, qr: host.qrPng };
    } else {
      throw new ApiError('QR_NOT_READY');
    }
    return c.json(body, 200);
  });
}
