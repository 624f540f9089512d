import { createRoute, z } from '@hono/zod-openapi';
import { MessageIdParamsSchema } from '../../../shared/events.js';
import { requireScope } from '../../auth/authenticate.js';
import { hostError } from '../../hosts/replies.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';

export const messageMediaRoute = createRoute({
  operationId: 'messageMedia',
  method: 'get',
  path: '/api/messages/{id}/media',
  summary: 'The file a message carries',
  description:
    'Needs a session key. A received file, or one this session sent. The gateway does not keep files: ' +
    'this downloads the file from WhatsApp’s ' +
    'media servers, decrypts it and streams it, with its MIME type as `Content-Type` and its name in ' +
    '`Content-Disposition`. The file is checked against the hash the message carries as it streams; one ' +
    'that does not match ends the download with an error rather than a wrong file. WhatsApp keeps files ' +
    'for a limited time (weeks); after that the sender’s phone is asked to upload a received file again ' +
    '(the session must be connected, the phone must still have it). When that cannot be done, and for a ' +
    'file this session sent, the answer is 410 `MEDIA_EXPIRED`. Save what you need when the ' +
    '`message.received` event comes.',
  tags: ['Messages'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session')] as const,
  request: { params: MessageIdParamsSchema },
  responses: {
    200: {
      description: 'The file',
      content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    ...errorResponses(400, 401, 403, 404, 410, 502, 503),
  },
});

/** GET /api/messages/:id/media */
export function registerMessageMedia(app: EdgeApp, { forwarder }: EdgeServices): void {
  app.openapi(messageMediaRoute, async (c) => {
    const { id } = c.req.valid('param');
    const opened = await forwarder.openMedia(c, id);
    if (!opened.ok) throw hostError(opened.reply, 'media download');
    return c.body(opened.body, 200, { ...opened.headers, 'cache-control': 'private, no-store' });
  });
}
