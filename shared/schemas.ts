import { z } from '@hono/zod-openapi';
import { ERROR_CODES } from './errors.js';

// ---------------------------------------------------------------------------------------------------
// Seed strings: the seed's clients may compare against them, so they are kept byte for byte.

export const SESSION_CREATED_MESSAGE = 'Sesi berhasil dibuat. Gunakan API key untuk operasi selanjutnya.';
export const ALREADY_AUTHENTICATED_MESSAGE = 'Sudah terautentikasi';
export const LOGGED_OUT_MESSAGE = 'Berhasil logout dari sesi';

// ---------------------------------------------------------------------------------------------------
// Building blocks.

export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const USER_JID_PATTERN = /^[1-9][0-9]{7,14}@s\.whatsapp\.net$/;
const JID_SUFFIX = '@s.whatsapp.net';

/**
 * The JID for a `to` value, or null when it is none of: an international number (digits, with `+`,
 * spaces and dashes allowed and stripped, 8-15 digits) or a full `<digits>@s.whatsapp.net` JID.
 * Numbers starting with 0 are refused: no E.164 number does, so they are national-format typos.
 */
export function normalizeRecipient(to: string | number): string | null {
  if (typeof to === 'number') {
    return Number.isSafeInteger(to) && to > 0 ? normalizeRecipient(String(to)) : null;
  }
  const text = to.trim();
  if (text.endsWith(JID_SUFFIX)) return USER_JID_PATTERN.test(text) ? text : null;
  const digits = normalizePhoneNumber(text);
  return digits === null ? null : `${digits}${JID_SUFFIX}`;
}

/** The digits of an international number (`+`, spaces and dashes stripped, 8-15 digits), or null. */
export function normalizePhoneNumber(text: string): string | null {
  if (!/^\+?[0-9 -]+$/.test(text.trim())) return null;
  const digits = text.replace(/[+ -]/g, '');
  return /^[1-9][0-9]{7,14}$/.test(digits) ? digits : null;
}

export const SessionIdSchema = z
  .string()
  .regex(SESSION_ID_PATTERN)
  .openapi({ description: 'Letters, digits, `_` and `-`, 1 to 64 characters', example: 'sesi_custom' });

export const UserJidSchema = z
  .string()
  .regex(USER_JID_PATTERN)
  .openapi({ description: 'A WhatsApp user JID', example: '62812345678@s.whatsapp.net' });

// `name` can be unknown (WhatsApp sends the push name later); the seed then left it out, as we do.
export const UserSchema = z
  .object({
    id: UserJidSchema,
    name: z.string().optional(),
  })
  .openapi('User', { example: { id: '62812345678@s.whatsapp.net', name: 'Nama Pengguna' } });

export const ErrorCodeSchema = z.enum(ERROR_CODES).openapi('ErrorCode');

export const ErrorResponseSchema = z
  .object({
    success: z.literal(false),
    error: z.string(),
    code: ErrorCodeSchema,
    details: z.unknown().optional(),
  })
  .openapi('ErrorResponse', {
    example: { success: false, error: 'API key diperlukan', code: 'MISSING_API_KEY' },
  });

// ---------------------------------------------------------------------------------------------------
// Public API (the seed contract).

/** POST /api/session/create */
export const CreateSessionBodySchema = z
  .object({
    sessionId: SessionIdSchema.optional().openapi({ description: 'Default: a random UUID' }),
    description: z.string().max(1000).optional(),
  })
  .openapi('CreateSessionBody', { example: { sessionId: 'sesi_custom', description: 'Deskripsi sesi' } });

export const CreateSessionResponseSchema = z
  .object({
    success: z.literal(true),
    sessionId: SessionIdSchema,
    apiKey: z.string().openapi({ description: 'Session key; shown only in this response' }),
    message: z.literal(SESSION_CREATED_MESSAGE),
  })
  .openapi('CreateSessionResponse');

/** GET /api/session/qr */
export const QrPendingResponseSchema = z
  .object({
    success: z.literal(true),
    connected: z.literal(false),
    qr: z.string().startsWith('data:image/png;base64,').openapi({ description: 'QR code as a PNG data URL' }),
  })
  .openapi('QrPendingResponse');

