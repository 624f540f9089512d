import { createRoute } from '@hono/zod-openapi';
import { ApiError } from '../../../shared/errors.js';
import { OutboxMessageBodySchema, QueuedResponseSchema } from '../../../shared/outbox.js';
import { normalizeRecipient } from '../../../shared/schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { IDEMPOTENCY_HEADER_DOC, replay, senderOf } from '../answers.js';
import { idempotencyKeyOf, idempotentRequest } from '../idempotency.js';
import { queueMessage } from '../queries.js';

export const messageCreateRoute = createRoute({
  method: 'post',
  path: '/api/messages',
  summary: 'Queue a message in the outbox',
  description:
    'Needs a session key. The message is stored in the outbox at once (202) and sent by the session, in ' +
    'order per chat and paced, under the WhatsApp `id` returned here; follow it with ' +
    '`GET /api/messages/{id}` or the `message.sent` and `message.status` events. It waits while the ' +
    'session reconnects, and fails (`failed`, with `failure`) if the number is not on WhatsApp, the ' +
    'session is logged out, or it is not sent within `ttlSeconds`.',
  tags: ['Messages'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session'), emptyJsonBodyAsObject()] as const,
  request: {
    headers: IDEMPOTENCY_HEADER_DOC,
    body: { required: true, content: { 'application/json': { schema: OutboxMessageBodySchema } } },
  },
  responses: {
    202: { description: 'Queued', content: { 'application/json': { schema: QueuedResponseSchema } } },
    ...errorResponses(400, 401, 403, 405, 413, 415, 422, 429),
  },
});

/** POST /api/messages */
export function registerMessageCreate(app: EdgeApp, { forwarder, now, logger }: EdgeServices): void {
  app.openapi(messageCreateRoute, async (c) => {
    const key = idempotencyKeyOf(c);
    const { to, text, ttlSeconds } = c.req.valid('json');
    const jid = normalizeRecipient(to);
    if (jid === null) throw new ApiError('INVALID_RECIPIENT');
    const sender = senderOf(c);
    const idempotency =
      key === undefined
        ? undefined
        : await idempotentRequest(key, 'POST /api/messages', { to: jid, text, ttlSeconds });
    const queued = await queueMessage(
      dbOf(c),
      sender,
      {
        to: jid,
        text,
        ttlSeconds,
        idempotency,
        answer: (id) => ({ status: 202, body: { success: true, id, status: 'queued' } }),
        leaseMs: 0,
      },
      now(),
    );
    if ('replay' in queued) return replay(c, queued.replay) as never;
    // The owning host drains its outboxes by itself too (it looks every few seconds): this only saves
    // the wait, so a host that cannot be reached now changes nothing for the message.
    await forwarder.toSessionHost(c, { action: 'outbox' }).catch((err: unknown) => {
      logger.warn({ err, sessionId: sender.sessionId }, 'could not wake the outbox');
    });
    return c.json({ success: true as const, id: queued.id, status: 'queued' as const }, 202);
  });
}
