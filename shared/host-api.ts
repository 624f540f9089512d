// The session host's internal API, declared once: each route's method, path, parameters, body and
// replies, with the zod schemas of shared/schemas.ts. The host implements exactly these declarations
// (node-runtime/host/app.ts, `app.openapi(route, handler)`): its request bodies are validated with these
// schemas and its handlers' replies are type-checked against them. The edge calls the host through Hono's
// typed client over the host app's type (`hc<HostApp>`, edge/hosts/client.ts), so a route changed on
// either side breaks the type-check, not production.
//
// Every session route needs `authorization: Bearer <jwt>` signed by the edge (shared/jwt.ts): subject =
// sessions.id (uuid, also the path's `id`), audience = the host's id. Errors are ErrorResponseSchema bodies
// with shared/errors.ts codes, which the edge relays to its client (all but INVALID_HOST_TOKEN).
import { createRoute, z } from '@hono/zod-openapi';
import {
  HostCheckBodySchema,
  HostCheckResponseSchema,
  HostPresenceBodySchema,
  HostPresenceResponseSchema,
  HostReadBodySchema,
  HostReadResponseSchema,
} from './chats.js';
import { HostMediaBodySchema, HostMediaResponseSchema } from './message-content.js';
import {
  ErrorResponseSchema,
  HostHealthSchema,
  HostLogoutResponseSchema,
  HostPairingCodeBodySchema,
  HostPairingCodeResponseSchema,
  HostQrResponseSchema,
  HostSendBodySchema,
  HostSendResponseSchema,
  HostSessionStatusSchema,
  HostStartSessionBodySchema,
} from './schemas.js';

const SessionParamsSchema = z.object({
  id: z.string().min(1).openapi({ description: 'sessions.id (uuid); must be the token subject' }),
});

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

// Ranges rather than a list: the edge relays any code of shared/errors.ts, with its Retry-After.
const errorReplies = {
  '4XX': json(ErrorResponseSchema, 'Refused: bad token (401 INVALID_HOST_TOKEN), body, or session state'),
  '5XX': json(ErrorResponseSchema, 'Failed; a 503 may carry Retry-After'),
};

/** POST: make sure the session's actor runs here (idempotent). */
export const hostStartRoute = createRoute({
  method: 'post',
  path: '/internal/sessions/{id}/start',
  request: {
    params: SessionParamsSchema,
    body: { required: false, content: { 'application/json': { schema: HostStartSessionBodySchema } } },
  },
  responses: { 200: json(HostSessionStatusSchema, 'The session after starting'), ...errorReplies },
});

/** GET: the session's state and account. */
export const hostStatusRoute = createRoute({
  method: 'get',
  path: '/internal/sessions/{id}/status',
  request: { params: SessionParamsSchema },
  responses: { 200: json(HostSessionStatusSchema, 'The session now'), ...errorReplies },
});

/** GET: if not linked and no pairing is under way, starts one and waits briefly for its QR. */
export const hostQrRoute = createRoute({
  method: 'get',
  path: '/internal/sessions/{id}/qr',
  request: { params: SessionParamsSchema },
  responses: {
    200: json(HostQrResponseSchema, 'The current QR (raw and PNG), or the account'),
    ...errorReplies,
  },
});

/**
 * POST: sends a queued message now or not at all (`/api/send`): waits for its turn and the server's ack;
 * 400 SESSION_NOT_AUTHENTICATED when not linked, 503 SESSION_RECONNECTING, 503 SESSION_BUSY when its turn
 * did not come in time (cancelled, nothing sent), 422 RECIPIENT_NOT_ON_WHATSAPP.
 */
export const hostSendRoute = createRoute({
  method: 'post',
  path: '/internal/sessions/{id}/send',
  request: {
    params: SessionParamsSchema,
    body: { required: true, content: { 'application/json': { schema: HostSendBodySchema } } },
  },
  responses: { 200: json(HostSendResponseSchema, 'Sent'), ...errorReplies },
});

/**
 * POST: downloads a media URL's file (public https only, no redirects, size and type checked while it
 * streams) and keeps it unclaimed in `outbox_media` for the message the edge queues next. Refusals are
 * the MEDIA_* codes.
 */
export const hostMediaRoute = createRoute({
  method: 'post',
  path: '/internal/sessions/{id}/media',
  request: {
    params: SessionParamsSchema,
    body: { required: true, content: { 'application/json': { schema: HostMediaBodySchema } } },
  },
  responses: { 200: json(HostMediaResponseSchema, 'Downloaded and kept'), ...errorReplies },
});

