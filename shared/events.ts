// The contract of what happens in a session: stored messages, the events that report changes (pulled
// from /api/events or delivered as webhooks), and the webhook delivery body. Timestamps are ISO 8601 in
// UTC. `sessionId` is always the seed's session name, as clients know it.
import { z } from '@hono/zod-openapi';
import { MESSAGE_TYPES } from './message-content.js';
import { normalizeRecipient } from './schemas.js';

const Timestamp = z.iso.datetime().openapi({ example: '2026-01-31T08:00:00.000Z' });

export const MESSAGE_STATUSES = [
  'queued',
  'sent',
  'delivered',
  'read',
  'played',
  'failed',
  'cancelled',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/**
 * A status only moves to a higher rank. `failed` and `cancelled` end a message that never got past the
 * server (both only from `queued`).
 */
export const MESSAGE_STATUS_RANK: Record<MessageStatus, number> = {
  queued: 0,
  sent: 1,
  delivered: 2,
  read: 3,
  played: 4,
  failed: 5,
  cancelled: 5,
};

/** What POST /api/messages sends, and `unknown` for what the gateway does not read (polls, ...). */
export const MESSAGE_KINDS = [...MESSAGE_TYPES, 'unknown'] as const;

/** A file's description; the file itself: GET /api/messages/{id}/media (inbound). */
export const MessageMediaSchema = z
  .object({
    mimetype: z.string().openapi({ example: 'image/jpeg' }),
    size: z.int().nullable().openapi({ description: 'Bytes, when known' }),
    fileName: z.string().optional().openapi({ description: 'Documents: the name it is shown under' }),
    ptt: z.boolean().optional().openapi({ description: 'Audio: a voice note' }),
  })
  .openapi('MessageMedia');

export const MessageLocationSchema = z
  .object({
    latitude: z.number(),
    longitude: z.number(),
    name: z.string().optional(),
    address: z.string().optional(),
  })
  .openapi('MessageLocation');

export const MessageContactSchema = z
  .object({ displayName: z.string(), vcard: z.string() })
  .openapi('MessageContact');

export const MessageReactionSchema = z
  .object({
    messageId: z.string().openapi({ description: 'The message reacted to' }),
    emoji: z.string().openapi({ description: 'Empty: the reaction was removed' }),
  })
  .openapi('MessageReaction');

export const QuotedMessageSchema = z
  .object({
    id: z.string().openapi({ description: 'WhatsApp id of the message replied to' }),
    from: z
      .string()
      .nullable()
      .openapi({ description: "The quoted message's author (phone JID when known)" }),
    text: z.string().nullable(),
  })
  .openapi('QuotedMessage');

export const MessageSchema = z
  .object({
    id: z.string().openapi({ description: "WhatsApp's message id", example: '3EB0C4A1B2D3E4F5A6B7' }),
    sessionId: z.string().openapi({ example: 'my-session' }),
    direction: z.enum(['in', 'out']),
    chat: z.string().openapi({
      description: 'The other party: its phone-number JID when known, else its LID',
      example: '6289876543210@s.whatsapp.net',
    }),
    chatLid: z.string().nullable().openapi({ description: "The chat's LID, when WhatsApp gave one" }),
    from: z.string().nullable().openapi({ description: 'The author: phone-number JID when known, else LID' }),
    fromLid: z.string().nullable(),
    kind: z.enum(MESSAGE_KINDS),
    text: z.string().nullable(),
    quoted: QuotedMessageSchema.nullable(),
    media: MessageMediaSchema.optional().openapi({ description: 'image, video, audio, document, sticker' }),
    location: MessageLocationSchema.optional(),
    contact: MessageContactSchema.optional(),
    reaction: MessageReactionSchema.optional(),
    mentions: z.array(z.string()).optional().openapi({ description: 'JIDs mentioned, when any' }),
    editedAt: Timestamp.optional().openapi({
      description: 'When its author last edited it (`text` is the new one)',
    }),
    deletedAt: Timestamp.optional().openapi({
      description: 'When its author deleted it for everyone: its text and file are gone here too',
    }),
    timestamp: Timestamp.openapi({ description: "WhatsApp's time of the message" }),
    status: z
      .enum(MESSAGE_STATUSES)
      .nullable()
      .openapi({
        description:
          'Outbound only: `pending` (handed to WhatsApp), `sent` (the server acknowledged it), `delivered`, ' +
          '`read`, `played`, or `failed`. Only ever moves forward.',
      }),
    statusAt: Timestamp.nullable(),
    failure: z.string().nullable().openapi({ description: 'Why a message failed' }),
    source: z.enum(['api', 'phone']).nullable().openapi({
      description: 'Outbound only: sent through this API, or from the account’s own phone',
    }),
  })
  .openapi('Message');
export type Message = z.infer<typeof MessageSchema>;

// ---------------------------------------------------------------------------------------------------
// Events.

export const MessageEventDataSchema = z
  .object({ sessionId: z.string(), message: MessageSchema })
  .openapi('MessageEventData');

export const MessageStatusEventDataSchema = z
  .object({
    sessionId: z.string(),
    id: z.string().openapi({ description: 'The message id' }),
    chat: z.string(),
    status: z.enum(['delivered', 'read', 'played', 'failed', 'cancelled']),
    failure: z.string().nullable(),
    at: Timestamp,
  })
  .openapi('MessageStatusEventData');

export const MessageDeletedEventDataSchema = z
  .object({
    sessionId: z.string(),
    id: z.string().openapi({ description: 'The message deleted for everyone' }),
    chat: z.string(),
    at: Timestamp,
  })
  .openapi('MessageDeletedEventData');

export const SessionStatusEventDataSchema = z
  .object({
    sessionId: z.string(),
    state: z
      .string()
      .openapi({ description: 'The new state (`connected`, `reconnecting`, `logged-out`, ...)' }),
    previousState: z.string().nullable(),
    connected: z.boolean(),
    user: z.object({ id: z.string(), name: z.string().nullable() }).nullable(),
    reason: z.string().nullable().openapi({
      description: 'Why, for `logged-out`, `replaced`, `failed`, `qr-expired` and `reconnecting`',
      example: 'logged-out',
    }),
  })
  .openapi('SessionStatusEventData');

export const SessionQrEventDataSchema = z
  .object({
    sessionId: z.string(),
    qr: z.string().openapi({ description: 'The raw QR text (render it yourself); each QR lives about 20 s' }),
  })
  .openapi('SessionQrEventData');

export const SessionPairingCodeEventDataSchema = z
  .object({
    sessionId: z.string(),
    code: z.string().openapi({ description: 'The code to type on the phone', example: 'ABCD-EFGH' }),
  })
  .openapi('SessionPairingCodeEventData');

export const WebhookDisabledEventDataSchema = z
  .object({ webhookId: z.string(), url: z.string(), reason: z.string() })
  .openapi('WebhookDisabledEventData');

export const WebhookTestEventDataSchema = z
  .object({ webhookId: z.string(), message: z.string() })
  .openapi('WebhookTestEventData');

/** Every event type and the schema of its `data`. */
export const EVENT_DATA = {
  'message.received': MessageEventDataSchema,
  'message.sent': MessageEventDataSchema,
  'message.status': MessageStatusEventDataSchema,
  'message.updated': MessageEventDataSchema,
  'message.deleted': MessageDeletedEventDataSchema,
  'session.status': SessionStatusEventDataSchema,
  'session.qr': SessionQrEventDataSchema,
  'session.pairing_code': SessionPairingCodeEventDataSchema,
  'webhook.disabled': WebhookDisabledEventDataSchema,
  'webhook.test': WebhookTestEventDataSchema,
} as const;

export type EventType = keyof typeof EVENT_DATA;
export const EVENT_TYPES = Object.keys(EVENT_DATA) as [EventType, ...EventType[]];
export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA)[T]>;