export const QrConnectedResponseSchema = z
  .object({
    success: z.literal(true),
    connected: z.literal(true),
    user: UserSchema,
    message: z.literal(ALREADY_AUTHENTICATED_MESSAGE),
  })
  .openapi('QrConnectedResponse');

export const QrResponseSchema = z
  .discriminatedUnion('connected', [QrPendingResponseSchema, QrConnectedResponseSchema])
  .openapi('QrResponse');

/** GET /api/session/qr's query: the seed's JSON by default, or the QR alone as an image or its text. */
export const QrQuerySchema = z.object({
  format: z
    .enum(['json', 'png', 'raw'])
    .default('json')
    .openapi({
      description:
        "`json` (the default): the seed's answer, the QR as a PNG data URL. `png`: the QR image itself " +
        '(`image/png`). `raw`: the text the QR encodes (`text/plain`), to draw it yourself.',
    }),
});

/** POST /api/session/pairing-code */
export const PairingCodeBodySchema = z
  .object({
    phoneNumber: z.string().openapi({
      description:
        'The number of the phone to link, international format: digits, `+`, spaces and dashes allowed',
      example: '6281234567890',
    }),
  })
  .openapi('PairingCodeBody');

export const PairingCodeResponseSchema = z
  .object({
    success: z.literal(true),
    code: z
      .string()
      .regex(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/)
      .openapi({
        description:
          'Type it on the phone: WhatsApp > Linked devices > Link with phone number instead. Valid while ' +
          'the session waits to be linked (a few minutes)',
        example: 'ABCD-EFGH',
      }),
  })
  .openapi('PairingCodeResponse');

export const HostPairingCodeBodySchema = z
  .object({ phone: z.string().regex(/^[1-9][0-9]{7,14}$/) })
  .openapi('HostPairingCodeBody');

export const HostPairingCodeResponseSchema = z
  .object({ code: z.string().regex(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/) })
  .openapi('HostPairingCodeResponse');

/** GET /api/session/status */
export const StatusResponseSchema = z
  .object({
    success: z.literal(true),
    connected: z.boolean().openapi({ description: 'The socket is open now (not merely: credentials exist)' }),
    user: UserSchema.optional(),
  })
  .openapi('StatusResponse');

/** POST /api/send. `to` and `message` are only checked for presence here; see normalizeRecipient. */
/** The longest text message, in characters as JavaScript counts them (UTF-16 code units). */
export const MAX_MESSAGE_LENGTH = 65_536;

/**
 * The largest request body, in bytes, at the edge and at the hosts: the longest message with every
 * character written as a `\uXXXX` escape (6 bytes each: 393,216 bytes), the rest of the body, and room.
 */
export const MAX_BODY_BYTES = 512 * 1024;

export const SendMessageBodySchema = z
  .object({
    // Numbers are accepted because the seed built the JID by string interpolation, so a client that
    // sends `to` as a JSON number worked there and must keep working.
    to: z.union([z.string().min(1), z.int().positive()]).openapi({
      description: 'International number or `<digits>@s.whatsapp.net`',
      example: '6281234567890',
    }),
    message: z.string().min(1).max(MAX_MESSAGE_LENGTH).openapi({ example: 'Halo, ini pesan dari API!' }),
  })
  .openapi('SendMessageBody');

/** What the host returns for a sent text, and the `result` of the public send response. */
export const SendResultSchema = z
  .object({
    key: z.object({
      remoteJid: UserJidSchema,
      id: z.string().min(1),
      fromMe: z.literal(true),
    }),
    message: z.object({
      extendedTextMessage: z.object({ text: z.string() }),
    }),
  })
  .openapi('SendResult');

export const SendMessageResponseSchema = z
  .object({
    success: z.literal(true),
    result: SendResultSchema,
  })
  .openapi('SendMessageResponse');

/** POST /api/session/logout */
export const LogoutResponseSchema = z
  .object({
    success: z.literal(true),
    message: z.literal(LOGGED_OUT_MESSAGE),
  })
  .openapi('LogoutResponse');