const MessageMediaParamsSchema = SessionParamsSchema.extend({
  messageId: z.string().min(1).max(128).openapi({ description: 'The WhatsApp id of a received message' }),
});

/**
 * GET: a received message's file, downloaded from WhatsApp's media servers, decrypted and streamed
 * (`content-type` its MIME type, `content-disposition` its file name). 404 MESSAGE_NOT_FOUND or
 * MESSAGE_HAS_NO_MEDIA, 410 MEDIA_EXPIRED, 502 MEDIA_UNAVAILABLE. A file that fails its hash check ends
 * with a broken stream.
 */
export const hostMediaDownloadRoute = createRoute({
  method: 'get',
  path: '/internal/sessions/{id}/messages/{messageId}/media',
  request: { params: MessageMediaParamsSchema },
  responses: {
    200: {
      description: 'The file',
      content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    ...errorReplies,
  },
});

/** POST: marks received messages of a chat read (read receipts). 404 MESSAGE_NOT_FOUND lists unknown ids. */
export const hostReadRoute = createRoute({
  method: 'post',
  path: '/internal/sessions/{id}/read',
  request: {
    params: SessionParamsSchema,
    body: { required: true, content: { 'application/json': { schema: HostReadBodySchema } } },
  },
  responses: { 200: json(HostReadResponseSchema, 'Read receipts sent'), ...errorReplies },
});

/** POST: shows typing… or recording… in a chat, or stops it. */
export const hostPresenceRoute = createRoute({
  method: 'post',
  path: '/internal/sessions/{id}/presence',
  request: {
    params: SessionParamsSchema,
    body: { required: true, content: { 'application/json': { schema: HostPresenceBodySchema } } },
  },
  responses: { 200: json(HostPresenceResponseSchema, 'Shown'), ...errorReplies },
});

/** POST: which of these JIDs are on WhatsApp (answers cached by the host). */
export const hostCheckRoute = createRoute({
  method: 'post',
  path: '/internal/sessions/{id}/check',
  request: {
    params: SessionParamsSchema,
    body: { required: true, content: { 'application/json': { schema: HostCheckBodySchema } } },
  },
  responses: { 200: json(HostCheckResponseSchema, 'One answer per JID, in order'), ...errorReplies },
});

/**
 * POST: a pairing code for a phone, while the session waits to be linked (it starts a pairing from a
 * resting state). 409 ALREADY_LINKED, 422 PHONE_NOT_ON_WHATSAPP, 503 PAIRING_NOT_READY.
 */
export const hostPairingCodeRoute = createRoute({
  method: 'post',
  path: '/internal/sessions/{id}/pairing-code',
  request: {
    params: SessionParamsSchema,
    body: { required: true, content: { 'application/json': { schema: HostPairingCodeBodySchema } } },
  },
  responses: { 200: json(HostPairingCodeResponseSchema, 'The code to type on the phone'), ...errorReplies },
});

/** POST: unlinks the device and wipes the auth state. */
export const hostLogoutRoute = createRoute({
  method: 'post',
  path: '/internal/sessions/{id}/logout',
  request: { params: SessionParamsSchema },
  responses: { 200: json(HostLogoutResponseSchema, 'The session after logging out'), ...errorReplies },
});

/** GET, no token: liveness. */
export const hostHealthRoute = createRoute({
  method: 'get',
  path: '/internal/health',
  responses: { 200: json(HostHealthSchema, 'Alive') },
});

/** The session routes by the name the edge forwards them under. */
export const HOST_SESSION_ROUTES = {
  start: hostStartRoute,
  status: hostStatusRoute,
  qr: hostQrRoute,
  send: hostSendRoute,
  media: hostMediaRoute,
  read: hostReadRoute,
  presence: hostPresenceRoute,
  check: hostCheckRoute,
  'pairing-code': hostPairingCodeRoute,
  logout: hostLogoutRoute,
} as const;

export type HostSessionAction = keyof typeof HOST_SESSION_ROUTES;

/**
 * Actions whose repetition changes nothing, so a call lost to a reset connection may be sent again:
 * reading status or QR, and `start` (idempotent on the host). Never `send` (a second message) or `logout`.
 */
export const IDEMPOTENT_HOST_ACTIONS: ReadonlySet<HostSessionAction> = new Set([
  'start',
  'status',
  'qr',
  'read',
  'presence',
  'check',
]);

/** Path of a session-scoped host route, for callers without the typed client (tests, the bench). */
export const hostSessionPath = (sessionId: string, action: HostSessionAction) =>
  HOST_SESSION_ROUTES[action].path.replace('{id}', encodeURIComponent(sessionId));

/** Path of the host's liveness route. */
export const HOST_HEALTH_PATH = hostHealthRoute.path;
