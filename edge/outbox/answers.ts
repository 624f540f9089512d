// What the send routes share: who sends, the Idempotency-Key header as the API documents it, and the
// replay of a key's first answer.
import { z } from '@hono/zod-openapi';
import type { JsonValue } from '../../shared/db-schema.js';
import type { EdgeConfig } from '../config.js';
import { type EdgeContext, principalOf } from '../context.js';
import type { Sender, StoredAnswer } from './queries.js';

/** The session key's session, as the outbox queries take it. */
export function senderOf(c: EdgeContext): Sender {
  const principal = principalOf(c, 'session');
  return {
    tenantId: principal.tenantId,
    sessionId: principal.sessionId,
    sessionName: principal.sessionName,
  };
}

/** Documents the header; the routes check it themselves, for a clear 400 (idempotency.ts). */
export const IDEMPOTENCY_HEADER_DOC = z.object({
  'idempotency-key': z
    .string()
    .optional()
    .openapi({
      description:
        'Any unique string (1-255 printable ASCII characters, no spaces), e.g. a UUID. The same key and ' +
        'the same body within 24 hours get the first answer again, without sending again.',
      example: 'order-1042-shipped',
    }),
});

/** The first answer to a key, again: same status, same body, and a header saying it is a replay. */
export function replay(c: EdgeContext, answer: StoredAnswer): Response {
  c.header('Idempotent-Replayed', 'true');
  return c.json(answer.body as JsonValue & object, answer.status as 200);
}

/** How long `/api/send` holds its key: as long as it may wait for the host, and a little more. */
export const sendLeaseMs = (config: Pick<EdgeConfig, 'hostSendTimeoutMs'>) =>
  config.hostSendTimeoutMs + 5_000;
