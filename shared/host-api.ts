// The session host's internal API, as the edge calls it. Every call carries `authorization: Bearer <jwt>`
// signed by the edge (shared/jwt.ts): subject = sessions.id (uuid), audience = the host's id.
// Bodies: shared/schemas.ts (Host* schemas); errors: ErrorResponseSchema with shared/errors.ts codes.

/** Path of a session-scoped host route. */
export const hostSessionPath = (sessionId: string, action: HostSessionAction) =>
  `/internal/sessions/${encodeURIComponent(sessionId)}/${action}`;

/**
 * - `start`  POST: make sure the session's actor runs here (idempotent) -> HostSessionStatus
 * - `status` GET -> HostSessionStatus
 * - `qr`     GET: if not linked and no pairing is under way, starts one and waits briefly -> HostQrResponse
 * - `send`   POST HostSendBody -> SendResult; 400 SESSION_NOT_AUTHENTICATED, 422 RECIPIENT_NOT_ON_WHATSAPP
 * - `logout` POST -> HostLogoutResponse (the device is unlinked and the auth state wiped)
 */
export type HostSessionAction = 'start' | 'status' | 'qr' | 'send' | 'logout';

/** Unauthenticated liveness of a host: `{ hostId, sessions }`. */
export const HOST_HEALTH_PATH = '/internal/health';
