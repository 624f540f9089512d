// What POST /api/messages can send besides text: files (image, video, audio, document, sticker),
// locations, contact cards and reactions, with a reply and mentions on any of them. The limits are those
// WhatsApp applies (its Cloud API documents them); a file larger than its kind allows is refused with 413
// before anything is queued.
import { z } from '@hono/zod-openapi';
import { DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS } from './outbox.js';
import { MAX_MESSAGE_LENGTH } from './schemas.js';

export const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];
export const MESSAGE_TYPES = ['text', ...MEDIA_TYPES, 'location', 'contact', 'reaction'] as const;

const MiB = 1024 * 1024;

/** Per kind: the largest file and the MIME types WhatsApp takes (any for a document). */
export const MEDIA_LIMITS: Record<MediaType, { maxBytes: number; mimetypes: readonly string[] | 'any' }> = {
  image: { maxBytes: 5 * MiB, mimetypes: ['image/jpeg', 'image/png', 'image/webp'] },
  video: { maxBytes: 16 * MiB, mimetypes: ['video/mp4', 'video/3gpp'] },
  audio: {
    maxBytes: 16 * MiB,
    mimetypes: ['audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4', 'audio/ogg', 'audio/opus'],
  },
  document: { maxBytes: 100 * MiB, mimetypes: 'any' },
  sticker: { maxBytes: 500 * 1024, mimetypes: ['image/webp'] },
};

/**
 * A file sent inline (base64 in JSON, or a multipart upload) is at most this large, whatever its kind:
 * larger documents go by URL. It bounds what one request holds in memory at the edge.
 */
export const MAX_INLINE_MEDIA_BYTES = 16 * MiB;
/** The largest body of POST /api/messages: an inline file in base64 (4/3 of it) and the rest. */
export const MAX_MEDIA_BODY_BYTES = Math.ceil((MAX_INLINE_MEDIA_BYTES * 4) / 3) + 64 * 1024;
/** WhatsApp's longest caption, in characters. */
export const MAX_CAPTION_LENGTH = 1024;
export const MAX_FILE_NAME_LENGTH = 255;
export const MAX_VCARD_LENGTH = 16 * 1024;
export const MAX_MENTIONS = 50;

/** The MIME type without its parameters, lower-cased: `audio/ogg; codecs=opus` is `audio/ogg`. */
export const baseMimetype = (mimetype: string) => (mimetype.split(';')[0] ?? '').trim().toLowerCase();

/** Whether WhatsApp takes a file of this MIME type as this kind. */
export function mimetypeAllowed(type: MediaType, mimetype: string): boolean {
  const allowed = MEDIA_LIMITS[type].mimetypes;
  const base = baseMimetype(mimetype);
  return /^[a-z0-9][\w.+-]*\/[\w.+-]+$/.test(base) && (allowed === 'any' || allowed.includes(base));
}

/** The MIME type of common files from their first bytes, for a file sent without one. */
export function sniffMimetype(bytes: Uint8Array): string | undefined {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  const ascii = (at: number, text: string) => [...text].every((ch, i) => bytes[at + i] === ch.charCodeAt(0));
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'image/png';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'image/webp';
  if (ascii(0, 'GIF8')) return 'image/gif';
  if (ascii(0, '%PDF-')) return 'application/pdf';
  if (ascii(0, 'OggS')) return 'audio/ogg';
  if (ascii(0, 'ID3') || starts(0xff, 0xfb)) return 'audio/mpeg';
  if (ascii(0, '#!AMR')) return 'audio/amr';
  if (ascii(4, 'ftyp')) return ascii(8, '3gp') ? 'video/3gpp' : ascii(8, 'M4A') ? 'audio/mp4' : 'video/mp4';
  return undefined;
}

const MessageIdSchema = z.string().min(1).max(128);

/** What every kind may carry: the recipient, a reply, mentions, and how long it may wait in the outbox. */
const common = {
  to: z.union([z.string().min(1), z.int().positive()]).openapi({
    description: 'International number or `<digits>@s.whatsapp.net`',
    example: '6289876543210',
  }),
  replyTo: MessageIdSchema.optional().openapi({
    description: 'The id of a message of this session to reply to (quoted above this one)',
  }),
  mentions: z
    .array(z.union([z.string().min(1), z.int().positive()]))
    .max(MAX_MENTIONS)
    .optional()
    .openapi({ description: 'Numbers (or JIDs) mentioned in the text or caption' }),
  ttlSeconds: z
    .int()
    .min(1)
    .max(MAX_TTL_SECONDS)
    .optional()
    .openapi({
      description: `Fail as \`expired\` if not sent within this many seconds (default ${DEFAULT_TTL_SECONDS})`,
    }),
};

export const MediaSourceSchema = z
  .strictObject({
    url: z.string().min(1).max(2048).optional().openapi({
      description: 'An https URL the gateway downloads the file from (public addresses only, no redirects)',
    }),
    data: z.string().min(1).optional().openapi({ description: 'The file itself, in base64' }),
    mimetype: z.string().min(3).max(255).optional().openapi({
      description:
        "The file's MIME type; default: the URL's Content-Type, or guessed from the file's first bytes",
    }),
    fileName: z.string().min(1).max(MAX_FILE_NAME_LENGTH).optional().openapi({
      description: 'The name a document is shown and saved under',
    }),
  })
  .openapi('MediaSource', { description: 'Exactly one of `url` and `data`' });
export type MediaSource = z.infer<typeof MediaSourceSchema>;

export const TextMessageSchema = z
  .strictObject({
    ...common,
    type: z.literal('text').optional(),
    text: z.string().min(1).max(MAX_MESSAGE_LENGTH).openapi({ example: 'Pesanan Anda sudah dikirim.' }),
  })
  .openapi('TextMessage');

