import { createRoute } from '@hono/zod-openapi';
import { ApiError } from '../../../shared/errors.js';
import { MessageIdParamsSchema, MessageResponseSchema } from '../../../shared/events.js';
import { SEND_FAILURES } from '../../../shared/outbox.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { oneMessage } from '../../events/message-listing.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { senderOf } from '../answers.js';
import { cancelUnsent } from '../queries.js';

export const messageCancelRoute = createRoute({
  operationId: 'messageCancel',
  method: 'delete',
  path: '/api/messages/{id}',
  summary: 'Cancel a queued message',
  description:
    'Needs a session key. Only a message still waiting in the outbox can be cancelled: once it has been ' +
    'handed to WhatsApp (or has failed) this is 409 `MESSAGE_NOT_QUEUED`. Cancelling twice is fine.',
  tags: ['Messages'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session')] as const,
  request: { params: MessageIdParamsSchema },
  responses: {
    200: {
      description: 'Cancelled (`status: "cancelled"`)',
      content: { 'application/json': { schema: MessageResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

/** DELETE /api/messages/:id */
export function registerMessageCancel(app: EdgeApp, { now }: EdgeServices): void {
  app.openapi(messageCancelRoute, async (c) => {
    const sender = senderOf(c);
    const session = { id: sender.sessionId, name: sender.sessionName };
    const { id } = c.req.valid('param');
    const before = await oneMessage(dbOf(c), session, id); // 404 for none (or another session's)
    if (before.message.status !== 'cancelled') {
      const cancelled = await cancelUnsent(dbOf(c), sender, id, SEND_FAILURES.cancelled, now());
      if (!cancelled) throw new ApiError('MESSAGE_NOT_QUEUED');
    }
    return c.json(await oneMessage(dbOf(c), session, id), 200);
  });
}
