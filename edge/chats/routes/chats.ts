// Chats: read marks, presence, and number checks. Each goes to the session's host, which holds the
// WhatsApp connection; a session that is not connected is refused as a send is.
import { createRoute, z } from '@hono/zod-openapi';
import {
  ChatParamsSchema,
  CheckBodySchema,
  CheckResponseSchema,
  HostCheckResponseSchema,
  HostPresenceResponseSchema,
  HostReadResponseSchema,
  PresenceBodySchema,
  ReadBodySchema,
  ReadResponseSchema,
} from '../../../shared/chats.js';
import { ApiError } from '../../../shared/errors.js';
import { normalizeRecipient } from '../../../shared/schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { principalOf } from '../../context.js';
import { hostResult } from '../../hosts/replies.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { TokenBuckets } from '../../limits/rate-limit.js';
import type { EdgeApp, EdgeServices } from '../../services.js';

export const chatReadRoute = createRoute({
  operationId: 'chatRead',
  tags: ['Chats'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session'), emptyJsonBodyAsObject()] as const,
  method: 'post',
  path: '/api/chats/{chat}/read',
  summary: 'Mark received messages read',
  description:
    'Needs a session key. Sends read receipts (the sender sees blue ticks, if the account shows read ' +
    'receipts) for the messages named, or for the chat’s latest received ones. 404 `MESSAGE_NOT_FOUND` ' +
    '(with the ids in `details.unknown`) when a named id is not a received message of this chat.',
  request: {
    params: ChatParamsSchema,
    body: { required: false, content: { 'application/json': { schema: ReadBodySchema } } },
  },
  responses: {
    200: { description: 'Marked read', content: { 'application/json': { schema: ReadResponseSchema } } },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

export const chatPresenceRoute = createRoute({
  operationId: 'chatPresence',
  tags: ['Chats'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session'), emptyJsonBodyAsObject()] as const,
  method: 'post',
  path: '/api/chats/{chat}/presence',
  summary: 'Show typing… or recording… in a chat',
  description:
    'Needs a session key. `typing` or `recording` shows in the chat for a few seconds (send it again to ' +
    'keep it up), `paused` stops it. The outbox can also show typing before each message (pacing `typingMs`).',
  request: {
    params: ChatParamsSchema,
    body: { required: true, content: { 'application/json': { schema: PresenceBodySchema } } },
  },
  responses: {
    200: {
      description: 'Shown',
      content: { 'application/json': { schema: z.object({ success: z.literal(true), state: z.string() }) } },
    },
    ...errorResponses(400, 401, 403, 503),
  },
});

export const contactsCheckRoute = createRoute({
  operationId: 'contactsCheck',
  tags: ['Chats'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session'), emptyJsonBodyAsObject()] as const,
  method: 'post',
  path: '/api/contacts/check',
  summary: 'Which numbers are on WhatsApp',
  description:
    'Needs a session key. Up to 50 numbers per call, answered in order with their WhatsApp JID. Answers ' +
    'are remembered (10 minutes for a number on WhatsApp, 1 minute for one that is not). Each number ' +
    'counts against a limit of its own per session, 50 at once and then 10 a minute (429 `RATE_LIMITED` ' +
    'with `Retry-After` beyond): WhatsApp bans accounts that look up numbers in bulk.',
  request: { body: { required: true, content: { 'application/json': { schema: CheckBodySchema } } } },
  responses: {
    200: {
      description: 'One answer per number',
      content: { 'application/json': { schema: CheckResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 429, 503),
  },
});

/** The chat of the path (Hono has decoded it) as a JID. */
const chatJid = (chat: string) => {
  const jid = normalizeRecipient(chat);
  if (jid === null) throw new ApiError('INVALID_RECIPIENT');
  return jid;
};

export function registerChatRoutes(
  app: EdgeApp,
  { forwarder, now }: EdgeServices,
  numberChecks: TokenBuckets,
): void {
  app.openapi(chatReadRoute, async (c) => {
    const chat = chatJid(c.req.valid('param').chat);
    const { messageIds } = c.req.valid('json') ?? {};
    const reply = await forwarder.toSessionHost(c, {
      action: 'read',
      body: { chat, ...(messageIds ? { messageIds } : {}) },
    });
    return c.json(
      { success: true as const, read: hostResult(reply, HostReadResponseSchema, 'read').read },
      200,
    );
  });

  app.openapi(chatPresenceRoute, async (c) => {
    const chat = chatJid(c.req.valid('param').chat);
    const { state } = c.req.valid('json');
    const reply = await forwarder.toSessionHost(c, { action: 'presence', body: { chat, state } });
    return c.json(
      { success: true as const, state: hostResult(reply, HostPresenceResponseSchema, 'presence').state },
      200,
    );
  });

  app.openapi(contactsCheckRoute, async (c) => {
    const { numbers } = c.req.valid('json');
    const jids = numbers.map(normalizeRecipient);
    const bad = numbers.filter((_, i) => jids[i] === null);
    if (bad.length > 0) throw new ApiError('INVALID_RECIPIENT', { details: { numbers: bad } });
    const session = principalOf(c, 'session').sessionId;
    const at = now().getTime();
    const waitMs = numberChecks.waitFor(session, at, numbers.length);
    if (waitMs > 0)
      throw new ApiError('RATE_LIMITED', {
        retryAfterSeconds: waitMs / 1000,
        details: { limit: 'numberChecks' },
      });
    numberChecks.take(session, at, numbers.length);
    const reply = await forwarder.toSessionHost(c, { action: 'check', body: { jids: jids as string[] } });
    const { results } = hostResult(reply, HostCheckResponseSchema, 'check');
    return c.json(
      {
        success: true as const,
        results: results.map((r, i) => ({ number: String(numbers[i]), exists: r.exists, jid: r.found })),
      },
      200,
    );
  });
}
