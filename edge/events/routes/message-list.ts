import { createRoute } from '@hono/zod-openapi';
import { MessageListQuerySchema, MessageListResponseSchema } from '../../../shared/events.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf, principalOf } from '../../context.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { messageListing } from '../message-listing.js';

export const messageListRoute = createRoute({
  operationId: 'messageList',
  method: 'get',
  path: '/api/messages',
  summary: "The session's messages, newest first",
  description:
    'Needs a session key. Every message in and out of the session (kept for the retention period), ' +
    'newest first by WhatsApp’s time. `chat` narrows to one chat. Paginated: pass `nextCursor` back ' +
    'as `before` for older messages.',
  tags: ['Messages'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session')] as const,
  request: { query: MessageListQuerySchema },
  responses: {
    200: { description: 'Messages', content: { 'application/json': { schema: MessageListResponseSchema } } },
    ...errorResponses(400, 401, 403),
  },
});

/** GET /api/messages */
export function registerMessageList(app: EdgeApp, _services: EdgeServices): void {
  app.openapi(messageListRoute, async (c) => {
    const session = principalOf(c, 'session');
    const body = await messageListing(
      dbOf(c),
      { id: session.sessionId, name: session.sessionName },
      c.req.valid('query'),
    );
    return c.json(body, 200);
  });
}