export type User = z.infer<typeof UserSchema>;
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;
export type CreateSessionBody = z.infer<typeof CreateSessionBodySchema>;
export type CreateSessionResponse = z.infer<typeof CreateSessionResponseSchema>;
export type QrResponse = z.infer<typeof QrResponseSchema>;
export type StatusResponse = z.infer<typeof StatusResponseSchema>;
export type SendMessageBody = z.infer<typeof SendMessageBodySchema>;
export type SendResult = z.infer<typeof SendResultSchema>;
export type SendMessageResponse = z.infer<typeof SendMessageResponseSchema>;
export type LogoutResponse = z.infer<typeof LogoutResponseSchema>;

// ---------------------------------------------------------------------------------------------------
// Host internal API (edge -> session host). Session and tenant come from the edge's JWT, not the body.
// Errors use ErrorResponseSchema with the same codes, so the edge can relay expected ones unchanged.

/** The session actor's public states (node-runtime/session/machine.ts `publicState`). */
export const SESSION_STATES = [
  'idle',
  'connecting',
  'awaiting-qr',
  'connected',
  'reconnecting',
  'logging-out',
  'logged-out',
  'replaced',
  'qr-expired',
  'failed',
] as const;
export const SessionStateSchema = z.enum(SESSION_STATES).openapi('SessionState');
export type SessionState = z.infer<typeof SessionStateSchema>;

/** Start (or make sure of) the session's actor on this host; idempotent. */
export const HostStartSessionBodySchema = z.object({}).openapi('HostStartSessionBody');

// The linked account as the host knows it. Looser than the public User: the push name is null until
// WhatsApp sends it (the edge leaves it out then), and the id is whatever JID WhatsApp gave the device.
export const HostUserSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().nullable(),
  })
  .openapi('HostUser');

export const HostSessionStatusSchema = z
  .object({
    state: SessionStateSchema,
    connected: z.boolean(),
    user: HostUserSchema.optional(),
  })
  .openapi('HostSessionStatus');

// Both the raw QR text and its PNG data URL: the host renders the PNG (qrcode needs Node's zlib, and
// the edge stays web-standard); the raw text is served as is later.
export const HostQrResponseSchema = z
  .object({
    state: SessionStateSchema,
    connected: z.boolean(),
    qr: z.string().min(1).nullable().openapi({ description: 'Raw QR payload, null when none is current' }),
    qrPng: z.string().startsWith('data:image/png;base64,').nullable(),
    user: HostUserSchema.optional(),
  })
  .openapi('HostQrResponse');

/** `/api/send` on the host: the message the edge queued (the outbox row), to send now or not at all. */
export const HostSendBodySchema = z
  .object({
    messageId: z.string().regex(/^[0-9A-Za-z]{1,64}$/),
    fresh: z.boolean().optional().openapi({
      description: 'Queued by this very request (not a retry): the host need not read the row back first',
    }),
  })
  .openapi('HostSendBody');

/** Handed to WhatsApp: `sent` once the server acknowledged it, `queued` while that ack is still on its way. */
export const HostSendResponseSchema = z
  .object({ id: z.string(), status: z.enum(['queued', 'sent', 'delivered', 'read', 'played']) })
  .openapi('HostSendResponse');

export const HostLogoutResponseSchema = z
  .object({
    state: SessionStateSchema,
  })
  .openapi('HostLogoutResponse');

/** Unauthenticated liveness of a host. */
export const HostHealthSchema = z
  .object({
    hostId: z.string().min(1),
    sessions: z.int().nonnegative().openapi({ description: 'Session actors running on this host' }),
  })
  .openapi('HostHealth');

export type HostStartSessionBody = z.infer<typeof HostStartSessionBodySchema>;
export type HostSessionStatus = z.infer<typeof HostSessionStatusSchema>;
export type HostQrResponse = z.infer<typeof HostQrResponseSchema>;
export type HostSendBody = z.infer<typeof HostSendBodySchema>;
export type HostPairingCodeBody = z.infer<typeof HostPairingCodeBodySchema>;
export type PairingCodeResponse = z.infer<typeof PairingCodeResponseSchema>;
export type HostSendResponse = z.infer<typeof HostSendResponseSchema>;
export type HostLogoutResponse = z.infer<typeof HostLogoutResponseSchema>;
export type HostUser = z.infer<typeof HostUserSchema>;
export type HostHealth = z.infer<typeof HostHealthSchema>;
