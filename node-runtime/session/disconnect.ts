/**
 * Every way a Baileys socket can close, classified once.
 *
 * Baileys reports a close as `connection.update` with `lastDisconnect.error`, a Boom whose
 * `output.statusCode` comes from one of (lib/Socket/socket.js, lib/Utils/generics.js, 7.0.0-rc14):
 * - `<failure reason="N">` at login: `N` as is (the account verdicts: 401, 402, 403, 405, 406, ...);
 * - `<stream:error code="N">`: `N` as is; `<conflict>` without a code becomes 440; anything else 500;
 * - its own timers and transports: 408 (keep-alive lost, timed-out queries, ENOTFOUND/ETIMEDOUT/
 *   ECONNREFUSED from the WebSocket, and "QR refs attempts ended"), 428 (socket closed or ended by the
 *   server), 500 (any other WebSocket error), or the HTTP status of a refused WebSocket upgrade;
 * - 401 "Intentional Logout" after our own `logout()`, 411 on `downgrade_webclient`;
 * - nothing at all (`end(undefined)`, or a plain Error thrown while validating the connection).
 *
 * The machine branches on `reason`, never on numbers, because one number can mean two things (408).
 */

export type PermanentReason =
  | 'logged-out'
  | 'replaced'
  | 'qr-expired'
  | 'forbidden'
  | 'temporarily-banned'
  | 'banned'
  | 'client-outdated'
  | 'bad-user-agent'
  | 'multidevice-mismatch';

export type TransientReason =
  | 'timed-out'
  | 'connection-closed'
  | 'bad-session'
  | 'service-unavailable'
  | 'websocket-error'
  | 'unknown';

export type Disconnect =
  | { kind: 'permanent'; reason: PermanentReason }
  | { kind: 'transient'; reason: TransientReason }
  | { kind: 'restart'; reason: 'restart-required' };

/** What a close looks like once the Boom is unwrapped; `statusCode` is missing when Baileys gave none. */
export interface CloseDetails {
  statusCode: number | undefined;
  message: string;
}

/** Baileys' text when every QR ref of a pairing attempt was shown and none was scanned. */
export const QR_REFS_ENDED = 'QR refs attempts ended';

/**
 * The table. Codes not listed are transient: an unknown code is more likely a new transport hiccup than
 * a verdict on the account, and a capped backoff makes a wrong guess cheap, while a wrong "permanent"
 * strands a working session until a human notices.
 */
const BY_CODE: ReadonlyMap<number, Disconnect> = new Map<number, Disconnect>([
  // <failure reason=401> / <stream:error code=401>: the phone removed this device. The creds are dead.
  [401, { kind: 'permanent', reason: 'logged-out' }],
  // whatsmeow's ConnectFailureTempBanned: retrying only prolongs it; a human must look.
  [402, { kind: 'permanent', reason: 'temporarily-banned' }],
  // Baileys' `forbidden`; WhatsApp Web calls it LOCKED (bans, or the main phone was replaced).
  [403, { kind: 'permanent', reason: 'forbidden' }],
  // The server refuses this client version: reconnecting cannot help until the software changes.
  [405, { kind: 'permanent', reason: 'client-outdated' }],
  // WhatsApp Web calls it BANNED (whatsmeow: "logged out for unknown reason").
  [406, { kind: 'permanent', reason: 'banned' }],
  [409, { kind: 'permanent', reason: 'bad-user-agent' }],
  // Baileys' connectionLost / timedOut: keep-alive gone, a query timed out, DNS or TCP failed.
  // "QR refs attempts ended" shares this code and is told apart by its message (see below).
  [408, { kind: 'transient', reason: 'timed-out' }],
  // `downgrade_webclient`: the account is not on multi-device; no retry changes that.
  [411, { kind: 'permanent', reason: 'multidevice-mismatch' }],
  // Baileys' connectionClosed: the socket closed or the server ended the stream.
  [428, { kind: 'transient', reason: 'connection-closed' }],
  // Another client connected with these creds (stream:error <conflict type="replaced">). Reconnecting
  // would make the two fight, each kicking the other off, forever.
  [440, { kind: 'permanent', reason: 'replaced' }],
  // Baileys names it badSession, but nothing in Baileys emits it for a broken session: it is the
  // fallback for a WebSocket error without a code, a stream:error without a code, a <failure> without
  // a reason and cancelled timers. Treating it as permanent would strand sessions on network blips; a
  // session that is really broken costs one attempt a minute at the backoff cap, with lastError showing
  // why, and LOGOUT + a new QR is the way out.
  [500, { kind: 'transient', reason: 'bad-session' }],
  [503, { kind: 'transient', reason: 'service-unavailable' }],
  // Sent right after pairing and now and then by the server: reconnect with the same creds at once.
  [515, { kind: 'restart', reason: 'restart-required' }],
]);

/** Classifies a Baileys close by status code and message; every caller gets the same answer. */
export function classifyDisconnect(close: CloseDetails): Disconnect {
  const { statusCode, message } = close;
  if (statusCode === 408 && message.includes(QR_REFS_ENDED)) {
    // Not a network failure: nobody scanned. Reconnecting would show new QRs to nobody, forever.
    return { kind: 'permanent', reason: 'qr-expired' };
  }
  if (message.startsWith('WebSocket Error') && statusCode !== undefined && statusCode !== 408) {
    // A refused WebSocket upgrade carries the HTTP status of a proxy or load balancer (403, 401, 503...).
    // That says nothing about the account; account verdicts arrive as <failure> or <stream:error> nodes.
    return { kind: 'transient', reason: 'websocket-error' };
  }
  if (statusCode === undefined) return { kind: 'transient', reason: 'unknown' };
  return BY_CODE.get(statusCode) ?? { kind: 'transient', reason: 'unknown' };
}

/**
 * Unwraps `lastDisconnect.error` (a Boom, a plain Error or nothing) without importing Boom, for the
 * socket actor to put in its CLOSE event.
 */
export function closeDetailsOf(error: unknown): CloseDetails {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  let statusCode: number | undefined;
  if (typeof error === 'object' && error !== null && 'output' in error) {
    const output: unknown = error.output;
    if (typeof output === 'object' && output !== null && 'statusCode' in output) {
      const code: unknown = output.statusCode;
      if (typeof code === 'number') statusCode = code;
    }
  }
  return { statusCode, message };
}
