import { createRoute } from '@hono/zod-openapi';
import { ApiError } from '../../shared/errors.js';
import {
  normalizePhoneNumber,
  PairingCodeBodySchema,
  type PairingCodeResponse,
  PairingCodeResponseSchema,
} from '../../shared/schemas.js';
import { requireScope } from '../auth/authenticate.js';
import { HostPairingCodeReply, hostResult } from '../hosts/replies.js';
import { API_KEY_SECURITY, errorResponses } from '../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../services.js';

export const sessionPairingCodeRoute = createRoute({
  operationId: 'sessionPairingCode',
  method: 'post',
  path: '/api/session/pairing-code',
  summary: 'Link by pairing code instead of a QR',
  description:
    'Needs the session key. Starts a pairing when the session is not linked and asks WhatsApp for an ' +
    '8-character code for this phone; type it on the phone (Linked devices > Link a device > Link with ' +
    'phone number instead). The session connects once it is typed: follow `GET /api/session/events` or ' +
    'the status. Asking again gives a new code; the last one counts. 409 `ALREADY_LINKED` for a linked ' +
    'session, 422 `PHONE_NOT_ON_WHATSAPP` when WhatsApp does not know the number.',
  tags: ['Sessions'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session')] as const,
  request: { body: { required: true, content: { 'application/json': { schema: PairingCodeBodySchema } } } },
  responses: {
    200: {
      description: 'The code to type on the phone',
      content: { 'application/json': { schema: PairingCodeResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 409, 422, 502, 503),
  },
});

/** POST /api/session/pairing-code */
export function registerSessionPairingCode(app: EdgeApp, { forwarder }: EdgeServices): void {
  app.openapi(sessionPairingCodeRoute, async (c) => {
    const phone = normalizePhoneNumber(c.req.valid('json').phoneNumber);
    if (phone === null) throw new ApiError('INVALID_PHONE_NUMBER');
    const host = hostResult(
      await forwarder.toSessionHost(c, { action: 'pairing-code', body: { phone } }),
      HostPairingCodeReply,
      'pairing-code',
    );
    const body: PairingCodeResponse = { success: true, code: host.code };
    return c.json(body, 200, { 'cache-control': 'no-store' });
  });
}
