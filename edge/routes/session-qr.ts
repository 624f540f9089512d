import { createRoute, z } from '@hono/zod-openapi';
import { fromBase64 } from '../../shared/base64url.js';
import { ApiError } from '../../shared/errors.js';
import {
  ALREADY_AUTHENTICATED_MESSAGE,
  QrQuerySchema,
  type QrResponse,
  QrResponseSchema,
} from '../../shared/schemas.js';
import { requireScope } from '../auth/authenticate.js';
import { HostQrReply, hostResult } from '../hosts/replies.js';
import { API_KEY_SECURITY, errorResponses } from '../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../services.js';

export const sessionQrRoute = createRoute({
  operationId: 'sessionQr',
  method: 'get',
  path: '/api/session/qr',
  summary: "The session's QR code, or its account when linked",
  description:
    'Needs the session key. Starts a new pairing when the session is not linked. The QR changes every ' +
    'few seconds while nobody scans it: ask again for the current one. With `format=png` or `format=raw` ' +
    'a linked session answers 409 `ALREADY_LINKED` (there is no QR to show).',
  tags: ['Sessions'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session')] as const,
  request: { query: QrQuerySchema },
  responses: {
    200: {
      description: 'A QR code to scan, or the linked account (JSON); the QR image (PNG); or its text (raw)',
      content: {
        'application/json': { schema: QrResponseSchema },
        'image/png': { schema: z.string().openapi({ format: 'binary' }) },
        'text/plain': { schema: z.string() },
      },
    },
    ...errorResponses(400, 401, 403, 404, 409, 503),
  },
});

/** The QR rotates: no cache may keep an old one. */
const FRESH = { 'cache-control': 'no-store' };

/** GET /api/session/qr */
export function registerSessionQr(app: EdgeApp, { forwarder }: EdgeServices): void {
  app.openapi(sessionQrRoute, async (c) => {
    const { format } = c.req.valid('query');
    const host = hostResult(await forwarder.toSessionHost(c, { action: 'qr' }), HostQrReply, 'qr');
    const linked = host.connected && host.user;
    if (format === 'json') {
      let body: QrResponse;
      if (linked && host.user) {
        body = { success: true, connected: true, user: host.user, message: ALREADY_AUTHENTICATED_MESSAGE };
      } else if (host.qrPng) {
        body = { success: true, connected: false, qr: host.qrPng };
      } else {
        throw new ApiError('QR_NOT_READY');
      }
      return c.json(body, 200, FRESH);
    }
    if (linked) throw new ApiError('ALREADY_LINKED');
    if (format === 'raw') {
      if (!host.qr) throw new ApiError('QR_NOT_READY');
      return c.body(host.qr, 200, { ...FRESH, 'content-type': 'text/plain; charset=utf-8' });
    }
    if (!host.qrPng) throw new ApiError('QR_NOT_READY');
    // The PNG inside the host's data URL.
    const png = fromBase64(host.qrPng.slice(host.qrPng.indexOf(',') + 1));
    return c.body(png, 200, { ...FRESH, 'content-type': 'image/png' });
  });
}
