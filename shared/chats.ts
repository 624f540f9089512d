// Chats: read marks, presence ("typing…"), and which numbers are on WhatsApp. The public bodies and the
// host's internal ones are the same shapes, with the chat normalised to a JID by the edge.
import { z } from '@hono/zod-openapi';

export const MAX_READ_IDS = 100;
export const MAX_CHECK_NUMBERS = 50;

export const ChatParamsSchema = z.object({
  chat: z
    .string()
    .min(1)
    .max(64)
    .openapi({
      param: { name: 'chat', in: 'path' },
      description: 'The chat: an international number or `<digits>@s.whatsapp.net`',
      example: '6289876543210',
    }),
});

export const ReadBodySchema = z
  .strictObject({
    messageIds: z
      .array(z.string().min(1).max(128))
      .min(1)
      .max(MAX_READ_IDS)
      .optional()
      .openapi({
        description: `Received messages of this chat to mark read (up to ${MAX_READ_IDS}); default: the chat's latest ${MAX_READ_IDS}`,
      }),
  })
  .openapi('ReadBody');

export const ReadResponseSchema = z
  .object({
    success: z.literal(true),
    read: z.array(z.string()).openapi({ description: 'The ids a read receipt went out for' }),
  })
  .openapi('ReadResponse');

export const PRESENCE_STATES = ['typing', 'recording', 'paused'] as const;

export const PresenceBodySchema = z
  .strictObject({
    state: z.enum(PRESENCE_STATES).openapi({
      description:
        '`typing…`, `recording audio…`, or `paused` (stops either); WhatsApp shows it for a few seconds',
    }),
  })
  .openapi('PresenceBody');

export const CheckBodySchema = z
  .strictObject({
    numbers: z
      .array(z.union([z.string().min(1).max(32), z.int().positive()]))
      .min(1)
      .max(MAX_CHECK_NUMBERS)
      .openapi({
        description: `International numbers, 1 to ${MAX_CHECK_NUMBERS}`,
        example: ['6281234567890'],
      }),
  })
  .openapi('CheckNumbersBody');

export const CheckResultSchema = z
  .object({
    number: z.string().openapi({ description: 'The number as given' }),
    exists: z.boolean(),
    jid: z.string().nullable().openapi({ description: 'Its WhatsApp JID, when it is on WhatsApp' }),
  })
  .openapi('CheckNumberResult');

export const CheckResponseSchema = z
  .object({ success: z.literal(true), results: z.array(CheckResultSchema) })
  .openapi('CheckNumbersResponse');

/** What the edge sends the host: JIDs, already normalised. */
export const HostReadBodySchema = z.object({
  chat: z.string(),
  messageIds: z.array(z.string()).max(MAX_READ_IDS).optional(),
});
export const HostReadResponseSchema = z.object({ read: z.array(z.string()) });
export const HostPresenceBodySchema = z.object({ chat: z.string(), state: z.enum(PRESENCE_STATES) });
export const HostPresenceResponseSchema = z.object({ state: z.string() });
export const HostCheckBodySchema = z.object({ jids: z.array(z.string()).min(1).max(MAX_CHECK_NUMBERS) });
export const HostCheckResponseSchema = z.object({
  results: z.array(z.object({ jid: z.string(), exists: z.boolean(), found: z.string().nullable() })),
});
