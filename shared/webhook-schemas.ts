// The HTTP contract of the tenant admin's webhook routes (/api/admin/webhooks): endpoints, their signing
// secrets (shown once), test events, the delivery log and replays. Bodies keep the seed's style
// (`success: true` beside the data). Timestamps are ISO 8601 strings in UTC.
import { z } from '@hono/zod-openapi';
import { DEFAULT_PAGE_LIMIT, MAX_OVERLAP_SECONDS, MAX_PAGE_LIMIT } from './admin-schemas.js';
import { EventTypeSchema } from './events.js';
import { SessionIdSchema } from './schemas.js';
import { MAX_WEBHOOK_URL_LENGTH } from './webhook-url.js';

/** How long a rotated-out secret still signs deliveries by default: a day. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 24 * 60 * 60;
export const MAX_WEBHOOK_DESCRIPTION_LENGTH = 500;

const Timestamp = z.iso.datetime().openapi({ example: '2026-01-31T08:00:00.000Z' });
const Uuid = z.string().openapi({ format: 'uuid', example: '7d0c5e4a-1b2c-4d3e-8f9a-0b1c2d3e4f5a' });

const url = z.string().openapi({
  description:
    `Where deliveries are POSTed: an \`https\` URL (at most ${MAX_WEBHOOK_URL_LENGTH} characters) of a ` +
    'host that resolves to public addresses only (plain `http` and private addresses only where the ' +
    'deployment allows them)',
  example: 'https://example.com/hooks/whatsapp',
});

const events = z
  .array(EventTypeSchema)
  .min(1)
  .max(50)
  .openapi({ description: 'Only these event types; null or left out: all of them' });

const description = z
  .string()
  .trim()
  .max(MAX_WEBHOOK_DESCRIPTION_LENGTH)
  // Control characters would end up in terminals and logs that show the listing.
  .refine((text) => !/\p{Cc}/u.test(text), { message: 'must not contain control characters' });

const sessionId = SessionIdSchema.openapi({
  description: "Only this session's events; null or left out: every session's, and the tenant's own",
});

export const WebhookSchema = z
  .object({
    id: Uuid,
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(EventTypeSchema).nullable().openapi({ description: 'null: every event type' }),
    sessionId: SessionIdSchema.nullable().openapi({
      description: "Only this session's events; null: every session's and the tenant's own",
    }),
    enabled: z.boolean(),
    disabledReason: z.string().nullable().openapi({
      description: 'Why the endpoint is disabled: failing for days, a 410 Gone, or an admin',
    }),
    failingSince: Timestamp.nullable().openapi({ description: 'Every delivery has failed since then' }),
    nextAttemptAt: Timestamp.openapi({ description: 'The next delivery is not tried before then' }),
    pending: z.int().nonnegative().openapi({ description: 'Deliveries waiting to be made' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('Webhook');

export const WebhookIdParamsSchema = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, format: 'uuid' }),
});

export const CreateWebhookBodySchema = z
  .object({
    url,
    events: events.nullable().optional(),
    sessionId: sessionId.nullable().optional(),
    description: description.optional(),
  })
  .openapi('CreateWebhookBody', {
    example: {
      url: 'https://example.com/hooks/whatsapp',
      events: ['message.received', 'message.status'],
      description: 'CRM',
    },
  });

export const UpdateWebhookBodySchema = z
  .object({
    url: url.optional(),
    events: events.nullable().optional(),
    sessionId: sessionId.nullable().optional(),
    description: description.nullable().optional(),
    enabled: z.boolean().optional().openapi({
      description: 'true enables a disabled endpoint again: deliveries resume at once',
    }),
  })
  .openapi('UpdateWebhookBody', { example: { enabled: true } });

export const RotateWebhookSecretBodySchema = z
  .object({
    overlapSeconds: z.int().min(0).max(MAX_OVERLAP_SECONDS).default(DEFAULT_SECRET_OVERLAP_SECONDS).openapi({
      description:
        'How long deliveries are signed with the old secret too, 0 to 604800 (7 days); default 86400',
      example: 3600,
    }),
  })
  .openapi('RotateWebhookSecretBody');

export const ReplayWebhookBodySchema = z
  .object({
    eventId: z.string().optional().openapi({
      description: 'This one event (one of yours that this endpoint would get by its session)',
      example: 'evt_01JH8Z6Q8W0Y3X2V1T0S9R8Q7P',
    }),
    since: z.iso.datetime({ offset: true }).optional().openapi({
      description: "Every event since then that the endpoint's session and types take",
      example: '2026-01-31T08:00:00Z',
    }),
  })
  .superRefine((body, ctx) => {
    if ((body.eventId === undefined) === (body.since === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of eventId and since' });
    }
  })
  .openapi('ReplayWebhookBody', { example: { since: '2026-01-31T08:00:00Z' } });

export const DeliveryQuerySchema = z
  .object({
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_PAGE_LIMIT)
      .default(DEFAULT_PAGE_LIMIT)
      .openapi({ description: `Attempts per page, 1 to ${MAX_PAGE_LIMIT}`, example: 20 }),
    cursor: z
      .string()
      .regex(/^[1-9][0-9]{0,18}$/)
      .optional()
      .openapi({ description: "The previous page's `nextCursor`; leave out for the first page" }),
  })
  .openapi('DeliveryQuery');

export const DeliveryAttemptSchema = z
  .object({
    id: z.string().openapi({ example: '1234' }),
    eventId: z.string(),
    eventType: z.string().nullable().openapi({ description: 'null once the event is past retention' }),
    attemptedAt: Timestamp,
    statusCode: z.int().nullable().openapi({ description: "The endpoint's HTTP status; null: no answer" }),
    latencyMs: z.int().nullable(),
    error: z.string().nullable().openapi({ description: 'What went wrong, when something did' }),
    outcome: z.enum(['delivered', 'failed', 'dead', 'disabled']).openapi({
      description:
        '`delivered`; `failed` (tried again at `nextAttemptAt`); `dead` (given up); `disabled` (the ' +
        'endpoint answered 410 Gone and was disabled)',
    }),
    nextAttemptAt: Timestamp.nullable(),
  })
  .openapi('DeliveryAttempt');

const NextCursor = z.string().nullable().openapi({
  description: 'Pass as `cursor` for the next page; null on the last page. Opaque: do not build one.',
});

const secret = z.string().openapi({
  description:
    'The signing secret (Standard Webhooks, `whsec_` and base64): shown only in this response; only an ' +
    'encrypted copy is kept',
  example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
});

export const WebhookResponseSchema = z
  .object({ success: z.literal(true), webhook: WebhookSchema })
  .openapi('WebhookResponse');

export const WebhookSecretResponseSchema = z
  .object({ success: z.literal(true), webhook: WebhookSchema, secret })
  .openapi('WebhookSecretResponse');

export const WebhookListResponseSchema = z
  .object({ success: z.literal(true), webhooks: z.array(WebhookSchema), nextCursor: NextCursor })
  .openapi('WebhookListResponse');

export const WebhookDeleteResponseSchema = z
  .object({ success: z.literal(true) })
  .openapi('WebhookDeleteResponse');

export const WebhookTestResponseSchema = z
  .object({
    success: z.literal(true),
    eventId: z.string().openapi({ description: 'The `webhook.test` event, delivered to this endpoint only' }),
  })
  .openapi('WebhookTestResponse');

export const WebhookReplayResponseSchema = z
  .object({
    success: z.literal(true),
    replayed: z.int().nonnegative().openapi({ description: 'Events queued to be delivered again' }),
  })
  .openapi('WebhookReplayResponse');

export const DeliveryListResponseSchema = z
  .object({ success: z.literal(true), attempts: z.array(DeliveryAttemptSchema), nextCursor: NextCursor })
  .openapi('DeliveryListResponse');

export type WebhookInfo = z.infer<typeof WebhookSchema>;
export type CreateWebhookBody = z.infer<typeof CreateWebhookBodySchema>;
export type UpdateWebhookBody = z.infer<typeof UpdateWebhookBodySchema>;
export type DeliveryAttemptInfo = z.infer<typeof DeliveryAttemptSchema>;
export type WebhookSecretResponse = z.infer<typeof WebhookSecretResponseSchema>;