export const MediaMessageSchema = z
  .strictObject({
    ...common,
    type: z.enum(MEDIA_TYPES),
    media: MediaSourceSchema,
    caption: z
      .string()
      .min(1)
      .optional()
      .openapi({
        description: `Shown under an image, a video or a document; at most ${MAX_CAPTION_LENGTH} characters`,
      }),
    ptt: z.boolean().optional().openapi({ description: 'Audio only: send as a voice note' }),
  })
  .openapi('MediaMessage');

export const LocationMessageSchema = z
  .strictObject({
    ...common,
    type: z.literal('location'),
    location: z.strictObject({
      latitude: z.number().openapi({ description: '-90 to 90' }),
      longitude: z.number().openapi({ description: '-180 to 180' }),
      name: z.string().min(1).max(1000).optional(),
      address: z.string().min(1).max(1000).optional(),
    }),
  })
  .openapi('LocationMessage');

export const ContactMessageSchema = z
  .strictObject({
    ...common,
    type: z.literal('contact'),
    contact: z.strictObject({
      vcard: z.string().min(1).max(MAX_VCARD_LENGTH).openapi({
        description: 'A vCard (3.0) with at least one TEL line',
        example:
          'BEGIN:VCARD\nVERSION:3.0\nFN:Budi\nTEL;type=CELL;waid=6281234567890:+62 812 3456 7890\nEND:VCARD',
      }),
      displayName: z.string().min(1).max(255).optional().openapi({ description: "Default: the vCard's FN" }),
    }),
  })
  .openapi('ContactMessage');

export const ReactionMessageSchema = z
  .strictObject({
    ...common,
    type: z.literal('reaction'),
    reaction: z.strictObject({
      messageId: MessageIdSchema.openapi({
        description: 'The message (of this session, in this chat) reacted to',
      }),
      emoji: z
        .string()
        .max(16)
        .openapi({ description: 'One emoji; empty removes the reaction', example: '👍' }),
    }),
  })
  .openapi('ReactionMessage');

export const OutboxMessageBodySchema = z
  .union([
    TextMessageSchema,
    MediaMessageSchema,
    LocationMessageSchema,
    ContactMessageSchema,
    ReactionMessageSchema,
  ])
  .openapi('OutboxMessageBody', {
    description: 'A text (the default `type`), a file, a location, a contact card or a reaction',
  });
export type OutboxMessageBody = z.infer<typeof OutboxMessageBodySchema>;

/**
 * POST /api/messages as `multipart/form-data`: a file upload, with the other fields as form fields
 * (`mentions` comma-separated). Exactly one `file`.
 */
export const MultipartMessageSchema = z
  .object({
    to: z.string().min(1).openapi({ example: '6289876543210' }),
    type: z.enum(MEDIA_TYPES),
    file: z
      .any()
      .optional()
      .openapi({ type: 'string', format: 'binary', description: 'The file (exactly one)' }),
    caption: z.string().min(1).optional(),
    fileName: z.string().min(1).max(MAX_FILE_NAME_LENGTH).optional().openapi({
      description: "Default: the uploaded file's name",
    }),
    mimetype: z.string().min(3).max(255).optional().openapi({
      description: "Default: the upload's Content-Type, or guessed from the file's first bytes",
    }),
    ptt: z.enum(['true', 'false']).optional(),
    replyTo: MessageIdSchema.optional(),
    mentions: z.string().max(4096).optional().openapi({ description: 'Numbers, comma-separated' }),
    ttlSeconds: z.coerce.number().int().min(1).max(MAX_TTL_SECONDS).optional(),
  })
  .openapi('MultipartMessageBody');
export type MultipartMessageBody = z.infer<typeof MultipartMessageSchema>;

/** The telephone numbers of a vCard (its TEL lines' values, or their `waid`). */
export function vcardNumbers(vcard: string): string[] {
  const numbers: string[] = [];
  for (const line of vcard.split(/\r?\n/)) {
    const match = /^(?:item\d+\.)?TEL(;[^:]*)?:(.*)$/i.exec(line.trim());
    if (!match) continue;
    const waid = /waid=(\d+)/i.exec(match[1] ?? '')?.[1];
    const digits = (match[2] ?? '').replace(/[^\d]/g, '');
    if (waid || digits.length >= 3) numbers.push(waid ?? digits);
  }
  return numbers;
}

/** The FN (formatted name) of a vCard. */
export const vcardName = (vcard: string) => /^FN(?:;[^:]*)?:(.*)$/im.exec(vcard)?.[1]?.trim() || undefined;

/**
 * What a queued message keeps to be sent (`messages.content`, with `kind` and `text` beside it): never
 * the file itself (that waits in `outbox_media` until sent), and what the API shows of it.
 */
export type OutgoingContent = {
  media?: { id: string; mimetype: string; size: number; fileName?: string; ptt?: boolean };
  location?: { latitude: number; longitude: number; name?: string; address?: string };
  contact?: { displayName: string; vcard: string };
  reaction?: { messageId: string; emoji: string; fromMe: boolean; chat: string };
  replyTo?: { id: string; fromMe: boolean; chat: string; text: string | null };
  mentions?: string[];
};

/** How long a session host gives a media URL to answer and send the whole file. */
export const MEDIA_FETCH_TIMEOUT_MS = 30_000;

/** The host's internal `media` route: download a URL's file for a message and keep it. */
export const HostMediaBodySchema = z.object({
  url: z.string().url(),
  type: z.enum(MEDIA_TYPES),
});
export type HostMediaBody = z.infer<typeof HostMediaBodySchema>;

export const HostMediaResponseSchema = z.object({
  id: z.string().uuid(),
  mimetype: z.string(),
  size: z.int().nonnegative(),
});
