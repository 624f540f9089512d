import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

interface ErrorSpec {
  status: ContentfulStatusCode;
  /** The client-facing `error` string; the seed's own wording where the seed had one. */
  message: string;
  headers?: Readonly<Record<string, string>>;
}

// The closed list of error codes. Bodies are `{success:false, error, code}`: `error` keeps the seed's
// Indonesian strings (its clients may match on them), `code` is the stable machine-readable part.
export const ERRORS = {
  // Authentication and authorisation.
  MISSING_API_KEY: {
    status: 401,
    message: 'API key diperlukan',
    headers: { 'WWW-Authenticate': 'ApiKey header="x-api-key"' },
  },
  INVALID_API_KEY: { status: 403, message: 'API key tidak valid' },
  API_KEY_IN_QUERY: {
    status: 400,
    message: 'API key harus dikirim di header x-api-key, bukan di query string',
  },
  WRONG_SCOPE: { status: 403, message: 'API key tidak memiliki izin untuk operasi ini' },

  // Request shape.
  INVALID_JSON: { status: 400, message: 'Body bukan JSON yang valid' },
  // The client went away before its request was read: nobody sees this answer, but the log does.
  REQUEST_ABORTED: { status: 400, message: 'Permintaan terputus sebelum selesai dikirim' },
  VALIDATION_ERROR: { status: 400, message: 'Permintaan tidak valid' },
  BODY_TOO_LARGE: { status: 413, message: 'Body permintaan terlalu besar' },
  NOT_FOUND: { status: 404, message: 'Endpoint tidak ditemukan' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Content-Type harus application/json' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    message: 'Metode tidak diizinkan. Gunakan POST.',
    headers: { Allow: 'POST' },
  },

  // Sessions.
  INVALID_SESSION_ID: {
    status: 400,
    message: 'sessionId tidak valid: hanya huruf, angka, "_" dan "-", maksimal 64 karakter',
  },
  SESSION_ID_TAKEN: { status: 409, message: 'sessionId sudah digunakan' },
  SESSION_NOT_FOUND: { status: 404, message: 'Sesi tidak ditemukan' },
  SESSION_NOT_AUTHENTICATED: {
    status: 400,
    message: 'Sesi belum terautentikasi. Scan QR code terlebih dahulu.',
  },
  QR_NOT_READY: { status: 404, message: 'QR code belum tersedia. Coba lagi nanti.' },
  ALREADY_LINKED: {
    status: 409,
    message: 'Sesi sudah terhubung ke WhatsApp; tidak ada QR code untuk dipindai',
  },
  // Pairing by code.
  INVALID_PHONE_NUMBER: {
    status: 400,
    message: 'phoneNumber tidak valid: gunakan nomor internasional (8-15 digit, tanpa awalan 0)',
  },
  PHONE_NOT_ON_WHATSAPP: { status: 422, message: 'Nomor ini tidak terdaftar di WhatsApp' },
  PAIRING_NOT_READY: {
    status: 503,
    message: 'Sesi belum siap untuk ditautkan. Coba lagi sebentar lagi.',
    headers: { 'Retry-After': '2' },
  },
  PAIRING_CODE_FAILED: { status: 502, message: 'WhatsApp tidak memberikan kode pairing' },
  // `/api/send` waited its turn in the session's outbox (pacing) and it did not come in time: nothing sent.
  SESSION_BUSY: {
    status: 503,
    message: 'Antrean pesan sesi sedang penuh. Coba lagi sebentar lagi.',
    headers: { 'Retry-After': '5' },
  },
  // The session is linked but its connection to WhatsApp is being restored (a restart, a network blip):
  // retry, no scan needed. The seed's SESSION_NOT_AUTHENTICATED is kept for sessions that need a scan.
  SESSION_RECONNECTING: {
    status: 503,
    message: 'Sesi sedang menyambung ulang ke WhatsApp. Coba lagi sebentar lagi.',
    headers: { 'Retry-After': '2' },
  },

  // Tenants and keys. Another tenant's tenant, key or session gets the same 404 as one that does not exist.
  TENANT_NOT_FOUND: { status: 404, message: 'Tenant tidak ditemukan' },
  KEY_NOT_FOUND: { status: 404, message: 'API key tidak ditemukan' },
  KEY_REVOKED: { status: 409, message: 'API key sudah dicabut' },
  KEY_EXPIRED: { status: 409, message: 'API key sudah kedaluwarsa' },
  KEY_REPLACED: { status: 409, message: 'API key sudah diganti; gunakan (atau ganti) API key penggantinya' },
  LAST_ADMIN_KEY: {
    status: 409,
    message:
      'Tidak dapat mencabut API key admin terakhir yang aktif; buat API key admin lain terlebih dahulu',
  },

  // Messages, events and webhooks. Another session's or tenant's message, event or webhook is answered
  // exactly like one that does not exist.
  MESSAGE_NOT_FOUND: { status: 404, message: 'Pesan tidak ditemukan' },
  EVENT_NOT_FOUND: { status: 404, message: 'Event tidak ditemukan' },
  // A cursor that is malformed, unknown, or someone else's: one answer for all, so it reveals nothing.
  INVALID_CURSOR: {
    status: 400,
    message: 'Cursor tidak valid: gunakan nextCursor dari jawaban sebelumnya, atau mulai tanpa cursor',
  },
  WEBHOOK_NOT_FOUND: { status: 404, message: 'Webhook tidak ditemukan' },
  WEBHOOK_EXISTS: { status: 409, message: 'Webhook dengan URL ini sudah terdaftar untuk sesi yang sama' },
  WEBHOOK_URL_INVALID: { status: 400, message: 'URL webhook tidak valid' },
  WEBHOOK_URL_NOT_HTTPS: { status: 400, message: 'URL webhook harus menggunakan https' },
  WEBHOOK_URL_PRIVATE: { status: 400, message: 'URL webhook harus mengarah ke alamat publik' },

  // Sending.
  MISSING_PARAMETERS: { status: 400, message: 'Parameter "to" dan "message" diperlukan' },
  INVALID_RECIPIENT: {
    status: 400,
    message:
      'Nomor tujuan "to" tidak valid: gunakan nomor internasional (8-15 digit) atau JID @s.whatsapp.net',
  },
  // Idempotency-Key (Stripe's semantics): a malformed key; the same key with another body; the same key
  // while its first request is still being carried out.
  IDEMPOTENCY_KEY_INVALID: {
    status: 400,
    message: 'Idempotency-Key tidak valid: 1-255 karakter ASCII yang terlihat, tanpa spasi',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    message: 'Idempotency-Key ini sudah dipakai untuk permintaan yang berbeda',
  },
  IDEMPOTENCY_KEY_IN_USE: {
    status: 409,
    message: 'Permintaan pertama dengan Idempotency-Key ini masih diproses. Coba lagi sebentar lagi.',
    headers: { 'Retry-After': '1' },
  },
  // A cancel of a message that already went to WhatsApp (or failed, or was cancelled).
  MESSAGE_NOT_QUEUED: { status: 409, message: 'Pesan sudah tidak dalam antrean' },
  // 422, not 404: the route and the request are fine, the recipient just cannot take messages. A 404 on
  // POST /api/send would read as "no such endpoint" to generic HTTP clients and proxies.
  RECIPIENT_NOT_ON_WHATSAPP: { status: 422, message: 'Nomor tujuan tidak terdaftar di WhatsApp' },
  // WhatsApp refused the message, or sending failed for good; `details` says why. 502: the request was
  // fine, the network past us failed it, and a retry with the same Idempotency-Key gets this again.
  SEND_FAILED: { status: 502, message: 'Pesan gagal dikirim ke WhatsApp' },

  // Files, locations, contact cards, reactions and replies (POST /api/messages). Each kind of bad input
  // has its own code; none of them queues anything.
  MEDIA_SOURCE_INVALID: { status: 400, message: 'Berikan tepat satu dari media.url dan media.data' },
  MEDIA_DATA_INVALID: { status: 400, message: 'media.data bukan base64 yang valid' },
  MEDIA_URL_INVALID: { status: 400, message: 'URL media tidak valid' },
  MEDIA_URL_NOT_HTTPS: { status: 400, message: 'URL media harus menggunakan https' },
  MEDIA_URL_PRIVATE: { status: 400, message: 'URL media harus mengarah ke alamat publik' },
  // Redirects are not followed: where one leads is checked by no one. The client gives the final URL.
  MEDIA_URL_REDIRECT: { status: 422, message: 'URL media mengalihkan ke alamat lain; gunakan URL tujuannya' },
  MEDIA_URL_UNREACHABLE: { status: 422, message: 'Media tidak dapat diunduh dari URL tersebut' },
  MEDIA_URL_TIMEOUT: { status: 422, message: 'Media tidak selesai diunduh dalam batas waktu' },
  MEDIA_TOO_LARGE: {
    status: 413,
    message: 'File media melebihi batas ukuran WhatsApp untuk jenis pesan ini',
  },
  MEDIA_TYPE_NOT_ALLOWED: {
    status: 415,
    message: 'Jenis file (MIME) tidak diterima WhatsApp untuk jenis pesan ini',
  },
  MEDIA_FILE_MISSING: { status: 400, message: 'Body multipart harus berisi satu file pada field "file"' },
  MEDIA_FILE_DUPLICATE: { status: 400, message: 'Body multipart hanya boleh berisi satu file' },
  CAPTION_TOO_LONG: { status: 400, message: 'Caption terlalu panjang (maksimal 1024 karakter)' },
  CAPTION_NOT_ALLOWED: { status: 400, message: 'Caption hanya untuk gambar, video, dan dokumen' },
  LOCATION_OUT_OF_RANGE: {
    status: 400,
    message: 'Koordinat di luar jangkauan: latitude -90 s.d. 90, longitude -180 s.d. 180',
  },
  VCARD_WITHOUT_NUMBER: { status: 400, message: 'vCard harus berisi setidaknya satu nomor telepon (TEL)' },
  INVALID_MENTION: { status: 400, message: 'Setiap mention harus berupa nomor internasional atau JID' },
  // Another session's message looks exactly like one that does not exist.
  REPLY_TARGET_NOT_FOUND: {
    status: 404,
    message: 'Pesan yang dibalas (replyTo) tidak ditemukan di chat ini',
  },
  REACTION_TARGET_NOT_FOUND: { status: 404, message: 'Pesan yang diberi reaksi tidak ditemukan di chat ini' },
  // GET /api/messages/{id}/media: the message carries no file (a text, a deleted message, or one whose file
  // has not gone up to WhatsApp yet).
  MESSAGE_HAS_NO_MEDIA: { status: 404, message: 'Pesan ini tidak membawa file yang dapat diunduh' },
  // WhatsApp keeps a file on its servers for a limited time; only the sender could upload it again.
  MEDIA_EXPIRED: { status: 410, message: 'File ini sudah tidak tersedia di server WhatsApp' },
  MEDIA_UNAVAILABLE: {
    status: 502,
    message: 'File tidak dapat diunduh dari server WhatsApp. Coba lagi nanti.',
    headers: { 'Retry-After': '5' },
  },

  // Session hosts (operator).
  HOST_NOT_FOUND: { status: 404, message: 'Host tidak ditemukan' },
  NO_HOST_TO_DRAIN_TO: {
    status: 409,
    message:
      'Tidak ada host lain yang hidup untuk menerima sesi: host terakhir tidak bisa dikosongkan. Jalankan host lain dulu.',
  },

  // Capacity and infrastructure.
  RATE_LIMITED: {
    status: 429,
    message: 'Terlalu banyak permintaan. Coba lagi nanti.',
    headers: { 'Retry-After': '1' },
  },
  HOST_UNAVAILABLE: {
    status: 503,
    message: 'Layanan sesi sedang tidak tersedia. Coba lagi nanti.',
    headers: { 'Retry-After': '5' },
  },
  // Only between edge and host: a host refusing the edge's token. The edge never relays it to a client.
  INVALID_HOST_TOKEN: {
    status: 401,
    message: 'Token internal tidak valid',
    headers: { 'WWW-Authenticate': 'Bearer' },
  },
  // Only between edge and host: the session is owned by another host now (a failover or a drain moved
  // it). The edge looks its owner up again and retries there; a client sees it only if that fails too.
  SESSION_MOVED: {
    status: 409,
    message: 'Sesi sedang dipindahkan ke host lain. Coba lagi.',
    headers: { 'Retry-After': '1' },
  },
  INTERNAL_ERROR: { status: 500, message: 'Terjadi kesalahan internal' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

/** The JSON body of every error response. */
export interface ErrorBody {
  success: false;
  error: string;
  code: ErrorCode;
  details?: unknown;
}

export interface ApiErrorOptions {
  /**
   * Replaces the default `error` text where it depends on the request (e.g. which method to use).
   * Must be written for clients: never pass an exception's message. Ignored for INTERNAL_ERROR.
   */
  message?: string;
  /** Extra machine-readable context (e.g. validation issues); must be safe to show to the caller. */
  details?: unknown;
  headers?: Record<string, string>;
  /** Sets `Retry-After` (for 429 and 503). */
  retryAfterSeconds?: number;
  /** The underlying error, for logs only. */
  cause?: unknown;
}

/** The one error type of the HTTP layer: a code from the closed list, rendered as the seed's error body. */
export class ApiError extends HTTPException {
  readonly code: ErrorCode;
  readonly details: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, options: ApiErrorOptions = {}) {
    const spec: ErrorSpec = ERRORS[code];
    const message = code === 'INTERNAL_ERROR' ? spec.message : (options.message ?? spec.message);
    super(spec.status, { message, cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.details = options.details;
    const headers: Record<string, string> = { ...spec.headers, ...options.headers };
    if (options.retryAfterSeconds !== undefined) {
      headers['Retry-After'] = String(Math.max(0, Math.ceil(options.retryAfterSeconds)));
    }
    this.headers = headers;
  }

  override getResponse(): Response {
    return errorResponse(this);
  }
}

/** The `{success:false, error, code, details?}` body of an ApiError. */
export function errorBody(err: ApiError): ErrorBody {
  const body: ErrorBody = { success: false, error: err.message, code: err.code };
  if (err.details !== undefined) body.details = err.details;
  return body;
}

/** The JSON response of an ApiError, with its status and headers (Allow, Retry-After, ...). */
export function errorResponse(err: ApiError): Response {
  const headers = new Headers(err.headers);
  headers.set('Content-Type', 'application/json; charset=UTF-8');
  return new Response(JSON.stringify(errorBody(err)), { status: err.status, headers });
}

/** A 405 naming the methods the route does accept. */
export function methodNotAllowed(allow: readonly string[] = ['POST']): ApiError {
  const methods = allow.join(', ');
  return new ApiError('METHOD_NOT_ALLOWED', {
    message: `Metode tidak diizinkan. Gunakan ${methods}.`,
    headers: { Allow: methods },
  });
}

// Hono and its middleware throw plain HTTPExceptions for a few cases; these get our codes.
const CODE_BY_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'VALIDATION_ERROR',
  401: 'MISSING_API_KEY',
  403: 'INVALID_API_KEY',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'HOST_UNAVAILABLE',
};

/**
 * Turns anything thrown into an ApiError for `onError`. A failure while the client was already gone
 * (an aborted upload; `request.signal` says so on every runtime) is theirs: 400 REQUEST_ABORTED. Unknown
 * errors become a generic 500 whose body says nothing about the cause (kept as `cause` for the log).
 */
export function toApiError(err: unknown, request?: Request): ApiError {
  if (err instanceof ApiError) return err;
  if (request?.signal.aborted) return new ApiError('REQUEST_ABORTED', { cause: err });
  if (err instanceof HTTPException) {
    // Hono's JSON validator reports unparsable bodies only through this message.
    if (err.status === 400 && err.message === 'Malformed JSON in request body') {
      return new ApiError('INVALID_JSON', { cause: err });
    }
    const code = CODE_BY_STATUS[err.status];
    if (code) return new ApiError(code, { cause: err });
  }
  return new ApiError('INTERNAL_ERROR', { cause: err });
}
