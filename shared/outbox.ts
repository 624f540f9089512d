// The contract of sending: the outbox (POST /api/messages), Idempotency-Key, pacing, and the WhatsApp
// message ids the gateway gives messages when it queues them.
import { z } from '@hono/zod-openapi';
import { bytesToHex } from './api-key.js';

/**
 * A WhatsApp message id as WhatsApp Web makes them: `3EB0` and 18 upper-case hex digits. Fixed when a
 * message is queued, so a resend after a crash carries the same id and the recipient shows it once.
 */
export function newMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return `3EB0${bytesToHex(bytes).toUpperCase()}`;
}

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** How long a key's first answer is kept and replayed. */
export const IDEMPOTENCY_TTL_HOURS = 24;

export const PacingSchema = z
  .strictObject({
    minIntervalMs: z
      .int()
      .min(0)
      .max(3_600_000)
      .openapi({ description: 'Least time between two sends of the session' }),
    jitterMs: z
      .int()
      .min(0)
      .max(3_600_000)
      .openapi({ description: 'Up to this much more, drawn at random each time' }),
    typingMs: z
      .int()
      .min(0)
      .max(60_000)
      .openapi({ description: 'Show "typing…" this long before each message (0: never)' }),
    perChatMinIntervalMs: z.int().min(0).max(86_400_000).openapi({
      description: 'Least time between two messages to the same chat',
    }),
  })
  .openapi('Pacing');
export type Pacing = z.infer<typeof PacingSchema>;

/**
 * What a careful person does not exceed: a message every 1 to 3 seconds, at most one every 3 seconds to
 * the same chat. Bulk senders get numbers banned by sending faster. Deployments may change these
 * defaults (PACING_*), tenant admins per session.
 */
export const DEFAULT_PACING: Pacing = {
  minIntervalMs: 1_000,
  jitterMs: 2_000,
  typingMs: 0,
  perChatMinIntervalMs: 3_000,
};

/** No pacing at all: for tests and benchmarks. */
export const NO_PACING: Pacing = { minIntervalMs: 0, jitterMs: 0, typingMs: 0, perChatMinIntervalMs: 0 };

/** The longest a queued message may wait before it fails as `expired`. */
export const MAX_TTL_SECONDS = 7 * 24 * 60 * 60;
export const DEFAULT_TTL_SECONDS = 24 * 60 * 60;

export const QueuedResponseSchema = z
  .object({
    success: z.literal(true),
    id: z
      .string()
      .openapi({ description: 'The WhatsApp id the message will carry', example: '3EB0A1B2C3D4E5F6A7B8C9' }),
    status: z.literal('queued'),
  })
  .openapi('QueuedResponse');

/** Why a queued message failed (`failure`), worded for people; the gateway also branches on them. */
export const SEND_FAILURES = {
  notOnWhatsApp: 'the number is not on WhatsApp',
  loggedOut: 'the session was logged out',
  notLinked: 'the session is not linked: scan its QR code first',
  reconnecting: 'the session was reconnecting to WhatsApp',
  busy: "not sent in time: the session's outbox is busy (pacing)",
  unavailable: 'the session host could not be reached',
  cancelled: 'cancelled by the client',
  expired: 'expired: not sent within its ttl',
} as const;

/** Failures after which the same message may simply be tried again (by an Idempotency-Key retry). */
export const RETRYABLE_FAILURES: readonly string[] = [
  SEND_FAILURES.reconnecting,
  SEND_FAILURES.busy,
  SEND_FAILURES.unavailable,
];
