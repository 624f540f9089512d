import { createRoute } from '@hono/zod-openapi';
import type { ZodError } from 'zod';
import { ApiError } from '../../../shared/errors.js';
import {
  normalizeRecipient,
  SendMessageBodySchema,
  SendMessageResponseSchema,
} from '../../../shared/schemas.js';
import { requireScope } from '../../auth/authenticate.js';
import { dbOf } from '../../context.js';
import { emptyJsonBodyAsObject } from '../../http/empty-json-body.js';
import { API_KEY_SECURITY, errorResponses, validationError } from '../../http/openapi.js';
import type { EdgeApp, EdgeServices } from '../../services.js';
import { IDEMPOTENCY_HEADER_DOC, replay, senderOf, sendLeaseMs } from '../answers.js';
import { idempotencyKeyOf, idempotentRequest } from '../idempotency.js';
import { queueMessage } from '../queries.js';
import { sendNow } from '../send-now.js';

export const sendRoute = createRoute({
  operationId: 'send',
  method: 'post',
  path: '/api/send',
  summary: 'Send a text message',
  description:
    'Needs the session key of a linked session. The message goes through the outbox (paced like any other) ' +
    "and this waits for WhatsApp's ack. With an `Idempotency-Key`, a retry gets the first answer and " +
    'never sends twice. (`GET /api/send`, as the seed documented it, is 405.)',
  tags: ['Messages'],
  security: [{ [API_KEY_SECURITY]: [] }],
  middleware: [requireScope('session'), emptyJsonBodyAsObject()] as const,
  request: {
    headers: IDEMPOTENCY_HEADER_DOC,
    body: { required: true, content: { 'application/json': { schema: SendMessageBodySchema } } },
  },
  responses: {
    200: { description: 'Sent', content: { 'application/json': { schema: SendMessageResponseSchema } } },
    ...errorResponses(400, 401, 403, 405, 409, 413, 415, 422, 429, 502, 503),
  },
});

const absent = (value: unknown) => value === undefined || value === null || value === '';

/**
 * Which error a body that failed the schema gets, checked in the order a client fixes things: the seed's
 * 'Parameter "to" dan "message" diperlukan' for missing or empty fields, then types, then the number.
 */
export function sendBodyError(raw: unknown, error: ZodError): ApiError {
  if (raw === undefined || raw === null) return new ApiError('MISSING_PARAMETERS');
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return new ApiError('VALIDATION_ERROR', {
      details: [{ path: '', message: 'Body must be a JSON object' }],
    });
  }
  const to: unknown = Reflect.get(raw, 'to');
  const message: unknown = Reflect.get(raw, 'message');
  if (absent(to) || absent(message)) return new ApiError('MISSING_PARAMETERS');
  if (typeof message !== 'string') {
    return new ApiError('VALIDATION_ERROR', { details: [{ path: 'message', message: 'Must be a string' }] });
  }
  if (typeof to !== 'string' && typeof to !== 'number') {
    return new ApiError('VALIDATION_ERROR', {
      details: [{ path: 'to', message: 'Must be a string (or a number)' }],
    });
  }
  if (normalizeRecipient(to) === null) return new ApiError('INVALID_RECIPIENT');
  return validationError(error);
}

/** POST /api/send */
export function registerSend(app: EdgeApp, { forwarder, now, config }: EdgeServices): void {
  app.openapi(
    sendRoute,
    async (c) => {
      const key = idempotencyKeyOf(c);
      const { to, message } = c.req.valid('json');
      const jid = normalizeRecipient(to);
      if (jid === null) throw new ApiError('INVALID_RECIPIENT');
      const sender = senderOf(c);
      const idempotency =
        key === undefined ? undefined : await idempotentRequest(key, 'POST /api/send', { to: jid, message });
      const queued = await queueMessage(
        dbOf(c),
        sender,
        { to: jid, text: message, idempotency, leaseMs: sendLeaseMs(config), answeredLater: true },
        now(),
      );
      if ('replay' in queued) return replay(c, queued.replay) as never;
      return (await sendNow(c, forwarder, sender, { ...queued, key, to: jid, text: message }, now)) as never;
    },
    (result, c) => {
      if (result.success) return undefined;
      // The validator has read and cached the body; what it failed on decides the seed's error.
      return c.req
        .json()
        .catch(() => undefined)
        .then((raw: unknown) => {
          throw sendBodyError(raw, result.error);
        });
    },
  );
}
