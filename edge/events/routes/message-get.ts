import { createRoute } from '@hono/zod-openapi';
import { MessageIdParamsSchema, MessageResponseSchema } from '../../../shared/events.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { oneMessage } from '../message-listing.js';

export const messageGetRoute = createRoute({
  operationId: 'messageGet',
  method: 'get',
  path: '/api/messages/{id}',
  summary: 'One of the session’s messages, by its WhatsApp id',
  description:
    "Needs a session key. Another session's message is 404, exactly like one that does not exist. " +
    '`status` shows how far an outbound message got.',
  tags: ['Messages'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session')] as const,
  request: { params: MessageIdParamsSchema },
  responses: {
    200: { description: 'The message', content: { 'application/json': { schema: MessageResponseSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

/** GET /api/messages/:id */
export function registerMessageGet(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(messageGetRoute, async (c) => {
    const session = principalOf(c, 'session');
    const { id } = c.req.valid('param');
    return c.json(await oneMessage(dbOf(c), { id: session.sessionId, name: session.sessionName }, id), 200);
  });
}