export const EventTypeSchema = z.enum(EVENT_TYPES).openapi('EventType');

const eventOf = <T extends EventType>(type: T) =>
  z.object({
    id: z.string().openapi({ description: 'Unique, sortable by time (a ULID); the webhook-id' }),
    type: z.literal(type),
    timestamp: Timestamp,
    sessionId: z.string().nullable(),
    data: EVENT_DATA[type],
  });

export const EventSchema = z
  .discriminatedUnion('type', [
    eventOf('message.received'),
    eventOf('message.sent'),
    eventOf('message.status'),
    eventOf('message.updated'),
    eventOf('message.deleted'),
    eventOf('session.status'),
    eventOf('session.qr'),
    eventOf('session.pairing_code'),
    eventOf('webhook.disabled'),
    eventOf('webhook.test'),
  ])
  .openapi('Event');
export type GatewayEvent = z.infer<typeof EventSchema>;

/** A webhook delivery's body: the Standard Webhooks payload shape. */
export const WebhookPayloadSchema = z
  .object({ type: EventTypeSchema, timestamp: Timestamp, data: z.record(z.string(), z.unknown()) })
  .openapi('WebhookPayload');

// ---------------------------------------------------------------------------------------------------
// The pull API: GET /api/messages (and the admin's per-session listing) and GET /api/events.

export const DEFAULT_MESSAGE_PAGE = 50;
export const MAX_MESSAGE_PAGE = 100;
export const DEFAULT_EVENT_PAGE = 100;
export const MAX_EVENT_PAGE = 500;
/** The longest `wait` of GET /api/events, in seconds. */
export const MAX_EVENT_WAIT_SECONDS = 30;

/** `evt_` and a ULID (Crockford base32, 26 characters). */
export const EVENT_ID_PATTERN = /^evt_[0-9A-HJKMNP-TV-Z]{26}$/;

const LID_PATTERN = /^[0-9]{1,24}@lid$/;

/**
 * The chat a `chat` filter names, or null when it names none: an international number (as `to` of
 * /api/send: digits, `+`, spaces and dashes), a phone-number JID, or a LID (`<digits>@lid`).
 */
export function normalizeChat(text: string): string | null {
  const trimmed = text.trim();
  if (trimmed.endsWith('@lid')) return LID_PATTERN.test(trimmed) ? trimmed : null;
  return normalizeRecipient(trimmed);
}

/** The event types a comma-separated `types` names, and any it names that do not exist. */
export function parseEventTypes(text: string): { types: EventType[]; unknown: string[] } {
  const names = [...new Set(text.split(',').map((t) => t.trim()))].filter((t) => t !== '');
  const known = new Set<string>(EVENT_TYPES);
  return {
    types: names.filter((t): t is EventType => known.has(t)),
    unknown: names.filter((t) => !known.has(t)),
  };
}

const NextCursor = z.string().nullable();

export const MessageListQuerySchema = z
  .object({
    chat: z
      .string()
      .max(64)
      .refine((text) => normalizeChat(text) !== null, {
        message: 'must be an international number, a ...@s.whatsapp.net JID or a ...@lid',
      })
      .optional()
      .openapi({
        description:
          'Only this chat: an international number (`+`, spaces and dashes allowed), a ' +
          '`...@s.whatsapp.net` JID or a `...@lid`; matches the chat by its phone JID or its LID',
        example: '+62 898-7654-3210',
      }),
    // Any text: one this edge did not make is answered INVALID_CURSOR.
    before: z.string().optional().openapi({
      description: "The previous page's `nextCursor`; leave out for the newest messages",
    }),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_MESSAGE_PAGE)
      .default(DEFAULT_MESSAGE_PAGE)
      .openapi({ description: `Messages per page, 1 to ${MAX_MESSAGE_PAGE}`, example: 20 }),
  })
  .openapi('MessageListQuery');

export const MessageIdParamsSchema = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: '3EB0C4A1B2D3E4F5A6B7' }),
});

export const SessionMessageParamsSchema = z.object({
  sessionId: z.string().openapi({ param: { name: 'sessionId', in: 'path' }, example: 'my-session' }),
});

export const SessionMessageIdParamsSchema = SessionMessageParamsSchema.extend(MessageIdParamsSchema.shape);

export const MessageListResponseSchema = z
  .object({
    success: z.literal(true),
    messages: z.array(MessageSchema),
    nextCursor: NextCursor.openapi({
      description: 'Pass as `before` for older messages; null on the last page. Opaque: do not build one.',
    }),
  })
  .openapi('MessageListResponse');

export const MessageResponseSchema = z
  .object({ success: z.literal(true), message: MessageSchema })
  .openapi('MessageResponse');

export const EventListQuerySchema = z
  .object({
    // Any text: one that is no event id is answered as an unknown one is (INVALID_CURSOR).
    after: z
      .string()
      .optional()
      .openapi({
        description:
          "The previous answer's `nextCursor` (an event id): only events after it. Leave out to start " +
          'from the oldest event kept.',
        example: 'evt_01JH8Z6Q8W0Y3X2V1T0S9R8Q7P',
      }),
    types: z
      .string()
      .max(1000)
      .optional()
      .openapi({
        description: `Only these event types, comma-separated: ${EVENT_TYPES.join(', ')}`,
        example: 'message.received,message.status',
      }),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_EVENT_PAGE)
      .default(DEFAULT_EVENT_PAGE)
      .openapi({ description: `Events per answer, 1 to ${MAX_EVENT_PAGE}`, example: 100 }),
    wait: z.coerce
      .number()
      .min(0)
      .max(MAX_EVENT_WAIT_SECONDS)
      .default(0)
      .openapi({
        description:
          `When nothing is there yet, wait up to this many seconds (0 to ${MAX_EVENT_WAIT_SECONDS}) and ` +
          'answer as soon as something arrives (long polling)',
        example: 20,
      }),
  })
  .openapi('EventListQuery');

export const EventListResponseSchema = z
  .object({
    success: z.literal(true),
    events: z.array(EventSchema),
    nextCursor: NextCursor.openapi({
      description:
        'Pass as `after` next time: the last event returned, or the `after` you gave when nothing new ' +
        'came; null only when there is no event at all',
    }),
  })
  .openapi('EventListResponse');

export type MessageListQuery = z.infer<typeof MessageListQuerySchema>;
export type EventListQuery = z.infer<typeof EventListQuerySchema>;
